// The device front end (masks, block background, fills, Gaussian background, noise) run on the
// CPU grid executor and compared bit for bit with the CPU stages it replaces
// (CpuFrameAnalyzer::prepare_mask / prepare, background_blocks, fill_invalid_cells).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "frames.hpp"
#include "host_batch.hpp"

namespace laueproc {
namespace {

using testing::GridOrder;
using testing::HostBatch;
using testing::ptrs;

std::size_t count_diff(const float* a, const float* b, std::size_t n) {
  std::size_t d = 0;
  for (std::size_t i = 0; i < n; ++i) d += std::memcmp(a + i, b + i, sizeof(float)) != 0;
  return d;
}

// Dead column at x = 30 (all 0); row 50 stuck at 700 except where it crosses it (pass 3); a
// column stuck at 900 crossing the simulator's dead row (pass 2); a zero corner.
Frame lines_frame(int w, int h, std::int64_t index) {
  Frame f = testing::sim_frame(w, h, index);
  std::vector<bool> dead(static_cast<std::size_t>(h));
  for (int y = 0; y < h; ++y) {
    const auto row = f.pixels.begin() + static_cast<std::ptrdiff_t>(y) * w;
    dead[static_cast<std::size_t>(y)] = std::all_of(row, row + w, [](std::uint16_t v) { return v == 0; });
  }
  for (int y = 0; y < h; ++y) f.pixels[static_cast<std::size_t>(y) * w + 30] = 0;
  for (int x = 0; x < w; ++x)
    if (x != 30) f.pixels[static_cast<std::size_t>(50) * w + x] = 700;
  for (int y = 0; y < h; ++y)
    if (!dead[static_cast<std::size_t>(y)]) f.pixels[static_cast<std::size_t>(y) * w + 90] = 900;
  for (int y = h - 30; y < h; ++y)
    for (int x = w - 45; x < w; ++x) f.pixels[static_cast<std::size_t>(y) * w + x] = 0;
  return f;
}

void expect_masks(const std::vector<Frame>& frames, const ProcessConfig& config, const BadPixelMask* mask = nullptr) {
  HostBatch b(ptrs(frames), config, mask);
  b.run(GridOrder::reverse, true);
  const std::size_t n = static_cast<std::size_t>(frames[0].width) * frames[0].height;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    SCOPED_TRACE("frame " + std::to_string(f));
    CpuFrameAnalyzer cpu(config, mask);
    FrameAnalysis fa;
    const bool live = cpu.prepare_mask(frames[f].view(), fa);
    const kernels::FrameState& st = b.v.state[f];
    EXPECT_EQ(st.constant, live ? 0 : 1);
    if (!live) continue;
    EXPECT_EQ(st.masked_lines, fa.masked_lines);
    EXPECT_EQ(st.has_mask != 0, cpu.mask() != nullptr);
    std::vector<std::uint8_t> want(n, 0);
    if (cpu.mask()) std::memcpy(want.data(), cpu.mask(), n);
    std::size_t diff = 0;
    for (std::size_t i = 0; i < n; ++i) diff += b.v.mask[f * n + i] != want[i];
    EXPECT_EQ(diff, 0u) << "mask pixels differing from prepare_mask";
  }
}

TEST(KernelMasks, DeadLinesAllThreePassesAndZeroMargins) {
  std::vector<Frame> frames{lines_frame(256, 256, 0), testing::sim_frame(256, 256, 1),
                            testing::flat_frame(256, 256, 1234), testing::flat_frame(256, 256, 0)};
  ProcessConfig config;
  expect_masks(frames, config);
  for (int margin : {0, 5}) {
    config.threshold.invalid_margin_px = margin;
    expect_masks(frames, config);
  }
  config.threshold.detect_dead_lines = false;
  expect_masks(frames, config);
  config.threshold.detect_dead_lines = true;
  config.threshold.zero_is_invalid = false;
  expect_masks(frames, config);
}

TEST(KernelMasks, PartialBlocksAndStaticMask) {
  std::vector<Frame> frames{lines_frame(300, 211, 2), testing::sim_frame(300, 211, 3)};
  std::vector<std::uint8_t> bad(300u * 211u, 0);
  for (int y = 100; y < 130; ++y)
    for (int x = 40; x < 95; ++x) bad[static_cast<std::size_t>(y) * 300 + x] = 1;
  const BadPixelMask mask(300, 211, bad);
  expect_masks(frames, ProcessConfig{}, &mask);
}

void expect_block_grids(const std::vector<Frame>& frames, const ProcessConfig& config,
                        const BadPixelMask* mask = nullptr) {
  HostBatch b(ptrs(frames), config, mask);
  b.run(GridOrder::forward, true);
  const std::size_t cells = static_cast<std::size_t>(b.v.shape.cells());
  for (std::size_t f = 0; f < frames.size(); ++f) {
    SCOPED_TRACE("frame " + std::to_string(f));
    CpuFrameAnalyzer cpu(config, mask);
    FrameAnalysis fa;
    if (!cpu.prepare_mask(frames[f].view(), fa)) continue;
    BackgroundGrid want;
    background_blocks(frames[f].view(), cpu.mask(), config.background, want);
    ASSERT_EQ(want.values.size(), cells);
    EXPECT_EQ(count_diff(b.v.grid + f * cells, want.values.data(), cells), 0u) << "cells of " << cells;
    EXPECT_EQ(static_cast<double>(b.v.state[f].block_sigma), want.block_sigma);
  }
}

TEST(KernelBackground, BlockGridEqualsBackgroundBlocks) {
  std::vector<Frame> frames;
  for (int i = 0; i < 3; ++i) frames.push_back(testing::sim_frame(256, 256, i));
  frames.push_back(lines_frame(256, 256, 4));
  frames.push_back(testing::blobs_and_streaks(256, 256));
  expect_block_grids(frames, ProcessConfig{});
}

TEST(KernelBackground, PartialCellsBigMaskedRegionsAndAllMasked) {
  std::vector<Frame> frames{testing::sim_frame(1000, 777, 0), testing::sim_frame(1000, 777, 5)};
  // A zero corner that empties whole cells (filled from the neighbours) ...
  for (int y = 0; y < 300; ++y)
    for (int x = 0; x < 420; ++x) frames[1].pixels[static_cast<std::size_t>(y) * 1000 + x] = 0;
  expect_block_grids(frames, ProcessConfig{});
  // ... a static mask leaving one corner cell valid (fills grow over the whole grid) ...
  std::vector<std::uint8_t> bad(1000u * 777u, 1);
  for (int y = 740; y < 777; ++y)
    for (int x = 960; x < 1000; ++x) bad[static_cast<std::size_t>(y) * 1000 + x] = 0;
  const BadPixelMask almost(1000, 777, bad);
  expect_block_grids(frames, ProcessConfig{}, &almost);
  // ... and everything masked: a flat zero grid.
  const BadPixelMask all(1000, 777, std::vector<std::uint8_t>(1000u * 777u, 1));
  expect_block_grids(frames, ProcessConfig{}, &all);
}

// FillCells alone on hand-made grids (random NaN patterns, one valid cell, none) against
// fill_invalid_cells; stage 2 with no valid cell takes the pass-1 grid.
TEST(KernelBackground, FillCellsEqualsFillInvalidCells) {
  Frame frame = testing::flat_frame(640, 480, 100);
  frame.pixels[0] = 101;  // not constant
  std::vector<const Frame*> one{&frame};
  ProcessConfig config;
  HostBatch b(one, config);
  kernels::BatchView& v = b.v;
  const int cells = v.shape.cells();
  testing::Noise rng(3);
  for (double nan_fraction : {0.0, 0.2, 0.7, 0.98, 1.0}) {
    SCOPED_TRACE("NaN fraction " + std::to_string(nan_fraction));
    BackgroundGrid want;
    background_grid_shape(640, 480, config.background, want);
    for (int k = 0; k < cells; ++k) {
      v.values[k] = rng.uniform() < nan_fraction ? kernels::quiet_nan() : static_cast<float>(100 + 50 * rng.uniform());
      v.sigmas[k] = std::isnan(v.values[k]) ? kernels::quiet_nan() : static_cast<float>(3 + rng.uniform());
      v.first[k] = static_cast<float>(k);
    }
    if (nan_fraction == 0.98) v.values[cells / 2] = 77.0f, v.sigmas[cells / 2] = 2.0f;
    std::copy(v.values, v.values + cells, want.values.begin());
    v.state[0] = kernels::FrameState{};
    testing::run_grid_on_cpu<kernels::FillCells>({1}, {256}, {v, 2});
    std::vector<float> sig;
    for (int k = 0; k < cells; ++k)
      if (!std::isnan(v.sigmas[k])) sig.push_back(v.sigmas[k]);
    if (sig.empty()) {
      EXPECT_EQ(v.state[0].fill_source, 1);
      EXPECT_EQ(count_diff(v.grid, v.first, static_cast<std::size_t>(cells)), 0u);
      continue;
    }
    fill_invalid_cells(want);
    EXPECT_EQ(count_diff(v.grid, want.values.data(), static_cast<std::size_t>(cells)), 0u);
    std::nth_element(sig.begin(), sig.begin() + static_cast<std::ptrdiff_t>(sig.size() / 2), sig.end());
    EXPECT_EQ(v.state[0].block_sigma, sig[sig.size() / 2]);
  }
}

void expect_noise(const std::vector<Frame>& frames, const ProcessConfig& config, const BadPixelMask* mask = nullptr,
                  GridOrder order = GridOrder::forward) {
  HostBatch b(ptrs(frames), config, mask);
  b.run(order, true);
  for (std::size_t f = 0; f < frames.size(); ++f) {
    SCOPED_TRACE("frame " + std::to_string(f));
    CpuFrameAnalyzer cpu(config, mask);
    FrameAnalysis fa;
    const BackgroundGrid* grid = cpu.prepare(frames[f].view(), fa);
    if (!grid) continue;
    const kernels::FrameState& st = b.v.state[f];
    EXPECT_EQ(st.sigma, cpu.sigma());
    EXPECT_EQ(st.sigma, fa.noise_sigma);
    EXPECT_EQ(st.noise.var0, cpu.noise().var0);
    EXPECT_EQ(st.noise.gain, cpu.noise().gain);
    EXPECT_EQ(st.background_level, fa.background_level);
    const math::SigmaThreshold low = math::sigma_threshold(cpu.noise(), config.threshold.k_low);
    EXPECT_EQ(st.low.k2var0, low.k2var0);
    EXPECT_EQ(st.low.k2gain, low.k2gain);
    if (config.background.method == BackgroundMethod::gaussian) {
      const std::size_t gc = static_cast<std::size_t>(b.v.shape.gauss_cells());
      ASSERT_EQ(grid->values.size(), gc);
      EXPECT_EQ(count_diff(b.v.ggrid + f * gc, grid->values.data(), gc), 0u) << "Gaussian grid cells of " << gc;
    }
  }
}

TEST(KernelNoise, SigmaNoiseModelAndLevelEqualPrepare) {
  std::vector<Frame> frames;
  for (int i = 0; i < 3; ++i) frames.push_back(testing::sim_frame(512, 512, i, 9));
  // Shot noise: variance growing with a steep background (the model fits a gain) ...
  frames.push_back(testing::drawn_frame(512, 512, 0.0, 4, [](int x, int y) { return 50.0 + 2.0 * x + 0.5 * y; }));
  {
    testing::Noise rng(8);
    for (auto& p : frames.back().pixels) p = static_cast<std::uint16_t>(p + std::lround(std::sqrt(p) * rng.normal()));
  }
  // ... and flat noise (too flat to fit: one sigma).
  frames.push_back(testing::drawn_frame(512, 512, 5.0, 6, [](int, int) { return 200.0; }));
  ProcessConfig config;
  expect_noise(frames, config);
  config.threshold.local_noise = false;
  expect_noise(frames, config, nullptr, GridOrder::reverse);
}

TEST(KernelNoise, SmallAndMaskedFrames) {
  // 160 x 120: fewer samples than the fit needs (the flat model).
  std::vector<Frame> small{testing::sim_frame(160, 120, 0), testing::sim_frame(160, 120, 1)};
  expect_noise(small, ProcessConfig{});
  std::vector<Frame> frames{lines_frame(300, 211, 0), testing::sim_frame(300, 211, 1)};
  std::vector<std::uint8_t> bad(300u * 211u, 0);
  for (int y = 0; y < 211; y += 3)
    for (int x = 0; x < 300; x += 2) bad[static_cast<std::size_t>(y) * 300 + x] = 1;
  const BadPixelMask mask(300, 211, bad);
  expect_noise(frames, ProcessConfig{}, &mask);
}

TEST(KernelGaussian, SeparableFilterEqualsBackgroundGaussian) {
  std::vector<Frame> frames{testing::sim_frame(512, 512, 0), lines_frame(512, 512, 1),
                            testing::blobs_and_streaks(512, 512)};
  ProcessConfig config;
  config.background.method = BackgroundMethod::gaussian;
  expect_noise(frames, config);
  config.background.gaussian_sigma_px = 7;  // a narrow kernel: radius 7 taps at 4 px cells
  std::vector<Frame> odd{testing::sim_frame(301, 203, 2), testing::sim_frame(301, 203, 3)};
  expect_noise(odd, config, nullptr, GridOrder::reverse);
}

}  // namespace
}  // namespace laueproc
