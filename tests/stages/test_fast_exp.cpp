// The CPU's windowed centroid and its vectorised exp: every exp must equal std::exp bit for bit,
// and the centroid must equal the shared LAUEPROC_HD one (math::component_detail::windowed_centroid,
// what the CUDA backend runs) bit for bit, so the faster CPU path changes no result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <vector>

#include "laueproc/math/component.hpp"
#include "stages/window_centroid.hpp"

namespace laueproc {
namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(FastExp, EqualsStdExpBitForBit) {
  std::mt19937_64 rng(11);
  std::vector<double> in;
  std::uniform_real_distribution<double> window(-40.0, 0.0), wide(-760.0, 760.0), unit(0.0, 1.0);
  for (int i = 0; i < 1'500'000; ++i) in.push_back(window(rng));   // where the window's exps fall
  for (int i = 0; i < 300'000; ++i) in.push_back(wide(rng));       // both special-case edges too
  for (int i = 0; i < 200'000; ++i) in.push_back(-std::ldexp(unit(rng), -static_cast<int>(rng() % 70)));
  for (double v : std::initializer_list<double>{0.0, -0.0, -0x1p-54, 0x1p-54, -0x1p-55, -512.0, 512.0, -745.2, -708.5, 709.0, 710.0,
                   -1e-300, -HUGE_VAL, HUGE_VAL, std::nan("")})
    in.push_back(v);
  for (int k = -70000; k <= 70000; ++k) in.push_back(k * (0.6931471805599453 / 128));  // table boundaries
  std::vector<double> out(in.size());
  detail::fast_exp(in.data(), out.data(), static_cast<int>(in.size()));
  int bad = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double ref = std::exp(in[i]);
    if (!same_bits(ref, out[i]) && !(std::isnan(ref) && std::isnan(out[i])) && ++bad <= 5)
      ADD_FAILURE() << "exp(" << in[i] << "): " << out[i] << " vs std::exp " << ref;
  }
  EXPECT_EQ(bad, 0);
  std::printf("fast_exp vectorised here: %s\n", detail::fast_exp_vectorised() ? "yes" : "no (std::exp)");
}

// Random spots (round and elongated, faint and bright, with noise and negative pixels) on random
// supports of 1 to ~400 pixels: the CPU centroid must give the shared one's (x, y) exactly.
TEST(FastExp, WindowedCentroidEqualsTheSharedOne) {
  std::mt19937_64 rng(5);
  const int w = 97, h = 83;
  std::vector<float> residual(static_cast<std::size_t>(w) * h);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  int converged_moved = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const double cx = 10 + 77 * u(rng), cy = 10 + 63 * u(rng);
    const double sx = 0.4 + 3 * u(rng), sy = 0.4 + 3 * u(rng), amp = std::pow(10.0, 1 + 3 * u(rng));
    std::fill(residual.begin(), residual.end(), 0.0f);
    for (int y = std::max(0, static_cast<int>(cy) - 12); y < std::min(h, static_cast<int>(cy) + 13); ++y)
      for (int x = std::max(0, static_cast<int>(cx) - 12); x < std::min(w, static_cast<int>(cx) + 13); ++x) {
        const double dx = (x - cx) / sx, dy = (y - cy) / sy;
        residual[static_cast<std::size_t>(y) * w + x] =
            static_cast<float>(amp * std::exp(-0.5 * (dx * dx + dy * dy)) + 3 * noise(rng));
      }
    const int radius = 1 + static_cast<int>(rng() % 10);
    std::vector<int> support;
    for (int y = static_cast<int>(cy) - radius; y <= static_cast<int>(cy) + radius; ++y)
      for (int x = static_cast<int>(cx) - radius; x <= static_cast<int>(cx) + radius; ++x)
        if (x >= 0 && y >= 0 && x < w && y < h && rng() % 8 != 0) support.push_back(y * w + x);
    if (trial % 50 == 0) support.resize(std::min<std::size_t>(support.size(), 1 + trial % 7));
    const math::Ellipse e = math::ellipse_from_moments(sx * sx, sy * sy, 0.3 * sx * sy * (u(rng) - 0.5));
    const double x0 = cx + u(rng) - 0.5, y0 = cy + u(rng) - 0.5;
    double xa = x0, ya = y0, xb = x0, yb = y0;
    math::component_detail::windowed_centroid(residual.data(), w, support.data(), static_cast<int>(support.size()), e,
                                              xa, ya);
    detail::windowed_centroid_cpu(residual.data(), w, support.data(), static_cast<int>(support.size()), e, xb, yb);
    ASSERT_TRUE(same_bits(xa, xb) && same_bits(ya, yb))
        << "trial " << trial << ": " << xa << ", " << ya << " vs " << xb << ", " << yb;
    converged_moved += xa != x0;
  }
  EXPECT_GT(converged_moved, 1000);  // the iteration really ran and moved most centres
}

}  // namespace
}  // namespace laueproc
