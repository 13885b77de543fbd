// Whole-frame peak finding on synthetic frames with known truth.
#include <gtest/gtest.h>

#include <cmath>

#include "laueproc/stages.hpp"
#include "stages/synth.hpp"

using namespace laueproc;

namespace {

struct Built {
  std::vector<std::uint16_t> px;
  int w, h;
  FrameView view() const { return FrameView{px.data(), w, h, w}; }
};

Built build(const test::Canvas& c) { return Built{c.to_u16(), c.width, c.height}; }

FrameAnalysis run(const Built& f, ProcessConfig cfg = {}, const BadPixelMask* mask = nullptr) {
  CpuFrameAnalyzer a(cfg, mask);
  return a.analyze(f.view(), 3);
}

ProcessConfig noise_free() {
  ProcessConfig cfg;
  cfg.threshold.detect_dead_lines = false;  // flat noise-free rows would look dead
  return cfg;
}

}  // namespace

TEST(Peaks, RoundGaussianNoiseFree) {
  for (double s : {1.5, 3.0}) {
    test::Canvas c(128, 128, 100);
    const double cx = 60.37, cy = 71.71;
    c.gaussian(cx, cy, s, 2000);
    const FrameAnalysis r = run(build(c), noise_free());
    ASSERT_EQ(r.status, "ok");
    ASSERT_EQ(r.peaks.size(), 1u) << "sigma " << s;
    const Peak& p = r.peaks[0];
    EXPECT_NEAR(p.x, cx, 0.02);
    EXPECT_NEAR(p.y, cy, 0.02);
    EXPECT_NEAR(p.a, 2 * s, 0.05 * 2 * s);
    EXPECT_NEAR(p.b, 2 * s, 0.05 * 2 * s);
    EXPECT_EQ(p.frame, 3);
    EXPECT_EQ(p.peak, 0);
    EXPECT_EQ(p.n_maxima, 1);
    EXPECT_FALSE(p.edge);
    EXPECT_FALSE(p.saturated);
    EXPECT_NEAR(p.intensity, 2000 * 2 * 3.141592653589793 * s * s, 0.03 * 2000 * 2 * 3.141592653589793 * s * s);
    EXPECT_GT(p.npix, 4);
    EXPECT_NEAR(p.mxx, s * s + 1.0 / 12, 0.1 * s * s);
  }
}

TEST(Peaks, RoundGaussianWithNoise) {
  const double noise = 5;
  for (double s : {1.5, 3.0}) {
    test::Rng rng(11);
    test::Canvas c(128, 128, 200);
    const double cx = 63.25, cy = 58.6;
    c.gaussian(cx, cy, s, 100 * noise);
    c.noise(rng, noise);
    const FrameAnalysis r = run(build(c));
    ASSERT_EQ(r.peaks.size(), 1u) << "sigma " << s;
    const Peak& p = r.peaks[0];
    EXPECT_NEAR(r.noise_sigma, noise, 0.1 * noise);
    EXPECT_NEAR(r.background_level, 200, noise);
    EXPECT_NEAR(p.x, cx, 0.1);
    EXPECT_NEAR(p.y, cy, 0.1);
    EXPECT_NEAR(p.a, 2 * s, 0.05 * 2 * s);
    EXPECT_NEAR(p.b, 2 * s, 0.05 * 2 * s);
    EXPECT_NEAR(p.snr, 100, 15);
  }
}

TEST(Peaks, RotatedEllipse) {
  for (double deg : {30.0, -60.0}) {
    test::Canvas c(128, 128, 100);
    c.gaussian_rotated(64.3, 63.8, 4.0, 1.5, deg, 3000);
    const FrameAnalysis r = run(build(c), noise_free());
    ASSERT_EQ(r.peaks.size(), 1u);
    const Peak& p = r.peaks[0];
    EXPECT_NEAR(p.theta_deg, deg, 1.0);
    EXPECT_NEAR(p.a, 8.0, 0.4);
    EXPECT_NEAR(p.b, 3.0, 0.15);
    EXPECT_NEAR(p.x, 64.3, 0.02);
    EXPECT_NEAR(p.y, 63.8, 0.02);
  }
}

TEST(Peaks, TwoTouchingSpotsTenPixelsApartSplit) {
  test::Rng rng(5);
  test::Canvas c(128, 128, 200);
  c.gaussian(55.2, 60.4, 1.5, 5000);
  c.gaussian(63.2, 66.4, 1.5, 4000);  // 10 px apart
  c.noise(rng, 5);
  const Built f = build(c);
  // They do touch above the low threshold: one component before deblending.
  ProcessConfig cfg;
  std::vector<float> bg;
  estimate_background(f.view(), nullptr, cfg.background, bg);
  std::vector<float> res(bg.size());
  for (std::size_t i = 0; i < bg.size(); ++i) res[i] = f.px[i] - bg[i];
  ComponentSet set;
  hysteresis_threshold(res.data(), nullptr, 128, 128, 3 * 5, 6 * 5, 4, set);
  ASSERT_EQ(set.count(), 1);
  const FrameAnalysis r = run(f, cfg);
  ASSERT_EQ(r.peaks.size(), 2u);
  EXPECT_NEAR(r.peaks[0].x, 55.2, 0.3);
  EXPECT_NEAR(r.peaks[0].y, 60.4, 0.3);
  EXPECT_NEAR(r.peaks[1].x, 63.2, 0.3);
  EXPECT_NEAR(r.peaks[1].y, 66.4, 0.3);
  EXPECT_EQ(r.peaks[0].n_maxima, 1);
  EXPECT_EQ(r.peaks[1].n_maxima, 1);
  EXPECT_EQ(r.peaks[1].peak, 1);
  // Without splitting: one peak with two maxima.
  cfg.deblend.split = false;
  const FrameAnalysis one = run(f, cfg);
  ASSERT_EQ(one.peaks.size(), 1u);
  EXPECT_EQ(one.peaks[0].n_maxima, 2);
}

TEST(Peaks, StackedSubPeaksStayOne) {
  test::Rng rng(9);
  test::Canvas c(128, 128, 200);
  for (int k = 0; k < 3; ++k) c.gaussian(50 + 4 * k, 60 + 0.5 * k, 1.5, 600);
  c.noise(rng, 5);
  const FrameAnalysis r = run(build(c));
  ASSERT_EQ(r.peaks.size(), 1u);
  EXPECT_GE(r.peaks[0].n_maxima, 3);
  EXPECT_NEAR(r.peaks[0].x, 54, 0.3);
  EXPECT_GT(r.peaks[0].a, r.peaks[0].b * 1.5);  // elongated along the chain
}

TEST(Peaks, HotPixelAndDeadLinesGiveNoPeaks) {
  test::Rng rng(3);
  test::Canvas c(128, 128, 300);
  c.noise(rng, 6);
  c.at(40, 50) = 60000;  // hot pixel
  c.at(90, 20) = 3000;
  for (int x = 0; x < 128; ++x) c.at(x, 77) = 0;      // dead row
  for (int y = 0; y < 128; ++y) c.at(101, y) = 4000;  // stuck column
  const FrameAnalysis r = run(build(c));
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.masked_lines, 2);
  EXPECT_TRUE(r.peaks.empty()) << r.peaks.size() << " peaks, first at " << r.peaks[0].x << "," << r.peaks[0].y;
  EXPECT_NEAR(r.noise_sigma, 6, 0.6);
  EXPECT_NEAR(r.background_level, 300, 3);
}

TEST(Peaks, EdgeMaskAndSaturationFlags) {
  test::Rng rng(13);
  test::Canvas c(128, 128, 200);
  c.gaussian(1.2, 40, 2, 1000);      // on the left edge
  c.gaussian(80, 80, 2, 1000);       // next to a bad pixel
  c.gaussian(40, 100, 1.5, 200000);  // saturates
  c.gaussian(100, 30, 2, 1000);      // ordinary
  c.noise(rng, 5);
  std::vector<std::uint8_t> bad(128 * 128, 0);
  bad[82 * 128 + 80] = 1;
  const BadPixelMask mask(128, 128, bad);
  const FrameAnalysis r = run(build(c), ProcessConfig{}, &mask);
  ASSERT_EQ(r.peaks.size(), 4u);
  // Sorted by y then x: (100,30), (1.2,40), (80,80), (40,100).
  EXPECT_NEAR(r.peaks[0].x, 100, 0.3);
  EXPECT_FALSE(r.peaks[0].edge);
  EXPECT_FALSE(r.peaks[0].saturated);
  EXPECT_TRUE(r.peaks[1].edge);
  EXPECT_TRUE(r.peaks[2].edge);
  EXPECT_TRUE(r.peaks[3].saturated);
  EXPECT_FALSE(r.peaks[3].edge);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r.peaks[i].peak, i);
}

TEST(Peaks, EmptyAndPeaklessFrames) {
  std::vector<std::uint16_t> zeros(64 * 64, 0), flat(64 * 64, 500);
  CpuFrameAnalyzer a(ProcessConfig{});
  EXPECT_EQ(a.analyze(FrameView{zeros.data(), 64, 64, 64}, 0).status, "empty frame");
  const FrameAnalysis f = a.analyze(FrameView{flat.data(), 64, 64, 64}, 1);
  EXPECT_EQ(f.status, "empty frame");
  EXPECT_TRUE(f.peaks.empty());
  test::Rng rng(1);
  test::Canvas c(64, 64, 100);
  c.noise(rng, 4);
  const Built b = build(c);
  const FrameAnalysis n = a.analyze(b.view(), 2);
  EXPECT_EQ(n.status, "ok");
  EXPECT_TRUE(n.peaks.empty());
}

TEST(Peaks, AnalyzerIsRepeatableAcrossFrames) {
  // Scratch reuse must not leak state: the same frame twice gives identical peaks.
  test::Rng rng(21);
  test::Canvas c(200, 150, 150);
  for (int k = 0; k < 12; ++k) c.gaussian(rng.uniform(5, 195), rng.uniform(5, 145), rng.uniform(1.2, 3), rng.uniform(100, 2000));
  c.noise(rng, 5);
  const Built b = build(c);
  CpuFrameAnalyzer a(ProcessConfig{});
  const FrameAnalysis r1 = a.analyze(b.view(), 0);
  const FrameAnalysis r2 = a.analyze(b.view(), 1);
  ASSERT_EQ(r1.peaks.size(), r2.peaks.size());
  EXPECT_GE(r1.peaks.size(), 10u);
  for (std::size_t i = 0; i < r1.peaks.size(); ++i) {
    EXPECT_EQ(r1.peaks[i].x, r2.peaks[i].x);
    EXPECT_EQ(r1.peaks[i].a, r2.peaks[i].a);
    EXPECT_EQ(r2.peaks[i].frame, 1);
  }
}

TEST(Peaks, FaintPeakMomentBiasRawVersusClipped) {
  // The choice of weights, measured: a faint Gaussian (sigma 2 px, amplitude 8 noise sigma) on a
  // fixed support (disk of 7 px), 400 noise realisations. Raw residual weights (negatives kept)
  // are unbiased in the sums; clipping negatives to 0 inflates a and b.
  const int w = 64, h = 64;
  const double s = 2.0, noise = 10.0, amp = 8 * noise;
  test::Canvas truth(w, h, 0);
  truth.gaussian(32, 32, s, amp);
  std::vector<int> support;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if ((x - 32) * (x - 32) + (y - 32) * (y - 32) <= 49) support.push_back(y * w + x);
  std::vector<std::uint16_t> raw(w * h, 0);
  const FrameView fv{raw.data(), w, h, w};
  std::vector<float> res(w * h);
  for (int i = 0; i < w * h; ++i) res[i] = static_cast<float>(truth.v[i]);
  const Peak clean = measure_moments(res.data(), fv, nullptr, support, support, noise, MomentConfig{});
  test::Rng rng(17);
  double sum_raw = 0, sum_clip = 0, sum_i = 0;
  const int n = 400;
  for (int k = 0; k < n; ++k) {
    for (int i = 0; i < w * h; ++i) res[i] = static_cast<float>(truth.v[i] + noise * rng.normal());
    const Peak pr = measure_moments(res.data(), fv, nullptr, support, support, noise, MomentConfig{});
    const Peak pc = measure_moments(res.data(), fv, nullptr, support, support, noise, MomentConfig{}, true);
    sum_raw += std::sqrt(pr.a * pr.b);
    sum_clip += std::sqrt(pc.a * pc.b);
    sum_i += pr.intensity;
  }
  const double ref = std::sqrt(clean.a * clean.b);
  const double bias_raw = sum_raw / n / ref - 1, bias_clip = sum_clip / n / ref - 1;
  std::printf("faint peak (8 sigma): size bias raw %+.1f %%, clipped %+.1f %%\n", 100 * bias_raw, 100 * bias_clip);
  EXPECT_LT(std::fabs(bias_raw), 0.05);
  EXPECT_GT(bias_clip, 0.10);
  EXPECT_GT(bias_clip, 2 * std::fabs(bias_raw));
  EXPECT_NEAR(sum_i / n, clean.intensity, 0.03 * clean.intensity);
}
