// Particle masks (Otsu, 8-connected labelling, specks) and the XANES simulator against its truth.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <unistd.h>

#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"

namespace xa = laueproc::xanes;
namespace fs = std::filesystem;

TEST(XanesParticles, OtsuSplitsABimodalHistogram) {
  std::mt19937 rng(7);
  std::normal_distribution<double> a(10.0, 2.0), b(50.0, 4.0);
  std::vector<double> v;
  for (int i = 0; i < 3000; ++i) v.push_back(a(rng));
  for (int i = 0; i < 1000; ++i) v.push_back(b(rng));
  v.push_back(NAN);  // ignored
  const double t = xa::otsu_threshold(v.data(), v.size());
  EXPECT_GT(t, 20.0);
  EXPECT_LT(t, 38.0);
  // Every low-mode sample below, every high-mode sample above (the modes are 10 sigma apart).
  std::size_t low_above = 0, high_below = 0;
  for (int i = 0; i < 3000; ++i) low_above += v[static_cast<std::size_t>(i)] > t;
  for (int i = 3000; i < 4000; ++i) high_below += v[static_cast<std::size_t>(i)] <= t;
  EXPECT_EQ(low_above, 0u);
  EXPECT_EQ(high_below, 0u);
  // Exactly two values: the cut lies between them.
  std::vector<double> two{1.0, 1.0, 1.0, 5.0, 5.0};
  const double t2 = xa::otsu_threshold(two.data(), two.size());
  EXPECT_GE(t2, 1.0);
  EXPECT_LT(t2, 5.0);
  std::vector<double> flat{3.0, 3.0, NAN};
  EXPECT_TRUE(std::isnan(xa::otsu_threshold(flat.data(), flat.size())));
}

TEST(XanesParticles, LabelsEightConnectedAndDropsSpecks) {
  const std::size_t ny = 12, nx = 16;
  std::vector<double> xrf(ny * nx, 5.0);
  auto set = [&](std::size_t y, std::size_t x) { xrf[y * nx + x] = 100.0; };
  // A: 3x3 block at (1..3, 1..3) -> 9 px, first in raster order.
  for (std::size_t y = 1; y <= 3; ++y)
    for (std::size_t x = 1; x <= 3; ++x) set(y, x);
  // B: two 2x2 blocks touching only at a corner: one particle under 8-connectivity (8 px).
  for (std::size_t y = 2; y <= 3; ++y)
    for (std::size_t x = 8; x <= 9; ++x) set(y, x);
  for (std::size_t y = 4; y <= 5; ++y)
    for (std::size_t x = 10; x <= 11; ++x) set(y, x);
  // Speck: 2 px, dropped at min 4.
  set(9, 3);
  set(9, 4);
  // C: 4 px line, kept (exactly min 4).
  for (std::size_t x = 10; x <= 13; ++x) set(10, x);
  xrf[11 * nx + 0] = NAN;  // NaN is background

  xa::MaskSettings ms;
  ms.min_particle_pixels = 4;
  auto pm = xa::label_particles(xrf, ny, nx, "xrf", ms);
  EXPECT_EQ(pm.method, "xrf-otsu");
  EXPECT_GT(pm.threshold, 5.0);
  EXPECT_LT(pm.threshold, 100.0);
  ASSERT_EQ(pm.n_particles, 3);
  ASSERT_EQ(pm.sizes.size(), 3u);
  EXPECT_EQ(pm.sizes[0], 9);
  EXPECT_EQ(pm.sizes[1], 8);
  EXPECT_EQ(pm.sizes[2], 4);
  EXPECT_EQ(pm.labels[2 * nx + 2], 1);
  EXPECT_EQ(pm.labels[2 * nx + 8], 2);
  EXPECT_EQ(pm.labels[5 * nx + 11], 2);  // across the corner
  EXPECT_EQ(pm.labels[9 * nx + 3], 0);   // speck dropped
  EXPECT_EQ(pm.labels[10 * nx + 13], 3);
  EXPECT_EQ(pm.labels[0], 0);
  EXPECT_EQ(pm.signal.size(), ny * nx);

  ms.threshold = 50.0;
  ms.min_particle_pixels = 1;
  auto pm2 = xa::label_particles(xrf, ny, nx, "xrf", ms);
  EXPECT_EQ(pm2.method, "xrf-threshold");
  EXPECT_EQ(pm2.n_particles, 4);  // the speck now counts
  ms.threshold = 1000.0;
  EXPECT_EQ(xa::label_particles(xrf, ny, nx, "xrf", ms).n_particles, 0);
}

TEST(XanesParticles, EdgeJumpAndRangeMaps) {
  xa::Stack st;
  st.ny = 1;
  st.nx = 3;
  st.energy_ev = {7735, 7721, 7728};  // highest first on purpose
  st.data = {/*7735*/ 1.0f, 2.0f, 0.5f, /*7721*/ 0.1f, 0.5f, 0.5f, /*7728*/ 1.5f, 3.0f, NAN};
  auto ej = xa::edge_jump_map(st);
  EXPECT_NEAR(ej[0], 0.9, 1e-6);
  EXPECT_NEAR(ej[1], 1.5, 1e-6);
  EXPECT_NEAR(ej[2], 0.0, 1e-6);
  auto rg = xa::signal_range_map(st);
  EXPECT_NEAR(rg[0], 1.4, 1e-6);
  EXPECT_NEAR(rg[1], 2.5, 1e-6);
  EXPECT_TRUE(std::isnan(rg[2]));
}

TEST(XanesSimulate, FitRecoversTruthAndMasksFindTheParticles) {
  xa::XanesSimConfig c;
  c.nx = 64;
  c.ny = 56;
  c.n_particles = 6;
  c.noise = 0.01;
  c.seed = 3;
  auto sim = xa::simulate_xanes_stack(c);
  ASSERT_EQ(sim.stack.energy_ev.size(), 15u);
  EXPECT_DOUBLE_EQ(sim.stack.energy_ev.front(), 7721.0);
  EXPECT_DOUBLE_EQ(sim.stack.energy_ev.back(), 7735.0);
  ASSERT_EQ(sim.stack.xrf.size(), c.nx * c.ny);
  const int k_true = static_cast<int>(sim.particle_wl_ev.size());
  ASSERT_GE(k_true, 4);
  for (double wl : sim.particle_wl_ev) {
    EXPECT_GE(wl, c.wl_lo_ev);
    EXPECT_LE(wl, c.wl_hi_ev);
  }

  // Round trip through the file, then fit.
  fs::path dir = fs::temp_directory_path() / ("laueproc_xanes_sim_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "sim.h5").string();
  xa::write_simulated_stack(path, sim);
  auto st = xa::read_stack(path);
  ASSERT_EQ(st.xrf.size(), c.nx * c.ny);
  EXPECT_EQ(st.xrf[5], sim.stack.xrf[5]);
  xa::WhiteLineFitter fitter(st.energy_ev);
  std::vector<xa::FitResult> res(st.ny * st.nx);
  fitter.fit_many(st.data.data(), res.size(), res.data(), 1);
  double ss = 0;
  std::size_t n = 0, n_inside = 0;
  for (std::size_t p = 0; p < res.size(); ++p) {
    if (sim.true_particles[p] == 0) continue;
    ++n_inside;
    if (res[p].status != xa::FitStatus::ok) continue;
    const double d = res[p].white_line_ev - sim.true_white_line_ev[p];
    ss += d * d;
    ++n;
  }
  ASSERT_GT(n, 0.95 * static_cast<double>(n_inside));
  const double rms = std::sqrt(ss / static_cast<double>(n));
  EXPECT_LE(rms, 0.1) << "RMS white-line error " << rms << " eV over " << n << " pixels";

  // Masks: XRF (Otsu) and edge jump (Otsu) both find exactly the simulated particles.
  for (const char* source : {"xrf", "edge-jump"}) {
    std::vector<double> signal = std::string(source) == "xrf" ? std::vector<double>(st.xrf.begin(), st.xrf.end())
                                                              : xa::edge_jump_map(st);
    auto pm = xa::label_particles(signal, st.ny, st.nx, source, {});
    EXPECT_EQ(pm.n_particles, k_true) << source;
    std::map<int, std::set<int>> truth_to_label;
    std::size_t agree = 0;
    for (std::size_t p = 0; p < res.size(); ++p) {
      if (sim.true_particles[p] > 0 && pm.labels[p] > 0) truth_to_label[sim.true_particles[p]].insert(pm.labels[p]);
      agree += (sim.true_particles[p] > 0) == (pm.labels[p] > 0);
    }
    EXPECT_EQ(truth_to_label.size(), static_cast<std::size_t>(k_true)) << source;
    for (const auto& [t, labels] : truth_to_label) EXPECT_EQ(labels.size(), 1u) << source << " particle " << t;
    EXPECT_GE(static_cast<double>(agree), 0.98 * static_cast<double>(res.size())) << source;
  }

  // Results file carries the particle map and the mask attributes; pixels.csv the labels.
  auto pm = xa::label_particles(std::vector<double>(st.xrf.begin(), st.xrf.end()), st.ny, st.nx, "xrf", {});
  const std::string out = (dir / "xanes.h5").string();
  xa::write_results(out, res, st.ny, st.nx, st.energy_ev, {}, path, &pm);
  hid_t f = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  std::vector<std::int32_t> labels(st.ny * st.nx);
  hid_t d = H5Dopen2(f, "/xanes/particles", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data());
  H5Dclose(d);
  EXPECT_EQ(labels, pm.labels);
  hid_t ms = H5Dopen2(f, "/xanes/mask_signal", H5P_DEFAULT);
  ASSERT_GE(ms, 0);
  double thr = 0;
  hid_t a = H5Aopen(ms, "mask_threshold", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, &thr);
  H5Aclose(a);
  EXPECT_DOUBLE_EQ(thr, pm.threshold);
  H5Dclose(ms);
  H5Fclose(f);
  auto csv = xa::write_pixels_csv((dir / "csv").string(), res, st.ny, st.nx, &pm.labels);
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::size_t with_particle = 0, rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    with_particle += line.substr(line.rfind(',') + 1) != "0";
  }
  EXPECT_EQ(rows, st.ny * st.nx);
  std::size_t expected = 0;
  for (auto l : pm.labels) expected += l > 0;
  EXPECT_EQ(with_particle, expected);
  fs::remove_all(dir);
}

TEST(XanesSimulate, SeMapDrivesParticleMeans) {
  xa::XanesSimConfig c;
  c.nx = 48;
  c.ny = 48;
  c.n_particles = 5;
  c.seed = 11;
  c.se_map.assign(c.nx * c.ny, 0.0);
  for (std::size_t y = 0; y < c.ny; ++y)
    for (std::size_t x = 0; x < c.nx; ++x) c.se_map[y * c.nx + x] = 0.6 + 0.8 * static_cast<double>(x) / 47.0;
  c.particle_wl_sigma_ev = 0.0;
  auto sim = xa::simulate_xanes_stack(c);
  // Particle mean white line = wl_lo + slope * (mean SE - 1) exactly (no particle scatter).
  std::vector<double> sum(sim.particle_wl_ev.size(), 0.0);
  std::vector<int> cnt(sim.particle_wl_ev.size(), 0);
  for (std::size_t p = 0; p < c.nx * c.ny; ++p)
    if (sim.true_particles[p] > 0) {
      sum[static_cast<std::size_t>(sim.true_particles[p] - 1)] += c.se_map[p];
      ++cnt[static_cast<std::size_t>(sim.true_particles[p] - 1)];
    }
  for (std::size_t k = 0; k < sum.size(); ++k)
    EXPECT_NEAR(sim.particle_wl_ev[k], c.wl_lo_ev + c.se_slope_ev * (sum[k] / cnt[k] - 1), 1e-9) << k;
}

TEST(XanesParticles, ReadMapChecksTheShape) {
  fs::path dir = fs::temp_directory_path() / ("laueproc_xanes_map_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  xa::Stack st;
  st.ny = 3;
  st.nx = 4;
  st.energy_ev = {7721, 7722};
  st.data.assign(24, 1.0f);
  st.xrf.assign(12, 2.0f);
  st.xrf[5] = 9.0f;
  const std::string p = (dir / "s.h5").string();
  xa::write_stack(p, st);
  auto m = xa::read_map(p, "/exchange/xrf", 3, 4);
  EXPECT_EQ(m[5], 9.0f);
  try {
    xa::read_map(p, "/exchange/xrf", 4, 3);
    FAIL() << "shape mismatch accepted";
  } catch (const laueproc::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/exchange/xrf is 3 x 4, the stack is 4 x 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(xa::read_map(p, "/exchange/nope", 3, 4), laueproc::InputError);
  fs::remove_all(dir);
}
