// The real Ge Laue frame (MarCCD at ESRF BM32, in the 34-ID-E layout) against LaueTools' and
// LaueGo's own peak lists on it (tests/data/README.md).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "laueproc/config.hpp"
#include "laueproc/io.hpp"
#include "laueproc/stages.hpp"
#include "laueproc/summary.hpp"

namespace laueproc {
namespace {

const std::string kDir = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/";

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

struct RefPeak {
  double x, y, sigma_major, sigma_minor;
};

std::vector<RefPeak> read_lauetools(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<RefPeak> peaks;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    double x, y, itot, isub, fmaj, fmin;
    if (!(s >> x >> y >> itot >> isub >> fmaj >> fmin)) continue;
    peaks.push_back({x - 1.0, y - 1.0, fmaj, fmin});  // LaueTools is 1-based: X = column + 1
  }
  return peaks;
}

std::vector<RefPeak> read_lauego(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<RefPeak> peaks;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '$' || line[0] == '/') continue;
    std::istringstream s(line);
    double x, y;
    if (s >> x >> y) peaks.push_back({x, y, 0, 0});  // LaueGo is 0-based
  }
  return peaks;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

TEST(RealData, GermaniumFrameAgreesWithLaueToolsAndLaueGo) {
  const std::string image = kDir + "Ge_blanc_0000_as34ide.h5";
  ASSERT_TRUE(exists(image)) << image << " is missing: tests/data is part of the repository";
  auto source = open_scan(image);
  Frame frame;
  source->read(0, frame);
  ASSERT_TRUE(frame.ok()) << frame.error;

  ProcessConfig config;
  CpuFrameAnalyzer analyzer(config);
  FrameAnalysis analysis = analyzer.analyze(frame.view(), 0);
  ASSERT_EQ(analysis.status, "ok");
  const auto& found = analysis.peaks;

  auto nearest = [&](double x, double y, double& distance) -> const Peak* {
    const Peak* best = nullptr;
    distance = 1e30;
    for (const auto& p : found) {
      double d = std::hypot(p.x - x, p.y - y);
      if (d < distance) {
        distance = d;
        best = &p;
      }
    }
    return best;
  };

  // Every LaueTools peak found, centroid within 0.15 px; sizes agree with their Gaussian widths.
  const auto lauetools = read_lauetools(kDir + "Ge_blanc_0000_LT_5.dat");
  ASSERT_EQ(lauetools.size(), 97u);
  std::vector<double> ours_size, their_size, offsets;
  std::vector<const Peak*> matched;
  int missed = 0;
  for (const auto& r : lauetools) {
    double d;
    const Peak* p = nearest(r.x, r.y, d);
    if (!p || d > 0.15) {
      ++missed;
      ADD_FAILURE() << "LaueTools peak at (" << r.x << ", " << r.y << ") nearest found at " << d << " px";
      continue;
    }
    offsets.push_back(d);
    matched.push_back(p);
    ours_size.push_back(std::sqrt(p->a * p->b));
    their_size.push_back(2.0 * std::sqrt(r.sigma_major * r.sigma_minor));
  }
  EXPECT_EQ(missed, 0);
  const double size_ratio = median(ours_size) / median(their_size);
  EXPECT_NEAR(size_ratio, 1.0, 0.15) << "median sqrt(a b) against 2 sigma of LaueTools";

  // Every LaueGo peak (threshold 200 counts) is among ours too.
  const auto lauego = read_lauego(kDir + "Ge_blanc_0000_LaueGo_peaksearch_t200_L.txt");
  ASSERT_EQ(lauego.size(), 46u);
  int lauego_missed = 0;
  for (const auto& r : lauego) {
    double d;
    nearest(r.x, r.y, d);
    if (d > 0.5) ++lauego_missed;
  }
  EXPECT_EQ(lauego_missed, 0);

  // No peak on the rim of the disc-shaped active area (pixels outside it are 0).
  const FrameView v = frame.view();
  int rim = 0;
  for (const auto& p : found) {
    const int cx = static_cast<int>(std::lround(p.x)), cy = static_cast<int>(std::lround(p.y));
    bool near_zero = false;
    for (int y = std::max(0, cy - 4); y <= std::min(v.height - 1, cy + 4); ++y)
      for (int x = std::max(0, cx - 4); x <= std::min(v.width - 1, cx + 4); ++x) near_zero |= v.at(x, y) == 0;
    if (near_zero) {
      ++rim;
      ADD_FAILURE() << "peak on the rim at (" << p.x << ", " << p.y << "), snr " << p.snr;
    }
  }
  EXPECT_EQ(rim, 0);

  // The extra, weaker peaks: how many, and how strong (reported, and each is a >= k_high seed).
  int extra = 0;
  std::vector<double> extra_snr;
  for (const auto& p : found) {
    if (std::find(matched.begin(), matched.end(), &p) != matched.end()) continue;
    ++extra;
    extra_snr.push_back(p.snr);
    EXPECT_GE(p.snr, config.threshold.k_high);
  }
  FrameSummary summary = summarize_frame(0, found, config.summary);
  std::printf("Ge frame: %zu peaks, %d match LaueTools' 97 (median offset %.3f px, max %.3f), %d extra "
              "(median snr %.1f), size ratio %.3f, SE %.3f (r_unit 3 px), background %.1f, sigma %.2f\n",
              found.size(), static_cast<int>(matched.size()), median(offsets),
              offsets.empty() ? NAN : *std::max_element(offsets.begin(), offsets.end()), extra, median(extra_snr),
              size_ratio, summary.se, analysis.background_level, analysis.noise_sigma);
  EXPECT_LT(summary.se, 0.6) << "sharp round spots on a small-pixel detector: SE well under 1";
}

}  // namespace
}  // namespace laueproc
