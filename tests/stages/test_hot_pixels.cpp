// HotPixelFinder: the static map holds every hot pixel and hot cluster of a scan and none of the
// pixels of real spots, even sharp spots (sigma 0.5 px) that stay at the same place in every
// frame; with the map, the analyzer finds no peak at the clusters, without it it does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "laueproc/error.hpp"
#include "laueproc/stages.hpp"
#include "stages/synth.hpp"

using namespace laueproc;

namespace {

constexpr int kW = 256, kH = 256;
constexpr double kLevel = 100;

struct Spot {
  double x, y, sigma, amp;
};

// Spots at the same place in every frame: sharp (sigma 0.5) centred on a pixel, on a corner,
// on an edge; wider ones; faint and bright (up to saturation).
const std::vector<Spot>& fixed_spots() {
  static const std::vector<Spot> s = {
      {40.0, 40.0, 0.5, 3000},    {80.5, 40.5, 0.5, 3000},   {120.5, 40.0, 0.5, 3000},
      {160.0, 40.0, 0.5, 60000},  {200.5, 40.5, 0.5, 80000}, {40.3, 90.7, 1.0, 2000},
      {80.0, 90.0, 1.0, 40000},   {120.6, 90.2, 1.5, 1500},  {160.0, 90.0, 1.5, 30000},
      {200.5, 90.5, 0.5, 20000},  {40.5, 200.5, 0.5, 1000},  {80.25, 200.75, 0.5, 8000},
      {120.0, 200.0, 1.0, 200000},  // saturates
  };
  return s;
}

using Pixel = std::pair<int, int>;  // x, y

// Hot pixels at fixed places: lone ones, an adjacent pair, a diagonal pair, an L of 3, a 2x2 block.
struct Hot {
  int x, y;
  double value;
};
const std::vector<Hot>& hot_pixels() {
  static const std::vector<Hot> h = {
      {30, 140, 3000},  {231, 12, 65535}, {0, 77, 4000},    {255, 255, 5000},               // lone (two on the border)
      {60, 150, 4000},  {61, 150, 3500},                                                    // adjacent pair
      {100, 150, 6000}, {101, 151, 2500},                                                   // diagonal pair
      {140, 150, 3000}, {141, 150, 4500}, {140, 151, 5000},                                 // L of 3
      {180, 150, 4000}, {181, 150, 3000}, {180, 151, 2500}, {181, 151, 6000},               // 2x2 block
  };
  return h;
}

// One frame: level + Poisson-like noise, fixed spots, `moving` random spots, hot pixels.
std::vector<std::uint16_t> make_frame(std::uint64_t seed, int moving) {
  test::Rng rng(seed);
  test::Canvas c(kW, kH, kLevel);
  for (const Spot& s : fixed_spots()) c.gaussian(s.x, s.y, s.sigma, s.amp);
  for (int i = 0; i < moving; ++i)
    c.gaussian(rng.uniform(10, kW - 10), rng.uniform(170, kH - 10), rng.uniform(0.5, 2.0), rng.uniform(500, 30000));
  // Noise ~ sqrt(value + read^2) (normal approximation of Poisson + read noise 3).
  for (auto& v : c.v) v += std::sqrt(std::max(v, 0.0) + 9.0) * rng.normal();
  for (const Hot& h : hot_pixels()) c.at(h.x, h.y) = h.value;
  return c.to_u16();
}

// Pixels of the fixed spots: every pixel whose noise-free excess is >= 3 % of the spot's
// brightest pixel, or within 1 px of its centre.
std::set<Pixel> spot_pixels() {
  std::set<Pixel> out;
  for (const Spot& s : fixed_spots()) {
    test::Canvas c(kW, kH, 0);
    c.gaussian(s.x, s.y, s.sigma, s.amp);
    double peak = 0;
    for (double v : c.v) peak = std::max(peak, v);
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x)
        if (c.at(x, y) >= 0.03 * peak || (std::abs(x - s.x) <= 1 && std::abs(y - s.y) <= 1)) out.insert({x, y});
  }
  return out;
}

bool bad(const BadPixelMask& m, int x, int y) { return m.pixels()[static_cast<std::size_t>(y) * kW + x] != 0; }

BadPixelMask learn(int n_frames, double min_fraction = 0.9) {
  HotPixelFinder finder;
  for (int i = 0; i < n_frames; ++i) {
    const auto px = make_frame(1000 + static_cast<std::uint64_t>(i), 6);
    EXPECT_TRUE(finder.add(test::view(px, kW, kH)));
  }
  EXPECT_EQ(finder.frames(), n_frames);
  return finder.result(min_fraction);
}

}  // namespace

TEST(HotPixels, MaskHoldsEveryHotPixelAndNoSpotPixel) {
  const BadPixelMask mask = learn(30);
  ASSERT_EQ(mask.width(), kW);
  ASSERT_EQ(mask.height(), kH);
  for (const Hot& h : hot_pixels()) EXPECT_TRUE(bad(mask, h.x, h.y)) << "hot pixel " << h.x << "," << h.y;
  for (const Pixel& p : spot_pixels()) EXPECT_FALSE(bad(mask, p.first, p.second)) << "spot pixel " << p.first << "," << p.second;
  // Nothing else either: noise, moving spots.
  EXPECT_EQ(mask.bad_count(), hot_pixels().size());
}

TEST(HotPixels, RepeatedFrameKeepsSpots) {
  // The worst case for a "bright in every frame" rule: one frame N times, noise included.
  const auto px = make_frame(7, 6);
  HotPixelFinder finder;
  for (int i = 0; i < 10; ++i) finder.add(test::view(px, kW, kH));
  const BadPixelMask mask = finder.result();
  for (const Pixel& p : spot_pixels()) EXPECT_FALSE(bad(mask, p.first, p.second)) << "spot pixel " << p.first << "," << p.second;
  for (const Hot& h : hot_pixels()) EXPECT_TRUE(bad(mask, h.x, h.y)) << "hot pixel " << h.x << "," << h.y;
}

TEST(HotPixels, FractionAndCounts) {
  // A hot pixel present in 5 of 10 frames: flagged at min_fraction 0.5, not at 0.9.
  HotPixelFinder finder;
  for (int i = 0; i < 10; ++i) {
    test::Rng rng(50 + static_cast<std::uint64_t>(i));
    test::Canvas c(64, 64, kLevel);
    c.noise(rng, 10);
    if (i % 2 == 0) c.at(20, 30) = 5000;
    const auto px = c.to_u16();
    finder.add(test::view(px, 64, 64));
  }
  EXPECT_EQ(finder.counts()[30 * 64 + 20], 5);
  EXPECT_NEAR(finder.mean_excess(30 * 64 + 20), 4900, 50);
  EXPECT_EQ(finder.result(0.5).bad_count(), 1u);
  EXPECT_EQ(finder.result(0.9).bad_count(), 0u);
  EXPECT_THROW(finder.result(0.0), UsageError);
  EXPECT_THROW(finder.result(1.5), UsageError);
  std::vector<std::uint16_t> other(32 * 32, 100);
  EXPECT_THROW(finder.add(test::view(other, 32, 32)), InputError);
}

TEST(HotPixels, NoDataRimIsNotHot) {
  // A disc-shaped active area: pixels outside read 0; the rim must not be flagged.
  HotPixelFinder finder;
  for (int i = 0; i < 5; ++i) {
    test::Rng rng(80 + static_cast<std::uint64_t>(i));
    test::Canvas c(96, 96, kLevel);
    c.noise(rng, 10);
    for (int y = 0; y < 96; ++y)
      for (int x = 0; x < 96; ++x)
        if ((x - 48) * (x - 48) + (y - 48) * (y - 48) > 40 * 40) c.at(x, y) = 0;
    const auto px = c.to_u16();
    finder.add(test::view(px, 96, 96));
  }
  EXPECT_EQ(finder.result().bad_count(), 0u);
}

TEST(HotPixels, StuckPixelsOnlyWhenAsked) {
  HotPixelConfig cfg;
  cfg.flag_stuck = true;
  HotPixelFinder with(cfg), without;
  for (int i = 0; i < 4; ++i) {
    test::Rng rng(90 + static_cast<std::uint64_t>(i));
    test::Canvas c(48, 48, kLevel);
    c.noise(rng, 10);
    c.at(10, 10) = 100;  // stuck at the background level: never an outlier
    const auto px = c.to_u16();
    with.add(test::view(px, 48, 48));
    without.add(test::view(px, 48, 48));
  }
  const BadPixelMask m = with.result();
  EXPECT_TRUE(m.pixels()[10 * 48 + 10]);
  EXPECT_EQ(with.stuck_count(), 1u);
  EXPECT_EQ(without.result().bad_count(), 0u);
}

TEST(HotPixels, MaskRemovesClusterPeaks) {
  const BadPixelMask mask = learn(20);
  const auto px = make_frame(4242, 0);  // a new frame of the same scan
  ProcessConfig cfg;
  CpuFrameAnalyzer plain(cfg), masked(cfg, &mask);
  const FrameAnalysis a = plain.analyze(test::view(px, kW, kH), 0);
  const FrameAnalysis b = masked.analyze(test::view(px, kW, kH), 0);
  auto near_hot = [](const Peak& p) {
    for (const Hot& h : hot_pixels())
      if (std::abs(p.x - h.x) <= 2 && std::abs(p.y - h.y) <= 2) return true;
    return false;
  };
  auto near_spot = [](const Peak& p, const Spot& s) { return std::abs(p.x - s.x) <= 1.5 && std::abs(p.y - s.y) <= 1.5; };
  int hot_plain = 0, hot_masked = 0;
  for (const Peak& p : a.peaks) hot_plain += near_hot(p);
  for (const Peak& p : b.peaks) hot_masked += near_hot(p);
  EXPECT_GE(hot_plain, 1) << "the per-frame rule alone should let some hot cluster through (else this test proves nothing)";
  EXPECT_EQ(hot_masked, 0);
  // The real spots survive the mask.
  for (const Spot& s : fixed_spots()) {
    int found = 0;
    for (const Peak& p : b.peaks) found += near_spot(p, s);
    EXPECT_EQ(found, 1) << "spot at " << s.x << "," << s.y;
  }
}
