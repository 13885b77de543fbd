// Fuzz target: the XDI / text spectrum reader, then the white-line fit of every spectrum it
// returns (fast path and the direct reference, which must agree on the status). A bad file
// must end in a laueproc::Error naming it, never a crash or another exception.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common.hpp"
#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace laueproc;
  static const std::string path = [] {
    std::string p = fuzz::temp_path("spectrum.xdi");
    fuzz::remove_at_exit(p);
    return p;
  }();
  if (size > (1u << 16)) return 0;  // a spectrum is a few kB; larger inputs only slow the search
  fuzz::write_file(path, data, size);
  xanes::SpectrumFile spectrum;
  try {
    spectrum = xanes::read_spectrum_text(path);
  } catch (const Error&) {
    return 0;  // the expected answer to a bad file
  }
  if (spectrum.energy_ev.size() != spectrum.mu.front().size()) std::abort();
  xanes::FitSettings settings;
  try {
    xanes::WhiteLineFitter fitter(spectrum.energy_ev, settings);
    for (const auto& mu : spectrum.mu) {
      const auto fast = fitter.fit(mu.data());
      // The direct reference interpolates the whole grid: only for spans a real spectrum has
      // (the fast path, which the program uses, handles any span in microseconds).
      const auto [lo, hi] = std::minmax_element(spectrum.energy_ev.begin(), spectrum.energy_ev.end());
      if (*hi - *lo > 1e4) continue;
      const auto direct = xanes::fit_direct(spectrum.energy_ev, mu, settings);
      if (fast.status != direct.status) {
        std::fprintf(stderr, "fast and direct fits disagree: status %d vs %d\n", static_cast<int>(fast.status),
                     static_cast<int>(direct.status));
        std::abort();
      }
    }
  } catch (const std::invalid_argument&) {
    // energies the fit cannot use (too fine a grid for their span...): the CLI reports these
    // as an error naming the file (cmd_xanes turns invalid_argument into InputError)
  }
  return 0;
}
