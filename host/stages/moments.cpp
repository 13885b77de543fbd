/// @file
/// @brief Stage 5: intensity moments of one (deblended) peak. The algorithm is
/// math::measure_pixels (laueproc/math/component.hpp), shared with the CUDA backend.

#include "laueproc/math/component.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

Peak measure_moments(const float* residual, const FrameView& frame, const std::uint8_t* mask,
                     const std::vector<int>& core, const std::vector<int>& support, double sigma,
                     const MomentConfig& config, bool clip_negative) {
  const math::FramePixels f{residual, frame.data, frame.stride, mask, frame.width, frame.height};
  return math::measure_pixels(f, core.data(), static_cast<int>(core.size()), support.data(),
                              static_cast<int>(support.size()), sigma, config, clip_negative);
}

}  // namespace laueproc
