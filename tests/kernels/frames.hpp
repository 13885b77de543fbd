#pragma once
/// @file
/// @brief Frames for the kernel tests: simulated Laue frames (laueproc_sim, with their dead row
/// and hot pixels), and hand-made cases the simulator does not draw: zero regions (offset
/// detectors), dead and stuck columns, constant frames, saturated blobs, long streaks, frames
/// with thousands of spots.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "laueproc/frame.hpp"
#include "laueproc/sim.hpp"

namespace laueproc::testing {

inline Frame sim_frame(int w, int h, std::int64_t index, std::uint64_t seed = 7, int max_refl = 60, double sep = 25.0) {
  sim::SimConfig c;
  c.width = w;
  c.height = h;
  c.grid_nx = 4;
  c.grid_ny = 4;
  c.seed = seed;
  c.max_reflections = max_refl;
  c.min_reflections = std::min(c.min_reflections, max_refl);
  c.min_separation_px = sep;
  if (std::min(w, h) < 200) c.edge_margin_px = 8;
  sim::ScanSimulator s(c);
  Frame f;
  f.meta.index = index;
  f.width = w;
  f.height = h;
  s.render(index % s.n_frames(), f.pixels, nullptr);
  return f;
}

inline Frame flat_frame(int w, int h, std::uint16_t v, std::int64_t index = 0) {
  Frame f;
  f.meta.index = index;
  f.width = w;
  f.height = h;
  f.pixels.assign(static_cast<std::size_t>(w) * h, v);
  return f;
}

/// @brief SplitMix64 noise, identical everywhere.
class Noise {
 public:
  explicit Noise(std::uint64_t seed) : s_(seed) {}
  double normal() {
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double uniform() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
  }

 private:
  std::uint64_t s_;
};

/// @brief A frame drawn from a function of (x, y) plus Gaussian noise, clipped to uint16.
template <class Fn>
Frame drawn_frame(int w, int h, double noise_sigma, std::uint64_t seed, Fn&& fn, std::int64_t index = 0) {
  Frame f = flat_frame(w, h, 0, index);
  Noise rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double v = fn(x, y) + noise_sigma * rng.normal();
      f.pixels[static_cast<std::size_t>(y) * w + x] = static_cast<std::uint16_t>(std::clamp(std::lround(v), 0L, 65535L));
    }
  return f;
}

/// @brief Saturated blobs (Gaussians clipped at 65535, one 30 px across), and 300 px streaks:
/// horizontal, vertical, both diagonals, and a zigzag that folds back through many tiles.
inline Frame blobs_and_streaks(int w, int h, std::int64_t index = 0) {
  struct Spot {
    double x, y, s, amp;
  };
  std::vector<Spot> spots = {{60, 70, 2.0, 2e5}, {200, 90, 6.0, 5e5}, {330, 260, 2.5, 1e5}, {110, 400, 1.5, 3e4}};
  auto streak = [](double x, double y, double x0, double y0, double x1, double y1, double amp) {
    const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    double t = ((x - x0) * dx + (y - y0) * dy) / len2;
    t = std::clamp(t, 0.0, 1.0);
    const double px = x0 + t * dx - x, py = y0 + t * dy - y;
    return amp * std::exp(-(px * px + py * py) / (2 * 1.2 * 1.2));
  };
  return drawn_frame(w, h, 4.0, 11, [&](int x, int y) {
    double v = 300 + 0.05 * x;
    for (const Spot& s : spots) {
      const double r2 = (x - s.x) * (x - s.x) + (y - s.y) * (y - s.y);
      if (r2 < 900) v += s.amp * std::exp(-r2 / (2 * s.s * s.s));
    }
    v += streak(x, y, 20, 150, 320, 152, 400);     // ~horizontal, 300 px
    v += streak(x, y, 470, 20, 472, 320, 400);     // ~vertical, 300 px
    v += streak(x, y, 150, 180, 360, 390, 400);    // diagonal
    v += streak(x, y, 420, 480, 230, 290, 400);    // anti-diagonal
    for (int k = 0; k < 6; ++k)                    // zigzag through many tiles
      v += streak(x, y, 30 + 40 * k, 470 - (k % 2) * 50, 70 + 40 * k, 470 - ((k + 1) % 2) * 50, 300);
    return v;
  }, index);
}

/// @brief A regular lattice of compact spots every `pitch` px (thousands on a large frame).
inline Frame spot_lattice(int w, int h, int pitch, std::uint64_t seed = 5, std::int64_t index = 0) {
  return drawn_frame(w, h, 3.0, seed, [&](int x, int y) {
    const double cx = (std::floor(static_cast<double>(x) / pitch) + 0.5) * pitch + 0.3;
    const double cy = (std::floor(static_cast<double>(y) / pitch) + 0.5) * pitch - 0.2;
    const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
    return 150.0 + 2000.0 * std::exp(-r2 / (2 * 1.3 * 1.3));
  }, index);
}

}  // namespace laueproc::testing
