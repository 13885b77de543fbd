// Rendered physical LiCoO2 frames (simulate --material) through laueproc's own peak finder and the
// engine, against the simulator's truth; maps (KAM = curvature x step); the commands end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "e2e/program.hpp"
#include "io/h5.hpp"
#include "laueproc/config.hpp"
#include "laueproc/index.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/stages.hpp"

namespace laueproc::index {
namespace {

sim::SimConfig physical(Scenario scenario, int nx, int ny, double spurious, double second_grain) {
  sim::SimConfig c;
  c.width = c.height = 1024;
  c.grid_nx = nx;
  c.grid_ny = ny;
  c.only = scenario;
  c.crystal.enabled = true;
  c.crystal.material = *builtin_material("LiCoO2");
  c.crystal.geometry = top_detector(1024, 1024, 0.4, 510.0);
  c.crystal.spurious_fraction = spurious;
  c.crystal.second_grain_fraction = second_grain;
  return c;
}

struct Outcome {
  int frames = 0, false_grains = 0, missed_grains = 0;
  double worst_error_deg = 0;
  std::vector<FrameIndex> results;
  std::vector<sim::CrystalTruth> truth;
};

Outcome index_rendered(const sim::SimConfig& config, const IndexSettings& settings) {
  sim::ScanSimulator simulator(config);
  Indexer indexer(config.crystal.geometry, config.crystal.material, settings);
  ProcessConfig process;
  CpuFrameAnalyzer analyzer(process);
  Outcome o;
  std::vector<std::uint16_t> pixels;
  for (std::int64_t i = 0; i < simulator.n_frames(); ++i) {
    simulator.render(i, pixels, nullptr);
    FrameView view{pixels.data(), config.width, config.height, config.width};
    const FrameAnalysis a = analyzer.analyze(view, i);
    std::vector<SpotInput> spots;
    for (const Peak& p : a.peaks) spots.push_back({p.x, p.y, p.intensity});
    const FrameIndex r = indexer.index(spots);
    const sim::CrystalTruth t = simulator.crystal_truth(i);
    ++o.frames;
    for (const auto& g : t.grains) {
      double best = 1e9;
      for (const Grain& found : r.grains) best = std::min(best, misorientation_deg(g.ub_b0, found.ub_b0, config.crystal.material));
      if (best > 0.05) ++o.missed_grains;
      else o.worst_error_deg = std::max(o.worst_error_deg, best);
    }
    for (const Grain& found : r.grains) {
      double best = 1e9;
      for (const auto& g : t.grains) best = std::min(best, misorientation_deg(g.ub_b0, found.ub_b0, config.crystal.material));
      o.false_grains += best > 0.05;
    }
    o.results.push_back(r);
    o.truth.push_back(t);
  }
  return o;
}

TEST(IndexScan, RenderedSingleAndTwoCrystalFramesWithSpuriousSpots) {
  const Outcome o = index_rendered(physical(Scenario::defect_free, 3, 3, 0.05, 0.4), IndexSettings{});
  int two = 0;
  for (const auto& t : o.truth) two += t.grains.size() == 2;
  std::printf("defect-free, 5 %% spurious: %d frames (%d with two crystals), missed %d, false %d, worst error %.4f deg\n",
              o.frames, two, o.missed_grains, o.false_grains, o.worst_error_deg);
  EXPECT_GE(two, 1);
  EXPECT_EQ(o.missed_grains, 0);
  EXPECT_EQ(o.false_grains, 0);
  EXPECT_LE(o.worst_error_deg, 0.02);
}

TEST(IndexScan, RenderedTiltBoundaryOfHalfADegree) {
  sim::SimConfig c = physical(Scenario::tilt_boundary, 3, 2, 0.05, 0.0);
  c.split_min_px = c.split_max_px = 25.0;  // x 0.02 deg/px = 0.5 deg
  c.split_ratio_min = 0.6;
  IndexSettings s;
  const Outcome o = index_rendered(c, s);
  int found = 0;
  for (std::size_t i = 0; i < o.results.size(); ++i) {
    const auto& r = o.results[i];
    if (r.grains.size() != 2) continue;
    ++found;
    const double mis = misorientation_deg(r.grains[0].ub_b0, r.grains[1].ub_b0, c.crystal.material);
    EXPECT_NEAR(mis, 0.5, 0.05) << "frame " << i;
  }
  std::printf("tilt boundary 0.5 deg: %d of %d frames with both sub-grains, missed %d, false %d, worst error %.4f deg\n",
              found, o.frames, o.missed_grains, o.false_grains, o.worst_error_deg);
  EXPECT_EQ(found, o.frames);
  EXPECT_EQ(o.missed_grains, 0);
  EXPECT_LE(o.worst_error_deg, 0.02);
}

TEST(IndexScan, RenderedGndStreaksStillIndex) {
  const Outcome o = index_rendered(physical(Scenario::gnd, 2, 2, 0.0, 0.0), IndexSettings{});
  std::printf("GND streaks: missed %d, false %d, worst error %.4f deg\n", o.missed_grains, o.false_grains, o.worst_error_deg);
  EXPECT_EQ(o.missed_grains, 0);
  EXPECT_EQ(o.false_grains, 0);
  EXPECT_LE(o.worst_error_deg, 0.03);  // streak centroids: the curvature spreads each spot
}

TEST(IndexScan, GndStreaksRunAlongEachSpotsPathUnderRotation) {
  // Every streak points where its spot moves when the lattice bends about the frame's axis:
  // recomputed here from predict_spots of the orientation turned by +-0.05 deg (not the
  // simulator's own derivative), compared with the truth peaks' major axes.
  sim::SimConfig c = physical(Scenario::gnd, 1, 1, 0.0, 0.0);
  sim::ScanSimulator simulator(c);
  const auto peaks = simulator.truth_peaks(0);
  const sim::CrystalTruth t = simulator.crystal_truth(0);
  ASSERT_EQ(t.grains.size(), 1u);
  ASSERT_GT(t.gnd_spread_deg, 0.0);
  const Mat3 m = t.grains[0].ub_b0;
  auto at = [&](double angle_deg) {
    return predict_spots(c.crystal.geometry, c.crystal.material, axis_angle(t.bend_axis, angle_deg) * m, 7, 30, 2.2);
  };
  const auto minus = at(-0.05), plus = at(0.05);
  int checked = 0;
  for (const auto& tp : peaks) {
    const sim::CrystalTruth::SpotTruth& st = t.spots[static_cast<std::size_t>(tp.peak)];
    const PredictedSpot* a = nullptr;
    const PredictedSpot* b = nullptr;
    for (const auto& p : minus)
      if (p.h == st.h && p.k == st.k && p.l == st.l) a = &p;
    for (const auto& p : plus)
      if (p.h == st.h && p.k == st.k && p.l == st.l) b = &p;
    if (!a || !b) continue;
    const double dx = b->x - a->x, dy = b->y - a->y;
    if (std::hypot(dx, dy) < 0.2 || tp.a < 1.3 * tp.b) continue;  // spots near the axis barely streak
    double path = std::atan2(dy, dx) * 180.0 / 3.14159265358979323846;
    double diff = std::fmod(std::abs(path - tp.theta_deg), 180.0);
    diff = std::min(diff, 180.0 - diff);
    EXPECT_LT(diff, 1.0) << "hkl " << st.h << " " << st.k << " " << st.l;
    // Length: a uniform rotation over the spread adds (length)^2 / 12 to the variance.
    const double length = std::hypot(dx, dy) / 0.1 * t.gnd_spread_deg;
    EXPECT_NEAR(tp.a * tp.a / 4.0, 1.5 * 1.5 + length * length / 12.0, 0.05 * tp.a * tp.a / 4.0 + 0.05);
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST(IndexScan, MapsKamFollowsTheCurvature) {
  // A 4 x 4 raster of one curved crystal: KAM = curvature x step (0.02 deg/um x 0.5 um), the
  // misorientation to the mean grows towards the corners, one particle, every frame single.
  const sim::SimConfig c = physical(Scenario::defect_free, 4, 4, 0.0, 0.0);
  sim::ScanSimulator simulator(c);
  ScanPeaks scan;
  scan.nx = scan.ny = 4;
  for (int i = 0; i < 4; ++i) scan.x_um.push_back(0.5 * i), scan.y_um.push_back(0.5 * i);
  for (std::int64_t i = 0; i < 16; ++i) {
    FramePeaks f;
    f.frame = i;
    f.ix = static_cast<int>(i % 4);
    f.iy = static_cast<int>(i / 4);
    const auto truth = simulator.truth_peaks(i);
    for (std::size_t k = 0; k < truth.size(); ++k) {
      f.spots.push_back({truth[k].x, truth[k].y, truth[k].amplitude});
      f.peak_ids.push_back(static_cast<std::int32_t>(k));
    }
    scan.frames.push_back(f);
  }
  Indexer indexer(c.crystal.geometry, c.crystal.material, IndexSettings{});
  const ScanIndex s1 = index_scan(scan, indexer, 1);
  const ScanIndex s2 = index_scan(scan, indexer, 2);
  const OrientationMaps& m = s1.maps;
  for (std::size_t k = 0; k < 16; ++k) {
    EXPECT_EQ(m.n_grains[k], 1);
    EXPECT_EQ(m.single_crystal[k], 1);
    EXPECT_EQ(m.particle[k], 1);
    // Curvature about two axes of 0.02 deg/um each: a step along x rotates 0.01 deg about one.
    EXPECT_NEAR(m.kam_deg[k], 0.01, 0.003) << "cell " << k;
    EXPECT_EQ(m.kam_deg[k], s2.maps.kam_deg[k]) << "results do not depend on the thread count";
  }
  EXPECT_LT(m.misorientation_deg[5], m.misorientation_deg[0]) << "inner cells are closer to the mean";
}

TEST(IndexCommands, GeometryIndexAndProcessWithIndex) {
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "laueproc_index_cli";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string data = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/";
  auto r = e2e::run("geometry " + data + "calibGe111.det");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("xcen 941.740"), std::string::npos) << r.out;
  r = e2e::run("index " + data + "Ge_blanc_0000_LT_5.dat --geometry " + data + "calibGe111.det --material Ge --out " +
               dir + "/ge.h5 --csv " + dir + "/ge");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(e2e::first_line(e2e::read_file(dir + "/ge/grains.csv")), kGrainsCsvHeader);
  EXPECT_EQ(e2e::first_line(e2e::read_file(dir + "/ge/indexed.csv")), kIndexedCsvHeader);
  EXPECT_NE(e2e::read_file(dir + "/ge/grains.csv").find("\n0,0,95,97,"), std::string::npos);
  // process --index on the real frame: laueproc's own peaks, LaueTools' 95 among the indexed.
  r = e2e::run("process " + data + "Ge_blanc_0000_as34ide.h5 -q -o " + dir + "/ge_res.h5 --csv " + dir +
               "/ge_res --index --geometry " + data + "calibGe111.det --material Ge");
  ASSERT_EQ(r.code, 0) << r.out;
  {
    std::istringstream rows(e2e::read_file(dir + "/ge_res/grains.csv"));
    std::string header, row, extra;
    std::getline(rows, header);
    ASSERT_TRUE(std::getline(rows, row));
    EXPECT_FALSE(std::getline(rows, extra)) << "one crystal";
    std::vector<std::string> f;
    std::stringstream cells(row);
    for (std::string c; std::getline(cells, c, ',');) f.push_back(c);
    ASSERT_GE(f.size(), 5u);
    EXPECT_GE(std::stoi(f[2]), 95) << row;
    EXPECT_LE(std::stod(f[4]), 0.25) << row;
  }
  r = e2e::run("index " + dir + "/ge_res.h5 --geometry " + data + "calibGe111.det --material Ge -o " + dir + "/ge_res.h5");
  EXPECT_EQ(r.code, 2) << "the input is never overwritten: " << r.out;
  r = e2e::run("index " + data + "Ge_blanc_0000_LT_5.dat --geometry " + data + "calibGe111.det --material Xx");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("not built in"), std::string::npos) << r.out;
  r = e2e::run("index " + data + "Ge_blanc_0000_LT_5.dat --geometry " + data + "missing.det --material Ge -o " + dir + "/x.h5");
  EXPECT_EQ(r.code, 2) << r.out;

  r = e2e::run("simulate --out " + dir + "/scan.h5 --grid 2x2 --size 512 --material LiCoO2 --scenario defect_free -q");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("process " + dir + "/scan.h5 -o " + dir + "/res.h5 --csv " + dir + "/csv --index --geometry " + dir +
               "/geometry.xml --material LiCoO2 --energy 7:30 -q");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string grains = e2e::read_file(dir + "/csv/grains.csv");
  EXPECT_EQ(e2e::first_line(grains), kGrainsCsvHeader);
  int rows = 0;
  for (char ch : grains) rows += ch == '\n';
  EXPECT_EQ(rows, 1 + 4) << grains;  // header + one crystal per frame
  // The single-crystal mask is in the results file for correlate --single-crystal-only.
  h5::init();
  h5::Handle file = h5::open_read(dir + "/res.h5");
  EXPECT_TRUE(h5::exists(file, "/maps/single_crystal/single_crystal"));
  EXPECT_TRUE(h5::exists(file, "/maps/kam_deg/kam_deg"));
  EXPECT_TRUE(h5::exists(file, "/maps/se/se"));
  EXPECT_TRUE(h5::exists(file, "/index/grains"));
  file.reset();
  // The report has an indexing section with the maps.
  r = e2e::run("report --process " + dir + "/res.h5 --frames-per-scenario 0 -o " + dir + "/report.html");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string html = e2e::read_file(dir + "/report.html");
  EXPECT_NE(html.find("Crystal orientations (indexing)"), std::string::npos);
  for (const char* png : {"map_n_grains.png", "map_kam_deg.png", "map_misorientation_deg.png", "map_ipf.png"})
    EXPECT_TRUE(fs::exists(dir + "/report_figures/" + png)) << png;
}

}  // namespace
}  // namespace laueproc::index

namespace laueproc::index {
namespace {

int particle_pixels(const std::string& csv) {
  // particles.csv: state,particle,n_pixels,...; sum of n_pixels over rows.
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  int total = 0;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string state, particle, n;
    std::getline(row, state, ',');
    std::getline(row, particle, ',');
    std::getline(row, n, ',');
    total += std::stoi(n);
  }
  return total;
}

TEST(IndexCommands, CorrelateSingleCrystalOnlyScreensMultiCrystalPoints) {
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "laueproc_index_correlate";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto r = e2e::run("simulate --out " + dir + "/scan.h5 --grid 6x6 --size 512 --material LiCoO2 --scenario defect_free "
                    "--second-grain-fraction 0.3 --seed 3 -q");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("process " + dir + "/scan.h5 -o " + dir + "/res.h5 -q --index --geometry " + dir +
               "/geometry.xml --material LiCoO2 --energy 7:30");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("index " + dir + "/res.h5 -o " + dir + "/idx.h5 -q --geometry " + dir +
               "/geometry.xml --material LiCoO2 --energy 7:30");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("xanes --simulate " + dir + "/stack.h5 --se-map " + dir + "/res.h5 --particles 1");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("xanes " + dir + "/stack.h5 -o " + dir + "/x.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("correlate --process " + dir + "/res.h5 --xanes " + dir + "/x.h5 -o " + dir + "/c_all.h5 --csv " + dir + "/all");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("correlate --process " + dir + "/res.h5 --xanes " + dir + "/x.h5 -o " + dir + "/c_one.h5 --csv " + dir +
               "/one --single-crystal-only");
  ASSERT_EQ(r.code, 0) << r.out;
  r = e2e::run("correlate --process " + dir + "/res.h5 --xanes " + dir + "/x.h5 -o " + dir + "/c_idx.h5 --csv " + dir +
               "/idx --single-crystal-only --index " + dir + "/idx.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  // Truth: frames the simulator gave a second crystal are the ones screened out.
  const std::string truth = e2e::read_file(dir + "/truth_grains.csv");
  std::set<int> multi;
  std::map<int, int> per_frame;
  std::istringstream in(truth);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) ++per_frame[std::stoi(line.substr(0, line.find(',')))];
  for (auto [frame, n] : per_frame)
    if (n > 1) multi.insert(frame);
  ASSERT_FALSE(multi.empty());
  const int all = particle_pixels(e2e::read_file(dir + "/all/particles.csv"));
  const int one = particle_pixels(e2e::read_file(dir + "/one/particles.csv"));
  EXPECT_LT(one, all);
  EXPECT_GE(all - one, 1);
  EXPECT_LE(all - one, static_cast<int>(multi.size()));  // only multi-crystal points go (inside the particle)
  EXPECT_EQ(e2e::read_file(dir + "/idx/particles.csv"), e2e::read_file(dir + "/one/particles.csv"));
  r = e2e::run("correlate --process " + dir + "/scan_missing.h5 --xanes " + dir + "/x.h5 --single-crystal-only");
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace laueproc::index
