/// @file
/// @brief PatchAssembler: patches -> components -> peaks (see patches.hpp).

#include "cuda/patches.hpp"

#include <algorithm>

namespace laueproc::cuda {

kernels::PatchDesc make_patch(const kernels::KeptComponent& kc, int w, int h, int pad, int frame) {
  kernels::PatchDesc d;
  d.frame = frame;
  d.x0 = std::max(0, kc.x0 - pad);
  d.y0 = std::max(0, kc.y0 - pad);
  d.w = std::min(w - 1, kc.x1 + pad) - d.x0 + 1;
  d.h = std::min(h - 1, kc.y1 + pad) - d.y0 + 1;
  return d;
}

void PatchAssembler::measure(const FrameView& frame, const kernels::PatchDesc* patches, int count,
                             const float* patch_residual, const int* patch_owner, const std::uint8_t* mask,
                             const math::NoiseModel& noise, const ProcessConfig& config, std::int64_t frame_index, PeakList& peaks) {
  const int w = frame.width;
  const std::size_t n = frame.pixel_count();
  if (residual_.size() != n) {
    residual_.assign(n, 0.0f);
    owner_.assign(n, 0);
  }
  kept_.runs.clear();
  kept_.begin.assign(1, 0);
  for (int c = 0; c < count; ++c) {
    const kernels::PatchDesc& d = patches[c];
    const float* rs = patch_residual + d.offset;
    const int* os = patch_owner + d.offset;
    for (int yy = 0; yy < d.h; ++yy) {
      const std::size_t row = static_cast<std::size_t>(d.y0 + yy) * w + d.x0;
      for (int xx = 0; xx < d.w; ++xx) {
        residual_[row + xx] = rs[yy * d.w + xx];
        owner_[row + xx] = os[yy * d.w + xx] + 1;
      }
    }
    // Runs of component c in raster order (all its pixels lie in its own patch).
    for (int yy = 0; yy < d.h; ++yy) {
      const int* row = os + yy * d.w;
      for (int xx = 0; xx < d.w;) {
        if (row[xx] != c) {
          ++xx;
          continue;
        }
        const int x0 = xx;
        while (xx < d.w && row[xx] == c) ++xx;
        kept_.runs.push_back(PixelRun{d.y0 + yy, d.x0 + x0, d.x0 + xx - 1});
      }
    }
    kept_.begin.push_back(static_cast<int>(kept_.runs.size()));
  }
  const std::size_t first = peaks.size();
  for (int c = 0; c < kept_.count(); ++c)
    measure_component(frame, residual_.data(), mask, owner_.data(), kept_, c, noise, config, frame_index, scratch_,
                      peaks);
  for (int c = 0; c < count; ++c) {  // sparse clear: owner_ stays all-zero between frames
    const kernels::PatchDesc& d = patches[c];
    for (int yy = 0; yy < d.h; ++yy)
      std::fill_n(owner_.begin() + static_cast<std::ptrdiff_t>(d.y0 + yy) * w + d.x0, d.w, 0);
  }
  if (first == 0) {
    sort_and_number(peaks);
  } else {  // appended to a list that holds other peaks: sort only this frame's
    PeakList mine(peaks.begin() + static_cast<std::ptrdiff_t>(first), peaks.end());
    sort_and_number(mine);
    std::copy(mine.begin(), mine.end(), peaks.begin() + static_cast<std::ptrdiff_t>(first));
  }
}

}  // namespace laueproc::cuda
