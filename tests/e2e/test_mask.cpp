// laueproc mask as a user runs it: simulate -> mask -> process --mask; the mask file loads and
// holds the simulator's hot pixels. And the rule on a real frame: the real Ge frame repeated N
// times (its spots at the same pixels in every frame) flags none of LaueTools' 97 peaks.
#include <gtest/gtest.h>

#include "e2e/program.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "laueproc/io.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {
namespace {

using namespace e2e;

const std::string kDir = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/";

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

class MaskCli : public e2e::TempDirTest {};

TEST_F(MaskCli, SimulateMaskProcess) {
  auto sim = run("simulate --out " + dir_ + "/scan.h5 --grid 4x4 --size 256 --quiet");
  ASSERT_EQ(sim.code, 0) << sim.out;
  auto mask = run("mask " + dir_ + "/scan.h5 --out " + dir_ + "/mask.pgm --quiet");
  ASSERT_EQ(mask.code, 0) << mask.out;
  EXPECT_NE(mask.out.find("flagged:"), std::string::npos) << mask.out;
  EXPECT_NE(mask.out.find("worst:"), std::string::npos) << mask.out;

  const BadPixelMask m = BadPixelMask::load(dir_ + "/mask.pgm");
  ASSERT_EQ(m.width(), 256);
  ASSERT_EQ(m.height(), 256);
  // The CLI's defaults: seed 1, every other SimConfig setting at its default.
  sim::SimConfig config;
  config.width = config.height = 256;
  config.grid_nx = config.grid_ny = 4;
  const sim::ScanSimulator simulator(config);
  ASSERT_FALSE(simulator.hot_pixels().empty());
  for (const auto& h : simulator.hot_pixels())
    EXPECT_TRUE(m.pixels()[static_cast<std::size_t>(h.y) * 256 + h.x]) << "hot pixel " << h.x << "," << h.y;
  // Little else: no spot pixel (the truth peaks' centres stay clear).
  for (std::int64_t f = 0; f < simulator.n_frames(); ++f)
    for (const auto& p : simulator.truth_peaks(f)) {
      const int x = static_cast<int>(std::lround(p.x)), y = static_cast<int>(std::lround(p.y));
      EXPECT_FALSE(m.pixels()[static_cast<std::size_t>(y) * 256 + x]) << "frame " << f << " peak at " << p.x << "," << p.y;
    }
  EXPECT_LE(m.bad_count(), simulator.hot_pixels().size() + 5);

  auto process = run("process " + dir_ + "/scan.h5 --mask " + dir_ + "/mask.pgm --out " + dir_ + "/r.h5 --quiet");
  EXPECT_EQ(process.code, 0) << process.out;
}

TEST_F(MaskCli, BadInputIsOneLine) {
  auto missing = run("mask " + dir_ + "/none.h5 --out " + dir_ + "/m.pgm");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_EQ(count_lines(missing.out), 1) << missing.out;
  auto no_out = run("mask " + dir_ + "/none.h5");
  EXPECT_EQ(no_out.code, 2) << no_out.out;
  EXPECT_EQ(count_lines(no_out.out), 1) << no_out.out;
  auto sim = run("simulate --out " + dir_ + "/s.h5 --grid 2x1 --size 128 --quiet");
  ASSERT_EQ(sim.code, 0) << sim.out;
  for (const char* bad : {"--min-fraction 0", "--min-fraction 1.5", "--frames 0", "--k -1", "--frames x"}) {
    auto r = run("mask " + dir_ + "/s.h5 --out " + dir_ + "/m.pgm " + bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
    EXPECT_EQ(count_lines(r.out), 1) << bad << ": " << r.out;
  }
  auto unwritable = run("mask " + dir_ + "/s.h5 --out " + dir_ + "/s.h5/under/a/file/m.pgm --quiet");
  EXPECT_EQ(unwritable.code, 2) << unwritable.out;
  EXPECT_EQ(count_lines(unwritable.out), 1) << unwritable.out;
}

TEST(MaskRealData, GermaniumSpotsAreNeverFlagged) {
  const std::string image = kDir + "Ge_blanc_0000_as34ide.h5";
  ASSERT_TRUE(exists(image)) << image << " is missing: tests/data is part of the repository";
  auto source = open_scan(image);
  Frame frame;
  source->read(0, frame);
  ASSERT_TRUE(frame.ok()) << frame.error;

  // LaueTools' peaks, 1-based X = column + 1.
  std::ifstream in(kDir + "Ge_blanc_0000_LT_5.dat");
  std::string line;
  std::getline(in, line);
  std::vector<std::pair<double, double>> peaks;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    double x, y;
    if (s >> x >> y) peaks.push_back({x - 1.0, y - 1.0});
  }
  ASSERT_EQ(peaks.size(), 97u);

  // The same frame N times: every spot "stays put" and the noise is identical, the worst case.
  HotPixelFinder finder;
  for (int i = 0; i < 3; ++i) finder.add(frame.view());
  const BadPixelMask mask = finder.result(0.9);
  const int w = mask.width(), h = mask.height();
  int hit = 0;
  for (const auto& [px, py] : peaks) {
    const int cx = static_cast<int>(std::lround(px)), cy = static_cast<int>(std::lround(py));
    for (int y = std::max(0, cy - 3); y <= std::min(h - 1, cy + 3); ++y)
      for (int x = std::max(0, cx - 3); x <= std::min(w - 1, cx + 3); ++x)
        if (mask.pixels()[static_cast<std::size_t>(y) * w + x]) {
          ++hit;
          ADD_FAILURE() << "flagged pixel " << x << "," << y << " within 3 px of LaueTools peak " << px << "," << py;
        }
  }
  EXPECT_EQ(hit, 0);

  // The check has teeth: a spike threshold of 30 % (above what sharp spots give) flags spot pixels.
  int loose_hits = 0;
  for (double fraction : {0.05, 0.1, 0.3}) {
    HotPixelConfig loose;
    loose.spike_fraction = fraction;
    std::vector<std::uint8_t> flags;
    HotPixelFinder::flag_frame(frame.view(), loose, flags);
    loose_hits = 0;
    for (const auto& [px, py] : peaks) {
      const int cx = static_cast<int>(std::lround(px)), cy = static_cast<int>(std::lround(py));
      for (int y = std::max(0, cy - 3); y <= std::min(h - 1, cy + 3); ++y)
        for (int x = std::max(0, cx - 3); x <= std::min(w - 1, cx + 3); ++x)
          loose_hits += flags[static_cast<std::size_t>(y) * w + x];
    }
    std::printf("Ge frame: spike threshold %.2f flags %d pixels near LaueTools peaks\n", fraction, loose_hits);
  }
  EXPECT_GT(loose_hits, 0);
  std::printf("Ge frame: %zu pixels flagged from one frame (spiky outliers: hot pixels or zingers)\n",
              mask.bad_count());
  EXPECT_LT(mask.bad_count(), 200u);  // a handful of defects, not the pattern
}

}  // namespace
}  // namespace laueproc
