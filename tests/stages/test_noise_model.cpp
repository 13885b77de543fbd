// The noise model var = var0 + gain x background: fitted from residual samples, and the threshold
// test both backends share.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "laueproc/math/noise.hpp"
#include "stages/grid_rows.hpp"
#include "stages/synth.hpp"

namespace laueproc {
namespace {

TEST(NoiseModel, FitRecoversReadNoiseAndShotNoise) {
  test::Rng rng(11);
  std::vector<float> residuals, backgrounds;
  for (int i = 0; i < 200000; ++i) {
    const double b = rng.uniform(50, 1000);
    backgrounds.push_back(static_cast<float>(b));
    residuals.push_back(static_cast<float>(std::sqrt(9.0 + b) * rng.normal()));
  }
  const math::NoiseModel m = detail::fit_noise_model(residuals, backgrounds, 20.0);
  EXPECT_NEAR(m.gain, 1.0, 0.06);
  EXPECT_NEAR(std::sqrt(m.var0 + m.gain * 500), std::sqrt(9.0 + 500), 0.5);
}

TEST(NoiseModel, FlatBackgroundOrNoSlopeGivesOneSigma) {
  test::Rng rng(12);
  std::vector<float> residuals, backgrounds;
  for (int i = 0; i < 50000; ++i) {
    backgrounds.push_back(static_cast<float>(rng.uniform(199, 201)));  // too flat to see a slope
    residuals.push_back(static_cast<float>(5 * rng.normal()));
  }
  math::NoiseModel m = detail::fit_noise_model(residuals, backgrounds, 5.0);
  EXPECT_EQ(m.gain, 0.0);
  EXPECT_DOUBLE_EQ(m.var0, 25.0);
  for (auto& b : backgrounds) b = static_cast<float>(rng.uniform(50, 1000));  // spread, but noise constant
  m = detail::fit_noise_model(residuals, backgrounds, 5.0);
  EXPECT_LT(m.gain, 0.01);
  EXPECT_NEAR(std::sqrt(m.var0 + m.gain * 500), 5.0, 0.3);
}

TEST(NoiseModel, ThresholdIsKSigmaAtTheBackground) {
  const math::NoiseModel m{9.0, 1.0};
  const auto t = math::sigma_threshold(m, 3.0);  // 3 sigma at b = 91: 3 * 10 = 30
  EXPECT_TRUE(math::above(30.5f, 91.0f, t));
  EXPECT_FALSE(math::above(29.5f, 91.0f, t));
  EXPECT_FALSE(math::above(-40.0f, 91.0f, t)) << "negative residuals are never above";
  EXPECT_TRUE(math::above(9.5f, -5.0f, t)) << "background below 0 counts as 0: 3 * 3 = 9";
  EXPECT_NEAR(math::noise_sigma(m, 91.0), 10.0, 1e-12);
}

}  // namespace
}  // namespace laueproc
