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

}  // namespace laueproc::math
