// Tests of the scan simulator against its own analytic ground truth, and of the files it writes
// (read back with plain HDF5 C calls, not with laueproc's reader).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "laueproc/error.hpp"
#include "laueproc/sim.hpp"

namespace fs = std::filesystem;
using laueproc::Scenario;
using namespace laueproc::sim;

namespace {

SimConfig small(std::uint64_t seed = 7) {
  SimConfig c;
  c.width = 256;
  c.height = 256;
  c.grid_nx = 3;
  c.grid_ny = 2;
  c.seed = seed;
  c.min_reflections = 10;
  c.max_reflections = 20;
  return c;
}

/// A fresh temporary folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("laueproc_sim_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct Measured {
  double x, y, a, b, theta;
};

/// Intensity moments of `model` in a square box of half-width r around (cx, cy).
Measured moments(const std::vector<float>& model, int width, int height, double cx, double cy, int r) {
  double s = 0, sx = 0, sy = 0;
  const int x0 = std::max(0, static_cast<int>(cx) - r), x1 = std::min(width - 1, static_cast<int>(cx) + r);
  const int y0 = std::max(0, static_cast<int>(cy) - r), y1 = std::min(height - 1, static_cast<int>(cy) + r);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const double v = model[static_cast<std::size_t>(y) * width + x];
      s += v;
      sx += v * x;
      sy += v * y;
    }
  const double mx = sx / s, my = sy / s;
  double xx = 0, yy = 0, xy = 0;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const double v = model[static_cast<std::size_t>(y) * width + x];
      xx += v * (x - mx) * (x - mx);
      yy += v * (y - my) * (y - my);
      xy += v * (x - mx) * (y - my);
    }
  xx /= s;
  yy /= s;
  xy /= s;
  const double h = 0.5 * (xx + yy), d = std::sqrt(0.25 * (xx - yy) * (xx - yy) + xy * xy);
  double theta = 0.5 * std::atan2(2 * xy, xx - yy) * 180.0 / M_PI;
  if (theta >= 90) theta -= 180;
  return {mx, my, 2 * std::sqrt(h + d), 2 * std::sqrt(std::max(h - d, 0.0)), theta};
}

double angle_diff(double a, double b) {  // axis angles: modulo 180
  double d = std::fmod(std::abs(a - b), 180.0);
  return std::min(d, 180.0 - d);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST(Simulator, DeterministicPerSeedAndFrame) {
  const ScanSimulator a(small(7)), b(small(7)), c(small(8));
  std::vector<std::uint16_t> p1, p2, p3, p4;
  std::vector<TruthPeak> t1, t2;
  a.render(4, p1, &t1);
  b.render(4, p2, &t2);
  std::thread other([&] { a.render(4, p4, nullptr); });  // another thread, same result
  other.join();
  c.render(4, p3, nullptr);
  ASSERT_EQ(p1.size(), 256u * 256u);
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(p1, p4);
  EXPECT_NE(p1, p3);
  ASSERT_EQ(t1.size(), t2.size());
  for (std::size_t k = 0; k < t1.size(); ++k) EXPECT_EQ(t1[k].x, t2[k].x);
  // Frames differ from each other, and the truth without rendering is the same truth.
  std::vector<std::uint16_t> p5;
  a.render(3, p5, nullptr);
  EXPECT_NE(p1, p5);
  const auto cheap = a.truth_peaks(4);
  ASSERT_EQ(cheap.size(), t1.size());
  for (std::size_t k = 0; k < t1.size(); ++k) EXPECT_EQ(cheap[k].a, t1[k].a);
  EXPECT_EQ(a.frame_truth(4).n_peaks, static_cast<int>(t1.size()));
}

TEST(Simulator, IsolatedSpotMomentsMatchTruth) {
  // Sparse frames so every spot's 5-sigma box holds only that spot.
  for (Scenario s : {Scenario::defect_free, Scenario::gnd, Scenario::stacking}) {
    SimConfig c = small(11);
    c.width = c.height = 384;
    c.min_reflections = 6;
    c.max_reflections = 10;
    c.min_separation_px = 90;
    c.only = s;
    const ScanSimulator sim(c);
    std::vector<float> model;
    int checked = 0;
    for (std::int64_t i = 0; i < sim.n_frames(); ++i) {
      sim.render_model(i, model, false);
      for (const auto& p : sim.truth_peaks(i)) {
        if (!p.isolated) continue;
        const Measured m = moments(model, c.width, c.height, p.x, p.y, static_cast<int>(std::ceil(2.5 * p.a)) + 1);
        EXPECT_NEAR(m.x, p.x, 0.02) << to_string(s);
        EXPECT_NEAR(m.y, p.y, 0.02) << to_string(s);
        EXPECT_NEAR(m.a, p.a, 0.02 * p.a) << to_string(s);
        EXPECT_NEAR(m.b, p.b, 0.02 * p.b) << to_string(s);
        if (p.a > 1.1 * p.b) EXPECT_LT(angle_diff(m.theta, p.theta_deg), 1.0) << to_string(s);
        EXPECT_GE(p.theta_deg, -90.0);
        EXPECT_LT(p.theta_deg, 90.0);
        ++checked;
      }
    }
    EXPECT_GT(checked, 20) << to_string(s);
  }
}

TEST(Simulator, ScenarioShapes) {
  SimConfig c = small(3);
  c.width = c.height = 512;
  c.min_reflections = 25;
  c.max_reflections = 40;
  // defect-free: round spots of a = b = 3 px, SE exactly 1.
  c.only = Scenario::defect_free;
  {
    const ScanSimulator sim(c);
    for (std::int64_t i = 0; i < sim.n_frames(); ++i) {
      const auto f = sim.frame_truth(i);
      EXPECT_EQ(f.scenario, Scenario::defect_free);
      EXPECT_NEAR(f.se_true, 1.0, 1e-9);
      EXPECT_EQ(f.n_peaks, f.n_reflections);
      EXPECT_GE(f.n_reflections, 20);
      EXPECT_EQ(f.split_px, 0.0);
    }
  }
  // GND: elongated, frame mean a/b >= 2, SE clearly > 1.5.
  c.only = Scenario::gnd;
  {
    const ScanSimulator sim(c);
    for (std::int64_t i = 0; i < sim.n_frames(); ++i) {
      const auto f = sim.frame_truth(i);
      EXPECT_EQ(f.scenario, Scenario::gnd);
      EXPECT_GT(f.se_true, 1.5);
      double ratio = 0;
      const auto peaks = sim.truth_peaks(i);
      for (const auto& p : peaks) {
        EXPECT_NEAR(p.b, 3.0, 1e-9);
        EXPECT_GE(p.a / p.b, 1.5 - 1e-9);
        EXPECT_LE(p.a / p.b, 5.0 + 1e-9);
        ratio += p.a / p.b;
      }
      EXPECT_GE(ratio / static_cast<double>(peaks.size()), 2.0);
    }
  }
  // Tilt boundary and mixed: two peaks per reflection, apart by the frame's split vector.
  for (Scenario s : {Scenario::tilt_boundary, Scenario::mixed}) {
    c.only = s;
    const ScanSimulator sim(c);
    for (std::int64_t i = 0; i < sim.n_frames(); ++i) {
      const auto f = sim.frame_truth(i);
      EXPECT_EQ(f.scenario, s);
      EXPECT_GE(f.split_px, 10.0);
      EXPECT_LE(f.split_px, 50.0);
      EXPECT_GT(f.split_dx, 0.0);
      EXPECT_NEAR(std::hypot(f.split_dx, f.split_dy), f.split_px, 1e-9);
      EXPECT_NEAR(f.misorientation_deg, 0.02 * f.split_px, 1e-12);
      EXPECT_EQ(f.n_peaks, 2 * f.n_reflections);
      std::map<int, std::vector<TruthPeak>> by_reflection;
      for (const auto& p : sim.truth_peaks(i)) by_reflection[p.reflection].push_back(p);
      ASSERT_EQ(static_cast<int>(by_reflection.size()), f.n_reflections);
      for (const auto& [r, pair] : by_reflection) {
        ASSERT_EQ(pair.size(), 2u);
        EXPECT_NEAR(pair[1].x - pair[0].x, f.split_dx, 1e-9);
        EXPECT_NEAR(pair[1].y - pair[0].y, f.split_dy, 1e-9);
        EXPECT_NEAR(pair[0].a, pair[1].a, 1e-9);  // both halves share the streak
        if (s == Scenario::mixed) EXPECT_GE(pair[0].a / pair[0].b, 1.5 - 1e-9);
      }
    }
  }
  // Stacking: one blob per reflection made of 3..5 sub-peaks, larger than a single spot.
  c.only = Scenario::stacking;
  {
    const ScanSimulator sim(c);
    for (std::int64_t i = 0; i < sim.n_frames(); ++i) {
      const auto f = sim.frame_truth(i);
      EXPECT_EQ(f.n_peaks, f.n_reflections);
      EXPECT_GT(f.se_true, 1.5);
      for (const auto& p : sim.truth_peaks(i)) {
        EXPECT_GE(p.n_sub, 3);
        EXPECT_LE(p.n_sub, 5);
        EXPECT_GT(p.a, 3.0);
      }
    }
  }
}

TEST(Simulator, ScenarioChoiceFollowsWeights) {
  SimConfig c = small(5);
  c.grid_nx = 10;
  c.grid_ny = 10;
  std::set<Scenario> seen;
  for (std::int64_t i = 0; i < 100; ++i) seen.insert(ScanSimulator(c).frame_truth(i).scenario);
  EXPECT_EQ(seen.size(), 5u);
  c.scenario_weights = {0, 0, 1, 0, 0};
  const ScanSimulator only_tilt(c);
  for (std::int64_t i = 0; i < 100; ++i) EXPECT_EQ(only_tilt.frame_truth(i).scenario, Scenario::tilt_boundary);
  // Positions follow the raster.
  const auto f = only_tilt.frame_truth(23);
  EXPECT_EQ(f.ix, 3);
  EXPECT_EQ(f.iy, 2);
  EXPECT_DOUBLE_EQ(f.x_um, 1.5);
  EXPECT_DOUBLE_EQ(f.y_um, 1.0);
}

TEST(Simulator, BackgroundNoiseHotPixelsDeadRow) {
  SimConfig c = small(21);
  c.width = c.height = 512;
  const ScanSimulator sim(c);
  ASSERT_GE(sim.dead_row(), 0);
  ASSERT_GE(sim.hot_pixels().size(), 20u);
  ASSERT_LE(sim.hot_pixels().size(), 50u);
  std::vector<std::uint16_t> px;
  std::vector<float> model;
  for (std::int64_t i = 0; i < 2; ++i) {
    sim.render(i, px, nullptr);
    sim.render_model(i, model, true);
    const auto f = sim.frame_truth(i);
    EXPECT_GE(f.background_mean, 100.0 * 0.8);
    const std::size_t W = 512;
    for (std::size_t x = 0; x < W; ++x) EXPECT_EQ(px[static_cast<std::size_t>(sim.dead_row()) * W + x], 0);
    for (const auto& h : sim.hot_pixels()) {
      EXPECT_EQ(px[static_cast<std::size_t>(h.y) * W + h.x], h.value);
      EXPECT_GE(h.value, 5000);
    }
    // Noise: residual from the model has the Poisson + read variance, away from the peaks.
    std::vector<float> spots;
    sim.render_model(i, spots, false);
    double s2 = 0, expect2 = 0, mean_bg = 0;
    std::size_t n = 0;
    std::set<std::size_t> hot;
    for (const auto& h : sim.hot_pixels()) hot.insert(static_cast<std::size_t>(h.y) * W + h.x);
    for (std::size_t p = 0; p < model.size(); ++p) {
      if (spots[p] > 0.01f || p / W == static_cast<std::size_t>(sim.dead_row()) || hot.count(p)) continue;
      const double r = px[p] - model[p];
      s2 += r * r;
      expect2 += model[p] + 9.0;
      mean_bg += model[p];
      ++n;
    }
    ASSERT_GT(n, W * W / 2);
    EXPECT_NEAR(std::sqrt(s2 / n), std::sqrt(expect2 / n), 0.03 * std::sqrt(expect2 / n));
    EXPECT_NEAR(mean_bg / n, f.background_mean, 0.05 * f.background_mean);
    EXPECT_NEAR(f.noise_sigma, std::sqrt(f.background_mean + 9.0), 1e-9);
    // Not flat: the halo ring and the gradient vary the background by tens of percent.
    const auto [lo, hi] = std::minmax_element(model.begin(), model.end());
    EXPECT_GT(*hi - *lo, 0.3 * f.background_mean);
  }
}

TEST(Simulator, SaturatedPeaksClip) {
  SimConfig c = small(9);
  c.width = c.height = 512;
  c.amplitude_max = 300000;  // many saturated spots
  const ScanSimulator sim(c);
  std::vector<std::uint16_t> px;
  std::vector<TruthPeak> truth;
  int saturated = 0, unsaturated = 0;
  for (std::int64_t i = 0; i < sim.n_frames(); ++i) {
    sim.render(i, px, &truth);
    for (const auto& p : truth) {
      int top = 0;
      const int r = static_cast<int>(std::ceil(p.a)) + 1;
      for (int y = static_cast<int>(p.y) - r; y <= static_cast<int>(p.y) + r; ++y)
        for (int x = static_cast<int>(p.x) - r; x <= static_cast<int>(p.x) + r; ++x)
          if (y != sim.dead_row()) top = std::max<int>(top, px[static_cast<std::size_t>(y) * 512 + x]);
      if (p.saturated) {
        ++saturated;
        EXPECT_EQ(top, 65535);
        EXPECT_FALSE(p.isolated);
      } else {
        ++unsaturated;
        EXPECT_LT(top, 65535);
      }
    }
  }
  EXPECT_GT(saturated, 5);
  EXPECT_GT(unsaturated, 5);
}

TEST(Simulator, RejectsBadConfig) {
  SimConfig c = small();
  c.width = 10;
  EXPECT_THROW(ScanSimulator{c}, laueproc::UsageError);
  c = small();
  c.scenario_weights = {0, 0, 0, 0, 0};
  EXPECT_THROW(ScanSimulator{c}, laueproc::UsageError);
  c = small();
  c.only = Scenario::unknown;
  EXPECT_THROW(ScanSimulator{c}, laueproc::UsageError);
  c = small();
  c.min_reflections = 30;
  c.max_reflections = 20;
  EXPECT_THROW(ScanSimulator{c}, laueproc::UsageError);
}

namespace {

SimConfig tiny() {
  SimConfig c;
  c.width = 128;  // not square: catches a transposed layout
  c.height = 96;
  c.grid_nx = 3;
  c.grid_ny = 2;
  c.step_um = 0.5;
  c.seed = 42;
  c.min_reflections = 4;
  c.max_reflections = 8;
  return c;
}

std::vector<std::uint16_t> read_u16(hid_t file, const char* path, std::vector<hsize_t>& dims) {
  hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
  EXPECT_GE(ds, 0) << path;
  hid_t type = H5Dget_type(ds);
  EXPECT_GT(H5Tequal(type, H5T_STD_U16LE), 0) << path;
  H5Tclose(type);
  hid_t space = H5Dget_space(ds);
  dims.assign(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space)), 0);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  H5Sclose(space);
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<std::uint16_t> out(n);
  EXPECT_GE(H5Dread(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0);
  H5Dclose(ds);
  return out;
}

double read_double(hid_t file, const char* path) {
  double v = NAN;
  hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
  EXPECT_GE(ds, 0) << path;
  EXPECT_GE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), 0) << path;
  H5Dclose(ds);
  return v;
}

std::string read_attr(hid_t obj, const char* name) {
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return "";
  hid_t type = H5Aget_type(attr);
  std::string s(H5Tget_size(type), '\0');
  H5Aread(attr, type, s.data());
  H5Tclose(type);
  H5Aclose(attr);
  return s.substr(0, s.find('\0'));
}

int filter_count(hid_t file, const char* path, H5Z_filter_t* first) {
  hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
  hid_t dcpl = H5Dget_create_plist(ds);
  const int n = H5Pget_nfilters(dcpl);
  if (n > 0) {
    unsigned flags = 0;
    std::size_t nelem = 0;
    *first = H5Pget_filter2(dcpl, 0, &flags, &nelem, nullptr, 0, nullptr, nullptr);
  }
  H5Pclose(dcpl);
  H5Dclose(ds);
  return n;
}

void check_stack(const std::string& compression, H5Z_filter_t expected_filter) {
  TempDir dir("stack_" + compression);
  const SimConfig c = tiny();
  WriteOptions o;
  o.layout = laueproc::ScanLayout::stack;
  o.out = (dir.path / "sub" / "scan.h5").string();
  o.compression = compression;
  o.threads = 2;
  std::int64_t last_done = 0;
  const WrittenScan w = write_scan(c, o, [&](std::int64_t done, std::int64_t total) {
    EXPECT_EQ(done, last_done + 1);
    EXPECT_EQ(total, 6);
    last_done = done;
  });
  EXPECT_EQ(last_done, 6);
  EXPECT_EQ(w.path, o.out);
  EXPECT_EQ(w.n_frames, 6);
  EXPECT_EQ(w.truth_peaks_csv, (dir.path / "sub" / "truth_peaks.csv").string());
  EXPECT_EQ(w.truth_frames_csv, (dir.path / "sub" / "truth_frames.csv").string());

  hid_t file = H5Fopen(o.out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  std::vector<hsize_t> dims;
  const auto data = read_u16(file, "/entry/data/data", dims);
  ASSERT_EQ(dims, (std::vector<hsize_t>{6, 96, 128}));
  const ScanSimulator sim(c);
  std::vector<std::uint16_t> frame;
  for (std::int64_t i = 0; i < 6; ++i) {
    sim.render(i, frame, nullptr);
    EXPECT_TRUE(std::equal(frame.begin(), frame.end(), data.begin() + i * 96 * 128)) << "frame " << i;
  }
  H5Z_filter_t filter = -1;
  EXPECT_EQ(filter_count(file, "/entry/data/data", &filter), expected_filter < 0 ? 0 : 1);
  if (expected_filter >= 0) EXPECT_EQ(filter, expected_filter);
  hid_t ds = H5Dopen2(file, "/entry/data/data", H5P_DEFAULT);
  hid_t dcpl = H5Dget_create_plist(ds);
  hsize_t chunk[3] = {};
  EXPECT_EQ(H5Pget_chunk(dcpl, 3, chunk), 3);
  EXPECT_EQ(chunk[0], 1u);
  EXPECT_EQ(chunk[1], 96u);
  EXPECT_EQ(chunk[2], 128u);
  H5Pclose(dcpl);
  H5Dclose(ds);
  // Positions (um, length N).
  for (const char* p : {"/entry/sample/x", "/entry/sample/y"}) {
    hid_t d = H5Dopen2(file, p, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    double v[6];
    ASSERT_GE(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(v[i], p[14] == 'x' ? (i % 3) * 0.5 : (i / 3) * 0.5) << p;
    H5Dclose(d);
  }
  // NeXus classes and provenance.
  hid_t entry = H5Gopen2(file, "/entry", H5P_DEFAULT);
  EXPECT_EQ(read_attr(entry, "NX_class"), "NXentry");
  EXPECT_EQ(read_attr(entry, "program"), "laueproc simulate");
  EXPECT_EQ(read_attr(entry, "seed"), "42");
  EXPECT_EQ(read_attr(entry, "sim.width"), "128");
  H5Gclose(entry);
  hid_t g = H5Gopen2(file, "/entry/data", H5P_DEFAULT);
  EXPECT_EQ(read_attr(g, "NX_class"), "NXdata");
  EXPECT_EQ(read_attr(g, "signal"), "data");
  H5Gclose(g);
  g = H5Gopen2(file, "/entry/sample", H5P_DEFAULT);
  EXPECT_EQ(read_attr(g, "NX_class"), "NXsample");
  H5Gclose(g);
  g = H5Gopen2(file, "/", H5P_DEFAULT);
  EXPECT_EQ(read_attr(g, "program"), "laueproc simulate");
  EXPECT_FALSE(read_attr(g, "git_commit").empty());
  H5Gclose(g);
  H5Fclose(file);

  // Truth CSVs: exact headers, one row per truth peak / frame.
  const auto peaks = read_lines(w.truth_peaks_csv);
  const auto frames = read_lines(w.truth_frames_csv);
  ASSERT_FALSE(peaks.empty());
  ASSERT_EQ(frames.size(), 7u);
  EXPECT_EQ(peaks[0], "frame,peak,reflection,x,y,amplitude,a,b,theta_deg,n_sub,saturated,isolated");
  EXPECT_EQ(frames[0],
            "frame,ix,iy,x_um,y_um,scenario,n_reflections,n_peaks,se_true,split_dx,split_dy,split_px,"
            "misorientation_deg,background,noise");
  std::size_t total = 0;
  for (std::int64_t i = 0; i < 6; ++i) total += static_cast<std::size_t>(sim.frame_truth(i).n_peaks);
  EXPECT_EQ(peaks.size(), total + 1);
  EXPECT_EQ(frames[1].substr(0, 6), "0,0,0,");
}

}  // namespace

TEST(WriteScan, StackUncompressed) { check_stack("none", -1); }
TEST(WriteScan, StackGzip) { check_stack("gzip", H5Z_FILTER_DEFLATE); }

TEST(WriteScan, StackBitshuffleOrClearError) {
  H5open();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  SimConfig c = tiny();
  TempDir dir("bshuf");
  WriteOptions o;
  o.out = (dir.path / "scan.h5").string();
  o.compression = "bitshuffle";
  try {
    write_scan(c, o);
  } catch (const laueproc::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bitshuffle"), std::string::npos);
    GTEST_SKIP() << "bitshuffle filter not available: " << e.what();
  }
  check_stack("bitshuffle", 32008);
}

TEST(WriteScan, PerFrameFiles) {
  TempDir dir("files");
  const SimConfig c = tiny();
  WriteOptions o;
  o.layout = laueproc::ScanLayout::per_frame_files;
  o.out = (dir.path / "frames").string();
  o.compression = "gzip";
  o.threads = 3;
  const WrittenScan w = write_scan(c, o);
  EXPECT_EQ(w.path, o.out);
  EXPECT_EQ(w.truth_frames_csv, (dir.path / "frames" / "truth_frames.csv").string());
  const ScanSimulator sim(c);
  std::vector<std::uint16_t> frame;
  for (int i = 0; i < 6; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "scan_%05d.h5", i);
    const std::string path = (fs::path(o.out) / name).string();
    ASSERT_TRUE(fs::exists(path)) << path;
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    std::vector<hsize_t> dims;
    const auto data = read_u16(file, "/entry1/data/data", dims);
    ASSERT_EQ(dims, (std::vector<hsize_t>{96, 128}));
    sim.render(i, frame, nullptr);
    EXPECT_EQ(data, frame);
    EXPECT_DOUBLE_EQ(read_double(file, "/entry1/sample/sampleX"), (i % 3) * 0.5);
    EXPECT_DOUBLE_EQ(read_double(file, "/entry1/sample/sampleY"), (i / 3) * 0.5);
    EXPECT_DOUBLE_EQ(read_double(file, "/entry1/detector/Nx"), 128);
    EXPECT_DOUBLE_EQ(read_double(file, "/entry1/detector/Ny"), 96);
    hid_t entry = H5Gopen2(file, "/entry1", H5P_DEFAULT);
    EXPECT_EQ(read_attr(entry, "NX_class"), "NXentry");
    EXPECT_EQ(read_attr(entry, "program"), "laueproc simulate");
    H5Gclose(entry);
    H5Fclose(file);
  }
  EXPECT_FALSE(fs::exists(fs::path(o.out) / "scan_00006.h5"));
  EXPECT_EQ(read_lines(w.truth_frames_csv).size(), 7u);
  // Rewriting into the same folder is refused unless asked; a foreign HDF5 file there is refused.
  EXPECT_THROW(write_scan(c, o), laueproc::OutputError);
  o.overwrite = true;
  EXPECT_NO_THROW(write_scan(c, o));
  std::ofstream(fs::path(o.out) / "other.h5") << "x";
  EXPECT_THROW(write_scan(c, o), laueproc::UsageError);
  for (const auto& entry : fs::directory_iterator(o.out))
    EXPECT_EQ(entry.path().filename().string().find("partial"), std::string::npos) << "no staging folder left";
}

TEST(WriteScan, BadOptions) {
  TempDir dir("bad");
  WriteOptions o;
  o.out = (dir.path / "scan.h5").string();
  o.compression = "zip";
  EXPECT_THROW(write_scan(tiny(), o), laueproc::UsageError);
  o.compression = "none";
  o.out = dir.path.string();  // a directory for a stack
  EXPECT_THROW(write_scan(tiny(), o), laueproc::UsageError);
}
