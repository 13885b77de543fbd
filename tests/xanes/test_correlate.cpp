// laueproc correlate: statistics against hand-computed values, errors, and a file round trip.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "laueproc/correlate.hpp"
#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"

namespace co = laueproc::correlate;
namespace xa = laueproc::xanes;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("laueproc_corr_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// A minimal `laueproc process` results file: /maps/se/se (float32) with x_um / y_um axes.
void write_process_file(const std::string& path, const std::vector<float>& se, std::size_t ny, std::size_t nx) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hsize_t dims[2] = {ny, nx};
  hid_t sp = H5Screate_simple(2, dims, nullptr);
  hid_t d = H5Dcreate2(f, "/maps/se/se", H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  ASSERT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, se.data()), 0);
  H5Dclose(d);
  H5Sclose(sp);
  for (auto [name, n] : {std::pair<const char*, std::size_t>{"/maps/se/x_um", nx}, {"/maps/se/y_um", ny}}) {
    std::vector<double> axis(n);
    for (std::size_t i = 0; i < n; ++i) axis[i] = 0.5 * static_cast<double>(i);
    hsize_t len = n;
    hid_t s1 = H5Screate_simple(1, &len, nullptr);
    hid_t a = H5Dcreate2(f, name, H5T_IEEE_F64LE, s1, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(a, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, axis.data());
    H5Dclose(a);
    H5Sclose(s1);
  }
  H5Pclose(lcpl);
  H5Fclose(f);
}

// A xanes results file with the given white lines, statuses and particle labels.
void write_xanes_file(const std::string& path, const std::vector<double>& wl, const std::vector<int>& status,
                      const std::vector<std::int32_t>& labels, std::size_t ny, std::size_t nx) {
  std::vector<xa::FitResult> res(ny * nx);
  for (std::size_t p = 0; p < res.size(); ++p) {
    res[p].white_line_ev = wl[p];
    res[p].status = static_cast<xa::FitStatus>(status[p]);
  }
  xa::ParticleMap pm;
  pm.ny = ny;
  pm.nx = nx;
  pm.labels = labels;
  pm.signal.assign(ny * nx, 0.0);
  pm.method = "test";
  pm.threshold = 0.5;
  for (auto l : labels) pm.n_particles = std::max(pm.n_particles, static_cast<int>(l));
  xa::write_results(path, res, ny, nx, {7721, 7722, 7723}, {}, "test", &pm);
}

std::vector<std::vector<std::string>> read_csv(const std::string& path, std::string& header) {
  std::ifstream in(path);
  std::getline(in, header);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}

std::string error_of(const std::vector<co::StateInput>& states, const co::Settings& s = {}) {
  try {
    co::run(states, s);
  } catch (const laueproc::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(CorrelateStats, PearsonSpearmanByHand) {
  const double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 5, 4, 5};
  EXPECT_NEAR(co::pearson(x, y, 5), 0.7745966692, 1e-9);
  // Ranks of y with ties: 1, 2.5, 4.5, 2.5, 4.5; rho = 7 / sqrt(10 * 9).
  auto r = co::average_ranks(y, 5);
  EXPECT_EQ(r, (std::vector<double>{1, 2.5, 4.5, 2.5, 4.5}));
  EXPECT_NEAR(co::spearman(x, y, 5), 7.0 / std::sqrt(90.0), 1e-12);
  const double z[] = {5, 4, 3, 2, 1};
  EXPECT_NEAR(co::spearman(x, z, 5), -1.0, 1e-12);
  const double c[] = {3, 3, 3, 3, 3};
  EXPECT_TRUE(std::isnan(co::pearson(x, c, 5)));
  EXPECT_TRUE(std::isnan(co::pearson(x, y, 1)));
}

TEST(CorrelateStats, LineFitAgainstNormalEquationsInLongDouble) {
  const double x[] = {0.62, 0.81, 0.97, 1.16, 1.49, 1.03};
  const double y[] = {7727.12, 7727.93, 7728.21, 7729.04, 7729.61, 7728.55};
  const std::size_t n = 6;
  auto f = co::fit_line(x, y, n);
  // Independent: normal equations on raw sums, long double.
  long double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sx += x[i];
    sy += y[i];
    sxx += (long double)x[i] * x[i];
    sxy += (long double)x[i] * y[i];
  }
  const long double N = n, det = N * sxx - sx * sx;
  const long double b = (N * sxy - sx * sy) / det, a = (sy * sxx - sx * sxy) / det;
  long double ssr = 0;
  for (std::size_t i = 0; i < n; ++i) ssr += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
  const long double s2 = ssr / (N - 2);
  const long double se_b = std::sqrt(N * s2 / det), se_a = std::sqrt(s2 * sxx / det);
  EXPECT_NEAR(f.slope, (double)b, 1e-9);
  EXPECT_NEAR(f.intercept, (double)a, 1e-8);
  EXPECT_NEAR(f.slope_stderr, (double)se_b, 1e-9);
  EXPECT_NEAR(f.intercept_stderr, (double)se_a, 1e-9);
  EXPECT_EQ(f.n, n);
  // Two points: a line but no standard errors.
  auto two = co::fit_line(x, y, 2);
  EXPECT_NEAR(two.slope, (y[1] - y[0]) / (x[1] - x[0]), 1e-9);
  EXPECT_TRUE(std::isnan(two.slope_stderr));
}

TEST(CorrelateStats, SummaryAndHistogram) {
  std::vector<double> v{4, 1, 3, 2};
  auto s = co::summarise(v);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_NEAR(s.std, std::sqrt(5.0 / 3.0), 1e-12);
  std::vector<double> odd{9, 1, 5};
  EXPECT_DOUBLE_EQ(co::summarise(odd).median, 5.0);
  std::vector<double> one{2};
  EXPECT_TRUE(std::isnan(co::summarise(one).std));
  auto h = co::histogram({0.0, 0.1, 0.5, 0.99, 1.0, 1.5, -0.1}, 0.0, 1.0, 4);
  EXPECT_EQ(h.edges, (std::vector<double>{0, 0.25, 0.5, 0.75, 1.0}));
  EXPECT_EQ(h.counts, (std::vector<std::int64_t>{2, 0, 1, 2}));  // 1.0 in the last (closed) bin
}

// Layout used by the round trip: 8 x 10 grid, three particles (rectangles), one NaN SE pixel and
// one failed fit inside particle 1.
struct Scene {
  std::size_t ny = 8, nx = 10;
  std::vector<float> se;
  std::vector<double> wl;
  std::vector<int> status;
  std::vector<std::int32_t> labels;
};

Scene make_scene(double wl_shift) {
  Scene s;
  const std::size_t n = s.ny * s.nx;
  s.se.assign(n, NAN);
  s.wl.assign(n, 7729.0);
  s.status.assign(n, 0);
  s.labels.assign(n, 0);
  const std::size_t boxes[3][4] = {{1, 3, 1, 3}, {1, 4, 5, 8}, {5, 7, 2, 6}};  // y0,y1,x0,x1 inclusive
  const double se_base[3] = {0.6, 1.0, 1.3};
  for (int k = 0; k < 3; ++k)
    for (std::size_t y = boxes[k][0]; y <= boxes[k][1]; ++y)
      for (std::size_t x = boxes[k][2]; x <= boxes[k][3]; ++x) {
        const std::size_t p = y * s.nx + x;
        s.labels[p] = k + 1;
        const double jitter = 0.01 * static_cast<double>((x * 7 + y * 3) % 5);
        s.se[p] = static_cast<float>(se_base[k] + jitter);
        s.wl[p] = 7727.0 + 2.0 * se_base[k] + 0.3 * static_cast<double>((x + 2 * y) % 3) + wl_shift;
      }
  for (std::size_t p = 0; p < n; ++p)
    if (s.labels[p] == 0) s.se[p] = 2.0f;  // background SE is ignored (outside particles)
  s.se[2 * s.nx + 2] = NAN;   // particle 1: no SE here
  s.status[3 * s.nx + 3] = 2; // particle 1: fit at the window edge, not ok
  return s;
}

TEST(CorrelateRun, RoundTripAgainstDirectComputation) {
  auto dir = temp_dir("roundtrip");
  std::vector<co::StateInput> states;
  for (int k = 0; k < 2; ++k) {
    Scene s = make_scene(k == 0 ? 0.0 : 0.5);
    const std::string name = k == 0 ? "pristine" : "delithiated";
    const std::string pp = (dir / (name + "_results.h5")).string(), xp = (dir / (name + "_xanes.h5")).string();
    write_process_file(pp, s.se, s.ny, s.nx);
    write_xanes_file(xp, s.wl, s.status, s.labels, s.ny, s.nx);
    states.push_back({name, pp, xp});
  }
  co::Settings settings;
  settings.bins = 5;
  auto r = co::run(states, settings);
  ASSERT_EQ(r.particles.size(), 6u);
  co::write_csv((dir / "csv").string(), r);
  co::write_hdf5((dir / "corr.h5").string(), r, "test");

  // Expected, computed straight from the scene.
  Scene s = make_scene(0.0);
  std::vector<double> means_se, means_wl;
  for (int k = 1; k <= 3; ++k) {
    long double sse = 0, swl = 0;
    int n = 0;
    for (std::size_t p = 0; p < s.se.size(); ++p)
      if (s.labels[p] == k && std::isfinite(s.se[p]) && s.status[p] == 0) {
        sse += static_cast<double>(s.se[p]);
        swl += s.wl[p];
        ++n;
      }
    means_se.push_back(static_cast<double>(sse / n));
    means_wl.push_back(static_cast<double>(swl / n));
  }
  std::string header;
  auto rows = read_csv((dir / "csv" / "particles.csv").string(), header);
  EXPECT_EQ(header, "state,particle,n_pixels,se_mean,se_median,se_std,wl_mean_ev,wl_median_ev,wl_std_ev,pointwise_r,pointwise_n");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0][0], "pristine");
  EXPECT_EQ(rows[0][1], "1");
  EXPECT_EQ(rows[0][2], "7");  // 3 x 3 minus the NaN SE pixel and the failed fit
  EXPECT_EQ(rows[1][2], "16");
  EXPECT_EQ(rows[2][2], "15");
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(std::stod(rows[static_cast<std::size_t>(k)][3]), means_se[static_cast<std::size_t>(k)], 1e-6);
    EXPECT_NEAR(std::stod(rows[static_cast<std::size_t>(k)][6]), means_wl[static_cast<std::size_t>(k)], 1e-6);
    EXPECT_NEAR(std::stod(rows[static_cast<std::size_t>(k) + 3][6]), means_wl[static_cast<std::size_t>(k)] + 0.5, 1e-6);
  }
  auto across = read_csv((dir / "csv" / "across.csv").string(), header);
  EXPECT_EQ(header, "state,n,pearson_r,spearman_rho,slope,slope_stderr,intercept,intercept_stderr");
  ASSERT_EQ(across.size(), 2u);
  EXPECT_EQ(across[0][1], "3");
  EXPECT_NEAR(std::stod(across[0][2]), co::pearson(means_se.data(), means_wl.data(), 3), 1e-8);
  EXPECT_NEAR(std::stod(across[0][3]), 1.0, 1e-12);  // monotone by construction
  auto line = co::fit_line(means_se.data(), means_wl.data(), 3);
  EXPECT_NEAR(std::stod(across[0][4]), line.slope, 1e-7);
  EXPECT_NEAR(std::stod(across[1][6]), line.intercept + 0.5, 1e-6);

  auto shifts = read_csv((dir / "csv" / "shifts.csv").string(), header);
  ASSERT_GE(shifts.size(), 3u);
  EXPECT_NEAR(std::stod(shifts[0][4]), 0.5, 1e-9);
  EXPECT_NEAR(std::stod(shifts[0][3]), 0.0, 1e-9);
  ASSERT_EQ(r.overall.size(), 1u);
  EXPECT_NEAR(r.overall[0].d_wl_mean_ev, 0.5, 1e-9);

  // HDF5: the table, across attributes and one histogram.
  hid_t f = H5Fopen((dir / "corr.h5").string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t d = H5Dopen2(f, "/correlation/particles", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  hid_t sp = H5Dget_space(d);
  EXPECT_EQ(H5Sget_simple_extent_npoints(sp), 6);
  H5Sclose(sp);
  H5Dclose(d);
  hid_t g = H5Gopen2(f, "/correlation/across/pristine", H5P_DEFAULT);
  ASSERT_GE(g, 0);
  double slope = 0;
  hid_t a = H5Aopen(g, "slope", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, &slope);
  H5Aclose(a);
  EXPECT_NEAR(slope, line.slope, 1e-9);
  H5Gclose(g);
  hid_t hc = H5Dopen2(f, "/correlation/histograms/delithiated/particle_2/wl_counts", H5P_DEFAULT);
  ASSERT_GE(hc, 0);
  std::vector<std::int64_t> counts(5);
  H5Dread(hc, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, counts.data());
  H5Dclose(hc);
  std::int64_t total = 0;
  for (auto c : counts) total += c;
  EXPECT_EQ(total, 16);
  EXPECT_GE(H5Lexists(f, "/correlation/shifts", H5P_DEFAULT), 1);
  H5Fclose(f);
  fs::remove_all(dir);
}

TEST(CorrelateRun, AlignmentOffsetAndScale) {
  auto dir = temp_dir("align");
  Scene s = make_scene(0.0);
  const std::string xp = (dir / "x.h5").string();
  write_xanes_file(xp, s.wl, s.status, s.labels, s.ny, s.nx);
  // SE map one column wider, shifted right by one: --offset 1,0 puts it back.
  std::vector<float> wide(s.ny * (s.nx + 1), NAN);
  for (std::size_t y = 0; y < s.ny; ++y)
    for (std::size_t x = 0; x < s.nx; ++x) wide[y * (s.nx + 1) + x + 1] = s.se[y * s.nx + x];
  const std::string pw = (dir / "wide.h5").string();
  write_process_file(pw, wide, s.ny, s.nx + 1);
  const std::string msg = error_of({{"a", pw, xp}});
  EXPECT_NE(msg.find(xp), std::string::npos) << msg;
  EXPECT_NE(msg.find(pw), std::string::npos) << msg;
  EXPECT_NE(msg.find("8 x 10"), std::string::npos) << msg;
  EXPECT_NE(msg.find("8 x 11"), std::string::npos) << msg;
  co::Settings st;
  st.align.dx = 1;
  st.align.given = true;
  auto r = co::run({{"a", pw, xp}}, st);
  EXPECT_EQ(r.particles[0].n_pixels, 7);
  EXPECT_NEAR(r.particles[1].se.mean, 1.0 + 0.01 * 2, 0.03);
  // SE map twice as fine: each 2 x 2 block carries the XANES pixel's value.
  std::vector<float> fine(4 * s.ny * s.nx);
  for (std::size_t y = 0; y < 2 * s.ny; ++y)
    for (std::size_t x = 0; x < 2 * s.nx; ++x) fine[y * 2 * s.nx + x] = s.se[(y / 2) * s.nx + x / 2];
  const std::string pf = (dir / "fine.h5").string();
  write_process_file(pf, fine, 2 * s.ny, 2 * s.nx);
  co::Settings sc;
  sc.align.scale = 2;
  sc.align.given = true;
  auto r2 = co::run({{"a", pf, xp}}, sc);
  auto r1 = co::run({{"a", (dir / "wide.h5").string(), xp}}, st);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(r2.particles[k].se.mean, r1.particles[k].se.mean, 1e-6);
  fs::remove_all(dir);
}

TEST(CorrelateRun, SecondStateUsesTheFirstParticleMapUnlessOwn) {
  auto dir = temp_dir("own");
  Scene s = make_scene(0.0);
  const std::string pp = (dir / "p.h5").string(), x1 = (dir / "x1.h5").string(), x2 = (dir / "x2.h5").string();
  write_process_file(pp, s.se, s.ny, s.nx);
  write_xanes_file(x1, s.wl, s.status, s.labels, s.ny, s.nx);
  // The second file's mask swaps labels 1 and 3.
  std::vector<std::int32_t> swapped = s.labels;
  for (auto& l : swapped) l = l == 1 ? 3 : (l == 3 ? 1 : l);
  write_xanes_file(x2, s.wl, s.status, swapped, s.ny, s.nx);
  auto r = co::run({{"a", pp, x1}, {"b", pp, x2}});
  EXPECT_EQ(r.particles[3].n_pixels, 7);  // state b, particle 1 = the first file's particle 1
  EXPECT_NEAR(r.shifts[0].d_wl_mean_ev, 0.0, 1e-12);
  co::Settings own;
  own.own_particles = true;
  auto r2 = co::run({{"a", pp, x1}, {"b", pp, x2}}, own);
  EXPECT_EQ(r2.particles[3].n_pixels, 15);  // its own label 1 is the 15-pixel particle
  fs::remove_all(dir);
}

TEST(CorrelateRun, ErrorsNameFileAndProblem) {
  auto dir = temp_dir("errors");
  Scene s = make_scene(0.0);
  const std::string xp = (dir / "x.h5").string(), pp = (dir / "p.h5").string();
  write_xanes_file(xp, s.wl, s.status, s.labels, s.ny, s.nx);
  write_process_file(pp, s.se, s.ny, s.nx);
  // All-NaN SE.
  const std::string pn = (dir / "nan.h5").string();
  write_process_file(pn, std::vector<float>(s.se.size(), NAN), s.ny, s.nx);
  std::string msg = error_of({{"a", pn, xp}});
  EXPECT_NE(msg.find(pn + ": /maps/se/se is all NaN"), std::string::npos) << msg;
  // No particles.
  const std::string xn = (dir / "none.h5").string();
  write_xanes_file(xn, s.wl, s.status, std::vector<std::int32_t>(s.labels.size(), 0), s.ny, s.nx);
  msg = error_of({{"a", pp, xn}});
  EXPECT_NE(msg.find(xn + ": /xanes/particles holds no particle"), std::string::npos) << msg;
  // All white lines failed.
  const std::string xf = (dir / "failed.h5").string();
  write_xanes_file(xf, s.wl, std::vector<int>(s.wl.size(), 3), s.labels, s.ny, s.nx);
  msg = error_of({{"a", pp, xf}});
  EXPECT_NE(msg.find("no finite value with status ok"), std::string::npos) << msg;
  // Missing file, missing dataset (a xanes file is not a process file).
  msg = error_of({{"a", (dir / "absent.h5").string(), xp}});
  EXPECT_NE(msg.find("absent.h5: no such file"), std::string::npos) << msg;
  msg = error_of({{"a", xp, xp}});
  EXPECT_NE(msg.find("no dataset /maps/se/se"), std::string::npos) << msg;
  // Transposed grid.
  const std::string pt = (dir / "t.h5").string();
  write_process_file(pt, std::vector<float>(s.se.size(), 1.0f), s.nx, s.ny);
  msg = error_of({{"a", pt, xp}});
  EXPECT_NE(msg.find("white-line map is 8 x 10 but /maps/se/se in " + pt + " is 10 x 8"), std::string::npos) << msg;
  EXPECT_THROW(co::run({{"a", pt, xp}}), laueproc::InputError);
  EXPECT_THROW(co::run({{"a/b", pp, xp}}), laueproc::UsageError);
  EXPECT_THROW(co::run({{"a", pp, xp}, {"a", pp, xp}}), laueproc::UsageError);
  fs::remove_all(dir);
}
