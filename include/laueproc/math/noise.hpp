#pragma once
/// @file
/// @brief The noise model shared by both backends: variance = var0 + gain * max(background, 0)
/// (read noise plus shot noise, whose variance follows the signal with the detector's gain), and
/// the k-sigma test every pixel goes through, in one float expression both compilers evaluate alike.

#include <cmath>

#include "laueproc/math/hd.hpp"

namespace laueproc::math {

/// @brief Noise variance (counts^2) as a function of the background level (counts).
struct NoiseModel {
  double var0 = 1.0;  ///< at zero background: read noise^2 (counts^2)
  double gain = 0.0;  ///< variance added per count of background (0: one sigma for the frame)
};

LAUEPROC_HD inline double noise_sigma(const NoiseModel& m, double background) {
  return sqrt(m.var0 + m.gain * (background > 0 ? background : 0.0));
}

/// @brief "residual > k sigma(background)" as r |r| > k^2 var0 + k^2 gain max(bg, 0): no
/// square root per pixel, and the same float operations on the CPU and the GPU.
struct SigmaThreshold {
  float k2var0 = 0.0f;
  float k2gain = 0.0f;
};

LAUEPROC_HD inline SigmaThreshold sigma_threshold(const NoiseModel& m, double k) {
  SigmaThreshold t;
  t.k2var0 = static_cast<float>(k * k * m.var0);
  t.k2gain = static_cast<float>(k * k * m.gain);
  return t;
}

/// r |r| > k^2 sigma^2 is r > k sigma for a positive threshold (k2var0 > 0: var0 is floored at
/// 0.25), written as one comparison so the CPU's sparse scan vectorises.
LAUEPROC_HD inline bool above(float residual, float background, const SigmaThreshold& t) {
  const float bg = background > 0.0f ? background : 0.0f;
  return residual * fabsf(residual) > t.k2var0 + t.k2gain * bg;
}

/// @brief Bins of the noise-model fit (host/stages/background.cpp fit_noise_model): the
/// background between its 2nd and 98th percentile in kNoiseBins equal bins; a bin counts when it
/// holds >= kNoiseMinPerBin samples; at least kNoiseMinBins must count.
constexpr int kNoiseBins = 8;
constexpr int kNoiseMinPerBin = 400;  ///< MAD to ~5 % per bin
constexpr int kNoiseMinBins = 3;

/// @brief The bin of background b in [lo, hi] (fit_noise_model's rule).
LAUEPROC_HD inline int noise_bin(double b, double lo, double hi) {
  const int k = static_cast<int>((b - lo) / (hi - lo) * kNoiseBins);
  return k < kNoiseBins - 1 ? k : kNoiseBins - 1;
}

/// @brief True when the background spans enough to tell a slope (lo, hi: its 2nd and 98th percentiles).
LAUEPROC_HD inline bool noise_range_fits(double lo, double hi) {
  const double mid = 0.5 * (lo + hi);
  return hi - lo > 0.2 * (mid > 1.0 ? mid : 1.0);
}

/// @brief The weighted least-squares line variance = var0 + gain x background through the bins:
/// count[k] samples, background sum bg_sum[k] (double, summed in sample order) and robust sigma
/// sd[k] (1.4826 MAD) of each bin. Falls back to {sigma^2, 0} (too few bins, no spread, a slope
/// that is not positive). Shared by the CPU fit and the device's, so both give the same numbers.
LAUEPROC_HD inline NoiseModel noise_model_from_bins(const unsigned long long* count, const double* bg_sum,
                                                    const double* sd, double sigma) {
  const NoiseModel flat{sigma * sigma, 0.0};
  double sw = 0, sb = 0, sv = 0, sbb = 0, sbv = 0;
  int used = 0;
  for (int k = 0; k < kNoiseBins; ++k) {
    const unsigned long long m = count[k];
    if (m < static_cast<unsigned long long>(kNoiseMinPerBin)) continue;
    const double b = bg_sum[k] / static_cast<double>(m);
    const double v = sd[k] * sd[k], w = static_cast<double>(m);
    sw += w;
    sb += w * b;
    sv += w * v;
    sbb += w * b * b;
    sbv += w * b * v;
    ++used;
  }
  if (used < kNoiseMinBins) return flat;
  const double mb = sb / sw, mv = sv / sw;
  const double var_b = sbb / sw - mb * mb;
  if (!(var_b > 0)) return flat;
  const double gain = (sbv / sw - mb * mv) / var_b;
  if (!(gain > 0)) return flat;  // noise not growing with the background: one sigma fits
  // uint16 data are quantised to 1 count: never below 0.5^2 at zero background.
  const double var0 = mv - gain * mb;
  return NoiseModel{var0 > 0.25 ? var0 : 0.25, gain};
}

}  // namespace laueproc::math
