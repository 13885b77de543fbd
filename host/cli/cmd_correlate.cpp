// laueproc correlate: per-particle SE and white-line statistics, across-particle correlation,
// shifts between states (e.g. pristine -> delithiated).
#include "cli/cmd_correlate.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <regex>

#include "cli/cli.hpp"
#include "laueproc/correlate.hpp"
#include "laueproc/error.hpp"
#include "output/output_guard.hpp"

namespace laueproc::cli {

namespace {

correlate::StateInput parse_state(const std::string& text) {
  // NAME:PROCESS:XANES; file names may not hold ':' here (use --process/--xanes for a single state).
  const auto a = text.find(':');
  const auto b = a == std::string::npos ? a : text.find(':', a + 1);
  if (a == std::string::npos || b == std::string::npos || text.find(':', b + 1) != std::string::npos || a == 0 ||
      b == a + 1 || b + 1 == text.size())
    throw UsageError("--state wants NAME:PROCESS.h5:XANES.h5, got '" + text + "'");
  return {text.substr(0, a), text.substr(a + 1, b - a - 1), text.substr(b + 1), ""};
}

std::string join(const std::vector<std::string>& args) {
  std::string s = "laueproc correlate";
  for (const auto& a : args) s += " " + a;
  return s;
}

}  // namespace

int cmd_correlate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string process, xanes_file, out = "correlation.h5", csv, offset, scale = "1", name = "state", index_file;
  std::vector<std::string> states;
  bool overwrite = false;
  correlate::Settings s;
  opts.add_options()("process", po::value(&process), "results.h5 of laueproc process (/maps/se/se)")(
      "xanes", po::value(&xanes_file), "xanes.h5 of laueproc xanes (/xanes/white_line_ev, status, particles)")(
      "name", with_default(&name), "state name for --process/--xanes")(
      "state", po::value(&states)->composing(), "NAME:PROCESS.h5:XANES.h5, repeat for several states (first = reference)")(
      "out,o", with_default(&out), "correlation file (HDF5)")(
      "csv", po::value(&csv), "also write DIR/particles.csv, across.csv (and shifts.csv)")(
      "offset", po::value(&offset), "DX,DY: XANES pixel (ix,iy) reads SE at (ix+DX, iy+DY), XANES grid cells")(
      "scale", with_default(&scale),
      "S: SE grid S times finer (block mean); 1/S: XANES grid S times finer (SE repeated)")(
      "bins", with_default(&s.bins), "histogram bins (same edges for all particles)")(
      "single-crystal-only", po::bool_switch(&s.single_crystal_only),
      "SE only where exactly one crystal was indexed (/maps/single_crystal of process --index, or --index FILE)")(
      "index", po::value(&index_file), "index file of laueproc index holding the single-crystal mask (with --process)")(
      "overwrite", po::bool_switch(&overwrite), "replace existing output files")(
      "own-particles", po::bool_switch(&s.own_particles),
      "each state uses its own /xanes/particles (default: the first state's, so labels match)");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse(args,
             "laueproc correlate --process results.h5 --xanes xanes.h5 [options]\n"
             "       laueproc correlate --state pristine:p1.h5:x1.h5 --state delithiated:p2.h5:x2.h5 [options]",
             "Per particle: SE and white-line histograms and averages, point-by-point Pearson r; across\n"
             "particles: Pearson r, Spearman rho and a least-squares line of mean white line vs mean SE;\n"
             "with 2+ states, shifts from the first state. See docs/xanes.md.",
             opts, pos, vm))
    return 0;
  std::vector<correlate::StateInput> inputs;
  if (!process.empty() || !xanes_file.empty()) {
    if (process.empty() || xanes_file.empty()) throw UsageError("--process and --xanes go together");
    inputs.push_back({name, process, xanes_file, index_file});
  }
  for (const auto& t : states) inputs.push_back(parse_state(t));
  if (inputs.empty()) throw UsageError("give --process FILE --xanes FILE, or --state NAME:PROCESS:XANES");
  if (!index_file.empty() && !s.single_crystal_only) throw UsageError("--index goes with --single-crystal-only");
  if (!index_file.empty() && !states.empty())
    throw UsageError("--index applies to --process; with --state, index each scan with process --index");
  if (!offset.empty()) {
    static const std::regex pattern(R"(^\s*([-+]?\d+)\s*,\s*([-+]?\d+)\s*$)");
    std::smatch m;
    if (!std::regex_match(offset, m, pattern)) throw UsageError("--offset wants DX,DY (integers), got '" + offset + "'");
    s.align.dx = std::stoi(m[1]);
    s.align.dy = std::stoi(m[2]);
    s.align.given = true;
  }
  {
    static const std::regex pattern(R"(^\s*(1/)?(\d+)\s*$)");
    std::smatch m;
    if (!std::regex_match(scale, m, pattern)) throw UsageError("--scale wants S or 1/S (integer S >= 1), got '" + scale + "'");
    const int v = std::stoi(m[2]);
    if (v < 1) throw UsageError("--scale needs S >= 1, got '" + scale + "'");
    s.align.scale = m[1].matched && v > 1 ? -v : v;
    if (vm.count("scale") && !vm["scale"].defaulted()) s.align.given = true;
  }
  if (s.bins < 1) throw UsageError("--bins must be >= 1");

  // Existing outputs are refused before any work; each is written under a temporary name and
  // moved into place only when everything is complete.
  output::AtomicFile out_file(out, overwrite);
  std::optional<output::StagingFolder> csv_files;
  if (!csv.empty()) {
    for (const char* file : {"particles.csv", "across.csv", "shifts.csv"})
      output::refuse_existing((std::filesystem::path(csv) / file).string(), overwrite);
    csv_files.emplace(csv, overwrite);
  }
  correlate::Result r = correlate::run(inputs, s);
  correlate::write_hdf5(out_file.temp_path(), r, join(args));
  if (csv_files) correlate::write_csv(csv_files->path(), r);
  out_file.commit();
  if (csv_files) csv_files->commit();

  std::printf("correlation of SE and white line on a %zu x %zu XANES grid, %zu state(s)\n", r.ny, r.nx, inputs.size());
  for (const auto& a : r.across)
    std::printf("  %-14s %3d particles: pearson r %.3f, spearman rho %.3f, wl = %.3f(+-%.3f) + %.3f(+-%.3f) * SE eV\n",
                a.state.c_str(), a.n, a.pearson_r, a.spearman_rho, a.line.intercept, a.line.intercept_stderr,
                a.line.slope, a.line.slope_stderr);
  double sum_r = 0;
  int n_r = 0;
  for (const auto& p : r.particles)
    if (std::isfinite(p.pointwise_r)) {
      sum_r += p.pointwise_r;
      ++n_r;
    }
  if (n_r) std::printf("  mean point-by-point r inside particles: %.3f (%d particle rows)\n", sum_r / n_r, n_r);
  for (const auto& o : r.overall)
    std::printf("  %s -> %s: SE mean %+.3f (median %+.3f), white line mean %+.3f eV (median %+.3f eV)\n",
                o.from_state.c_str(), o.to_state.c_str(), o.d_se_mean, o.d_se_median, o.d_wl_mean_ev, o.d_wl_median_ev);
  std::printf("  results: %s%s%s\n", out.c_str(), csv.empty() ? "" : ", CSV in ", csv.c_str());
  return 0;
}

}  // namespace laueproc::cli
