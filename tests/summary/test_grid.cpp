// assign_grid and build_maps against rasters with known cells.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "laueproc/error.hpp"
#include "laueproc/summary.hpp"

namespace laueproc {
namespace {

FrameSummary at(std::int64_t frame, double x, double y) {
  FrameSummary f;
  f.frame = frame;
  f.has_position = true;
  f.x_um = x;
  f.y_um = y;
  return f;
}

std::vector<FrameSummary> plain(int n) {
  std::vector<FrameSummary> v(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) v[static_cast<std::size_t>(k)].frame = k;
  return v;
}

TEST(AssignGrid, ExplicitGridIsRowMajor) {
  auto frames = plain(12);
  assign_grid(frames, GridSpec{4, 3});
  for (const FrameSummary& f : frames) {
    EXPECT_EQ(f.ix, f.frame % 4);
    EXPECT_EQ(f.iy, f.frame / 4);
  }
}

TEST(AssignGrid, ExplicitGridWinsOverPositions) {
  std::vector<FrameSummary> frames = {at(0, 5.0, 5.0), at(1, 0.0, 0.0), at(2, 9.0, 1.0)};
  assign_grid(frames, GridSpec{2, 2});
  EXPECT_EQ(frames[1].ix, 1);
  EXPECT_EQ(frames[1].iy, 0);
  EXPECT_EQ(frames[2].ix, 0);
  EXPECT_EQ(frames[2].iy, 1);
}

TEST(AssignGrid, ExplicitSnakeMirrorsOddRows) {
  auto frames = plain(12);
  assign_grid(frames, GridSpec{4, 3, true});
  EXPECT_EQ(frames[4].ix, 3);  // row 1 runs right to left
  EXPECT_EQ(frames[7].ix, 0);
  EXPECT_EQ(frames[8].ix, 0);  // row 2 left to right again
  EXPECT_EQ(frames[7].iy, 1);
}

TEST(AssignGrid, RowsInferredFromColumns) {
  auto frames = plain(10);
  assign_grid(frames, GridSpec{4, 0});
  EXPECT_EQ(frames[9].ix, 1);
  EXPECT_EQ(frames[9].iy, 2);
  const ScanMaps m = build_maps(frames, GridSpec{4, 0});
  EXPECT_EQ(m.nx, 4);
  EXPECT_EQ(m.ny, 3);
}

TEST(AssignGrid, FrameOutsideExplicitGridThrows) {
  auto frames = plain(13);
  EXPECT_THROW(assign_grid(frames, GridSpec{4, 3}), UsageError);
  EXPECT_THROW(assign_grid(frames, GridSpec{0, 3}), UsageError);
}

// Jittered positions in raster or snake order, listed shuffled: cells must match the truth.
void check_positions(bool snake, std::uint64_t seed) {
  constexpr int nx = 7, ny = 5;
  constexpr double step = 0.5, jitter = 0.03;  // um; jitter 6 % of the step
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> j(-jitter, jitter);
  std::vector<FrameSummary> frames;
  std::vector<std::pair<int, int>> truth;
  for (int iy = 0; iy < ny; ++iy)
    for (int c = 0; c < nx; ++c) {
      const int ix = (snake && iy % 2 == 1) ? nx - 1 - c : c;
      frames.push_back(at(static_cast<std::int64_t>(frames.size()), -3.0 + ix * step + j(rng), 12.0 + iy * step + j(rng)));
      truth.emplace_back(ix, iy);
    }
  std::vector<std::size_t> order(frames.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<FrameSummary> shuffled;
  for (const std::size_t k : order) shuffled.push_back(frames[k]);
  assign_grid(shuffled);
  for (const FrameSummary& f : shuffled) {
    EXPECT_EQ(f.ix, truth[static_cast<std::size_t>(f.frame)].first) << "frame " << f.frame;
    EXPECT_EQ(f.iy, truth[static_cast<std::size_t>(f.frame)].second) << "frame " << f.frame;
  }
  const ScanMaps m = build_maps(shuffled);
  EXPECT_EQ(m.nx, nx);
  EXPECT_EQ(m.ny, ny);
  for (int ix = 0; ix < nx; ++ix) EXPECT_NEAR(m.x_um[static_cast<std::size_t>(ix)], -3.0 + ix * step, jitter);
  for (int iy = 0; iy < ny; ++iy) EXPECT_NEAR(m.y_um[static_cast<std::size_t>(iy)], 12.0 + iy * step, jitter);
}

TEST(AssignGrid, JitteredRasterPositions) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) check_positions(false, seed);
}

TEST(AssignGrid, JitteredSnakePositions) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) check_positions(true, seed);
}

TEST(AssignGrid, SkippedColumnStaysEmpty) {
  // Columns at x = 0, 1, 3 (um): x = 2 was never measured.
  std::vector<FrameSummary> frames = {at(0, 0.0, 0.0), at(1, 1.01, 0.0), at(2, 2.99, 0.0),
                                      at(3, 0.0, 1.0), at(4, 1.0, 1.01), at(5, 3.0, 0.99)};
  assign_grid(frames);
  EXPECT_EQ(frames[2].ix, 3);
  EXPECT_EQ(frames[5].ix, 3);
  EXPECT_EQ(frames[4].iy, 1);
  const ScanMaps m = build_maps(frames);
  EXPECT_EQ(m.nx, 4);
  EXPECT_TRUE(std::isnan(m.x_um[2]));
  EXPECT_EQ(m.scenario[2], -1);
}

TEST(AssignGrid, OneJitteredColumnIsNotSplit) {
  // A line scan along y: x only jitters by a few nm.
  std::vector<FrameSummary> frames;
  for (int k = 0; k < 10; ++k) frames.push_back(at(k, 4.0 + 0.004 * ((k * 7) % 5 - 2), 0.5 * k));
  assign_grid(frames);
  for (const FrameSummary& f : frames) {
    EXPECT_EQ(f.ix, 0);
    EXPECT_EQ(f.iy, f.frame);
  }
}

TEST(AssignGrid, NoPositionsOrOnePositionGiveALine) {
  auto frames = plain(5);
  for (auto& f : frames) f.frame += 10;
  assign_grid(frames);
  for (const FrameSummary& f : frames) {
    EXPECT_EQ(f.ix, f.frame - 10);
    EXPECT_EQ(f.iy, 0);
  }
  std::vector<FrameSummary> same = {at(0, 1.0, 2.0), at(1, 1.001, 2.0), at(2, 1.0, 1.999)};
  assign_grid(same);
  EXPECT_EQ(same[2].ix, 2);
  EXPECT_EQ(same[2].iy, 0);
  const ScanMaps m = build_maps(frames);
  EXPECT_EQ(m.nx, 5);
  EXPECT_EQ(m.ny, 1);
  EXPECT_EQ(m.x_um[3], 3.0);  // indices: no positions
}

TEST(AssignGrid, FramesWithoutPositionAreLeftOut) {
  std::vector<FrameSummary> frames = {at(0, 0.0, 0.0), at(1, 0.5, 0.0), at(2, 0.0, 0.5)};
  FrameSummary lost;
  lost.frame = 3;
  frames.push_back(lost);
  assign_grid(frames);
  EXPECT_EQ(frames[3].ix, -1);
  EXPECT_EQ(frames[1].ix, 1);
  const ScanMaps m = build_maps(frames);
  EXPECT_EQ(m.nx, 2);
  EXPECT_EQ(m.ny, 2);
  EXPECT_EQ(m.scenario[3], -1);  // (1, 1): frame 3 had no position
}

TEST(BuildMaps, PlacesValuesAndFillsNaN) {
  std::vector<FrameSummary> frames(3);
  frames[0].frame = 0; frames[0].ix = 0; frames[0].iy = 0; frames[0].se = 1.25; frames[0].n_peaks = 40;
  frames[0].scenario = Scenario::gnd; frames[0].background = 100; frames[0].noise = 5; frames[0].se_median = 1.0;
  frames[1].frame = 1; frames[1].ix = 2; frames[1].iy = 1; frames[1].se = 0.75; frames[1].n_peaks = 3;
  frames[1].scenario = Scenario::tilt_boundary;
  frames[2].frame = 2;  // unassigned: ignored
  const ScanMaps m = build_maps(frames);
  ASSERT_EQ(m.nx, 3);
  ASSERT_EQ(m.ny, 2);
  ASSERT_EQ(m.se.size(), 6u);
  EXPECT_EQ(m.se[0], 1.25f);
  EXPECT_EQ(m.se_median[0], 1.0f);
  EXPECT_EQ(m.n_peaks[0], 40.0f);
  EXPECT_EQ(m.background[0], 100.0f);
  EXPECT_EQ(m.noise[0], 5.0f);
  EXPECT_EQ(m.scenario[0], static_cast<std::int8_t>(Scenario::gnd));
  EXPECT_EQ(m.se[1 * 3 + 2], 0.75f);
  EXPECT_EQ(m.scenario[1 * 3 + 2], static_cast<std::int8_t>(Scenario::tilt_boundary));
  EXPECT_TRUE(std::isnan(m.background[1 * 3 + 2]));  // frame there, background not filled
  for (const int c : {1, 2, 3, 4}) {
    EXPECT_TRUE(std::isnan(m.se[static_cast<std::size_t>(c)])) << c;
    EXPECT_TRUE(std::isnan(m.n_peaks[static_cast<std::size_t>(c)])) << c;
    EXPECT_EQ(m.scenario[static_cast<std::size_t>(c)], -1) << c;
  }
  EXPECT_EQ(m.x_um, (std::vector<double>{0, 1, 2}));
}

TEST(BuildMaps, LowestFrameWinsASharedCell) {
  std::vector<FrameSummary> frames(2);
  frames[0].frame = 9; frames[0].ix = frames[0].iy = 0; frames[0].se = 2.0;
  frames[1].frame = 4; frames[1].ix = frames[1].iy = 0; frames[1].se = 3.0;
  EXPECT_EQ(build_maps(frames).se[0], 3.0f);
}

TEST(BuildMaps, EmptyInputGivesEmptyMaps) {
  const ScanMaps m = build_maps({});
  EXPECT_EQ(m.nx, 0);
  EXPECT_TRUE(m.se.empty());
}

}  // namespace
}  // namespace laueproc
