// Particle masks: Otsu's threshold of a fluorescence or edge-jump map, 8-connected labelling,
// speck removal.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "laueproc/stages.hpp"
#include "laueproc/xanes.hpp"

namespace laueproc::xanes {

double otsu_threshold(const double* values, std::size_t n, int bins) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (bins < 2) throw std::invalid_argument("otsu_threshold: bins must be >= 2");
  double lo = INFINITY, hi = -INFINITY;
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    ++count;
  }
  if (count < 2 || !(hi > lo)) return nan;
  std::vector<double> hist(static_cast<std::size_t>(bins), 0.0);
  const double scale = bins / (hi - lo);
  for (std::size_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) continue;
    int b = static_cast<int>((v - lo) * scale);
    hist[static_cast<std::size_t>(std::clamp(b, 0, bins - 1))] += 1.0;
  }
  // Otsu 1979, eq. 18: maximise sigma_B^2(k) = (mu_T w(k) - mu(k))^2 / (w(k) (1 - w(k))), bin index units.
  const double total = static_cast<double>(count);
  double mu_t = 0;
  for (int b = 0; b < bins; ++b) mu_t += b * hist[static_cast<std::size_t>(b)];
  mu_t /= total;
  std::vector<double> sb(static_cast<std::size_t>(bins), -1.0);
  double w = 0, mu = 0, best = -1;
  int best_k = 0;
  for (int k = 0; k < bins - 1; ++k) {
    const double p = hist[static_cast<std::size_t>(k)] / total;
    w += p;
    mu += k * p;
    if (w <= 0 || w >= 1) continue;
    const double d = mu_t * w - mu;
    sb[static_cast<std::size_t>(k)] = d * d / (w * (1 - w));
    if (sb[static_cast<std::size_t>(k)] > best) {
      best = sb[static_cast<std::size_t>(k)];
      best_k = k;
    }
  }
  // Empty bins between the modes leave a plateau of equal maxima: cut in its middle, not at
  // its low end (which would hug the low mode's tail).
  int last = best_k;
  while (last + 1 < bins - 1 && sb[static_cast<std::size_t>(last) + 1] >= best * (1 - 1e-12)) ++last;
  best_k = (best_k + last) / 2;
  return lo + (best_k + 1) / scale;  // upper edge of the low class's last bin
}

ParticleMap label_particles(std::vector<double> signal, std::size_t ny, std::size_t nx, const std::string& source,
                            const MaskSettings& settings) {
  if (signal.size() != ny * nx) throw std::invalid_argument("label_particles: signal is not ny x nx");
  if (settings.min_particle_pixels < 1) throw std::invalid_argument("min_particle_pixels must be >= 1");
  ParticleMap pm;
  pm.ny = ny;
  pm.nx = nx;
  pm.min_pixels = settings.min_particle_pixels;
  if (settings.threshold) {
    pm.threshold = *settings.threshold;
    pm.method = source + "-threshold";
  } else {
    pm.threshold = otsu_threshold(signal.data(), signal.size());
    pm.method = source + "-otsu";
  }
  const std::size_t n = ny * nx;
  std::vector<std::uint8_t> binary(n, 0);
  if (std::isfinite(pm.threshold))
    for (std::size_t p = 0; p < n; ++p) binary[p] = signal[p] > pm.threshold ? 1 : 0;  // NaN is background
  std::vector<std::int32_t> raw;
  const int n_raw = label_components(binary.data(), static_cast<int>(nx), static_cast<int>(ny), raw);
  // Sizes, then a renumbering that keeps components >= min_pixels in raster order of first pixel.
  std::vector<std::int32_t> size(static_cast<std::size_t>(n_raw) + 1, 0);
  for (std::size_t p = 0; p < n; ++p) ++size[static_cast<std::size_t>(raw[p])];
  std::vector<std::int32_t> remap(static_cast<std::size_t>(n_raw) + 1, -1);
  remap[0] = 0;
  std::int32_t next = 0;
  pm.labels.assign(n, 0);
  for (std::size_t p = 0; p < n; ++p) {
    const auto r = static_cast<std::size_t>(raw[p]);
    if (r == 0) continue;
    if (remap[r] < 0) {
      if (size[r] >= settings.min_particle_pixels) {
        remap[r] = ++next;
        pm.sizes.push_back(size[r]);
      } else {
        remap[r] = 0;
      }
    }
    pm.labels[p] = remap[r];
  }
  pm.n_particles = next;
  pm.signal = std::move(signal);
  return pm;
}

std::vector<double> edge_jump_map(const Stack& st) {
  const std::size_t np = st.ny * st.nx;
  std::vector<double> out(np, std::numeric_limits<double>::quiet_NaN());
  if (st.energy_ev.empty()) return out;
  auto lo = static_cast<std::size_t>(std::min_element(st.energy_ev.begin(), st.energy_ev.end()) - st.energy_ev.begin());
  auto hi = static_cast<std::size_t>(std::max_element(st.energy_ev.begin(), st.energy_ev.end()) - st.energy_ev.begin());
  const float* a = st.data.data() + lo * np;
  const float* b = st.data.data() + hi * np;
  for (std::size_t p = 0; p < np; ++p) out[p] = static_cast<double>(b[p]) - static_cast<double>(a[p]);
  return out;
}

std::vector<double> signal_range_map(const Stack& st) {
  const std::size_t np = st.ny * st.nx;
  std::vector<double> lo(np, INFINITY), hi(np, -INFINITY);
  std::vector<std::uint8_t> bad(np, 0);
  for (std::size_t i = 0; i < st.energy_ev.size(); ++i) {  // energy-major: contiguous rows
    const float* row = st.data.data() + i * np;
    for (std::size_t p = 0; p < np; ++p) {
      const double v = row[p];
      if (!std::isfinite(v)) bad[p] = 1;
      lo[p] = std::min(lo[p], v);
      hi[p] = std::max(hi[p], v);
    }
  }
  for (std::size_t p = 0; p < np; ++p)
    hi[p] = bad[p] || st.energy_ev.empty() ? std::numeric_limits<double>::quiet_NaN() : hi[p] - lo[p];
  return hi;
}

}  // namespace laueproc::xanes
