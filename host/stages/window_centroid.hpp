#pragma once
/// @file
/// @brief The CPU's windowed centroid (math::component_detail::windowed_centroid with the same
/// results, bit for bit): the support's coordinates are converted once, not once per iteration,
/// and on x86-64 with AVX2 + FMA the window's exp runs four at a time by glibc's own algorithm
/// (since glibc 2.28: 2^(k/128) table, degree-5 polynomial, FMA as glibc's FMA variant uses it),
/// so every value equals std::exp's. Where that cannot be vouched for (another CPU, another libm,
/// a start-up self-check that fails) every exp is std::exp.

#include "laueproc/math/moments.hpp"

namespace laueproc::detail {

/// @brief True when fast_exp4's vector path runs (AVX2 + FMA, and its self-check against std::exp passed).
bool fast_exp_vectorised();

/// @brief out[k] = std::exp(in[k]) for k < n, bit for bit (vectorised where fast_exp_vectorised()).
void fast_exp(const double* in, double* out, int n);

/// @brief Iterated Gaussian-window centroid of the support pixels (frame indices, row width w):
/// the same (x, y) as math::component_detail::windowed_centroid.
void windowed_centroid_cpu(const float* residual, int w, const int* support, int nsupport, const math::Ellipse& e,
                           double& x, double& y);

/// @brief The Window policy of math::measure_pixels / measure_component_pixels on the CPU.
struct CpuWindow {
  void operator()(const float* residual, int w, const int* support, int nsupport, const math::Ellipse& e,
                  double& x, double& y) const {
    windowed_centroid_cpu(residual, w, support, nsupport, e, x, y);
  }
};

}  // namespace laueproc::detail
