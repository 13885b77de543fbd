// Background estimation and robust noise on frames with a halo, a gradient and many peaks.
#include <gtest/gtest.h>

#include <cmath>

#include "laueproc/error.hpp"
#include "laueproc/stages.hpp"
#include "stages/synth.hpp"

using namespace laueproc;

namespace {

struct Scene {
  int w = 512, h = 512;
  test::Canvas truth{512, 512, 0};  // background only
  test::Canvas frame{512, 512, 0};  // background + peaks + noise + defects
  std::vector<std::uint8_t> near_peak;
  std::vector<std::uint16_t> px;
};

// Smooth background: base + gradient + glass halo (ring of radius `ring_r`, width `ring_w`).
Scene make_scene(double noise, double ring_w, double ring_h, bool defects, std::uint64_t seed) {
  Scene s;
  test::Rng rng(seed);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const double rho = std::hypot(x - 256.0, y + 150.0);
      s.truth.at(x, y) = 150 + 0.15 * x + 0.05 * y + ring_h * std::exp(-0.5 * std::pow((rho - 420) / ring_w, 2));
    }
  s.frame = s.truth;
  s.near_peak.assign(static_cast<std::size_t>(s.w) * s.h, 0);
  for (int k = 0; k < 50; ++k) {
    const double cx = rng.uniform(10, 502), cy = rng.uniform(10, 502), sig = rng.uniform(1.2, 3.0);
    s.frame.gaussian(cx, cy, sig, noise * rng.uniform(10, 300));
    for (int y = std::max(0, int(cy) - 12); y < std::min(s.h, int(cy) + 13); ++y)
      for (int x = std::max(0, int(cx) - 12); x < std::min(s.w, int(cx) + 13); ++x)
        s.near_peak[static_cast<std::size_t>(y) * s.w + x] = 1;
  }
  s.frame.noise(rng, noise);
  if (defects) {
    for (int k = 0; k < 20; ++k) s.frame.at(int(rng.uniform(0, 512)), int(rng.uniform(0, 512))) = 65000;
    for (int x = 0; x < s.w; ++x) s.frame.at(x, 300) = 0;
  }
  s.px = s.frame.to_u16();
  return s;
}

double rms_error(const Scene& s, const std::vector<float>& bg, const std::vector<std::uint8_t>& mask) {
  double sum = 0;
  long n = 0;
  for (std::size_t i = 0; i < bg.size(); ++i) {
    if (s.near_peak[i] || mask[i]) continue;
    const double d = bg[i] - s.truth.v[i];
    sum += d * d;
    ++n;
  }
  return std::sqrt(sum / static_cast<double>(n));
}

}  // namespace

TEST(Background, BlockPercentileFollowsHaloIgnoresDefects) {
  const double noise = 8;
  const Scene s = make_scene(noise, 60, 250, true, 42);
  const FrameView fv{s.px.data(), s.w, s.h, s.w};
  std::vector<std::uint8_t> mask(s.px.size(), 0);
  EXPECT_EQ(detect_dead_lines(fv, mask.data()), 1);
  std::vector<float> bg;
  estimate_background(fv, mask.data(), BackgroundConfig{}, bg);
  const double rms = rms_error(s, bg, mask);
  std::printf("block_percentile: background RMS error %.2f counts (noise %.1f)\n", rms, noise);
  EXPECT_LT(rms, noise);
  // Noise and peaks through the analyzer.
  CpuFrameAnalyzer a(ProcessConfig{});
  const FrameAnalysis r = a.analyze(fv, 0);
  EXPECT_NEAR(r.noise_sigma, noise, 0.1 * noise);
  EXPECT_EQ(r.masked_lines, 1);
  EXPECT_GE(r.peaks.size(), 40u);
  EXPECT_LE(r.peaks.size(), 52u);
  for (const Peak& p : r.peaks) EXPECT_GT(p.npix, 3);
}

TEST(Background, BothMethodsAgreeOnSmoothBackground) {
  const double noise = 8;
  const Scene s = make_scene(noise, 150, 200, false, 7);
  const FrameView fv{s.px.data(), s.w, s.h, s.w};
  std::vector<std::uint8_t> mask(s.px.size(), 0);
  BackgroundConfig blocks, gauss;
  gauss.method = BackgroundMethod::gaussian;
  std::vector<float> b1, b2;
  estimate_background(fv, nullptr, blocks, b1);
  estimate_background(fv, nullptr, gauss, b2);
  double sum = 0;
  long n = 0;
  for (std::size_t i = 0; i < b1.size(); ++i) {
    if (s.near_peak[i]) continue;
    sum += double(b1[i] - b2[i]) * (b1[i] - b2[i]);
    ++n;
  }
  const double rms = std::sqrt(sum / static_cast<double>(n));
  const double e1 = rms_error(s, b1, mask), e2 = rms_error(s, b2, mask);
  std::printf("block vs gaussian: RMS difference %.2f, errors %.2f / %.2f counts (noise %.1f)\n", rms, e1, e2, noise);
  EXPECT_LT(rms, noise);
  EXPECT_LT(e2, noise);
  // The Gaussian path through the analyzer finds the same peaks.
  ProcessConfig c1, c2;
  c2.background.method = BackgroundMethod::gaussian;
  CpuFrameAnalyzer a1(c1), a2(c2);
  const FrameAnalysis r1 = a1.analyze(fv, 0), r2 = a2.analyze(fv, 0);
  EXPECT_NEAR(r2.noise_sigma, noise, 0.1 * noise);
  EXPECT_NEAR(double(r1.peaks.size()), double(r2.peaks.size()), 2.0);
}

TEST(Background, RobustSigma) {
  test::Rng rng(3);
  std::vector<float> v(20000);
  for (auto& x : v) x = static_cast<float>(50 + 4 * rng.normal());
  for (int i = 0; i < 500; ++i) v[i] = 1e4f;  // 2.5 % outliers
  EXPECT_NEAR(robust_sigma(v), 4.0, 0.2);
  std::vector<float> empty;
  EXPECT_EQ(robust_sigma(empty), 0.0);
}

TEST(Background, MaskFileRoundTrip) {
  const std::string path = testing::TempDir() + "/stages_mask.pgm";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_TRUE(f);
    std::fprintf(f, "P5\n# bad pixels\n4 3\n255\n");
    const unsigned char px[12] = {0, 0, 255, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    std::fwrite(px, 1, 12, f);
    std::fclose(f);
  }
  const BadPixelMask m = BadPixelMask::load(path);
  EXPECT_EQ(m.width(), 4);
  EXPECT_EQ(m.height(), 3);
  EXPECT_EQ(m.bad_count(), 2u);
  EXPECT_EQ(m.pixels()[2], 1);
  EXPECT_THROW(BadPixelMask::load(path + ".missing"), InputError);
  // A mask of the wrong shape is an error at analysis time.
  std::vector<std::uint16_t> px(25, 10);
  px[3] = 20;
  CpuFrameAnalyzer a(ProcessConfig{}, &m);
  EXPECT_THROW(a.analyze(FrameView{px.data(), 5, 5, 5}, 0), InputError);
}
