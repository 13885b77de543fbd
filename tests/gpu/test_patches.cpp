// The host half of the CUDA path without a device: the GPU's outputs (kept components' patches
// of residual + owner) are emulated from the CPU stages, and the peaks PatchAssembler measures
// from patches alone must equal CpuFrameAnalyzer's bit for bit. This proves that the patches
// (bounding box grown by grow_px + 1) hold every pixel the per-component code reads.

#include <gtest/gtest.h>

#include "cuda/patches.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/stages.hpp"
#include "stages/grid_rows.hpp"

namespace laueproc {
namespace {

struct Case {
  int w, h, max_refl;
  double sep;
  int grow;
};

PeakList via_patches(const FrameView& view, const ProcessConfig& config, std::int64_t index) {
  CpuFrameAnalyzer host(config);
  FrameAnalysis fa;
  const BackgroundGrid* grid = host.prepare(view, fa);
  if (!grid) return {};
  const int w = view.width, h = view.height;
  const std::size_t n = view.pixel_count();
  std::vector<float> bg, res(n);
  render_background(*grid, w, h, bg);
  for (std::size_t i = 0; i < n; ++i) res[i] = static_cast<float>(view.data[i]) - bg[i];
  // What the GPU's threshold, labels and filter produce (the CPU twins, with the frame's noise model).
  std::vector<PixelRun> runs;
  detail::find_runs(res.data(), bg.data(), host.mask(), w, h, math::sigma_threshold(host.noise(), config.threshold.k_low),
                    runs);
  ComponentSet all, kept;
  std::vector<int> parent;
  label_runs(runs, all, parent);
  detail::filter_components(res.data(), &view, w, h, all, math::sigma_threshold(host.noise(), config.threshold.k_high),
                            config.threshold.min_pixels, kept);
  std::vector<int> owner(n, -1);
  std::vector<kernels::PatchDesc> patches;
  std::vector<float> pres;
  std::vector<int> pown;
  for (int c = 0; c < kept.count(); ++c) {
    kernels::KeptComponent kc;
    kc.x0 = w;
    kc.y0 = h;
    kc.x1 = kc.y1 = -1;
    for (int k = kept.begin[c]; k < kept.begin[c + 1]; ++k) {
      const PixelRun& r = kept.runs[k];
      kc.x0 = std::min(kc.x0, r.x0);
      kc.x1 = std::max(kc.x1, r.x1);
      kc.y0 = std::min(kc.y0, r.y);
      kc.y1 = std::max(kc.y1, r.y);
      for (int x = r.x0; x <= r.x1; ++x) owner[static_cast<std::size_t>(r.y) * w + x] = c;
    }
    patches.push_back(cuda::make_patch(kc, w, h, std::max(0, config.moments.grow_px) + 1, 0));
  }
  for (auto& d : patches) {  // the gather kernel's job
    d.offset = static_cast<long long>(pres.size());
    for (int y = d.y0; y < d.y0 + d.h; ++y)
      for (int x = d.x0; x < d.x0 + d.w; ++x) {
        pres.push_back(res[static_cast<std::size_t>(y) * w + x]);
        pown.push_back(owner[static_cast<std::size_t>(y) * w + x]);
      }
  }
  PeakList peaks;
  cuda::PatchAssembler assembler;
  // Twice: the second call checks the sparse clearing between frames.
  for (int pass = 0; pass < 2; ++pass) {
    peaks.clear();
    assembler.measure(view, patches.data(), static_cast<int>(patches.size()), pres.data(), pown.data(), host.mask(),
                      host.noise(), config, index, peaks);
  }
  return peaks;
}

TEST(CudaHostPatches, PeaksFromPatchesEqualCpuPeaks) {
  for (const Case& cs : {Case{256, 256, 60, 25.0, 2}, Case{300, 211, 60, 25.0, 0}, Case{512, 512, 400, 12.0, 2},
                         Case{256, 256, 80, 12.0, 4}}) {
    sim::SimConfig sc;
    sc.width = cs.w;
    sc.height = cs.h;
    sc.grid_nx = sc.grid_ny = 2;
    sc.max_reflections = cs.max_refl;
    sc.min_separation_px = cs.sep;
    sc.edge_margin_px = 8;
    sim::ScanSimulator sim(sc);
    ProcessConfig config;
    config.moments.grow_px = cs.grow;
    for (std::int64_t i = 0; i < 2; ++i) {
      SCOPED_TRACE(std::to_string(cs.w) + "x" + std::to_string(cs.h) + " frame " + std::to_string(i));
      std::vector<std::uint16_t> px;
      sim.render(i, px, nullptr);
      const FrameView view{px.data(), cs.w, cs.h, cs.w};
      CpuFrameAnalyzer cpu(config);
      const FrameAnalysis ref = cpu.analyze(view, i);
      const PeakList got = via_patches(view, config, i);
      ASSERT_GT(ref.peaks.size(), 0u);
      ASSERT_EQ(ref.peaks.size(), got.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        const Peak& a = ref.peaks[k];
        const Peak& b = got[k];
        EXPECT_EQ(a.peak, b.peak);
        EXPECT_EQ(a.frame, b.frame);
        EXPECT_EQ(a.x, b.x);
        EXPECT_EQ(a.y, b.y);
        EXPECT_EQ(a.a, b.a);
        EXPECT_EQ(a.b, b.b);
        EXPECT_EQ(a.theta_deg, b.theta_deg);
        EXPECT_EQ(a.intensity, b.intensity);
        EXPECT_EQ(a.npix, b.npix);
        EXPECT_EQ(a.n_maxima, b.n_maxima);
        EXPECT_EQ(a.saturated, b.saturated);
        EXPECT_EQ(a.edge, b.edge);
      }
    }
  }
}

}  // namespace
}  // namespace laueproc
