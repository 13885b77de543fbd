// laueproc demo: simulate a small scan with every defect scenario, process it, and compare the
// result with the simulator's ground truth, so a new user sees the whole flow in one command.
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "cli/cmd_correlate.hpp"
#include "cli/cmd_report.hpp"
#include "cli/cmd_xanes.hpp"
#include "cli/process_options.hpp"
#include "cli/progress.hpp"
#include "cli/run_process.hpp"
#include "laueproc/error.hpp"
#include "laueproc/sim.hpp"

namespace laueproc::cli {

int cmd_demo(const std::vector<std::string>& args) {
  std::string out_dir = "laueproc-demo", grid = "8x8";
  int size = 1024, threads = 0;
  bool quiet = false, no_report = false;
  std::uint64_t seed = 7;
  po::options_description options("Options");
  options.add_options()
      ("out,o", with_default(&out_dir), "folder for the scan and the results")
      ("grid", with_default(&grid), "raster NXxNY")
      ("size", with_default(&size), "square frames of this many pixels (the beamline's: 2048)")
      ("seed", with_default(&seed), "random seed of the simulated scan")
      ("threads,j", po::value(&threads)->default_value(0), "threads (0 = all cores)")
      ("no-report", po::bool_switch(&no_report), "stop after process, XANES and correlation (no HTML report)")
      ("quiet,q", po::bool_switch(&quiet), "no progress lines");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(args, "laueproc demo [--out DIR] [--grid 8x8] [--size 1024]",
             "The whole flow on built-in simulated data: simulates a Laue scan holding every defect\n"
             "scenario (with ground truth), processes it, compares with the truth; simulates a micro-XANES\n"
             "map of the same raster whose white lines follow the SE map, fits it, correlates the two\n"
             "particle by particle, and writes the HTML report. Prints where everything is. A second demo\n"
             "into the same folder replaces the first one's files.",
             options, positional, vm))
    return 0;

  sim::SimConfig sim_config;
  parse_grid(grid, sim_config.grid_nx, sim_config.grid_ny);
  sim_config.width = sim_config.height = size;
  sim_config.seed = seed;
  ::mkdir(out_dir.c_str(), 0755);

  sim::WriteOptions write;
  write.out = out_dir + "/scan.h5";
  write.threads = threads;
  write.overwrite = true;
  std::fprintf(stderr, "laueproc demo: simulating a %s scan of %dx%d frames into %s\n", grid.c_str(), size, size,
               write.out.c_str());
  sim::WrittenScan scan;
  {
    ProgressLine progress("simulate", progress_wanted(quiet));
    scan = sim::write_scan(sim_config, write, [&](std::int64_t done, std::int64_t total) { progress.update(done, total); });
  }

  ProcessRequest request;
  request.input = scan.path;
  request.out_h5 = out_dir + "/results.h5";
  request.csv_dir = out_dir + "/csv";
  request.overwrite = true;  // the demo folder is the demo's own: a second demo replaces the first
  request.quiet = quiet;
  request.pipeline.threads = threads;
  request.command_line = "laueproc demo --out " + out_dir + " --grid " + grid + " --size " + std::to_string(size) +
                         " --seed " + std::to_string(seed);
  RunReport report;
  int code = run_process(request, &report);

  // How the results compare with the simulator's truth.
  sim::ScanSimulator simulator(sim_config);
  int right = 0, se_frames = 0;
  double se_error_sum = 0;
  std::printf("\n frame  truth           found           SE true  SE found\n");
  for (const auto& f : report.frames) {
    const sim::TruthFrame t = simulator.frame_truth(f.frame);
    right += f.scenario == t.scenario;
    if (std::isfinite(f.se) && (t.scenario == Scenario::defect_free || t.scenario == Scenario::gnd)) {
      se_error_sum += std::fabs(f.se - t.se_true) / t.se_true;
      ++se_frames;
    }
    std::printf(" %5lld  %-14s  %-14s  %7.2f  %8.2f%s\n", static_cast<long long>(f.frame),
                std::string(to_string(t.scenario)).c_str(), std::string(to_string(f.scenario)).c_str(), t.se_true,
                f.se, f.scenario == t.scenario ? "" : "   <- differs");
  }
  std::printf("\nscenarios right: %d of %zu frames; SE error on defect-free and GND frames: %.1f %% (mean)\n", right,
              report.frames.size(), se_frames ? 100.0 * se_error_sum / se_frames : 0.0);
  if (code != 0) return code;

  // The micro-XANES half: a stack on the same raster, white lines driven by the SE map.
  const std::string stack = out_dir + "/xanes_stack.h5", xanes_out = out_dir + "/xanes.h5",
                    correlation = out_dir + "/correlation.h5", report_html = out_dir + "/report.html";
  const std::string threads_arg = std::to_string(threads > 0 ? threads : resolve_threads(0));
  std::printf("\n");
  if ((code = cmd_xanes(std::vector<std::string>{"--simulate", stack, "--se-map", request.out_h5, "--particles", "3", "--seed",
                         std::to_string(seed), "--overwrite"})) != 0)
    return code;
  if ((code = cmd_xanes(std::vector<std::string>{stack, "--out", xanes_out, "--csv", request.csv_dir, "--threads", threads_arg,
                                                 "--overwrite"})) != 0)
    return code;
  if ((code = cmd_correlate(std::vector<std::string>{"--process", request.out_h5, "--xanes", xanes_out, "--out", correlation, "--csv",
                             request.csv_dir, "--overwrite"})) != 0)
    return code;
  if (!no_report &&
      (code = cmd_report(std::vector<std::string>{"--process", request.out_h5, "--xanes", xanes_out, "--correlation", correlation, "--out",
                          report_html, "--overwrite"})) != 0)
    return code;

  std::printf("\nscan:        %s (truth: %s, %s)\n", scan.path.c_str(), scan.truth_peaks_csv.c_str(),
              scan.truth_frames_csv.c_str());
  std::printf("results:     %s (open with h5py or `silx view`), CSV in %s/\n", request.out_h5.c_str(),
              request.csv_dir.c_str());
  std::printf("XANES:       %s (stack %s), correlation %s\n", xanes_out.c_str(), stack.c_str(), correlation.c_str());
  if (!no_report) std::printf("report:      %s\n", report_html.c_str());
  return code;
}

}  // namespace laueproc::cli
