// laueproc simulate: writes a synthetic scan with ground truth (see include/laueproc/sim.hpp).
#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "cli/index_options.hpp"
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
  IndexOptions crystal;  // material and geometry of physical spots

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
      ("material", po::value(&crystal.material), "physical spots of this built-in crystal (LiCoO2, LiNiO2, NMC811, Ge, Si)")
      ("lattice", po::value(&crystal.lattice), "physical spots of a,b,c,alpha,beta,gamma (with --space-group)")
      ("space-group", po::value(&crystal.space_group), "space-group number for --lattice")
      ("geometry", po::value(&crystal.geometry),
       "detector of the physical spots (.det or LaueGo XML); default: a top detector at 510 mm, 0.2 mm pixels x 2048/size")
      ("energy", po::value(&crystal.energy)->default_value("7:30"), "physical spots: energy band LO:HI, keV")
      ("q-max", with_default(&config.crystal.q_max), "physical spots: reflections up to this |q| (1/Angstrom)")
      ("crystals", with_default(&config.crystal.grains), "physical spots: crystals in every frame")
      ("second-grain-fraction", with_default(&config.crystal.second_grain_fraction),
       "physical spots: share of frames where one more crystal meets the beam")
      ("spurious-fraction", with_default(&config.crystal.spurious_fraction),
       "physical spots: extra spots at random places, as a share of the real ones")
      ("curvature", with_default(&config.crystal.curvature_deg_per_um),
       "physical spots: orientation gradient across the raster, deg per micrometre")
      ("overwrite", po::bool_switch(&write.overwrite), "replace existing files of the scan (the stack or frame files, truth CSVs)")
      ("quiet,q", po::bool_switch(&quiet), "no progress line");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(args, "laueproc simulate --out PATH [options]",
             "Writes a synthetic Laue scan (defect-free, GND, tilt-boundary, mixed and stacking frames)\n"
             "with its ground truth: truth_peaks.csv and truth_frames.csv beside the stack file or in\n"
             "the per-frame directory. With --material or --lattice, spots sit where a crystal of known\n"
             "orientation diffracts (energy band, reflection conditions, --geometry), tilt boundaries are\n"
             "sub-grains, GND streaks follow each spot's path under lattice curvature; truth_grains.csv\n"
             "and truth_spots.csv give the orientations (UB B0) and hkl.",
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
  if (!crystal.material.empty() || !crystal.lattice.empty()) {
    crystal.energy = vm["energy"].as<std::string>();
    finish_index_options(crystal);
    config.crystal.enabled = true;
    config.crystal.material = resolve_material(crystal);
    config.crystal.energy_min_kev = crystal.settings.energy_min_kev;
    config.crystal.energy_max_kev = crystal.settings.energy_max_kev;
    if (!crystal.geometry.empty()) {
      config.crystal.geometry = index::read_geometry(crystal.geometry);
      if (!vm.count("size") && !vm.count("width") && !vm.count("height")) {
        config.width = config.crystal.geometry.nx;  // the detector's own size
        config.height = config.crystal.geometry.ny;
      }
    } else {
      config.crystal.geometry = index::top_detector(config.width, config.height, 0.2 * 2048.0 / config.width, 510.0);
    }
  } else if (!crystal.geometry.empty()) {
    throw UsageError("--geometry places physical spots: give --material or --lattice too");
  }

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
  if (!scan.truth_grains_csv.empty()) {
    std::printf("truth grains: %s\n", scan.truth_grains_csv.c_str());
    std::printf("truth spots:  %s\n", scan.truth_spots_csv.c_str());
    std::printf("geometry:     %s\n", scan.geometry_xml.c_str());
  }
  std::printf("next: laueproc process %s%s\n", scan.path.c_str(),
              scan.geometry_xml.empty() ? ""
                                        : (" --index --geometry " + scan.geometry_xml + " --material " +
                                           config.crystal.material.name + " --energy " + crystal.energy)
                                              .c_str());
  return 0;
}

}  // namespace laueproc::cli
