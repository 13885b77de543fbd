#pragma once
/// @file
/// @brief Synthetic frames for the stage tests: a double-precision canvas, pixel-integrated
/// Gaussians, smooth backgrounds, fixed-seed Gaussian noise, conversion to uint16.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "laueproc/frame.hpp"

namespace laueproc::test {

/// @brief SplitMix64 (Steele, Lea & Flood 2014): tiny, fixed-seed, identical on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  double normal() {  // Box-Muller
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t s_;
};

struct Canvas {
  int width = 0, height = 0;
  std::vector<double> v;
  Canvas(int w, int h, double level = 0) : width(w), height(h), v(static_cast<std::size_t>(w) * h, level) {}
  double& at(int x, int y) { return v[static_cast<std::size_t>(y) * width + x]; }

  /// @brief Axis-aligned Gaussian integrated over each pixel (erf), total amplitude `amp` at the
  /// centre of a continuous profile amp * exp(-r^2 / 2 s^2).
  void gaussian(double cx, double cy, double s, double amp) {
    const int r = static_cast<int>(std::ceil(7 * s)) + 1;
    const double k = s * std::sqrt(2.0);
    const double norm = amp * 2 * 3.141592653589793 * s * s;
    for (int y = std::max(0, static_cast<int>(cy) - r); y <= std::min(height - 1, static_cast<int>(cy) + r); ++y) {
      const double fy = 0.5 * (std::erf((y + 0.5 - cy) / k) - std::erf((y - 0.5 - cy) / k));
      for (int x = std::max(0, static_cast<int>(cx) - r); x <= std::min(width - 1, static_cast<int>(cx) + r); ++x) {
        const double fx = 0.5 * (std::erf((x + 0.5 - cx) / k) - std::erf((x - 0.5 - cx) / k));
        at(x, y) += norm * fx * fy;
      }
    }
  }
  /// @brief Rotated elliptical Gaussian (sigmas sa along the axis at theta_deg from +x toward
  /// +y, sb across), averaged over 8x8 sub-pixel points.
  void gaussian_rotated(double cx, double cy, double sa, double sb, double theta_deg, double amp) {
    const double t = theta_deg * 3.141592653589793 / 180.0, c = std::cos(t), s = std::sin(t);
    const int r = static_cast<int>(std::ceil(7 * std::max(sa, sb))) + 1;
    constexpr int kSub = 8;
    for (int y = std::max(0, static_cast<int>(cy) - r); y <= std::min(height - 1, static_cast<int>(cy) + r); ++y)
      for (int x = std::max(0, static_cast<int>(cx) - r); x <= std::min(width - 1, static_cast<int>(cx) + r); ++x) {
        double acc = 0;
        for (int j = 0; j < kSub; ++j)
          for (int i = 0; i < kSub; ++i) {
            const double dx = x - 0.5 + (i + 0.5) / kSub - cx, dy = y - 0.5 + (j + 0.5) / kSub - cy;
            const double u = c * dx + s * dy, w = -s * dx + c * dy;
            acc += std::exp(-0.5 * (u * u / (sa * sa) + w * w / (sb * sb)));
          }
        at(x, y) += amp * acc / (kSub * kSub);
      }
  }
  void noise(Rng& rng, double sigma) {
    for (auto& p : v) p += sigma * rng.normal();
  }
  /// @brief Rounds and clips to uint16 (values >= 65535 saturate, as on the detector).
  std::vector<std::uint16_t> to_u16() const {
    std::vector<std::uint16_t> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      out[i] = static_cast<std::uint16_t>(std::clamp(std::lround(v[i]), 0L, 65535L));
    return out;
  }
};

inline FrameView view(const std::vector<std::uint16_t>& px, int w, int h) {
  return FrameView{px.data(), w, h, w};
}

}  // namespace laueproc::test
