// laueproc merge: joins the shard journals of `process --shard i/N` into the one results file
// (+ CSV) a single run would have written.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "cli/cli.hpp"
#include "cluster/plan.hpp"
#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "laueproc/output.hpp"
#include "laueproc/pipeline.hpp"
#include "output/journal.hpp"

namespace laueproc::cli {

namespace {

GridSpec grid_of(const RunInfo& info) {
  GridSpec grid;
  for (const auto& [name, value] : info.settings)
    if (name == "scan.grid" && value != "from positions") parse_grid(value, grid.nx, grid.ny);
  return grid;
}

// Every frame of the scan in exactly one shard journal; else an error naming what is missing.
void check_coverage(const std::vector<std::string>& journals, int shards, std::int64_t frames_total,
                    const std::string& out) {
  std::vector<int> owner(static_cast<std::size_t>(frames_total), -1);
  for (std::size_t j = 0; j < journals.size(); ++j)
    for (std::int64_t f : output::list_journal_frames(journals[j])) {
      if (f < 0 || f >= frames_total)
        throw InputError(journals[j], "frame " + std::to_string(f) + " lies outside the scan's " +
                                          std::to_string(frames_total) + " frames");
      int& o = owner[static_cast<std::size_t>(f)];
      if (o >= 0)
        throw InputError(journals[j], "frame " + std::to_string(f) + " is also in " + journals[static_cast<std::size_t>(o)]);
      o = static_cast<int>(j);
    }
  std::vector<std::int64_t> missing;
  std::string shards_missing;
  for (int s = 0; s < shards; ++s) {
    const auto [first, last] = cluster::block_range(frames_total, s, shards);
    bool incomplete = false;
    for (std::int64_t f = first; f < last; ++f)
      if (owner[static_cast<std::size_t>(f)] < 0) {
        missing.push_back(f);
        incomplete = true;
      }
    if (incomplete) shards_missing += (shards_missing.empty() ? "" : ", ") + std::to_string(s);
  }
  if (!missing.empty())
    throw InputError(out, "frames " + cluster::describe_frames(missing) + " are in no shard journal (shard " +
                              shards_missing + " of " + std::to_string(shards) +
                              " not run or not finished: run it, or resume it with --resume, then merge again)");
}

}  // namespace

int cmd_merge(const std::vector<std::string>& args) {
  std::string out, csv_dir;
  bool keep = false, quiet = false, overwrite = false;
  po::options_description options("Options");
  options.add_options()
      ("results", po::value(&out)->required(), "the results file the shards were run for (their --out)")
      ("csv", po::value(&csv_dir), "write peaks.csv and frames.csv here (default: the shards' --csv)")
      ("keep-shards", po::bool_switch(&keep), "keep the shard journals after the merge")
      ("overwrite", po::bool_switch(&overwrite), "replace an existing results file (and CSVs)")
      ("quiet,q", po::bool_switch(&quiet), "no report");
  po::positional_options_description positional;
  positional.add("results", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc merge RESULTS.h5 [--csv DIR] [--keep-shards] [--overwrite]",
             "Joins the shard journals RESULTS.h5.shard-i-of-N.journal written by\n"
             "`laueproc process SCAN -o RESULTS.h5 --shard i/N` (one job-array task each) into\n"
             "RESULTS.h5 (+ CSV): the same tables as a single run. Every frame must be in exactly\n"
             "one shard; the journals are removed after the merge unless --keep-shards. An existing\n"
             "RESULTS.h5 is replaced only with --overwrite.\n"
             "Exit 3: some frames failed (listed in /frames with their status).",
             options, positional, vm))
    return 0;

  int shards = 0;
  const std::vector<std::string> journals = cluster::find_shard_journals(out, shards);
  if (journals.empty())
    throw UsageError("no shard journals " + out + ".shard-<i>-of-<N>.journal: run laueproc process SCAN -o " + out +
                     " --shard i/N for every i first");
  std::vector<output::JournalHead> heads;
  for (const auto& path : journals) {
    output::JournalReader reader(path);
    if (reader.empty()) continue;  // killed before it wrote anything: coverage names its frames
    if (!reader.head().has_info || reader.head().frames_total <= 0)
      throw InputError(path, "this journal does not record its run (written by an older laueproc): run the shard again");
    if (!heads.empty() && reader.head().fingerprint != heads.front().fingerprint)
      throw InputError(path, "a shard of a different run (settings or input files differ from " + journals.front() +
                                 "); remove the stale journal");
    if (!heads.empty() && reader.head().frames_total != heads.front().frames_total)
      throw InputError(path, "a shard of a scan of another length");
    heads.push_back(reader.head());
  }
  if (heads.empty()) throw InputError(out, "every shard journal is empty: run the shards first");
  const output::JournalHead& head = heads.front();
  check_coverage(journals, shards, head.frames_total, out);

  RunInfo info = head.info;
  info.started_utc = head.started_utc;
  for (const auto& h : heads)  // ISO 8601 sorts as text: the run started with its first shard
    if (!h.started_utc.empty() && h.started_utc < info.started_utc) info.started_utc = h.started_utc;
  info.run_mode = "merged from " + std::to_string(shards) + " shards (laueproc process --shard i/" +
                  std::to_string(shards) + ", then laueproc merge)";
  SinkOptions o;
  o.results_h5 = out;
  o.csv_dir = vm.count("csv") ? csv_dir : head.csv_dir;
  o.frames_total = head.frames_total;
  o.journal = false;  // the shard journals stay the truth until the merged file is complete
  o.overwrite = overwrite;
  o.adopt = journals;
  ResultSink sink(o, info);
  std::vector<FrameSummary> frames = sink.frames();
  finish_results(sink, frames, grid_of(info));

  if (!keep) {
    std::error_code ec;
    for (const auto& path : journals) std::filesystem::remove(path, ec);
  }
  std::int64_t failed = 0;
  std::vector<std::string> failures;
  for (const auto& f : frames)
    if (f.status != "ok" && ++failed <= 10) failures.push_back("frame " + std::to_string(f.frame) + ": " + f.status);
  if (!quiet) {
    std::fprintf(stderr, "laueproc merge: %d shards: %lld frames, %lld peaks in %s%s%s\n", shards,
                 static_cast<long long>(frames.size()), static_cast<long long>(sink.peak_count()), out.c_str(),
                 o.csv_dir.empty() ? "" : " and ", o.csv_dir.empty() ? "" : (o.csv_dir + "/{peaks,frames}.csv").c_str());
  }
  if (failed > 0) {
    std::fprintf(stderr, "laueproc merge: warning: %lld frames failed (listed in /frames with their status):\n",
                 static_cast<long long>(failed));
    for (const auto& f : failures) std::fprintf(stderr, "  %s\n", f.c_str());
  }
  return failed > 0 ? 3 : 0;
}

}  // namespace laueproc::cli
