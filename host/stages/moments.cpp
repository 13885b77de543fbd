/// @file
/// @brief Stage 5: intensity moments of one (deblended) peak.

#include <algorithm>
#include <limits>

#include "laueproc/math/moments.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

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
  const math::CentralMoments cm = math::central_moments(sums);
  p.intensity = sums.s;
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
  }
  p.snr = sigma > 0 ? p.peak_value / sigma : 0.0;
  return p;
}

}  // namespace laueproc
