// laueproc xanes: white-line maps (HDF5 stack in, HDF5 maps + optional pixels.csv out), or the
// white line of every spectrum column of a text/XDI file, printed.
#include "cli/cmd_xanes.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <regex>
#include <thread>

#include "cli/cli.hpp"
#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"

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
  std::snprintf(buf, sizeof buf, "order %d, half window %g eV, grid %g eV, search %s, no normalisation", s.order,
                s.half_window_ev, s.grid_step_ev, win.c_str());
  return buf;
}

}  // namespace

int cmd_xanes(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string input, out = "xanes.h5", csv, window, energy_path = "/exchange/energy", data_path = "/exchange/data";
  xanes::FitSettings s;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  opts.add_options()("input", po::value(&input)->required(), "HDF5 stack (/exchange/data, /exchange/energy) or text/XDI spectrum")(
      "out,o", po::value(&out)->default_value(out), "results file (stacks)")(
      "csv", po::value(&csv), "also write DIR/pixels.csv (stacks)")(
      "order", po::value(&s.order)->default_value(s.order), "polynomial order, 2..6")(
      "half-window", po::value(&s.half_window_ev)->default_value(s.half_window_ev), "fit range around the maximum, +- eV")(
      "step", po::value(&s.grid_step_ev)->default_value(s.grid_step_ev), "interpolation grid step, eV")(
      "search-window", po::value(&window), "LO:HI eV where the maximum is searched (default whole spectrum)")(
      "min-signal", po::value(&s.min_signal)->default_value(s.min_signal), "peak-to-peak mu below which a pixel is flat")(
      "energy-path", po::value(&energy_path)->default_value(energy_path), "energies dataset in the stack")(
      "data-path", po::value(&data_path)->default_value(data_path), "stack dataset (n_energies, ny, nx)")(
      "threads", po::value(&threads)->default_value(threads), "worker threads");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc xanes INPUT [options]",
             "Co K-edge white-line energy per pixel (stack) or per spectrum column (text/XDI): linear\n"
             "interpolation, polynomial around the maximum, energy of the fitted maximum.",
             opts, pos, vm))
    return 0;
  if (!window.empty()) s.search_window = parse_window(window);
  if (s.order < 2 || s.order > 6) throw UsageError("--order must be 2..6");
  if (!(s.half_window_ev > 0) || !(s.grid_step_ev > 0)) throw UsageError("--half-window and --step must be > 0");

  try {
    if (h5::looks_like_hdf5(input)) {
      auto t0 = std::chrono::steady_clock::now();
      xanes::Stack st = xanes::read_stack(input, {data_path, energy_path});
      if (st.kev_converted) std::fprintf(stderr, "%s: energies < 100 taken as keV (x1000)\n", input.c_str());
      xanes::WhiteLineFitter fitter(st.energy_ev, s);
      const std::size_t np = st.ny * st.nx;
      std::vector<xanes::FitResult> res(np);
      auto t1 = std::chrono::steady_clock::now();
      fitter.fit_many(st.data.data(), np, res.data(), threads);
      auto t2 = std::chrono::steady_clock::now();
      xanes::write_results(out, res, st.ny, st.nx, st.energy_ev, s, input);
      std::string csv_path;
      if (!csv.empty()) csv_path = xanes::write_pixels_csv(csv, res, st.ny, st.nx);
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
      std::printf("  fit %.3f s (read %.3f s), %d threads; maps: %s\n", std::chrono::duration<double>(t2 - t1).count(),
                  std::chrono::duration<double>(t1 - t0).count(), threads, out.c_str());
      if (!csv_path.empty()) std::printf("  pixels: %s (particle column 0: particle masks are a later step)\n", csv_path.c_str());
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
