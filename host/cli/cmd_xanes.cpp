// laueproc xanes: white-line maps (HDF5 stack in, HDF5 maps + particle masks + optional pixels.csv
// out), the white line of every spectrum column of a text/XDI file, or a simulated stack.
#include "cli/cmd_xanes.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <regex>
#include <thread>

#include "cli/cli.hpp"
#include "io/h5.hpp"
#include "laueproc/correlate.hpp"
#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"
#include "output/output_guard.hpp"

namespace laueproc::cli {

namespace {

std::pair<double, double> parse_window(const std::string& text) {
  static const std::regex pattern(R"(^\s*([-+0-9.eE]+)\s*:\s*([-+0-9.eE]+)\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern)) throw UsageError("--search-window wants LO:HI in eV (e.g. 7721:7735), got '" + text + "'");
  try {
    double lo = std::stod(m[1]), hi = std::stod(m[2]);
    if (!(lo < hi)) throw UsageError("--search-window needs LO < HI, got '" + text + "'");
    return {lo, hi};
  } catch (const std::logic_error&) {
    throw UsageError("--search-window wants numbers, got '" + text + "'");
  }
}

std::string describe(const xanes::FitSettings& s) {
  char buf[256];
  char w[96] = "whole spectrum";
  if (s.search_window) std::snprintf(w, sizeof w, "%g:%g eV", s.search_window->first, s.search_window->second);
  const std::string win = w;
  std::snprintf(buf, sizeof buf, "order %d, half window %g eV, grid %g eV, search %s, normalisation: ", s.order,
                s.half_window_ev, s.grid_step_ev, win.c_str());
  return buf + xanes::describe_normalisation(s);
}

// FILE[:/PATH] -> (file, path); the dataset path must start with '/'.
std::pair<std::string, std::string> split_file_path(const std::string& text, const std::string& default_path) {
  const auto colon = text.rfind(":/");
  if (colon == std::string::npos || colon == 0) return {text, default_path};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

int simulate(const std::string& out, const std::string& grid, bool grid_given, int particles, const std::string& se_map,
             std::uint64_t seed, double noise, bool overwrite) {
  output::AtomicFile out_file(out, overwrite);  // refused before any work when it exists
  xanes::XanesSimConfig c;
  c.n_particles = particles;
  c.seed = seed;
  c.noise = noise;
  int nx = 64, ny = 64;
  if (grid_given) parse_grid(grid, nx, ny);
  if (!se_map.empty()) {
    std::size_t sy = 0, sx = 0;
    c.se_map = correlate::read_se_map(se_map, sy, sx);
    if (grid_given && (sy != static_cast<std::size_t>(ny) || sx != static_cast<std::size_t>(nx)))
      throw UsageError("--grid " + grid + " does not match the SE map of " + se_map + " (" + std::to_string(sx) + "x" +
                       std::to_string(sy) + " as NXxNY); leave --grid out to take the SE map's");
    nx = static_cast<int>(sx);
    ny = static_cast<int>(sy);
  }
  c.nx = static_cast<std::size_t>(nx);
  c.ny = static_cast<std::size_t>(ny);
  // Particles sized to the grid: a 64x64 grid gets radii 3..8 px.
  const double side = static_cast<double>(std::min(nx, ny));
  c.radius_max_px = std::max(2.0, side / 8);
  c.radius_min_px = std::max(1.5, c.radius_max_px / 2.5);
  auto sim = xanes::simulate_xanes_stack(c);
  xanes::write_simulated_stack(out_file.temp_path(), sim);
  out_file.commit();
  std::printf("%s: simulated XANES stack, %zu energies (%g..%g eV), %d x %d pixels (NXxNY), %zu particles%s, seed %llu\n",
              out.c_str(), sim.stack.energy_ev.size(), sim.stack.energy_ev.front(), sim.stack.energy_ev.back(), nx, ny,
              sim.particle_wl_ev.size(), se_map.empty() ? "" : " (white lines driven by the SE map)",
              static_cast<unsigned long long>(seed));
  for (std::size_t k = 0; k < sim.particle_wl_ev.size(); ++k)
    std::printf("  particle %zu: white line %.3f eV\n", k + 1, sim.particle_wl_ev[k]);
  std::printf("  truth in /truth/white_line_ev, /truth/particles; XRF in /exchange/xrf\n");
  return 0;
}

}  // namespace

int cmd_xanes(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string input, out = "xanes.h5", csv, window, energy_path = "/exchange/energy", data_path = "/exchange/data";
  std::string xrf, mask_source = "auto", sim_out, grid, se_map;
  double mask_threshold = 0, noise = 0.01;
  double e0 = 0, pre1 = 0, pre2 = 0, norm1 = 0, norm2 = 0;
  int nnorm = 0;
  bool normalise = false, overwrite = false;
  int min_particle_pixels = 4, particles = 6;
  std::uint64_t seed = 1;
  xanes::FitSettings s;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  opts.add_options()("input", po::value(&input), "HDF5 stack (/exchange/data, /exchange/energy) or text/XDI spectrum")(
      "out,o", with_default(&out), "results file (stacks)")(
      "csv", po::value(&csv), "also write DIR/pixels.csv (stacks)")(
      "order", with_default(&s.order), "polynomial order, 2..6")(
      "half-window", with_default(&s.half_window_ev), "fit range around the maximum, +- eV")(
      "step", with_default(&s.grid_step_ev), "interpolation grid step, eV")(
      "search-window", po::value(&window), "LO:HI eV where the maximum is searched (default whole spectrum)")(
      "min-signal", with_default(&s.min_signal), "peak-to-peak mu (and edge step) below which a pixel is flat")(
      "normalise", po::bool_switch(&normalise),
      "subtract the pre-edge line and divide by the edge step first (Larch pre_edge; needs data below --search-window)")(
      "e0", po::value(&e0), "with --normalise: edge energy, eV (default per pixel: max dmu/dE)")(
      "pre1", po::value(&pre1), "with --normalise: pre-edge range start, eV relative to e0 (default Larch's)")(
      "pre2", po::value(&pre2), "with --normalise: pre-edge range end, eV relative to e0 (default Larch's)")(
      "norm1", po::value(&norm1), "with --normalise: post-edge range start, eV relative to e0 (default Larch's)")(
      "norm2", po::value(&norm2), "with --normalise: post-edge range end, eV relative to e0 (default Larch's)")(
      "nnorm", po::value(&nnorm), "with --normalise: post-edge polynomial degree 0..5 (default Larch's: by range width)")(
      "energy-path", with_default(&energy_path), "energies dataset in the stack")(
      "data-path", with_default(&data_path), "stack dataset (n_energies, ny, nx)")(
      "xrf", po::value(&xrf), "fluorescence map FILE[:/PATH] (default PATH /exchange/xrf) for the particle mask")(
      "mask-source", with_default(&mask_source),
      "particle mask from: auto (XRF when there is one, else edge-jump), xrf, edge-jump, range, none")(
      "mask-threshold", po::value(&mask_threshold), "fixed mask threshold (signal units); default Otsu (1979)")(
      "min-particle-pixels", with_default(&min_particle_pixels),
      "drop 8-connected particles smaller than this")(
      "threads", with_default(&threads), "worker threads")(
      "overwrite", po::bool_switch(&overwrite), "replace existing output files (--out, --csv's pixels.csv, --simulate's file)")(
      "simulate", po::value(&sim_out), "write a simulated stack (with XRF and truth) to this file instead of fitting")(
      "grid", po::value(&grid), "simulated raster NXxNY (default 64x64, or the --se-map's)")(
      "particles", with_default(&particles), "simulated particles")(
      "se-map", po::value(&se_map), "results.h5 of laueproc process: its /maps/se/se drives the simulated white lines")(
      "seed", with_default(&seed), "simulation random seed")(
      "noise", with_default(&noise), "simulated noise on mu, fraction of the edge step");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc xanes INPUT [options]  |  laueproc xanes --simulate OUT.h5 [--grid NXxNY] [--particles K] [--se-map results.h5] [--seed N]",
             "Co K-edge white-line energy per pixel (stack) or per spectrum column (text/XDI): linear\n"
             "interpolation, polynomial around the maximum, energy of the fitted maximum. Stacks also get\n"
             "particle masks (/xanes/particles) from an XRF map or the edge jump. See docs/xanes.md.",
             opts, pos, vm))
    return 0;
  if (!sim_out.empty()) {
    if (!input.empty()) throw UsageError("--simulate takes no INPUT");
    if (particles < 0) throw UsageError("--particles must be >= 0");
    if (!(noise >= 0)) throw UsageError("--noise must be >= 0");
    return simulate(sim_out, grid, vm.count("grid") > 0, particles, se_map, seed, noise, overwrite);
  }
  if (input.empty()) throw UsageError("INPUT is required (or --simulate OUT.h5)");
  if (!window.empty()) s.search_window = parse_window(window);
  if (s.order < 2 || s.order > 6) throw UsageError("--order must be 2..6");
  if (!(s.half_window_ev > 0) || !(s.grid_step_ev > 0)) throw UsageError("--half-window and --step must be > 0");
  if (min_particle_pixels < 1) throw UsageError("--min-particle-pixels must be >= 1");
  s.normalise = normalise;
  for (const char* name : {"e0", "pre1", "pre2", "norm1", "norm2", "nnorm"})
    if (vm.count(name) && !normalise) throw UsageError(std::string("--") + name + " needs --normalise");
  if (vm.count("e0")) s.e0_ev = e0;
  if (vm.count("pre1")) s.pre1_ev = pre1;
  if (vm.count("pre2")) s.pre2_ev = pre2;
  if (vm.count("norm1")) s.norm1_ev = norm1;
  if (vm.count("norm2")) s.norm2_ev = norm2;
  if (vm.count("nnorm")) {
    if (nnorm < 0 || nnorm > 5) throw UsageError("--nnorm must be 0..5");
    s.nnorm = nnorm;
  }
  if (mask_source != "auto" && mask_source != "xrf" && mask_source != "edge-jump" && mask_source != "range" &&
      mask_source != "none")
    throw UsageError("--mask-source must be auto, xrf, edge-jump, range or none, got '" + mask_source + "'");

  try {
    h5::check_readable(input);
    if (h5::looks_like_hdf5(input)) {
      // Existing outputs are refused before any work; each is written under a temporary name and
      // moved into place only when everything is complete.
      output::AtomicFile out_file(out, overwrite);
      std::optional<output::StagingFolder> csv_files;
      if (!csv.empty()) {
        output::refuse_existing((std::filesystem::path(csv) / "pixels.csv").string(), overwrite);
        csv_files.emplace(csv, overwrite);
      }
      auto t0 = std::chrono::steady_clock::now();
      xanes::Stack st = xanes::read_stack(input, {data_path, energy_path, "/exchange/xrf"});
      if (st.kev_converted) std::fprintf(stderr, "%s: energies < 100 taken as keV (x1000)\n", input.c_str());
      if (!xrf.empty()) {
        auto [file, path] = split_file_path(xrf, "/exchange/xrf");
        st.xrf = xanes::read_map(file, path, st.ny, st.nx);
      }
      xanes::WhiteLineFitter fitter(st.energy_ev, s);
      const std::size_t np = st.ny * st.nx;
      std::vector<xanes::FitResult> res(np);
      auto t1 = std::chrono::steady_clock::now();
      fitter.fit_many(st.data.data(), np, res.data(), threads);
      auto t2 = std::chrono::steady_clock::now();

      std::optional<xanes::ParticleMap> pm;
      if (mask_source != "none") {
        std::string src = mask_source;
        if (src == "auto") src = st.xrf.empty() ? "edge-jump" : "xrf";
        if (src == "xrf" && st.xrf.empty())
          throw InputError(input, "no /exchange/xrf for --mask-source xrf (give --xrf FILE[:/PATH])");
        std::vector<double> signal;
        if (src == "xrf") signal.assign(st.xrf.begin(), st.xrf.end());
        else if (src == "edge-jump") signal = xanes::edge_jump_map(st);
        else signal = xanes::signal_range_map(st);
        xanes::MaskSettings ms;
        if (vm.count("mask-threshold")) ms.threshold = mask_threshold;
        ms.min_particle_pixels = min_particle_pixels;
        pm = xanes::label_particles(std::move(signal), st.ny, st.nx, src, ms);
      }
      xanes::write_results(out_file.temp_path(), res, st.ny, st.nx, st.energy_ev, s, input, pm ? &*pm : nullptr);
      std::string csv_path;
      if (csv_files) {
        xanes::write_pixels_csv(csv_files->path(), res, st.ny, st.nx, pm ? &pm->labels : nullptr);
        csv_path = csv_files->final_path("pixels.csv");
      }
      out_file.commit();
      if (csv_files) csv_files->commit();
      std::array<std::size_t, xanes::kFitStatusCount> count{};
      double sum = 0;
      for (const auto& r : res) {
        ++count[static_cast<std::size_t>(r.status)];
        if (r.status == xanes::FitStatus::ok) sum += r.white_line_ev;
      }
      std::printf("%s: %zu energies, %zu x %zu pixels; %s\n", input.c_str(), st.energy_ev.size(), st.ny, st.nx,
                  describe(s).c_str());
      for (int k = 0; k < xanes::kFitStatusCount; ++k)
        if (count[k]) std::printf("  %-20s %zu\n", xanes::to_string(static_cast<xanes::FitStatus>(k)), count[k]);
      if (count[0]) std::printf("  mean white line (ok pixels): %.3f eV\n", sum / static_cast<double>(count[0]));
      if (pm) {
        std::size_t inside = 0;
        for (auto sz : pm->sizes) inside += static_cast<std::size_t>(sz);
        std::printf("  particles: %d (%zu pixels; mask %s, threshold %.6g, min %d pixels)\n", pm->n_particles, inside,
                    pm->method.c_str(), pm->threshold, pm->min_pixels);
        if (pm->n_particles == 0) std::fprintf(stderr, "%s: warning: the mask found no particle\n", input.c_str());
      }
      std::printf("  fit %.3f s (read %.3f s), %d threads; maps: %s\n", std::chrono::duration<double>(t2 - t1).count(),
                  std::chrono::duration<double>(t1 - t0).count(), threads, out.c_str());
      if (!csv_path.empty()) std::printf("  pixels: %s\n", csv_path.c_str());
      return 0;
    }
    xanes::SpectrumFile sp = xanes::read_spectrum_text(input);
    if (!sp.note.empty()) std::printf("%s: %s\n", input.c_str(), sp.note.c_str());
    std::printf("%s\n", describe(s).c_str());
    xanes::WhiteLineFitter fitter(sp.energy_ev, s);
    for (std::size_t k = 0; k < sp.mu.size(); ++k) {
      auto r = fitter.fit(sp.mu[k].data());
      std::printf("%-16s white line %.3f eV  peak %.5g  r2 %.5f  %s\n", sp.names[k].c_str(), r.white_line_ev,
                  r.peak_height, r.r2, xanes::to_string(r.status));
    }
    return 0;
  } catch (const std::invalid_argument& e) {
    throw InputError(input, e.what());
  }
}

}  // namespace laueproc::cli
