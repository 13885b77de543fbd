// The device back end (residual, threshold, block-based labeling, filter, per-component
// measurement) and the whole pipeline of a batch, run on the CPU grid executor and compared bit
// for bit with the CPU path: residual, label partition, kept components, and every field of
// every peak of CpuFrameAnalyzer::analyze.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "frames.hpp"
#include "host_batch.hpp"
#include "stages/grid_rows.hpp"

namespace laueproc {
namespace {

using testing::GridOrder;
using testing::HostBatch;
using testing::ptrs;

// Everything but the frame number, bit for bit.
void expect_same_peaks(const PeakList& want, const PeakList& got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE("peak " + std::to_string(k));
    const Peak& a = want[k];
    const Peak& b = got[k];
    EXPECT_EQ(a.frame, b.frame);
    EXPECT_EQ(a.peak, b.peak);
    EXPECT_EQ(a.x, b.x);
    EXPECT_EQ(a.y, b.y);
    EXPECT_EQ(a.intensity, b.intensity);
    EXPECT_EQ(a.peak_value, b.peak_value);
    EXPECT_EQ(a.npix, b.npix);
    EXPECT_EQ(a.mxx, b.mxx);
    EXPECT_EQ(a.myy, b.myy);
    EXPECT_EQ(a.mxy, b.mxy);
    EXPECT_EQ(a.a, b.a);
    EXPECT_EQ(a.b, b.b);
    EXPECT_EQ(a.theta_deg, b.theta_deg);
    EXPECT_EQ(a.n_maxima, b.n_maxima);
    EXPECT_EQ(a.saturated, b.saturated);
    EXPECT_EQ(a.edge, b.edge);
    EXPECT_EQ(a.snr, b.snr);
  }
}

// The batch through the whole pipeline against CpuFrameAnalyzer::analyze, frame by frame.
// Returns the peaks found in all (so callers can check the case was not trivial).
std::size_t expect_same_analyses(const std::vector<Frame>& frames, const ProcessConfig& config,
                                 const BadPixelMask* mask = nullptr, GridOrder order = GridOrder::forward) {
  HostBatch b(ptrs(frames), config, mask);
  b.run(order);
  std::size_t peaks = 0;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    SCOPED_TRACE("frame " + std::to_string(f) + " " + std::to_string(frames[f].width) + "x" +
                 std::to_string(frames[f].height));
    CpuFrameAnalyzer cpu(config, mask);
    const FrameAnalysis want = cpu.analyze(frames[f].view(), frames[f].meta.index);
    FrameAnalysis got;
    EXPECT_TRUE(b.analysis(static_cast<int>(f), frames[f].meta.index, frames[f].view().at(0, 0), got))
        << "overflow bits " << b.v.state[f].overflow;
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(got.masked_lines, want.masked_lines);
    EXPECT_EQ(got.noise_sigma, want.noise_sigma);
    EXPECT_EQ(got.background_level, want.background_level);
    expect_same_peaks(want.peaks, got.peaks);
    peaks += want.peaks.size();
  }
  return peaks;
}

// Residual bit for bit; the label partition equals label_components'; every root is its
// component's first pixel in raster order; the kept roots are filter_components'.
void expect_same_labels(const std::vector<Frame>& frames, const ProcessConfig& config, GridOrder order) {
  HostBatch b(ptrs(frames), config);
  b.run(order);
  const int w = frames[0].width, h = frames[0].height;
  const std::size_t n = static_cast<std::size_t>(w) * h;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    SCOPED_TRACE("frame " + std::to_string(f));
    CpuFrameAnalyzer cpu(config);
    FrameAnalysis fa;
    const BackgroundGrid* grid = cpu.prepare(frames[f].view(), fa);
    if (!grid) continue;
    std::vector<float> bg, res(n);
    render_background(*grid, w, h, bg);
    for (std::size_t i = 0; i < n; ++i) res[i] = static_cast<float>(frames[f].pixels[i]) - bg[i];
    const float* gres = b.v.residual + f * n;
    const int* glab = b.v.label + f * n;
    std::size_t res_diff = 0;
    for (std::size_t i = 0; i < n; ++i) res_diff += std::memcmp(&gres[i], &res[i], 4) != 0;
    EXPECT_EQ(res_diff, 0u) << "residual pixels differing";
    const math::SigmaThreshold low = math::sigma_threshold(cpu.noise(), config.threshold.k_low);
    const std::uint8_t* mask = cpu.mask();
    std::vector<std::uint8_t> fg(n);
    for (std::size_t i = 0; i < n; ++i) fg[i] = math::above(res[i], bg[i], low) && !(mask && mask[i]);
    std::vector<std::int32_t> cpu_labels;
    const int ncomp = label_components(fg.data(), w, h, cpu_labels);
    // The CPU numbers components in raster order of their first pixel: component c's root.
    std::vector<int> first(static_cast<std::size_t>(ncomp) + 1, -1);
    for (std::size_t i = 0; i < n; ++i)
      if (cpu_labels[i] > 0 && first[static_cast<std::size_t>(cpu_labels[i])] < 0)
        first[static_cast<std::size_t>(cpu_labels[i])] = static_cast<int>(i);
    std::size_t diff = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int want = cpu_labels[i] > 0 ? first[static_cast<std::size_t>(cpu_labels[i])] : -1;
      diff += glab[i] != want;
    }
    EXPECT_EQ(diff, 0u) << "pixels whose root differs (" << ncomp << " components)";
    EXPECT_EQ(b.v.state[f].roots, ncomp);
    // Kept components.
    std::vector<PixelRun> runs;
    detail::find_runs(res.data(), bg.data(), mask, w, h, low, runs);
    ComponentSet all, kept;
    std::vector<int> parent;
    label_runs(runs, all, parent);
    const FrameView fv = frames[f].view();
    detail::filter_components(res.data(), &fv, w, h, all, math::sigma_threshold(cpu.noise(), config.threshold.k_high),
                              config.threshold.min_pixels, kept);
    std::set<int> want_roots, got_roots;
    for (int c = 0; c < kept.count(); ++c) {
      const PixelRun& r0 = kept.runs[static_cast<std::size_t>(kept.begin[c])];
      want_roots.insert(r0.y * w + r0.x0);
    }
    const kernels::FrameState& st = b.v.state[f];
    ASSERT_EQ(st.overflow, 0);
    for (int k = 0; k < st.kept; ++k) got_roots.insert(b.v.kept[f * b.v.shape.kept_cap + k].root);
    EXPECT_EQ(got_roots, want_roots);
    EXPECT_GT(want_roots.size(), 0u);
  }
}

TEST(KernelLabels, ResidualPartitionAndKeptComponentsEqualCpu) {
  std::vector<Frame> frames{testing::sim_frame(256, 256, 0), testing::sim_frame(256, 256, 1, 7, 200, 12.0)};
  expect_same_labels(frames, ProcessConfig{}, GridOrder::forward);
  std::vector<Frame> odd{testing::sim_frame(1000, 777, 3)};  // tiles cut by both edges
  expect_same_labels(odd, ProcessConfig{}, GridOrder::reverse);
}

// Components that cross many tiles: saturated blobs (one 30 px across), 300 px streaks in four
// directions and a zigzag. A low k_low (1.5 sigma) also joins noise into large ragged components.
TEST(KernelLabels, SaturatedBlobsAndLongStreaks) {
  std::vector<Frame> frames{testing::blobs_and_streaks(512, 512)};
  ProcessConfig config;
  expect_same_labels(frames, config, GridOrder::forward);
  expect_same_labels(frames, config, GridOrder::reverse);
  config.threshold.k_low = 1.5;
  expect_same_labels(frames, config, GridOrder::reverse);
}

TEST(KernelPipeline, SimulatedFramesEqualCpuAnalyzer) {
  std::vector<Frame> frames;
  for (int i = 0; i < 3; ++i) frames.push_back(testing::sim_frame(256, 256, i, 3));
  frames.push_back(testing::flat_frame(256, 256, 0, 3));     // all zero: empty frame
  frames.push_back(testing::flat_frame(256, 256, 1234, 4));  // constant: empty frame
  frames.push_back(testing::sim_frame(256, 256, 5, 11, 200, 12.0));  // crowded
  EXPECT_GT(expect_same_analyses(frames, ProcessConfig{}), 100u);
  std::vector<Frame> odd{testing::sim_frame(1000, 777, 1), testing::sim_frame(1000, 777, 2)};
  EXPECT_GT(expect_same_analyses(odd, ProcessConfig{}, nullptr, GridOrder::reverse), 20u);
}

TEST(KernelPipeline, DeblendingSaturationAndStreaks) {
  sim::SimConfig c;
  c.width = c.height = 512;
  c.grid_nx = c.grid_ny = 2;
  c.only = Scenario::stacking;
  c.seed = 4;
  sim::ScanSimulator sim(c);
  std::vector<Frame> frames(3);
  for (int i = 0; i < 2; ++i) {
    frames[i].width = frames[i].height = 512;
    frames[i].meta.index = i;
    sim.render(i, frames[i].pixels, nullptr);
  }
  frames[2] = testing::blobs_and_streaks(512, 512, 2);
  const std::size_t n = expect_same_analyses(frames, ProcessConfig{});
  EXPECT_GT(n, 30u);
  ProcessConfig config;
  config.moments.grow_px = 0;
  config.deblend.split = false;
  expect_same_analyses(frames, config, nullptr, GridOrder::reverse);
  config.moments.grow_px = 4;
  config.deblend.split = true;
  config.moments.windowed_centroid = false;
  config.moments.core_fraction = 0;
  expect_same_analyses(frames, config);
}

TEST(KernelPipeline, StaticMaskGaussianBackgroundAndFlatNoise) {
  std::vector<Frame> frames{testing::sim_frame(300, 211, 1), testing::sim_frame(300, 211, 2)};
  std::vector<std::uint8_t> bad(300u * 211u, 0);
  for (int y = 100; y < 120; ++y)
    for (int x = 50; x < 90; ++x) bad[static_cast<std::size_t>(y) * 300 + x] = 1;
  const BadPixelMask mask(300, 211, bad);
  ProcessConfig config;
  config.background.method = BackgroundMethod::gaussian;
  expect_same_analyses(frames, config, &mask);
  config.threshold.local_noise = false;
  config.background.method = BackgroundMethod::block_percentile;
  expect_same_analyses(frames, config, &mask, GridOrder::reverse);
  // Everything masked: no cell, no sample, no peak (a flat grid, sigma at its floor).
  const BadPixelMask all(300, 211, std::vector<std::uint8_t>(300u * 211u, 1));
  config.background.method = BackgroundMethod::gaussian;
  EXPECT_EQ(expect_same_analyses(frames, config, &all), 0u);
}

// Thousands of peaks in one frame: past the default kept-list capacity the frame is flagged (the
// analyzer redoes it on the CPU); with room enough the device's peaks are the CPU's.
TEST(KernelPipeline, MoreThan4096PeaksAndOverflowFlags) {
  std::vector<Frame> frames{testing::spot_lattice(1024, 1024, 14)};  // 73 x 73 = 5329 spots
  CpuFrameAnalyzer cpu(ProcessConfig{});
  const FrameAnalysis want = cpu.analyze(frames[0].view(), 0);
  ASSERT_GT(want.peaks.size(), 4096u);
  {
    HostBatch b(ptrs(frames), ProcessConfig{});
    b.run();
    EXPECT_EQ(b.v.state[0].overflow & kernels::kKeptOverflow, kernels::kKeptOverflow);
    FrameAnalysis got;
    EXPECT_FALSE(b.analysis(0, 0, 0, got));
  }
  {
    HostBatch b(ptrs(frames), ProcessConfig{}, nullptr, [](kernels::BatchShape& s) {
      s.kept_cap = s.peak_cap = 8192;
      s.pool_cap = 8 << 20;
    });
    b.run();
    FrameAnalysis got;
    ASSERT_TRUE(b.analysis(0, 0, 0, got)) << "overflow bits " << b.v.state[0].overflow;
    expect_same_peaks(want.peaks, got.peaks);
  }
  for (auto [what, bit] : {std::pair{"roots", kernels::kRootsOverflow}, std::pair{"pool", kernels::kScratchOverflow},
                           std::pair{"peaks", kernels::kPeaksOverflow}}) {
    SCOPED_TRACE(what);
    HostBatch b(ptrs(frames), ProcessConfig{}, nullptr, [&](kernels::BatchShape& s) {
      s.kept_cap = 8192;
      s.pool_cap = 8 << 20;
      s.peak_cap = bit == kernels::kPeaksOverflow ? 1000 : 8192;
      if (bit == kernels::kRootsOverflow) s.root_cap = 1000;
      if (bit == kernels::kScratchOverflow) s.pool_cap = 20000;
    });
    b.run();
    EXPECT_EQ(b.v.state[0].overflow & bit, bit);
  }
}

}  // namespace
}  // namespace laueproc
