#pragma once
/// @file
/// @brief Peak lists built by construction with a known scenario, for the summary tests.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "laueproc/peak.hpp"
#include "laueproc/scenario.hpp"

namespace laueproc::testing {

constexpr double kDetector = 2048.0;
constexpr double kPi = 3.14159265358979323846;

inline Peak make_peak(double x, double y, double a, double b, double theta_deg, double snr,
                      int n_maxima = 1) {
  Peak p;
  p.x = x;
  p.y = y;
  p.a = a;
  p.b = b;
  p.theta_deg = theta_deg;
  p.snr = snr;
  p.peak_value = snr * 10.0;                  // noise sigma 10 counts
  p.intensity = p.peak_value * 2.0 * kPi * a * b / 4.0;  // Gaussian volume, sigma = a/2, b/2
  p.npix = static_cast<std::int32_t>(kPi * a * b) + 1;
  p.n_maxima = n_maxima;
  return p;
}

/// Random frames of one scenario. Shapes and ranges follow docs/scenarios.md.
class FrameMaker {
 public:
  explicit FrameMaker(std::uint64_t seed) : rng_(seed) {}

  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  int uniform_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  double normal(double sigma) { return std::normal_distribution<double>(0.0, sigma)(rng_); }

  /// Reflection centres, at least `min_sep` px apart, `margin` px inside the detector.
  std::vector<std::pair<double, double>> centres(int n, double margin, double min_sep = 15.0) {
    std::vector<std::pair<double, double>> out;
    for (int tries = 0; static_cast<int>(out.size()) < n && tries < 100 * n; ++tries) {
      const double x = uniform(margin, kDetector - 1 - margin), y = uniform(margin, kDetector - 1 - margin);
      bool ok = true;
      for (const auto& c : out)
        if (std::hypot(c.first - x, c.second - y) < min_sep) { ok = false; break; }
      if (ok) out.emplace_back(x, y);
    }
    return out;
  }

  /// Round, small: a = r (1 +- 4 %), b/a in [0.85, 1]; r = 3 px scaled by a per-frame
  /// "detector sharpness" in [0.8, 1.1].
  Peak round_peak(double x, double y, double r, double snr) {
    const double a = r * (1.0 + normal(0.04));
    return make_peak(x, y, a, a * uniform(0.85, 1.0), uniform(-90, 90), snr);
  }
  /// Streaked (GND): b in [2.5, 4] px, a/b in [2, 4], any orientation.
  Peak streak_peak(double x, double y, double snr) {
    const double b = uniform(2.5, 4.0);
    return make_peak(x, y, b * uniform(2.0, 4.0), b, uniform(-90, 90), snr);
  }

  PeakList frame(Scenario s, int n_reflections, bool contaminants = true) {
    PeakList peaks;
    const double r = 3.0 * uniform(0.8, 1.1);
    const bool split = s == Scenario::tilt_boundary || s == Scenario::mixed;
    const double len = uniform(10.0, 50.0), ang = uniform(0.0, 2 * kPi);
    split_dx = std::cos(ang) * len;
    split_dy = std::sin(ang) * len;
    const double unpaired = uniform(0.0, 0.1);
    for (const auto& c : centres(n_reflections, 60.0)) {
      const double snr = uniform(20.0, 300.0);
      switch (s) {
        case Scenario::defect_free: peaks.push_back(round_peak(c.first, c.second, r, snr)); break;
        case Scenario::gnd: peaks.push_back(streak_peak(c.first, c.second, snr)); break;
        case Scenario::stacking: {
          const bool stacked = uniform(0, 1) < 0.85;
          peaks.push_back(make_peak(c.first, c.second, uniform(8, 15), uniform(5, 9), uniform(-90, 90), snr,
                                    stacked ? uniform_int(3, 5) : uniform_int(1, 2)));
          break;
        }
        default: break;
      }
      if (!split) continue;
      const bool pair = uniform(0, 1) >= unpaired;
      const double ratio = uniform(0.3, 1.0);
      auto sub = [&](double x, double y, double sn) {
        return s == Scenario::mixed ? streak_peak(x, y, sn) : round_peak(x, y, r, sn);
      };
      peaks.push_back(sub(c.first + normal(0.3), c.second + normal(0.3), snr));
      if (pair)
        peaks.push_back(sub(c.first + split_dx + normal(0.3), c.second + split_dy + normal(0.3), snr * ratio));
    }
    if (contaminants) add_contaminants(peaks);
    std::shuffle(peaks.begin(), peaks.end(), rng_);
    return peaks;
  }

  /// Peaks that must not sway SE: faint (snr 2-9), saturated (bloated), edge (cut).
  void add_contaminants(PeakList& peaks) {
    for (int k = uniform_int(0, 6); k > 0; --k)
      peaks.push_back(make_peak(uniform(0, kDetector), uniform(0, kDetector), uniform(2, 9), uniform(2, 6),
                                uniform(-90, 90), uniform(2.0, 9.0)));
    for (int k = uniform_int(0, 2); k > 0; --k) {
      Peak p = make_peak(uniform(0, kDetector), uniform(0, kDetector), 9, 8, 0, 500);
      p.saturated = true;
      peaks.push_back(p);
    }
    for (int k = uniform_int(0, 2); k > 0; --k) {
      Peak p = make_peak(uniform(0, 5), uniform(0, kDetector), 12, 4, 90, 80);
      p.edge = true;
      peaks.push_back(p);
    }
  }

  /// Unrelated round peaks uniformly over the detector.
  PeakList random_frame(int n) {
    PeakList peaks;
    for (int k = 0; k < n; ++k)
      peaks.push_back(round_peak(uniform(0, kDetector - 1), uniform(0, kDetector - 1), 3.0, uniform(20, 300)));
    return peaks;
  }

  std::mt19937_64& rng() { return rng_; }
  double split_dx = 0, split_dy = 0;  ///< last frame's split vector (px)

 private:
  std::mt19937_64 rng_;
};

}  // namespace laueproc::testing
