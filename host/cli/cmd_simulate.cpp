// laueproc simulate: writes a synthetic scan with ground truth (see include/laueproc/sim.hpp).
#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "cli/progress.hpp"
#include "laueproc/error.hpp"
#include "laueproc/sim.hpp"

namespace laueproc::cli {

int cmd_simulate(const std::vector<std::string>& args) {
  sim::SimConfig config;
  sim::WriteOptions write;
  std::string layout = "stack", grid = "5x5", scenario = "mixed-all";
  int size = 0, width = 0, height = 0;
  bool quiet = false;

  po::options_description options("Options");
  options.add_options()
      ("out,o", po::value(&write.out)->required(), "stack: the HDF5 file to write; files: the directory")
      ("layout", with_default(&layout), "stack (one NeXus file) or files (APS 34-ID-E, one file per frame)")
      ("grid", with_default(&grid), "raster NXxNY; frames = NX*NY, row by row")
      ("step", with_default(&config.step_um), "raster step, micrometres")
      ("size", po::value(&size), "square frames of this many pixels (default 2048)")
      ("width", po::value(&width), "frame width, pixels")
      ("height", po::value(&height), "frame height, pixels")
      ("seed", with_default(&config.seed), "random seed; same seed, same scan")
      ("scenario", with_default(&scenario),
       "defect_free, gnd, tilt_boundary, mixed or stacking for every frame; mixed-all: drawn per frame")
      ("min-reflections", with_default(&config.min_reflections),
       "fewest reflections per frame")
      ("max-reflections", with_default(&config.max_reflections),
       "most reflections per frame")
      ("compression", with_default(&write.compression), "none, gzip or bitshuffle")
      ("threads", po::value(&write.threads)->default_value(0), "render threads (0 = all cores)")
      ("overwrite", po::bool_switch(&write.overwrite), "replace existing files of the scan (the stack or frame files, truth CSVs)")
      ("quiet,q", po::bool_switch(&quiet), "no progress line");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(args, "laueproc simulate --out PATH [options]",
             "Writes a synthetic Laue scan (defect-free, GND, tilt-boundary, mixed and stacking frames)\n"
             "with its ground truth: truth_peaks.csv and truth_frames.csv beside the stack file or in\n"
             "the per-frame directory.",
             options, positional, vm))
    return 0;

  if (layout == "stack")
    write.layout = ScanLayout::stack;
  else if (layout == "files" || layout == "per_frame_files" || layout == "per-frame")
    write.layout = ScanLayout::per_frame_files;
  else
    throw UsageError("--layout must be stack or files, not '" + layout + "'");
  parse_grid(grid, config.grid_nx, config.grid_ny);
  if (vm.count("size") && (vm.count("width") || vm.count("height")))
    throw UsageError("give --size or --width/--height, not both");
  if (vm.count("size")) config.width = config.height = size;
  if (vm.count("width")) config.width = width;
  if (vm.count("height")) config.height = height;
  if (scenario != "mixed-all" && scenario != "all") {
    auto s = scenario_from_string(scenario);
    if (!s || *s == Scenario::unknown)
      throw UsageError("--scenario must be defect_free, gnd, tilt_boundary, mixed, stacking or mixed-all, not '" +
                       scenario + "'");
    config.only = *s;
  }
  if (write.threads < 0) throw UsageError("--threads must not be negative");

  const std::int64_t n = static_cast<std::int64_t>(config.grid_nx) * config.grid_ny;
  ProgressLine line("simulate", progress_wanted(quiet));
  const sim::WrittenScan scan =
      sim::write_scan(config, write, [&line](std::int64_t done, std::int64_t total) { line.update(done, total); });
  line.done();
  std::printf("wrote %lld frames of %d x %d pixels (%s, seed %llu)\n", static_cast<long long>(n), config.width,
              config.height, write.layout == ScanLayout::stack ? "stack" : "per-frame files",
              static_cast<unsigned long long>(config.seed));
  std::printf("scan:         %s\n", scan.path.c_str());
  std::printf("truth peaks:  %s\n", scan.truth_peaks_csv.c_str());
  std::printf("truth frames: %s\n", scan.truth_frames_csv.c_str());
  std::printf("next: laueproc process %s\n", scan.path.c_str());
  return 0;
}

}  // namespace laueproc::cli
