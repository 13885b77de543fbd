#pragma once
/// @file
/// @brief Phased body of stages 4-5 on the device: one thread per kept component runs the CPU's
/// own per-component code (math::measure_component_pixels: deblend, grown support, moments,
/// core moments, windowed centroid), so the peaks are the CPU's by construction. The thread
/// lists the component's pixels in raster order (its bounding box, label == root: the CPU's run
/// order), takes its scratch from the frame's pool, and appends one record per peak.
///
/// One thread per component, not a warp: the moment sums are sequential double additions in the
/// CPU's pixel order, and splitting them over lanes would change their rounding. What a GPU
/// gains from this stage is that nothing crosses PCIe but the peaks.

#include "frame_batch.cuh"
#include "laueproc/math/component.hpp"

namespace laueproc::kernels {

constexpr unsigned kMeasureThreads = 32;

/// @brief Grid (ceil(kept_cap / kMeasureThreads), frames), block kMeasureThreads.
struct Measure : BatchBody {
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int f = static_cast<int>(at.block.y);
    FrameState& st = v.state[f];
    const long long k = at.global_x();
    if (st.constant || st.overflow || k >= st.kept) return;
    const KeptComponent kc = v.kept[1ll * f * sh.kept_cap + k];
    const long long base = frame_base(sh, f);
    const int* label = v.label + base;
    const math::ComponentBox cb = math::component_box(kc.x0, kc.x1, kc.y0, kc.y1, sh.width, sh.height,
                                                      v.config.moments.grow_px);
    const int n = kc.npix;
    const unsigned long long words = static_cast<unsigned long long>(n) +
                                     math::component_scratch_bytes(n, cb.box_area, cb.grown_area) / 4;
    const unsigned long long offset = grid::atomic_add(&st.pool_used, words);
    if (offset + words > static_cast<unsigned long long>(sh.pool_cap)) {
      grid::atomic_or(&st.overflow, static_cast<int>(kScratchOverflow));
      return;
    }
    int* pixels = v.pool + 1ll * f * sh.pool_cap + static_cast<long long>(offset);
    int count = 0;
    for (int y = kc.y0; y <= kc.y1; ++y)
      for (int x = kc.x0; x <= kc.x1; ++x)
        if (label[y * sh.width + x] == kc.root) pixels[count++] = y * sh.width + x;
    math::ComponentScratchView s =
        math::component_scratch(reinterpret_cast<unsigned char*>(pixels + n), n, cb.box_area, cb.grown_area);
    const math::FramePixels fp{v.residual + base, v.raw + base, sh.width, st.has_mask ? v.mask + base : nullptr,
                               sh.width, sh.height};
    const RootStats* roots = v.roots + 1ll * f * sh.root_cap;
    const int* root_slot = v.root_slot + base;
    const int root = kc.root;
    // A pixel of another kept component (the CPU's owner test).
    const auto other = [label, roots, root_slot, root](int i) {
      const int l = label[i];
      return l >= 0 && l != root && roots[root_slot[l]].kept != 0;
    };
    math::measure_component_pixels(fp, pixels, count, cb, st.noise, v.config.deblend, v.config.moments, other, s,
                                   [&](const Peak& peak, int sub) {
                                     if (grid::atomic_add(&st.peaks, 1) >= sh.peak_cap) {
                                       grid::atomic_or(&st.overflow, static_cast<int>(kPeaksOverflow));
                                       return;
                                     }
                                     const int slot = grid::atomic_add(v.peak_total, 1);
                                     PeakRecord& r = v.peaks[slot];
                                     r.peak = peak;
                                     r.frame = f;
                                     r.root = root;
                                     r.sub = sub;
                                     r.pad_ = 0;
                                   });
  }
};

}  // namespace laueproc::kernels
