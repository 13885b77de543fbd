/// @file
/// @brief Stage 5: intensity moments of one (deblended) peak.

#include <algorithm>
#include <cmath>
#include <limits>

#include "laueproc/math/moments.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

namespace {

// A core level under 3 noise sigmas would be set by the noise, not by the spot.
constexpr double kCoreMinSigmas = 3.0;

// Iterated Gaussian-window centroid over the peak's support, window sigma = the spot's own
// (geometric mean of the ellipse's), at least 1 px: a narrower window on an undersampled spot
// (sigma ~0.5 px) locks to pixel centres (0.2 px off LaueTools' Gaussian fits on the Ge frame;
// 0.02 px with 1 px). Converges to the centre of a symmetric spot regardless of its wings and
// of which pixels the threshold kept; keeps (x, y) when it does not converge.
void windowed_centroid(const float* residual, int w, const std::vector<int>& support, const math::Ellipse& e,
                       double& x, double& y) {
  const double s_w = std::max(1.0, 0.5 * std::sqrt(e.a * e.b));  // a = 2 sigma
  const double inv_two_s2 = 1.0 / (2.0 * s_w * s_w);
  double cx = x, cy = y;
  for (int iteration = 0; iteration < 30; ++iteration) {
    math::WindowSums sums;
    for (const int i : support) math::window_add(sums, i % w - cx, i / w - cy, residual[i], inv_two_s2);
    double dx, dy;
    if (!math::window_step(sums, dx, dy)) return;
    cx += dx;
    cy += dy;
    if (std::hypot(cx - x, cy - y) > 2.0 * s_w + 1.0) return;  // ran away: keep the moment centroid
    if (std::fabs(dx) + std::fabs(dy) < 1e-6) {
      x = cx;
      y = cy;
      return;
    }
  }
}

}  // namespace

Peak measure_moments(const float* residual, const FrameView& frame, const std::uint8_t* mask,
                     const std::vector<int>& core, const std::vector<int>& support, double sigma,
                     const MomentConfig& config, bool clip_negative) {
  const int w = frame.width, h = frame.height;
  Peak p;
  p.npix = static_cast<std::int32_t>(core.size());
  float best = -std::numeric_limits<float>::infinity();
  int best_i = core.empty() ? (support.empty() ? 0 : support[0]) : core[0];
  for (const int i : core) {
    if (residual[i] > best) {
      best = residual[i];
      best_i = i;
    }
    const int x = i % w, y = i / w;
    if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
      p.edge = true;
    } else if (mask && !p.edge) {
      for (int dy = -1; dy <= 1 && !p.edge; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          if (mask[static_cast<std::size_t>(y + dy) * w + (x + dx)]) {
            p.edge = true;
            break;
          }
    }
  }
  p.peak_value = core.empty() ? 0.0 : static_cast<double>(best);
  // Local origin at the brightest pixel: the central moments are then differences of O(10 px^2)
  // numbers, not of O(10^6 px^2) ones.
  math::MomentSums sums = math::moment_sums(best_i % w, best_i / w);
  for (const int i : support) {
    const int x = i % w, y = i / w;
    const float r = residual[i];
    math::moment_add(sums, x, y, clip_negative ? std::max(r, 0.0f) : r);
    if (frame.data[y * frame.stride + x] >= config.saturation) p.saturated = true;
  }
  math::CentralMoments cm = math::central_moments(sums);
  p.intensity = sums.s;

  // The core: pixels above core_fraction x peak (never under 3 sigma), whose second moments,
  // scaled to the untruncated Gaussian's, describe the spot without the long wings of real
  // detectors' point-spread functions (1 % of the peak 3-6 px out on the MarCCD Ge frame, which
  // dominate whole-support moments of sharp spots). Bright peaks take their shape from it. For
  // faint peaks the wings are under the noise and a core cut near the noise makes the scaling
  // noisy: their shape comes from the whole grown support, the core only sizes the window below.
  const double core_level = std::max(config.core_fraction * p.peak_value, kCoreMinSigmas * sigma);
  math::Ellipse window_shape{};
  bool have_window_shape = false;
  if (config.core_fraction > 0 && cm.valid && p.peak_value > core_level) {
    math::MomentSums core_sums = math::moment_sums(sums.x0, sums.y0);
    for (const int i : support)
      if (residual[i] >= core_level) math::moment_add(core_sums, i % w, i / w, residual[i]);
    const math::CentralMoments core_cm = math::central_moments(core_sums);
    if (core_cm.valid) {
      const double scale = 1.0 / math::truncated_gaussian_variance_ratio(core_level / p.peak_value);
      window_shape = math::ellipse_from_moments(core_cm.mxx * scale, core_cm.myy * scale, core_cm.mxy * scale);
      have_window_shape = true;
      if (config.core_fraction * p.peak_value >= kCoreMinSigmas * sigma) {
        cm.x = core_cm.x;
        cm.y = core_cm.y;
        cm.mxx = core_cm.mxx * scale;
        cm.myy = core_cm.myy * scale;
        cm.mxy = core_cm.mxy * scale;
      }
    }
  }
  p.x = cm.x;
  p.y = cm.y;
  if (cm.valid) {
    p.mxx = cm.mxx;
    p.myy = cm.myy;
    p.mxy = cm.mxy;
    const math::Ellipse e = math::ellipse_from_moments(cm.mxx, cm.myy, cm.mxy);
    p.a = e.a;
    p.b = e.b;
    p.theta_deg = e.theta_deg;
    if (config.windowed_centroid) windowed_centroid(residual, w, support, have_window_shape ? window_shape : e, p.x, p.y);
  }
  p.snr = sigma > 0 ? p.peak_value / sigma : 0.0;
  return p;
}

}  // namespace laueproc
