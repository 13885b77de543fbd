// summarize_frame and find_common_split against peak lists with a known scenario.

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "laueproc/summary.hpp"
#include "summary/make_peaks.hpp"

namespace laueproc {
namespace {

using testing::FrameMaker;
using testing::make_peak;

/// 40 reflections split by (dx, dy) with 0.3 px jitter, plus `unpaired` single round peaks.
PeakList tilt_frame(double dx, double dy, int unpaired, bool streaked, std::uint64_t seed) {
  FrameMaker m(seed);
  PeakList peaks;
  const auto c = m.centres(40 + unpaired, 70.0, 20.0);
  for (std::size_t k = 0; k < c.size(); ++k) {
    const double snr = m.uniform(30, 200);
    auto sub = [&](double x, double y, double s) {
      return streaked ? m.streak_peak(x, y, s) : make_peak(x, y, 3.0, 3.0, 0.0, s);
    };
    // Half the pairs list the displaced peak first, so no input order carries the sign.
    const double sign = (k % 2 == 0) ? 1.0 : -1.0;
    peaks.push_back(sub(c[k].first + m.normal(0.3), c[k].second + m.normal(0.3), snr));
    if (static_cast<int>(k) >= unpaired)
      peaks.push_back(sub(c[k].first + sign * dx + m.normal(0.3), c[k].second + sign * dy + m.normal(0.3),
                          snr * m.uniform(0.3, 1.0)));
  }
  return peaks;
}

TEST(Summarize, RoundUnitPeaksGiveSeOneAndDefectFree) {
  FrameMaker m(1);
  PeakList peaks;
  for (const auto& c : m.centres(30, 20.0)) peaks.push_back(make_peak(c.first, c.second, 3.0, 3.0, 0.0, 50.0));
  const FrameSummary f = summarize_frame(7, peaks, SummaryConfig{});
  EXPECT_EQ(f.frame, 7);
  EXPECT_EQ(f.n_peaks, 30);
  EXPECT_EQ(f.n_used, 30);
  EXPECT_NEAR(f.se, 1.0, 1e-12);
  EXPECT_NEAR(f.se_median, 1.0, 1e-12);
  EXPECT_NEAR(f.elongation, 1.0, 1e-12);
  EXPECT_EQ(f.scenario, Scenario::defect_free);
  EXPECT_EQ(f.split_px, 0.0);
  EXPECT_EQ(f.misorientation_deg, 0.0);
  EXPECT_EQ(f.status, "ok");
  EXPECT_EQ(f.ix, -1);
}

TEST(Summarize, SeIsMeanAndMedianOfNormalisedArea) {
  // a*b = 9, 18, 36, 90 -> a*b/9 = 1, 2, 4, 10: mean 4.25, median 3.
  PeakList peaks = {make_peak(100, 100, 3, 3, 0, 50), make_peak(500, 100, 6, 3, 0, 50),
                    make_peak(100, 900, 6, 6, 0, 50), make_peak(900, 900, 10, 9, 0, 50)};
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_NEAR(f.se, 4.25, 1e-12);
  EXPECT_NEAR(f.se_median, 3.0, 1e-12);
  SummaryConfig c;
  c.r_unit_px = 2.0;  // unit area 4 instead of 9
  EXPECT_NEAR(summarize_frame(0, peaks, c).se, 4.25 * 9.0 / 4.0, 1e-12);
}

TEST(Summarize, SaturatedEdgeAndFaintPeaksAreExcludedFromSe) {
  PeakList peaks;
  for (int k = 0; k < 10; ++k) peaks.push_back(make_peak(100 + 150 * k, 500, 3, 3, 0, 40));
  Peak sat = make_peak(300, 1500, 12, 10, 0, 900);
  sat.saturated = true;
  Peak edge = make_peak(1, 800, 15, 4, 90, 60);
  edge.edge = true;
  Peak faint = make_peak(1500, 1500, 9, 8, 0, 9.9);  // below snr_min = 10
  Peak nan_shape = make_peak(1800, 200, std::nan(""), 3, 0, 50);
  peaks.insert(peaks.end(), {sat, edge, faint, nan_shape});
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_EQ(f.n_peaks, 14);
  EXPECT_EQ(f.n_used, 10);
  EXPECT_NEAR(f.se, 1.0, 1e-12);
  EXPECT_EQ(f.scenario, Scenario::defect_free);
}

TEST(Summarize, EmptyFrameIsUnknownWithNaNSe) {
  const FrameSummary f = summarize_frame(3, {}, SummaryConfig{});
  EXPECT_EQ(f.n_peaks, 0);
  EXPECT_EQ(f.n_used, 0);
  EXPECT_TRUE(std::isnan(f.se));
  EXPECT_TRUE(std::isnan(f.se_median));
  EXPECT_EQ(f.scenario, Scenario::unknown);
  EXPECT_EQ(f.pair_fraction, 0.0);
}

TEST(Summarize, TooFewUsedPeaksIsUnknownButSeIsReported) {
  PeakList peaks = {make_peak(100, 100, 3, 3, 0, 50), make_peak(900, 900, 6, 3, 0, 50),
                    make_peak(500, 500, 3, 3, 0, 4)};  // third one too faint
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_EQ(f.n_used, 2);
  EXPECT_NEAR(f.se, 1.5, 1e-12);
  EXPECT_EQ(f.scenario, Scenario::unknown);
}

TEST(Summarize, ElongatedPeaksAreGnd) {
  FrameMaker m(2);
  PeakList peaks;
  for (const auto& c : m.centres(40, 20.0)) peaks.push_back(m.streak_peak(c.first, c.second, 80));
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_EQ(f.scenario, Scenario::gnd);
  EXPECT_GE(f.elongation, 2.0);
  EXPECT_GT(f.se, 1.5);
  EXPECT_LT(f.pair_fraction, 0.2);
  EXPECT_EQ(f.split_px, 0.0);
}

TEST(Summarize, BroadenedRoundPeaksAreGnd) {
  PeakList peaks;
  for (int k = 0; k < 20; ++k) peaks.push_back(make_peak(100 + 90 * k, 300 + 40 * (k % 3), 4.5, 4.5, 0, 50));
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_NEAR(f.se, 2.25, 1e-12);
  EXPECT_EQ(f.scenario, Scenario::gnd);
}

TEST(Summarize, TiltBoundaryFindsTheCommonSplit) {
  const PeakList peaks = tilt_frame(18.0, -7.0, 4, false, 3);
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_EQ(f.scenario, Scenario::tilt_boundary);
  EXPECT_NEAR(f.split_dx, 18.0, 0.2);  // canonical sign: dx > 0
  EXPECT_NEAR(f.split_dy, -7.0, 0.2);
  EXPECT_NEAR(f.split_px, std::hypot(18.0, -7.0), 0.2);  // 19.31
  EXPECT_NEAR(f.misorientation_deg, 0.386, 0.005);
  EXPECT_NEAR(f.pair_fraction, 40.0 / 44.0, 0.03);
  EXPECT_LT(f.elongation, 1.2);
}

TEST(Summarize, NearVerticalSplitSurvivesSignFlips) {
  // dx ~ 0: jitter flips the sign of dx between pairs; the vote must still agree.
  const PeakList peaks = tilt_frame(0.1, 25.0, 0, false, 4);
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_EQ(f.scenario, Scenario::tilt_boundary);
  EXPECT_NEAR(f.split_px, 25.0, 0.2);
  EXPECT_NEAR(std::fabs(f.split_dy), 25.0, 0.2);
  EXPECT_GE(f.pair_fraction, 0.95);
}

TEST(Summarize, SplitAtLimitsIsFound) {
  for (const double len : {10.0, 50.0}) {
    const FrameSummary f = summarize_frame(0, tilt_frame(len * 0.6, len * 0.8, 2, false, 5), SummaryConfig{});
    EXPECT_EQ(f.scenario, Scenario::tilt_boundary) << len;
    EXPECT_NEAR(f.split_px, len, 0.2) << len;
  }
}

TEST(Summarize, SplitBelowDeblendSeparationIsIgnored) {
  const FrameSummary f = summarize_frame(0, tilt_frame(4.0, 2.0, 0, false, 6), SummaryConfig{});
  EXPECT_NE(f.scenario, Scenario::tilt_boundary);
  EXPECT_EQ(f.split_px, 0.0);
}

TEST(Summarize, SplitStreakedPeaksAreMixed) {
  const PeakList peaks = tilt_frame(-15.0, 30.0, 3, true, 7);
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_EQ(f.scenario, Scenario::mixed);
  EXPECT_NEAR(f.split_dx, 15.0, 0.3);  // canonical sign flips (-15, 30) to (15, -30)
  EXPECT_NEAR(f.split_dy, -30.0, 0.3);
  EXPECT_NEAR(f.misorientation_deg, std::hypot(15.0, 30.0) * 0.02, 0.01);
}

TEST(Summarize, BlobsWithManyMaximaAreStacking) {
  FrameMaker m(8);
  PeakList peaks;
  for (const auto& c : m.centres(30, 20.0))
    peaks.push_back(make_peak(c.first, c.second, m.uniform(8, 15), m.uniform(5, 9), 30, 100, m.uniform_int(3, 5)));
  const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
  EXPECT_EQ(f.scenario, Scenario::stacking);
  EXPECT_NEAR(f.stacking_fraction, 1.0, 1e-12);
  EXPECT_EQ(f.split_px, 0.0);
}

TEST(Summarize, RandomSparsePeaksGiveNoSplit) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    FrameMaker m(1000 + seed);
    for (const int n : {60, 300}) {
      const PeakList peaks = m.random_frame(n);
      const SplitEstimate s = find_common_split(peaks, SummaryConfig{});
      EXPECT_LT(s.pair_fraction, 0.1) << "seed " << seed << " n " << n;
      const FrameSummary f = summarize_frame(0, peaks, SummaryConfig{});
      EXPECT_EQ(f.scenario, Scenario::defect_free) << "seed " << seed << " n " << n;
      EXPECT_EQ(f.split_px, 0.0);
    }
  }
}

TEST(Summarize, FindCommonSplitCountsPairsAndReflections) {
  const PeakList peaks = tilt_frame(20.0, 20.0, 5, false, 9);
  const SplitEstimate s = find_common_split(peaks, SummaryConfig{});
  ASSERT_TRUE(s.found);
  EXPECT_EQ(s.n_candidates, 85);
  EXPECT_EQ(s.n_pairs, 40);
  EXPECT_NEAR(s.pair_fraction, 40.0 / 45.0, 1e-12);
  EXPECT_GE(s.support, 40);
  EXPECT_NEAR(s.dx, 20.0, 0.2);
  EXPECT_NEAR(s.dy, 20.0, 0.2);
}

TEST(Summarize, ClassificationAccuracyOnRandomFrames) {
  constexpr std::array<Scenario, 5> kScenarios = {Scenario::defect_free, Scenario::gnd, Scenario::tilt_boundary,
                                                  Scenario::mixed, Scenario::stacking};
  int confusion[5][6] = {};
  int correct = 0, total = 0, split_ok = 0, split_total = 0;
  for (std::uint64_t seed = 0; seed < 500; ++seed) {
    FrameMaker m(seed);
    const Scenario truth = kScenarios[seed % 5];
    const PeakList peaks = m.frame(truth, m.uniform_int(15, 80));
    const FrameSummary f = summarize_frame(static_cast<std::int64_t>(seed), peaks, SummaryConfig{});
    ++confusion[static_cast<int>(truth)][static_cast<int>(f.scenario)];
    ++total;
    if (f.scenario == truth) ++correct;
    if (f.scenario == truth && (truth == Scenario::tilt_boundary || truth == Scenario::mixed)) {
      ++split_total;
      // The reported vector is the true one up to sign.
      const double e1 = std::hypot(f.split_dx - m.split_dx, f.split_dy - m.split_dy);
      const double e2 = std::hypot(f.split_dx + m.split_dx, f.split_dy + m.split_dy);
      if (std::min(e1, e2) < 0.5) ++split_ok;
    }
  }
  std::string table;
  for (int t = 0; t < 5; ++t) {
    table += std::string(to_string(kScenarios[static_cast<std::size_t>(t)])) + ":";
    for (int p = 0; p < 6; ++p) table += " " + std::to_string(confusion[t][p]);
    table += "\n";
  }
  EXPECT_GE(correct, total * 98 / 100) << table;
  EXPECT_EQ(split_ok, split_total);
  std::printf("accuracy %d / %d\n%s", correct, total, table.c_str());
}

TEST(Summarize, ThreeHundredPeaksAreFast) {
  // Not a timed assertion (shared build machines); prints the cost per frame for the record.
  FrameMaker m(11);
  const PeakList peaks = m.frame(Scenario::tilt_boundary, 150, false);
  ASSERT_GE(peaks.size(), 280u);
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int kReps = 200;
  int tilt = 0;
  for (int k = 0; k < kReps; ++k) tilt += summarize_frame(k, peaks, SummaryConfig{}).scenario == Scenario::tilt_boundary;
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kReps;
  EXPECT_EQ(tilt, kReps);
  std::printf("summarize_frame: %zu peaks, %.1f us/frame\n", peaks.size(), us);
  RecordProperty("us_per_frame", std::to_string(us));
}

}  // namespace
}  // namespace laueproc
