#pragma once
/// @file
/// @brief Host half of the CUDA path: from the kept components' patches copied back by the GPU
/// (residual + owner per pixel of each bounding box grown by grow_px + 1) to peaks, with the CPU
/// path's per-component code (measure_component). No CUDA here, so it is tested without a device.

#include <cstdint>
#include <vector>

#include "batch.cuh"
#include "laueproc/config.hpp"
#include "laueproc/stages.hpp"

namespace laueproc::cuda {

/// @brief The patch of kept component `kc` in a w x h frame: its bounding box grown by `pad` px,
/// clipped to the frame (offset left 0).
kernels::PatchDesc make_patch(const kernels::KeptComponent& kc, int w, int h, int pad, int frame);

/// @brief Reusable full-frame host arrays into which the patches are scattered (only patch
/// pixels are ever written or read; owner is cleared sparsely after each frame).
class PatchAssembler {
 public:
  /// @brief Peaks of one frame from its `count` patches (component c = patch c, in root order).
  /// patch_owner holds the kept index of each pixel's component, -1 for none. Appends to `peaks`
  /// and sorts/numbers them as the CPU path does.
  void measure(const FrameView& frame, const kernels::PatchDesc* patches, int count, const float* patch_residual,
               const int* patch_owner, const std::uint8_t* mask, const math::NoiseModel& noise, const ProcessConfig& config,
               std::int64_t frame_index, PeakList& peaks);

 private:
  std::vector<float> residual_;
  std::vector<std::int32_t> owner_;
  ComponentSet kept_;
  ComponentScratch scratch_;
};

}  // namespace laueproc::cuda
