// laueproc demo: simulate a small scan with every defect scenario, process it, and compare the
// result with the simulator's ground truth, so a new user sees the whole flow in one command.
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "cli/process_options.hpp"
#include "cli/progress.hpp"
#include "cli/run_process.hpp"
#include "laueproc/error.hpp"
#include "laueproc/sim.hpp"

namespace laueproc::cli {

int cmd_demo(const std::vector<std::string>& args) {
  std::string out_dir = "laueproc-demo", grid = "5x5";
  int size = 1024, threads = 0;
  bool quiet = false;
  std::uint64_t seed = 7;
  po::options_description options("Options");
  options.add_options()
      ("out,o", po::value(&out_dir)->default_value(out_dir), "folder for the scan and the results")
      ("grid", po::value(&grid)->default_value(grid), "raster NXxNY")
      ("size", po::value(&size)->default_value(size), "square frames of this many pixels (the beamline's: 2048)")
      ("seed", po::value(&seed)->default_value(seed), "random seed of the simulated scan")
      ("threads,j", po::value(&threads)->default_value(0), "threads (0 = all cores)")
      ("quiet,q", po::bool_switch(&quiet), "no progress lines");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(args, "laueproc demo [--out DIR] [--grid 5x5] [--size 1024]",
             "Simulates a scan holding every defect scenario (with ground truth), processes it with the\n"
             "default settings, and prints how the results compare with the truth and where they are.",
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
  std::printf("scan:     %s (truth: %s, %s)\n", scan.path.c_str(), scan.truth_peaks_csv.c_str(),
              scan.truth_frames_csv.c_str());
  std::printf("results:  %s (open with h5py or `silx view`), CSV in %s/\n", request.out_h5.c_str(),
              request.csv_dir.c_str());
  return code;
}

}  // namespace laueproc::cli
