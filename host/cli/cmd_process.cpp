// laueproc process: one scan in, one results file (+ CSV) out; alone, as one shard of a job
// array (--shard), or as the ranks of an MPI job (mpirun/srun).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>

#include "cli/cli.hpp"
#include "cli/index_options.hpp"
#include "cli/process_options.hpp"
#include "cli/progress.hpp"
#include "cli/run_process.hpp"
#include "cluster/launch.hpp"
#include "cluster/mpi.hpp"
#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "output/output_guard.hpp"
#include "laueproc/output.hpp"
#include "laueproc/stages.hpp"
#include "laueproc/version.hpp"

#ifdef LAUEPROC_HAVE_CUDA
#include "laueproc/cuda.hpp"
#endif

namespace laueproc::cli {

namespace {

std::string join(const std::vector<std::string>& args) {
  std::string s = "laueproc process";
  for (const auto& a : args) s += " " + a;
  return s;
}

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

// Ctrl-C (or SIGTERM from a batch system) ends the run after the frames already written.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  const std::atomic<bool>* flag() const { return &g_interrupted; }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// Mask and backend: fills r.pipeline (make_analyzer, workers); returns the backend's name.
// `rank_device`: under MPI, this rank's index into the devices (local rank); -1 alone. With the
// CUDA backend and frames the device can decode, `source` is reopened to deliver them still
// compressed; `decoding` says, for the CUDA backend and compressed input, where the frames are
// decoded and, on the host, why (else empty).
std::string prepare_backend(ProcessRequest& r, std::unique_ptr<FrameSource>& source,
                            std::unique_ptr<BadPixelMask>& mask, int rank_device, std::string& decoding) {
  if (!r.config.threshold.bad_pixel_mask.empty()) {
    mask = std::make_unique<BadPixelMask>(BadPixelMask::load(r.config.threshold.bad_pixel_mask));
    r.pipeline.mask = mask.get();
  }
  std::string backend = r.backend;
  decoding.clear();
#ifdef LAUEPROC_HAVE_CUDA
  const cuda::DeviceProbe probe = cuda::probe_devices();
  if (!probe.problem.empty()) {  // a stale or broken driver is said out loud, never taken for "no GPU"
    if (backend == "cuda") throw UsageError("--backend cuda: " + probe.problem);
    if (backend == "auto") std::fprintf(stderr, "laueproc: warning: CUDA unusable, using the CPU: %s\n", probe.problem.c_str());
  }
  if (backend == "auto") backend = probe.count > 0 ? "cuda" : "cpu";
  if (backend == "cuda") {
    const int n_devices = probe.count;
    if (n_devices == 0) throw UsageError("--backend cuda: no CUDA device answered (no NVIDIA driver or no GPU)");
    if (r.devices.empty()) {
      if (rank_device < 0)
        r.devices.push_back(0);
      else
        for (int d = 0; d < n_devices; ++d) r.devices.push_back(d);
    }
    for (int d : r.devices)
      if (d < 0 || d >= n_devices)
        throw UsageError("--devices: no CUDA device " + std::to_string(d) + " (" + std::to_string(n_devices) +
                         " present)");
    // One device per rank: local rank % devices (Slurm's --gpus-per-task leaves one visible).
    if (rank_device >= 0) r.devices = {r.devices[static_cast<std::size_t>(rank_device) % r.devices.size()]};
    // Compressed bytes to the GPU: frames whose chunks the device can decode (one chunk per
    // frame, bitshuffle/LZ4 or deflate, uint16) are read still compressed.
    const bool nvcomp = cuda::device_decode_available();
    if (r.device_decode == "on" && !nvcomp)
      throw UsageError("--device-decode on: this laueproc was built without nvCOMP (scripts/setup.sh fetches it)");
    const bool device_decode = r.device_decode != "off" && nvcomp && !source->info().device_decodable.empty();
    if (device_decode) {
      ScanOptions keep = r.scan;
      keep.keep_encoded = true;
      source.reset();
      source = open_scan(r.input, keep);
      decoding = "device decoding (" + source->info().device_decodable + ")";
    } else if (!source->info().filters.empty()) {
      decoding = "host decoding (" +
                 (r.device_decode == "off" ? std::string("--device-decode off")
                  : !nvcomp                ? std::string("built without nvCOMP")
                                           : source->info().device_decode_note) +
                 ")";
    }
    auto next = std::make_shared<std::size_t>(0);
    const ProcessConfig config = r.config;
    const BadPixelMask* mask_ptr = r.pipeline.mask;
    const std::vector<int> devices = r.devices;
    const std::size_t batch = r.batch;
    // The host only stages frames and launches: a few workers keep a GPU busy; each takes its
    // share of the device memory.
    r.pipeline.workers = r.cuda_workers > 0 ? r.cuda_workers : std::min(4, resolve_threads(r.pipeline.threads));
    const int per_device = (r.pipeline.workers + static_cast<int>(devices.size()) - 1) / static_cast<int>(devices.size());
    // One pinned pool for the run, sized for the frames that can be alive at once: those read
    // ahead, the workers' batches, one per reader in progress, a few spare. Frames beyond it
    // (they should not come) use ordinary memory.
    const std::size_t frame_bytes =
        2 * static_cast<std::size_t>(source->info().width) * static_cast<std::size_t>(source->info().height);
    const std::size_t readers = static_cast<std::size_t>(resolve_readers(r.pipeline.readers));
    const std::size_t alive = std::max({r.pipeline.read_ahead, batch, 2 * readers}) +
                              static_cast<std::size_t>(r.pipeline.workers) * batch + readers + 8;
    auto pinned = cuda::make_pinned_frame_memory(std::min(alive * frame_bytes, std::size_t{16} << 30), devices.front());
    r.pipeline.make_analyzer = [config, mask_ptr, devices, batch, next, per_device, device_decode, pinned] {
      cuda::CudaOptions options;
      options.device = devices[(*next)++ % devices.size()];  // workers round-robin over the devices
      options.batch = batch;
      options.memory_share = 0.8 / per_device;
      options.device_decode = device_decode;
      options.frame_memory = pinned;
      return cuda::make_cuda_analyzer(config, mask_ptr, options);
    };
  }
  if (backend != "cuda" && r.device_decode == "on")
    throw UsageError("--device-decode on needs the CUDA backend (--backend cuda, or auto with a GPU)");
#else
  (void)rank_device;
  (void)source;  // only the CUDA backend reopens it for device decoding
  if (backend == "auto") backend = "cpu";
  if (backend == "cuda") throw UsageError("--backend cuda: this laueproc was built without CUDA");
  if (r.device_decode == "on") throw UsageError("--device-decode on: this laueproc was built without CUDA");
#endif
  return backend;
}

int worker_count(const ProcessRequest& r) {
  return r.pipeline.make_analyzer ? r.pipeline.workers : resolve_threads(r.pipeline.threads);
}

// The provenance of the run (make_run_info: the same as the Python module's).
RunInfo run_info_for(const ProcessRequest& r, const ScanInfo& info, const std::string& backend) {
  return make_run_info(r.input, info, r.config, r.pipeline.grid, backend, worker_count(r), r.command_line);
}

SinkOptions sink_options_for(const ProcessRequest& r, const ScanInfo& info) {
  SinkOptions o;
  o.results_h5 = r.out_h5;
  o.csv_dir = r.csv_dir;
  o.resume = r.resume;
  o.overwrite = r.overwrite;
  o.frames_total = info.n_frames;  // an MPI run's journal lists frames in any order
  return o;
}

// `decoding`: where compressed frames are decoded (prepare_backend), `how`: the run's shape.
void print_start(const ProcessRequest& r, const FrameSource& source, const std::string& backend,
                 const std::string& decoding, const std::string& how) {
  if (r.quiet) return;
  const ScanInfo& info = source.info();
  std::fprintf(stderr, "laueproc process: %s: %lld frames of %dx%d %s, backend %s, %d workers, %d readers%s%s%s%s\n",
               r.input.c_str(), static_cast<long long>(info.n_frames), info.width, info.height, info.dtype.c_str(),
               backend.c_str(), worker_count(r), source.concurrent_reads() ? resolve_readers(r.pipeline.readers) : 1,
               info.chunk_direct ? " (chunk-direct)" : "", decoding.empty() ? "" : ", ", decoding.c_str(), how.c_str());
}

// The end of a run that completed: the report, conversion notes, failed frames; the exit code.
int report_completed(const ProcessRequest& r, const RunReport& report, const FrameSource& source) {
  if (!r.quiet) {
    std::fprintf(stderr, "laueproc process: %s: %lld frames (%lld resumed), %lld peaks in %.2f s (%.1f frames/s)\n",
                 report.backend.c_str(),
                 static_cast<long long>(report.frames_processed + report.frames_resumed),
                 static_cast<long long>(report.frames_resumed), static_cast<long long>(report.peaks), report.seconds,
                 report.seconds > 0 ? static_cast<double>(report.frames_processed) / report.seconds : 0.0);
    std::fprintf(stderr, "laueproc process: results in %s%s%s\n", r.out_h5.c_str(),
                 r.csv_dir.empty() ? "" : " and ", r.csv_dir.empty() ? "" : (r.csv_dir + "/{peaks,frames}.csv").c_str());
  }
  // Conversions made while reading (e.g. float32 data clipped to uint16): known once read.
  for (const auto& w : source.warnings()) std::fprintf(stderr, "laueproc process: note: %s\n", w.c_str());
  if (report.frames_failed > 0) {
    std::fprintf(stderr, "laueproc process: warning: %lld frames failed (listed in /frames with their status):\n",
                 static_cast<long long>(report.frames_failed));
    for (const auto& f : report.failures) std::fprintf(stderr, "  %s\n", f.c_str());
  }
  return report.frames_failed > 0 ? 3 : 0;
}

int report_interrupted(const ProcessRequest& r, std::int64_t frames_done) {
  std::fprintf(stderr,
               "laueproc process: interrupted after %lld frames; the journal keeps them: run the same command "
               "with --resume%s to continue\n",
               static_cast<long long>(frames_done), r.overwrite ? " instead of --overwrite" : "");
  return 130;
}

// A job array's shard finds out hours later, at `laueproc merge`, whether the results folder
// takes files: check now, before the work.
void check_writable_folder(const std::string& file_or_dir, bool is_dir) {
  namespace fs = std::filesystem;
  const fs::path dir = is_dir ? fs::path(file_or_dir) : fs::path(file_or_dir).parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  const fs::path probe = (dir.empty() ? fs::path(".") : dir) / (".laueproc-write-test-" + std::to_string(::getpid()));
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw Error((dir.empty() ? std::string(".") : dir.string()) + ": cannot write here (" +
                      std::strerror(errno) + ")");
  std::fclose(f);
  fs::remove(probe, ec);
}

// One shard of a job array: the frames of block i of N go into the shard's journal only.
int run_shard(ProcessRequest& r, FrameSource& source, const std::string& backend, const std::string& decoding,
              RunReport* report_out) {
  const ScanInfo& info = source.info();
  // The merge of the shards would meet the existing results hours later: say it now.
  if (!r.resume) output::refuse_existing(r.out_h5, r.overwrite, "laueproc merge would replace it: give --overwrite");
  check_writable_folder(r.out_h5, false);
  if (!r.csv_dir.empty()) check_writable_folder(r.csv_dir, true);
  RunInfo run = run_info_for(r, info, backend);
  run.run_mode = "shard " + std::to_string(r.shard.index) + "/" + std::to_string(r.shard.count);
  SinkOptions o = sink_options_for(r, info);
  o.results_h5 = cluster::shard_results_name(r.out_h5, r.shard);
  o.views = false;  // the journal is the shard's product; laueproc merge writes the views
  ResultSink sink(o, run);
  const auto [first, last] = cluster::block_range(info.n_frames, r.shard.index, r.shard.count);
  std::vector<bool> done(static_cast<std::size_t>(info.n_frames), false);
  for (const auto& s : sink.resumed_frames()) done[static_cast<std::size_t>(s.frame)] = true;
  std::vector<std::int64_t> todo;
  for (std::int64_t i = first; i < last; ++i)
    if (!done[static_cast<std::size_t>(i)]) todo.push_back(i);
  const std::int64_t resumed = (last - first) - static_cast<std::int64_t>(todo.size());
  print_start(r, source, backend, decoding,
              ", shard " + std::to_string(r.shard.index) + "/" + std::to_string(r.shard.count) + ": frames " +
                  std::to_string(first) + "-" + std::to_string(last - 1) +
                  (resumed > 0 ? " (" + std::to_string(resumed) + " resumed)" : ""));

  ProgressLine progress("process", progress_wanted(r.quiet));
  InterruptGuard interrupt;
  PipelineOptions options = r.pipeline;
  options.cancel = interrupt.flag();
  ListFeed feed(std::move(todo));
  std::int64_t written = resumed;
  const auto start = std::chrono::steady_clock::now();
  const AnalyzeReport a = analyze_stream(source, r.config, options, feed, true, [&](FrameResult&& result) {
    {
      std::lock_guard<std::mutex> h5_lock(h5::library_mutex());
      sink.add(result.summary, result.peaks);
    }
    progress.update(++written, last - first);
  });
  progress.done();
  if (a.interrupted) return report_interrupted(r, written);
  RunReport report;
  report.frames_total = last - first;
  report.frames_resumed = resumed;
  count_into(report, a);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.quiet)
    std::fprintf(stderr,
                 "laueproc process: shard %d/%d: %lld frames (%lld resumed), %lld peaks in %.2f s, in %s; when "
                 "every shard is done: laueproc merge %s\n",
                 r.shard.index, r.shard.count, static_cast<long long>(last - first), static_cast<long long>(resumed),
                 static_cast<long long>(a.peaks), report.seconds, (o.results_h5 + ".journal").c_str(),
                 r.out_h5.c_str());
  for (const auto& w : source.warnings()) std::fprintf(stderr, "laueproc process: note: %s\n", w.c_str());
  const int code = report.frames_failed > 0 ? 3 : 0;
  if (report_out) *report_out = std::move(report);
  return code;
}

#ifdef LAUEPROC_HAVE_MPI
// One rank of an MPI job (mpirun / srun): see host/cluster/mpi.hpp.
int run_process_mpi(ProcessRequest r, RunReport* report_out) {
  // From before MPI starts to after it ends: a SIGTERM from scancel or mpirun at any moment
  // stops the run cleanly instead of killing a rank mid-way.
  InterruptGuard interrupt;
  cluster::MpiSession session;
  if (r.shard.active()) throw UsageError("--shard is for runs without MPI; under mpirun/srun the ranks share the scan");
  const bool root = session.rank() == 0;
  const cluster::Launch launch = cluster::detect_launch();
  if (session.size() == 1 && launch.tasks > 1)  // every task would write the same files
    throw UsageError("started as one of " + std::to_string(launch.tasks) + " " + launch.launcher +
                     " tasks, but MPI sees one rank: start with srun --mpi=pmix (or mpirun)");
  // Ranks sharing a node share its cores (0 = "all cores" would oversubscribe them).
  if (r.pipeline.threads == 0) r.pipeline.threads = cluster::threads_per_rank(session.local_size());
  if (r.pipeline.readers == 0) r.pipeline.readers = cluster::threads_per_rank(session.local_size());
  if (!root) r.quiet = true;

  // Every rank opens the scan and its backend; rank 0 also its outputs (checked writable now,
  // before the work). Then all agree, so a bad input ends every rank with one message.
  std::unique_ptr<FrameSource> source;
  std::unique_ptr<BadPixelMask> mask;
  std::unique_ptr<ResultSink> sink;
  std::string backend, decoding;
  int code = 0;
  std::string message;
  try {
    source = open_scan(r.input, r.scan);
    backend = prepare_backend(r, source, mask, session.local_rank(), decoding);
    if (root) {
      RunInfo run = run_info_for(r, source->info(), backend);
      run.run_mode = "mpi: " + std::to_string(session.size()) + " ranks, " + cluster::to_string(r.distribution) +
                     " hand-out";
      sink = std::make_unique<ResultSink>(sink_options_for(r, source->info()), run);
    }
  } catch (const std::exception& e) {
    code = dynamic_cast<const InputError*>(&e) || dynamic_cast<const UsageError*>(&e) ? 2 : 1;
    message = e.what();
  }
  // Rank 0 says it, once, for all.
  auto fail = [root](int failure, const std::string& text) {
    if (root) std::fprintf(stderr, "laueproc process: error: %s\n", text.c_str());
    return failure;
  };
  if (auto [agreed, text] = session.agree(code, message); agreed != 0) return fail(agreed, text);
  const std::int64_t frames = session.broadcast(source->info().n_frames);
  code = frames == source->info().n_frames ? 0 : 2;
  if (auto [agreed, text] = session.agree(code, r.input + ": this rank sees " + std::to_string(source->info().n_frames) +
                                                     " frames, rank 0 sees " + std::to_string(frames) +
                                                     " (the input differs between nodes)");
      agreed != 0)
    return fail(agreed, text);
  if (root) {
    print_start(r, *source, backend, decoding,
                " on each of " + std::to_string(session.size()) + " MPI ranks (" + cluster::to_string(r.distribution) +
                    " hand-out)");
    if (!sink->resumed_frames().empty())
      std::fprintf(stderr, "laueproc process: resuming: %zu frames already done\n", sink->resumed_frames().size());
  }

  ProgressLine progress("process", root && progress_wanted(r.quiet));
  cluster::DistributedOptions d;
  d.mode = r.distribution;
  d.frames_per_request = r.chunk > 0 ? r.chunk
                                     : 2 * static_cast<std::int64_t>(worker_count(r)) *
                                           static_cast<std::int64_t>(r.pipeline.make_analyzer ? r.batch : 1);
  d.interrupt = interrupt.flag();
  d.progress = [&progress](std::int64_t done, std::int64_t total) { progress.update(done, total); };
  cluster::DistributedReport result = cluster::run_distributed(session, *source, r.config, r.pipeline, sink.get(), d);
  progress.done();
  if (!root) return result.exit_code;
  if (!r.quiet)
    for (std::size_t i = 0; i < result.ranks.size(); ++i) {
      const auto& k = result.ranks[i];
      std::fprintf(stderr, "laueproc process: %s: %lld frames in %.2f s (%.1f frames/s), CPU %.2f s, %s\n",
                   session.who(static_cast<int>(i)).c_str(), static_cast<long long>(k.frames), k.seconds,
                   k.seconds > 0 ? static_cast<double>(k.frames) / k.seconds : 0.0, k.cpu_seconds, k.backend.c_str());
    }
  if (result.exit_code == 130) return report_interrupted(r, sink->recorded_count());
  if (result.exit_code != 0) {
    sink.reset();  // flush the partial views before the message
    return fail(result.exit_code, result.error);
  }
  result.run.backend += " x " + std::to_string(session.size()) + " ranks";
  const int done_code = report_completed(r, result.run, *source);
  if (report_out) *report_out = std::move(result.run);
  return done_code;
}
#endif

}  // namespace

int run_process(ProcessRequest r, RunReport* report_out) {
  const cluster::Launch launch = cluster::detect_launch();
#ifdef LAUEPROC_HAVE_MPI
  if (launch.by_mpi_launcher) return run_process_mpi(std::move(r), report_out);
#endif
  if (launch.tasks > 1)  // each task would process the whole scan into the same files
    throw UsageError("started as one of " + std::to_string(launch.tasks) + " " + launch.launcher + " tasks, but " +
                     (cluster::mpi_built() ? std::string("without MPI wiring: start with srun --mpi=pmix or mpirun")
                                           : std::string("this laueproc was built without MPI (-DLAUEPROC_MPI=ON)")) +
                     "; or run one task per shard with --shard i/N and laueproc merge");

  auto source = open_scan(r.input, r.scan);
  std::unique_ptr<BadPixelMask> mask;
  std::string decoding;
  const std::string backend = prepare_backend(r, source, mask, -1, decoding);  // may reopen the source
  const ScanInfo& info = source->info();
  if (r.shard.active()) return run_shard(r, *source, backend, decoding, report_out);
  print_start(r, *source, backend, decoding, "");

  ResultSink sink(sink_options_for(r, info), run_info_for(r, info, backend));
  if (!r.quiet && !sink.resumed_frames().empty())
    std::fprintf(stderr, "laueproc process: resuming: %zu frames already done\n", sink.resumed_frames().size());

  ProgressLine progress("process", progress_wanted(r.quiet));
  r.pipeline.progress = [&progress](std::int64_t done, std::int64_t total) { progress.update(done, total); };
  InterruptGuard interrupt;
  r.pipeline.cancel = interrupt.flag();
  RunReport report = run_pipeline(*source, r.config, r.pipeline, sink);
  progress.done();
  if (report.interrupted) return report_interrupted(r, report.frames_resumed + report.frames_processed);
  const int code = report_completed(r, report, *source);
  if (report_out) *report_out = std::move(report);
  return code;
}

int cmd_process(const std::vector<std::string>& args) {
  ProcessRequest r;
  std::string background_method, grid, backend, devices, shard, distribute = "dynamic";
  po::options_description options("Options");
  options.add_options()
      ("input", po::value(&r.input)->required(), "scan: HDF5 stack, 34-ID-E file, directory, glob or list file")
      ("out,o", po::value(&r.out_h5)->default_value("results.h5"), "results file (HDF5)")
      ("csv", po::value(&r.csv_dir), "also write peaks.csv and frames.csv into this folder")
      ("resume", po::bool_switch(&r.resume), "continue an interrupted run from its journal")
      ("overwrite", po::bool_switch(&r.overwrite),
       "replace existing results (and CSVs), or start an interrupted run over; they are replaced when this run completes")
      ("dataset", po::value(&r.scan.dataset), "image dataset path (default /entry/data/data; 34-ID-E: /entry1/data/data)")
      ("grid", po::value(&grid), "raster grid NXxNY (frame i at ix = i % NX); default: from positions")
      ("threads,j", po::value(&r.pipeline.threads)->default_value(0),
       "worker threads (0 = all cores; under MPI: the cores of this rank)")
      ("readers", po::value(&r.pipeline.readers)->default_value(0),
       "reader threads reading and decoding frames (0 = all cores; under MPI: the cores of this rank); "
       "results do not depend on it")
      ("backend", po::value(&backend)->default_value("auto"),
       "auto (cuda when built with CUDA and a device answers), cpu or cuda")
      ("devices", po::value(&devices), "CUDA devices, e.g. 0,1: workers are spread over them (MPI: one per rank, "
                                       "local rank % devices)")
      ("batch", with_default(&r.batch), "CUDA: frames per batch")
      ("cuda-workers", with_default(&r.cuda_workers), "CUDA: host workers feeding the GPUs (0 = min(4, cores))")
      ("device-decode", with_default(&r.device_decode),
       "CUDA: decode compressed frames on the GPU (nvCOMP): auto (when built with nvCOMP and the frames are "
       "one bitshuffle/LZ4 or deflate chunk each), on (fail without nvCOMP), off; results do not depend on it")
      ("shard", po::value(&shard), "i/N: compute only block i of N (0-based; a job array task) into "
                                   "OUT.shard-i-of-N.journal; then laueproc merge OUT")
      ("distribute", po::value(&distribute)->default_value("dynamic"),
       "MPI: dynamic (rank 0 hands out chunks on request) or static (rank r takes block r)")
      ("chunk", with_default(&r.chunk), "MPI: frames per hand-out (0 = 2 x workers x batch of the asking rank)")
      ("no-chunk-direct", po::bool_switch()->notifier([&r](bool off) { if (off) r.scan.chunk_direct = false; }),
       "always read through H5Dread")
      ("quiet,q", po::bool_switch(&r.quiet), "no progress line or report");
  add_config_options(options, r.config, background_method);
  bool do_index = false;  // --index: orientations of the peaks once the run is complete
  IndexOptions index_options;
  po::options_description indexing("Indexing (with --index; see laueproc index --help)");
  indexing.add_options()("index", po::bool_switch(&do_index), "index every frame's peaks into the results file");
  add_index_options(indexing, index_options);
  options.add(indexing);
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc process SCAN [--out results.h5] [--csv DIR] [options]",
             "Finds and measures the Laue peaks of every frame (background, hysteresis threshold,\n"
             "8-connected labels, deblending, intensity-moment ellipses), then the streaking extent\n"
             "and defect scenario per frame, and maps over the raster grid. Results are written as\n"
             "frames complete; --resume continues a killed run. Existing results are never replaced\n"
             "without --overwrite. Exit 2: bad input or an output problem; 3: some frames failed.\n"
             "Many nodes: mpirun -n N laueproc process ... or srun laueproc process ... (MPI build;\n"
             "one results file), or --shard i/N per job-array task then laueproc merge OUT.",
             options, positional, vm))
    return 0;
  finish_config(r.config, background_method);
  if (!grid.empty()) parse_grid(grid, r.pipeline.grid.nx, r.pipeline.grid.ny);
  if (backend != "auto" && backend != "cpu" && backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, not '" + backend + "'");
  r.backend = backend;
  if (r.device_decode != "auto" && r.device_decode != "on" && r.device_decode != "off")
    throw UsageError("--device-decode must be auto, on or off, not '" + r.device_decode + "'");
  if (r.pipeline.readers < 0) throw UsageError("--readers must not be negative");
  if (!devices.empty()) {
    std::stringstream list(devices);
    std::string item;
    while (std::getline(list, item, ',')) {
      try {
        r.devices.push_back(std::stoi(item));
      } catch (const std::exception&) {
        throw UsageError("--devices wants a list like 0,1; got '" + devices + "'");
      }
    }
  }
  if (!shard.empty()) r.shard = cluster::parse_shard(shard);
  r.distribution = cluster::parse_distribution(distribute);
  if (r.chunk < 0) throw UsageError("--chunk must not be negative");
  r.command_line = join(args);
  if (!do_index) return run_process(std::move(r));
  if (r.shard.active())
    throw UsageError("--index with --shard: index the merged results (laueproc merge, then laueproc index)");
  finish_index_options(index_options);  // bad indexing options fail before any frame is processed
  if (index_options.geometry.empty()) throw UsageError("--index needs --geometry FILE (.det or LaueGo XML)");
  index::read_geometry(index_options.geometry);
  resolve_material(index_options);
  const std::string out = r.out_h5, csv = r.csv_dir, command_line = r.command_line;
  const bool quiet = r.quiet;
  const int threads = r.pipeline.threads;
  const int code = run_process(std::move(r));
  if (code != 0 && code != 3) return code;  // interrupted: no index of a partial scan
  // Under MPI only rank 0 holds the results; the other ranks have finished.
  if (cluster::detect_launch().rank > 0) return code;
  run_index(out, out, false, csv, index_options, threads, command_line, quiet);
  return code;
}

}  // namespace laueproc::cli
