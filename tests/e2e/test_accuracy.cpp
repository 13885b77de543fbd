// End-to-end accuracy of the CPU path on simulated scans, against the simulator's ground truth
// (the thresholds are those of the issue: recall/precision, centroids, axes, angles, SE, scenarios).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "laueproc/config.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/stages.hpp"
#include "laueproc/summary.hpp"

namespace laueproc {
namespace {

struct Match {
  const Peak* found = nullptr;
  double distance = 1e30;
};

double angle_difference_deg(double a, double b) {
  double d = std::fmod(std::fabs(a - b), 180.0);
  return std::min(d, 180.0 - d);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

struct ScanStats {
  int bright_truth = 0, bright_found = 0;        // recall over isolated peaks >= 30 sigma
  int detections = 0, detections_true = 0;       // precision over detections >= 30 sigma
  std::vector<double> centroid_err2;             // bright (>= 100 sigma) single spots
  std::vector<double> ab_rel_err;                // round spots: |a - 2s| / 2s and |b - 2s| / 2s
  std::vector<double> theta_err;                 // elongated spots, axis ratio >= 2
  std::vector<double> se_rel_err;                // defect-free and GND frames
  int frames = 0, scenarios_right = 0;
  int hot_or_dead_peaks = 0;
  std::vector<std::string> wrong;
};

ScanStats run_scan(const sim::SimConfig& sim_config, const ProcessConfig& config) {
  sim::ScanSimulator simulator(sim_config);
  CpuFrameAnalyzer analyzer(config);
  ScanStats st;
  std::vector<std::uint16_t> pixels;
  std::vector<sim::TruthPeak> truth;
  for (std::int64_t i = 0; i < simulator.n_frames(); ++i) {
    simulator.render(i, pixels, &truth);
    const sim::TruthFrame tf = simulator.frame_truth(i);
    FrameView view{pixels.data(), sim_config.width, sim_config.height, sim_config.width};
    FrameAnalysis analysis = analyzer.analyze(view, i);
    FrameSummary summary = summarize_frame(i, analysis.peaks, config.summary);
    const double sigma = tf.noise_sigma;

    // Nearest detection of each truth peak (3 px).
    for (const auto& t : truth) {
      Match m;
      for (const auto& p : analysis.peaks) {
        double d = std::hypot(p.x - t.x, p.y - t.y);
        if (d < m.distance) m = {&p, d};
      }
      const bool found = m.found && m.distance <= 3.0;
      if (t.isolated && !t.saturated && t.amplitude >= 30 * sigma) {
        ++st.bright_truth;
        if (found) ++st.bright_found;
      }
      if (!found || t.saturated || !t.isolated) continue;
      if (t.n_sub == 1 && t.amplitude >= 100 * sigma) st.centroid_err2.push_back(m.distance * m.distance);
      if (t.n_sub == 1 && t.amplitude >= 100 * sigma && std::fabs(t.a - t.b) < 1e-6) {
        st.ab_rel_err.push_back(std::fabs(m.found->a - t.a) / t.a);
        st.ab_rel_err.push_back(std::fabs(m.found->b - t.b) / t.b);
      }
      if (t.n_sub == 1 && t.amplitude >= 100 * sigma && t.a >= 2 * t.b)
        st.theta_err.push_back(angle_difference_deg(m.found->theta_deg, t.theta_deg));
    }
    // Every bright detection must be a real spot: hot pixels and the dead row never make peaks.
    for (const auto& p : analysis.peaks) {
      if (p.snr < 30) continue;
      ++st.detections;
      bool real = false;
      for (const auto& t : truth) real = real || std::hypot(p.x - t.x, p.y - t.y) <= 3.0 + t.a;
      if (real) ++st.detections_true;
      bool hot_or_dead = std::fabs(p.y - simulator.dead_row()) < 0.5;
      for (const auto& h : simulator.hot_pixels()) hot_or_dead |= std::hypot(p.x - h.x, p.y - h.y) < 1.5;
      if (!real) {
        std::printf("  frame %lld: detection at (%.2f, %.2f) snr %.1f npix %d a %.2f b %.2f matches no spot%s\n",
                    static_cast<long long>(i), p.x, p.y, p.snr, p.npix, p.a, p.b,
                    hot_or_dead ? " (a hot pixel or the dead row)" : "");
        if (hot_or_dead) ++st.hot_or_dead_peaks;
      }
    }
    ++st.frames;
    if (summary.scenario == tf.scenario) {
      ++st.scenarios_right;
    } else {
      char line[200];
      std::snprintf(line, sizeof line, "frame %lld: truth %s, found %s (se %.2f, pairs %.2f, stacking %.2f, a/b %.2f)",
                    static_cast<long long>(i), std::string(to_string(tf.scenario)).c_str(),
                    std::string(to_string(summary.scenario)).c_str(), summary.se, summary.pair_fraction,
                    summary.stacking_fraction, summary.elongation);
      st.wrong.push_back(line);
    }
    if (tf.scenario == Scenario::defect_free || tf.scenario == Scenario::gnd)
      st.se_rel_err.push_back(std::fabs(summary.se - tf.se_true) / tf.se_true);
  }
  return st;
}

TEST(Accuracy, SimulatedScanMeetsTheTargets) {
  sim::SimConfig sim_config;
  sim_config.width = sim_config.height = 1024;
  sim_config.grid_nx = 10;
  sim_config.grid_ny = 5;  // 50 frames, ten of each scenario on average
  sim_config.seed = 2026;
  ProcessConfig config;
  ScanStats st = run_scan(sim_config, config);

  const double recall = static_cast<double>(st.bright_found) / st.bright_truth;
  const double precision = static_cast<double>(st.detections_true) / st.detections;
  double centroid_rms = 0;
  for (double e : st.centroid_err2) centroid_rms += e;
  centroid_rms = std::sqrt(centroid_rms / static_cast<double>(st.centroid_err2.size()));
  const double scenario_accuracy = static_cast<double>(st.scenarios_right) / st.frames;
  std::printf("recall %.4f (%d/%d), precision %.4f (%d/%d), centroid rms %.4f px (%zu), "
              "a/b error median %.4f p95 %.4f (%zu), theta error median %.2f p95 %.2f deg (%zu), "
              "SE error median %.4f max %.4f (%zu), scenarios %d/%d\n",
              recall, st.bright_found, st.bright_truth, precision, st.detections_true, st.detections, centroid_rms,
              st.centroid_err2.size(), percentile(st.ab_rel_err, 0.5), percentile(st.ab_rel_err, 0.95),
              st.ab_rel_err.size(), percentile(st.theta_err, 0.5), percentile(st.theta_err, 0.95),
              st.theta_err.size(), percentile(st.se_rel_err, 0.5), percentile(st.se_rel_err, 1.0),
              st.se_rel_err.size(), st.scenarios_right, st.frames);
  for (const auto& w : st.wrong) std::printf("  %s\n", w.c_str());

  EXPECT_GE(recall, 0.98);
  EXPECT_GE(precision, 0.98);
  EXPECT_LE(centroid_rms, 0.1);
  ASSERT_FALSE(st.ab_rel_err.empty());
  EXPECT_LE(percentile(st.ab_rel_err, 0.95), 0.10) << "a and b within 10 % of 2 sigma";
  ASSERT_FALSE(st.theta_err.empty());
  EXPECT_LE(percentile(st.theta_err, 0.95), 3.0) << "theta within 3 deg for axis ratio >= 2";
  ASSERT_FALSE(st.se_rel_err.empty());
  EXPECT_LE(percentile(st.se_rel_err, 1.0), 0.10) << "SE within 10 % on defect-free and GND frames";
  EXPECT_GE(scenario_accuracy, 0.95);
  EXPECT_EQ(st.hot_or_dead_peaks, 0);
}

}  // namespace
}  // namespace laueproc
