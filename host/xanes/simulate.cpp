// Synthetic micro-XANES scans: elliptical particles with known white lines, XRF map, truth.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

#include "laueproc/xanes.hpp"

namespace laueproc::xanes {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kEdgeOffsetEv = 4.0;  // edge inflection below the white line, eV
constexpr double kEdgeWidthEv = 1.2;   // arctan width, eV
constexpr double kPeakAmp = 0.6;       // white-line height above the edge step (step = 1)
constexpr double kPeakSigmaEv = 2.2;   // white-line Gaussian sigma, eV

// Noise-free model with the white-line Gaussian centred at `wl`, unit thickness.
double model(double e, double wl) {
  const double d = e - wl;
  return 0.5 + std::atan((d + kEdgeOffsetEv) / kEdgeWidthEv) / kPi + kPeakAmp * std::exp(-d * d / (2 * kPeakSigmaEv * kPeakSigmaEv));
}
double model_slope(double e, double wl) {
  const double d = e - wl, u = (d + kEdgeOffsetEv) / kEdgeWidthEv;
  const double s2 = kPeakSigmaEv * kPeakSigmaEv;
  return 1.0 / (kPi * kEdgeWidthEv * (1 + u * u)) - kPeakAmp * d / s2 * std::exp(-d * d / (2 * s2));
}

// Offset of the model's maximum from the Gaussian centre (the edge's slope pulls it up a little):
// root of the slope by bisection near the centre. Independent of wl (the model only shifts).
double maximum_offset() {
  double a = -1.0, b = 1.5;  // slope > 0 at a, < 0 at b
  for (int it = 0; it < 200; ++it) {
    const double m = 0.5 * (a + b);
    (model_slope(m, 0.0) > 0 ? a : b) = m;
  }
  return 0.5 * (a + b);
}

}  // namespace

SimulatedXanes simulate_xanes_stack(const XanesSimConfig& c) {
  if (c.nx == 0 || c.ny == 0) throw std::invalid_argument("simulate_xanes_stack: empty grid");
  if (c.n_particles < 0) throw std::invalid_argument("simulate_xanes_stack: negative particle count");
  if (!(c.radius_min_px > 0) || c.radius_max_px < c.radius_min_px)
    throw std::invalid_argument("simulate_xanes_stack: bad particle radii");
  if (!c.se_map.empty() && c.se_map.size() != c.nx * c.ny)
    throw std::invalid_argument("simulate_xanes_stack: se_map is not ny x nx");
  const std::size_t nx = c.nx, ny = c.ny, np = nx * ny;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SimulatedXanes sim;
  Stack& st = sim.stack;
  st.nx = nx;
  st.ny = ny;
  st.energy_ev = c.energies_ev;
  if (st.energy_ev.empty())
    for (int k = 0; k <= 14; ++k) st.energy_ev.push_back(7721.0 + k);
  const std::size_t ne = st.energy_ev.size();
  std::mt19937_64 rng(c.seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::uniform_real_distribution<double> uni(0.0, 1.0);

  // Place ellipses without overlap (1-pixel gap), by rejection.
  sim.true_particles.assign(np, 0);
  std::vector<double> thickness(np, 0.0);
  for (int k = 1; k <= c.n_particles; ++k) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      const double a = c.radius_min_px + uni(rng) * (c.radius_max_px - c.radius_min_px);
      const double b = c.radius_min_px + uni(rng) * (c.radius_max_px - c.radius_min_px);
      const double th = uni(rng) * kPi;
      const double cx = uni(rng) * static_cast<double>(nx - 1), cy = uni(rng) * static_cast<double>(ny - 1);
      const double r = std::max(a, b) + 1;
      const long x0 = std::max(0L, static_cast<long>(std::floor(cx - r))), x1 = std::min(static_cast<long>(nx) - 1, static_cast<long>(std::ceil(cx + r)));
      const long y0 = std::max(0L, static_cast<long>(std::floor(cy - r))), y1 = std::min(static_cast<long>(ny) - 1, static_cast<long>(std::ceil(cy + r)));
      const double ct = std::cos(th), sn = std::sin(th);
      auto rho2 = [&](long x, long y, double grow) {
        const double dx = static_cast<double>(x) - cx, dy = static_cast<double>(y) - cy;
        const double u = (ct * dx + sn * dy) / (a + grow), v = (-sn * dx + ct * dy) / (b + grow);
        return u * u + v * v;
      };
      bool clash = false;
      std::size_t inside = 0;
      for (long y = y0; y <= y1 && !clash; ++y)
        for (long x = x0; x <= x1; ++x) {
          if (rho2(x, y, 1.5) > 1) continue;
          if (sim.true_particles[static_cast<std::size_t>(y) * nx + static_cast<std::size_t>(x)] != 0) {
            clash = true;
            break;
          }
          if (rho2(x, y, 0.0) <= 1) ++inside;
        }
      if (clash || inside < 4) continue;
      for (long y = y0; y <= y1; ++y)
        for (long x = x0; x <= x1; ++x) {
          const double q = rho2(x, y, 0.0);
          if (q > 1) continue;
          const std::size_t p = static_cast<std::size_t>(y) * nx + static_cast<std::size_t>(x);
          sim.true_particles[p] = k;
          thickness[p] = 0.6 + 0.4 * (1 - q);  // thicker in the middle
        }
      sim.particle_wl_ev.push_back(nan);
      break;
    }
  }
  const auto n_placed = static_cast<std::int32_t>(sim.particle_wl_ev.size());
  // Placement may skip a k; renumber to 1..n_placed in placement order (labels are increasing).
  {
    std::vector<std::int32_t> remap(static_cast<std::size_t>(c.n_particles) + 1, 0);
    std::int32_t next = 0;
    std::vector<std::uint8_t> seen(remap.size(), 0);
    for (int k = 1; k <= c.n_particles; ++k)
      for (std::size_t p = 0; p < np && !seen[static_cast<std::size_t>(k)]; ++p)
        if (sim.true_particles[p] == k) {
          seen[static_cast<std::size_t>(k)] = 1;
          remap[static_cast<std::size_t>(k)] = ++next;
        }
    for (auto& l : sim.true_particles) l = remap[static_cast<std::size_t>(l)];
  }

  // Particle means: from the SE map (mean SE over the particle) or uniform in [wl_lo, wl_hi].
  std::vector<double> se_mean(static_cast<std::size_t>(n_placed), 0.0);
  if (!c.se_map.empty()) {
    std::vector<std::size_t> cnt(se_mean.size(), 0);
    for (std::size_t p = 0; p < np; ++p) {
      const auto l = sim.true_particles[p];
      if (l > 0 && std::isfinite(c.se_map[p])) {
        se_mean[static_cast<std::size_t>(l - 1)] += c.se_map[p];
        ++cnt[static_cast<std::size_t>(l - 1)];
      }
    }
    for (std::size_t k = 0; k < se_mean.size(); ++k) se_mean[k] = cnt[k] ? se_mean[k] / static_cast<double>(cnt[k]) : nan;
  }
  for (std::size_t k = 0; k < sim.particle_wl_ev.size(); ++k) {
    if (!c.se_map.empty() && std::isfinite(se_mean[k]))
      sim.particle_wl_ev[k] = c.wl_lo_ev + c.se_slope_ev * (se_mean[k] - 1) + c.particle_wl_sigma_ev * gauss(rng);
    else
      sim.particle_wl_ev[k] = c.wl_lo_ev + uni(rng) * (c.wl_hi_ev - c.wl_lo_ev);
  }

  // Spectra, XRF, truth.
  const double offset = maximum_offset();
  st.data.assign(ne * np, 0.0f);
  st.xrf.assign(np, 0.0f);
  sim.true_white_line_ev.assign(np, nan);
  for (std::size_t p = 0; p < np; ++p) {
    const auto l = sim.true_particles[p];
    double centre = 7729.0, t = 0.02;  // outside: a faint edge
    if (l > 0) {
      const auto k = static_cast<std::size_t>(l - 1);
      centre = sim.particle_wl_ev[k] - offset + c.pixel_wl_sigma_ev * gauss(rng);  // particle_wl is the maximum
      if (!c.se_map.empty() && std::isfinite(c.se_map[p]) && std::isfinite(se_mean[k]))
        centre += c.pointwise_slope_ev * (c.se_map[p] - se_mean[k]);
      t = thickness[p];
      sim.true_white_line_ev[p] = centre + offset;
    }
    for (std::size_t i = 0; i < ne; ++i)
      st.data[i * np + p] = static_cast<float>(t * model(st.energy_ev[i], centre) + c.noise * gauss(rng));
    st.xrf[p] = static_cast<float>(l > 0 ? 100.0 * t + 3.0 * gauss(rng) : 5.0 + 3.0 * gauss(rng));
  }
  return sim;
}

}  // namespace laueproc::xanes
