// The core moments and the windowed centroid: sharp spots with the long point-spread-function
// wings of real detectors, and the zero-pixel (no-data) mask of disc-shaped active areas.
#include <gtest/gtest.h>

#include <cmath>

#include "laueproc/config.hpp"
#include "laueproc/math/moments.hpp"
#include "laueproc/stages.hpp"
#include "stages/synth.hpp"

namespace laueproc {
namespace {

TEST(CoreMoments, TruncatedGaussianVarianceRatioMatchesNumericalIntegral) {
  for (double f : {0.05, 0.1, 0.3}) {
    // Numerical E[x^2 | r^2 < T] of a unit 2-D Gaussian on a fine grid.
    const double t = -2 * std::log(f);
    double s = 0, sxx = 0;
    for (double y = -6; y <= 6; y += 0.01)
      for (double x = -6; x <= 6; x += 0.01)
        if (x * x + y * y < t) {
          const double g = std::exp(-0.5 * (x * x + y * y));
          s += g;
          sxx += g * x * x;
        }
    EXPECT_NEAR(math::truncated_gaussian_variance_ratio(f), sxx / s, 2e-3) << "fraction " << f;
  }
  EXPECT_DOUBLE_EQ(math::truncated_gaussian_variance_ratio(0.0), 1.0);
}

// A sharp spot (sigma 0.8 px) sitting on wings of 1 % of its peak out to 6 px, as on the MarCCD
// Ge frame: whole-support moments would double a and b; the core moments must not.
TEST(CoreMoments, WingsDoNotInflateSharpSpotsNorMoveTheirCentre) {
  const int n = 64;
  const double cx = 31.37, cy = 30.81, s = 0.8, amp = 20000;
  test::Canvas canvas(n, n, 100);
  canvas.gaussian(cx, cy, s, amp);
  canvas.gaussian(cx, cy, 3.0, 0.012 * amp);  // the wing: broad, faint
  test::Rng rng(7);
  canvas.noise(rng, 3.0);
  const auto px = canvas.to_u16();

  ProcessConfig config;
  CpuFrameAnalyzer analyzer(config);
  FrameAnalysis fa = analyzer.analyze(test::view(px, n, n), 0);
  ASSERT_EQ(fa.peaks.size(), 1u);
  const Peak& p = fa.peaks[0];
  // The spot as a Gaussian fit sees it: a = 2 sigma (pixel-integrated: sigma^2 + 1/12).
  const double a_spot = 2 * std::sqrt(s * s + 1.0 / 12);
  EXPECT_NEAR(std::sqrt(p.a * p.b), a_spot, 0.12 * a_spot);
  EXPECT_NEAR(p.x, cx, 0.05);
  EXPECT_NEAR(p.y, cy, 0.05);

  config.moments.core_fraction = 0;  // whole support: the wings dominate
  config.moments.windowed_centroid = false;
  CpuFrameAnalyzer plain(config);
  FrameAnalysis fb = plain.analyze(test::view(px, n, n), 0);
  ASSERT_EQ(fb.peaks.size(), 1u);
  EXPECT_GT(std::sqrt(fb.peaks[0].a * fb.peaks[0].b), 1.5 * a_spot) << "the test must be able to fail";
}

// Undersampled spots (sigma 0.5 px) at sub-pixel offsets: the centroid must not lock to pixels.
TEST(CoreMoments, WindowedCentroidOfUndersampledSpotsIsUnbiased) {
  ProcessConfig config;
  CpuFrameAnalyzer analyzer(config);
  double worst = 0;
  for (double off : {0.0, 0.13, 0.27, 0.41}) {
    test::Canvas canvas(48, 48, 50);
    canvas.gaussian(20 + off, 24 - off, 0.5, 3000);
    const auto px = canvas.to_u16();
    FrameAnalysis fa = analyzer.analyze(test::view(px, 48, 48), 0);
    ASSERT_EQ(fa.peaks.size(), 1u);
    worst = std::max(worst, std::hypot(fa.peaks[0].x - (20 + off), fa.peaks[0].y - (24 - off)));
  }
  EXPECT_LT(worst, 0.05);
}

TEST(ZeroMask, RimOfADiscIsMaskedWithItsMarginAndMakesNoPeaks) {
  const int n = 200;
  test::Canvas canvas(n, n, 60);
  test::Rng rng(3);
  canvas.noise(rng, 4.0);
  auto px = canvas.to_u16();
  // Outside a disc of radius 90 the detector reads 0; just inside, a bright rim (as on MarCCDs).
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double r = std::hypot(x - 100.0, y - 100.0);
      if (r > 90) px[static_cast<std::size_t>(y) * n + x] = 0;
      else if (r > 88) px[static_cast<std::size_t>(y) * n + x] += 40;
    }
  std::vector<std::uint8_t> mask(px.size(), 0), scratch;
  const std::size_t zeros = mask_zero_pixels(test::view(px, n, n), mask.data(), 3, scratch);
  std::size_t expected_zeros = 0, masked = 0, wrong = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * n + x;
      expected_zeros += px[i] == 0;
      masked += mask[i];
      // Masked exactly when a zero pixel lies within Chebyshev distance 3.
      bool near = false;
      for (int dy = -3; dy <= 3 && !near; ++dy)
        for (int dx = -3; dx <= 3 && !near; ++dx) {
          const int xx = x + dx, yy = y + dy;
          near = xx >= 0 && yy >= 0 && xx < n && yy < n && px[static_cast<std::size_t>(yy) * n + xx] == 0;
        }
      wrong += (mask[i] != 0) != near;
    }
  EXPECT_EQ(zeros, expected_zeros);
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(masked, zeros);

  ProcessConfig config;
  CpuFrameAnalyzer analyzer(config);
  EXPECT_TRUE(analyzer.analyze(test::view(px, n, n), 0).peaks.empty());
  config.threshold.zero_is_invalid = false;  // without the mask the rim makes peaks
  CpuFrameAnalyzer unmasked(config);
  EXPECT_FALSE(unmasked.analyze(test::view(px, n, n), 0).peaks.empty()) << "the test must be able to fail";
}

}  // namespace
}  // namespace laueproc
