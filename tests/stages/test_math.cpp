// Unit tests of the shared math headers (exact moments, no frames).
#include <gtest/gtest.h>

#include <cmath>

#include "laueproc/math/background.hpp"
#include "laueproc/math/moments.hpp"

using namespace laueproc::math;

TEST(MomentsMath, UniformDiskGivesRadius) {
  // Exact second moments of a uniform disk of radius r: mxx = myy = r^2 / 4, mxy = 0.
  for (double r : {1.0, 3.0, 12.5}) {
    const Ellipse e = ellipse_from_moments(r * r / 4, r * r / 4, 0);
    EXPECT_NEAR(e.a, r, 1e-12);
    EXPECT_NEAR(e.b, r, 1e-12);
    EXPECT_DOUBLE_EQ(e.theta_deg, 0.0);
  }
}

TEST(MomentsMath, PixelisedDiskApproachesRadius) {
  // A rasterised disk of radius 40 px: moments r^2/4 + 1/12 (pixel area), so a ~ r within 0.1 %.
  const double r = 40;
  MomentSums m = moment_sums(1000, 1000);
  for (int y = -45; y <= 45; ++y)
    for (int x = -45; x <= 45; ++x)
      if (x * x + y * y <= r * r) moment_add(m, 1000 + x, 1000 + y, 1.0);
  const CentralMoments c = central_moments(m);
  ASSERT_TRUE(c.valid);
  const Ellipse e = ellipse_from_moments(c.mxx, c.myy, c.mxy);
  EXPECT_NEAR(e.a, r, 0.04);
  EXPECT_NEAR(e.b, r, 0.04);
}

TEST(MomentsMath, RotatedCovarianceGivesAngleAndAxes) {
  for (double deg : {30.0, -60.0, 0.0, 89.0, -89.0, 45.0}) {
    const double t = deg * 3.141592653589793 / 180, c = std::cos(t), s = std::sin(t);
    const double l1 = 16, l2 = 2.25;  // sigmas 4 and 1.5
    const Ellipse e = ellipse_from_moments(l1 * c * c + l2 * s * s, l1 * s * s + l2 * c * c, (l1 - l2) * c * s);
    EXPECT_NEAR(e.a, 8.0, 1e-9);
    EXPECT_NEAR(e.b, 3.0, 1e-9);
    EXPECT_NEAR(e.theta_deg, deg, 1e-9);
    EXPECT_GE(e.theta_deg, -90.0);
    EXPECT_LT(e.theta_deg, 90.0);
  }
  // Vertical major axis maps to -90, inside [-90, 90).
  EXPECT_DOUBLE_EQ(ellipse_from_moments(1, 4, 0).theta_deg, -90.0);
  // Negative eigenvalue (faint peak, raw residual weights) clamps b to 0.
  EXPECT_DOUBLE_EQ(ellipse_from_moments(1, -0.5, 0).b, 0.0);
}

TEST(MomentsMath, FarOriginDoesNotCancel) {
  // Same point set near (2047, 2047) with the origin there: float-exact answer.
  MomentSums m = moment_sums(2047, 2047);
  moment_add(m, 2046, 2047, 1);
  moment_add(m, 2048, 2047, 1);
  const CentralMoments c = central_moments(m);
  EXPECT_DOUBLE_EQ(c.x, 2047.0);
  EXPECT_DOUBLE_EQ(c.mxx, 1.0);
  EXPECT_DOUBLE_EQ(c.myy, 0.0);
}

TEST(BackgroundMath, NormalQuantileAndLevel) {
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-9);
  EXPECT_NEAR(normal_quantile(0.3), -0.5244005127, 1e-8);
  EXPECT_NEAR(normal_quantile(0.1), -1.2815515655, 1e-8);
  EXPECT_NEAR(normal_quantile(0.01), -2.3263478740, 1e-8);
  double level, sigma;
  // Mean 100, sigma 10: Q(0.3) = 94.756, Q(0.1) = 87.184.
  level_from_quantiles(100 - 5.244005127, 100 - 12.815515655, normal_quantile(0.3), normal_quantile(0.1), level, sigma);
  EXPECT_NEAR(level, 100.0, 1e-6);
  EXPECT_NEAR(sigma, 10.0, 1e-6);
}

TEST(BackgroundMath, GridExtrapolatesLinearly) {
  // 3x1 grid of cells 10 px with values 0, 10, 20 (a slope of 1 count/px): exact everywhere.
  const float v[3] = {0, 10, 20};
  const GridView g{v, 3, 1, 10.0, 10.0};
  for (double x : {0.0, 4.5, 7.0, 20.0, 29.0})
    EXPECT_NEAR(grid_value(g, x, 3), x - 4.5, 1e-5) << x;
  const float p[9] = {5, 1, 9, 3, 7, 2, 8, 4, 6};
  EXPECT_FLOAT_EQ(median9(p), 5.0f);
}
