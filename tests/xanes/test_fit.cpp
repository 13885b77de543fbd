// White-line fits: real reference spectra (README table), synthetic ground truth, fast vs direct.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <random>

#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"

namespace xa = laueproc::xanes;

namespace {

std::string data_file(const std::string& name) { return std::string(LAUEPROC_TEST_DATA_DIR) + "/xanes/" + name; }

xa::FitResult fit_file(const std::string& name, int order, std::optional<std::pair<double, double>> window) {
  auto sp = xa::read_spectrum_text(data_file(name));
  xa::FitSettings s;
  s.order = order;
  s.search_window = window;
  xa::WhiteLineFitter fitter(sp.energy_ev, s);
  return fitter.fit(sp.mu.at(0).data());
}

// Co foil linearly resampled onto the beamline's 7721..7735 eV, 1 eV steps.
std::pair<std::vector<double>, std::vector<double>> co_resampled() {
  auto sp = xa::read_spectrum_text(data_file("co_metal_rt.xdi"));
  std::vector<double> e, mu;
  for (int k = 0; k <= 14; ++k) {
    double x = 7721.0 + k;
    std::size_t i = std::upper_bound(sp.energy_ev.begin(), sp.energy_ev.end(), x) - sp.energy_ev.begin();
    double w = (x - sp.energy_ev[i - 1]) / (sp.energy_ev[i] - sp.energy_ev[i - 1]);
    e.push_back(x);
    mu.push_back(sp.mu[0][i - 1] + w * (sp.mu[0][i] - sp.mu[0][i - 1]));
  }
  return {e, mu};
}

struct RefRow {
  const char* file;
  double lo, hi;
  double quadratic, cubic;
};

// white lines from an independent implementation of the method (tests/data/README.md)
const RefRow kRows[] = {
    {"co_metal_rt.xdi", 7709, 7740, 7732.46, 7732.73},
    {"MnO_rt_01.xdi", 6545, 6575, 6554.07, 6554.26},
    {"MnO2_rt_01.xdi", 6545, 6575, 6561.03, 6560.61},
    {"pyxas_ref_NiO.txt", 8340, 8360, 8347.73, 8347.90},
    {"pyxas_ref_LiNiO2.txt", 8340, 8360, 8349.87, 8349.76},
};

// Arctan edge + Gaussian white line; the truth is the noiseless function's maximum.
struct Synth {
  double edge, wl, sigma, amp;
  double operator()(double e) const {
    return 0.5 + std::atan((e - edge) / 1.0) / M_PI + amp * std::exp(-0.5 * (e - wl) * (e - wl) / (sigma * sigma));
  }
  double true_max() const {
    double best_e = wl, best = (*this)(wl);
    for (double e = wl - 3; e <= wl + 3; e += 1e-4)
      if ((*this)(e) > best) best = (*this)(e), best_e = e;
    return best_e;
  }
};

std::vector<double> beamline_energies() {
  std::vector<double> e;
  for (int k = 0; k <= 14; ++k) e.push_back(7721.0 + k);
  return e;
}

}  // namespace

TEST(XanesReference, ReadmeTableQuadraticAndCubic) {
  for (const auto& row : kRows) {
    for (int order : {2, 3}) {
      auto r = fit_file(row.file, order, std::make_pair(row.lo, row.hi));
      double want = order == 2 ? row.quadratic : row.cubic;
      EXPECT_NEAR(r.white_line_ev, want, 0.05) << row.file << " order " << order;
      EXPECT_EQ(r.status, xa::FitStatus::ok) << row.file << " order " << order << " " << xa::to_string(r.status);
      EXPECT_GT(r.r2, 0.9) << row.file;
    }
  }
}

TEST(XanesReference, NiFilesAreKevAndConverted) {
  auto sp = xa::read_spectrum_text(data_file("pyxas_ref_NiO.txt"));
  EXPECT_TRUE(sp.kev_converted);
  EXPECT_NE(sp.note.find("keV"), std::string::npos);
  EXPECT_NEAR(sp.energy_ev.front(), 8200.0, 1e-6);
  auto co = xa::read_spectrum_text(data_file("co_metal_rt.xdi"));
  EXPECT_FALSE(co.kev_converted);
  ASSERT_EQ(co.names.size(), 1u);
  EXPECT_EQ(co.names[0], "transmission");
  EXPECT_NEAR(co.mu[0][0], std::log(161255.7 / 353515.101331), 1e-9);
}

TEST(XanesReference, CoResampledOntoBeamlineGrid) {
  auto [e, mu] = co_resampled();
  // The resampled foil peaks at 7733 eV, 2 eV below the top of 7721..7735: the maximum is not
  // at the edge (status ok), but the +-3 eV fit range is clipped to 7730..7735 by the data,
  // which moves the cubic white line from 7732.73 (whole spectrum) to 7732.93.
  EXPECT_EQ(std::max_element(mu.begin(), mu.end()) - mu.begin(), 12);
  for (int order : {2, 3}) {
    xa::FitSettings s;
    s.order = order;
    xa::WhiteLineFitter fitter(e, s);
    auto r = fitter.fit(mu.data());
    EXPECT_NEAR(r.white_line_ev, order == 2 ? 7732.49 : 7732.93, 0.05) << "order " << order;
    EXPECT_EQ(r.status, xa::FitStatus::ok) << xa::to_string(r.status);
    auto d = xa::fit_direct(e, mu, s);
    EXPECT_NEAR(d.white_line_ev, r.white_line_ev, 1e-6);
    EXPECT_EQ(d.status, r.status);
  }
  // Cut the beamline range at 7732 eV: now the maximum IS the top end and must be flagged,
  // while the value (the fitted maximum, here the fit range's upper end) is still reported.
  e.resize(12);
  mu.resize(12);
  for (int order : {2, 3}) {
    xa::FitSettings s;
    s.order = order;
    auto r = xa::WhiteLineFitter(e, s).fit(mu.data());
    EXPECT_EQ(r.status, xa::FitStatus::max_at_window_edge) << "order " << order;
    EXPECT_TRUE(std::isfinite(r.white_line_ev));
    EXPECT_LE(r.white_line_ev, 7732.0 + 1e-9);
  }
  // A search window whose upper end cuts the rising edge: maximum at the search-window edge.
  xa::FitSettings s;
  s.search_window = std::make_pair(7721.0, 7727.0);
  auto full = co_resampled();
  auto r = xa::WhiteLineFitter(full.first, s).fit(full.second.data());
  EXPECT_EQ(r.status, xa::FitStatus::max_at_window_edge);
}

TEST(XanesSynthetic, RmsErrorBelowTenthOfEvOver1000Spectra) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> pos(7727.0, 7730.0);
  std::normal_distribution<double> noise(0.0, 0.01);  // 1 % of the unit edge step
  const auto e = beamline_energies();
  xa::FitSettings s;  // cubic, +-3 eV, 0.1 eV grid, whole range
  xa::WhiteLineFitter fitter(e, s);
  double sum2 = 0, bias2 = 0;
  int n_ok = 0;
  std::vector<float> mu(e.size());
  for (int it = 0; it < 1000; ++it) {
    Synth f{7722.0, pos(rng), 2.5, 0.6};
    for (std::size_t i = 0; i < e.size(); ++i) mu[i] = static_cast<float>(f(e[i]));
    double bias = fitter.fit(mu.data()).white_line_ev - f.true_max();
    bias2 += bias * bias;
    for (std::size_t i = 0; i < e.size(); ++i) mu[i] = static_cast<float>(f(e[i]) + noise(rng));
    auto r = fitter.fit(mu.data());
    ASSERT_TRUE(std::isfinite(r.white_line_ev));
    double d = r.white_line_ev - f.true_max();
    sum2 += d * d;
    n_ok += r.status == xa::FitStatus::ok;
  }
  double rms = std::sqrt(sum2 / 1000);
  EXPECT_LE(rms, 0.1) << "rms " << rms << ", noise-free (model bias) rms " << std::sqrt(bias2 / 1000);
  RecordProperty("rms_ev", std::to_string(rms));
  std::printf("synthetic white line: rms %.4f eV, noise-free rms %.4f eV\n", rms, std::sqrt(bias2 / 1000));
  EXPECT_GE(n_ok, 990);
}

TEST(XanesFast, EqualsDirectImplementation) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> pos(7724.0, 7733.0), jitter(-0.3, 0.3);
  std::normal_distribution<double> noise(0.0, 0.02);
  // Integer-eV energies (grid through the samples) and jittered ones (interpolated candidates).
  for (int layout = 0; layout < 2; ++layout) {
    std::vector<double> e = beamline_energies();
    if (layout == 1)
      for (auto& x : e) x += jitter(rng);
    for (int order = 2; order <= 6; ++order) {
      for (double hw : {2.0, 3.0, 4.0}) {
        xa::FitSettings s;
        s.order = order;
        s.half_window_ev = hw;
        if (layout == 1) s.search_window = std::make_pair(7722.5, 7734.0);
        xa::WhiteLineFitter fitter(e, s);
        for (int it = 0; it < 40; ++it) {
          Synth f{7723.0, pos(rng), 1.8, 0.5};
          std::vector<double> mu(e.size());
          for (std::size_t i = 0; i < e.size(); ++i) mu[i] = f(e[i]) + noise(rng);
          auto fast = fitter.fit(mu.data());
          auto slow = xa::fit_direct(e, mu, s);
          ASSERT_EQ(fast.status, slow.status) << "order " << order << " layout " << layout;
          if (fast.status == xa::FitStatus::no_peak_in_window) {  // e.g. order 5 over +-2 eV of 1 eV steps
            EXPECT_TRUE(std::isnan(fast.white_line_ev) && std::isnan(slow.white_line_ev));
            continue;
          }
          EXPECT_NEAR(fast.white_line_ev, slow.white_line_ev, 1e-6) << "order " << order << " layout " << layout;
          EXPECT_NEAR(fast.peak_height, slow.peak_height, 1e-9);
          EXPECT_NEAR(fast.r2, slow.r2, 1e-7);
        }
      }
    }
  }
}

TEST(XanesFast, FitManyEqualsFitAndThreadsAgree) {
  const auto e = beamline_energies();
  const std::size_t np = 3000;
  std::vector<float> data(e.size() * np);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> pos(7726.0, 7731.0);
  for (std::size_t p = 0; p < np; ++p) {
    Synth f{7723.0, pos(rng), 2.0, 0.6};
    for (std::size_t i = 0; i < e.size(); ++i) data[i * np + p] = static_cast<float>(f(e[i]));
  }
  xa::WhiteLineFitter fitter(e, {});
  std::vector<xa::FitResult> one(np), two(np);
  fitter.fit_many(data.data(), np, one.data(), 1);
  fitter.fit_many(data.data(), np, two.data(), 3);
  for (std::size_t p = 0; p < np; p += 7) {
    auto r = fitter.fit(data.data() + p, static_cast<std::ptrdiff_t>(np));
    EXPECT_EQ(r.white_line_ev, one[p].white_line_ev);
    EXPECT_EQ(r.status, one[p].status);
  }
  for (std::size_t p = 0; p < np; ++p) ASSERT_EQ(one[p].white_line_ev, two[p].white_line_ev);
}

TEST(XanesFast, UnsortedEnergiesGiveTheSameResult) {
  std::vector<double> e = beamline_energies();
  Synth f{7723.0, 7728.3, 2.0, 0.6};
  std::vector<double> mu(e.size());
  for (std::size_t i = 0; i < e.size(); ++i) mu[i] = f(e[i]);
  auto sorted = xa::WhiteLineFitter(e, {}).fit(mu.data());
  std::vector<std::size_t> idx(e.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::shuffle(idx.begin(), idx.end(), std::mt19937(99));
  std::vector<double> e2, mu2;
  for (auto i : idx) e2.push_back(e[i]), mu2.push_back(mu[i]);
  auto shuffled = xa::WhiteLineFitter(e2, {}).fit(mu2.data());
  EXPECT_EQ(sorted.status, xa::FitStatus::ok);
  EXPECT_DOUBLE_EQ(sorted.white_line_ev, shuffled.white_line_ev);
  EXPECT_NEAR(sorted.white_line_ev, f.true_max(), 0.2);
}

TEST(XanesFast, BadInputs) {
  std::vector<double> e = beamline_energies();
  auto dup = e;
  dup[5] = dup[4];
  try {
    xa::WhiteLineFitter f(dup, {});
    FAIL() << "duplicates accepted";
  } catch (const std::invalid_argument& ex) {
    EXPECT_NE(std::string(ex.what()).find("duplicate energy 7725"), std::string::npos) << ex.what();
  }
  xa::FitSettings bad;
  bad.order = 7;
  EXPECT_THROW(xa::WhiteLineFitter(e, bad), std::invalid_argument);
  bad = {};
  bad.search_window = std::make_pair(8000.0, 8100.0);
  EXPECT_THROW(xa::WhiteLineFitter(e, bad), std::invalid_argument);

  xa::WhiteLineFitter fitter(e, {});
  std::vector<float> mu(e.size(), 1.0f);
  EXPECT_EQ(fitter.fit(mu.data()).status, xa::FitStatus::flat_or_low_signal);
  EXPECT_STREQ(xa::to_string(xa::FitStatus::flat_or_low_signal), "flat_low_signal");
  mu[3] = NAN;
  auto r = fitter.fit(mu.data());
  EXPECT_EQ(r.status, xa::FitStatus::nan_in_spectrum);
  EXPECT_TRUE(std::isnan(r.white_line_ev));

  // Too few grid points in the fit range: 0.1 eV half window on a 1 eV grid -> 3 points, cubic needs 4.
  xa::FitSettings narrow;
  narrow.half_window_ev = 0.1;
  narrow.grid_step_ev = 0.1;
  Synth f{7723.0, 7728.0, 2.0, 0.6};
  std::vector<double> good(e.size());
  for (std::size_t i = 0; i < e.size(); ++i) good[i] = f(e[i]);
  EXPECT_EQ(xa::WhiteLineFitter(e, narrow).fit(good.data()).status, xa::FitStatus::no_peak_in_window);
}

TEST(XanesFast, MaximumAtSearchEdgeAndPolynomialEdge) {
  std::vector<double> e = beamline_energies();
  std::vector<double> rising(e.size());
  for (std::size_t i = 0; i < e.size(); ++i) rising[i] = 0.1 * static_cast<double>(i);
  auto r = xa::WhiteLineFitter(e, {}).fit(rising.data());
  EXPECT_EQ(r.status, xa::FitStatus::max_at_window_edge);
  EXPECT_NEAR(r.white_line_ev, 7735.0, 1e-9);
}

TEST(XanesPoly, MaximumOfKnownPolynomials) {
  double q[3] = {1.0, 0.4, -1.0};  // vertex at 0.2
  auto m = xa::polynomial_maximum(q, 2, -1, 1);
  EXPECT_TRUE(m.interior);
  EXPECT_NEAR(m.t, 0.2, 1e-15);
  // -(t-0.3)^2 (t+2)^2 ... order 4 with maxima at 0.3 and -2: on [-1,1] only 0.3.
  // (t-0.3)^2 (t+2)^2 = t^4 + 3.4 t^3 + 1.69 t^2 ... expand numerically instead:
  double c4[5] = {0, 0, 0, 0, 0};
  // p(t) = -(t - 0.3)^4 + 0.5 -> max at 0.3
  c4[0] = 0.5 - 0.0081;
  c4[1] = 4 * 0.027;
  c4[2] = -6 * 0.09;
  c4[3] = 4 * 0.3;
  c4[4] = -1;
  m = xa::polynomial_maximum(c4, 4, -1, 1);
  EXPECT_TRUE(m.interior);
  EXPECT_NEAR(m.t, 0.3, 1e-4);  // flat quartic maximum: the root of p' is triple
  double lin[4] = {0, 1, 0, 0};   // increasing: maximum at the upper end
  m = xa::polynomial_maximum(lin, 3, -1, 1);
  EXPECT_FALSE(m.interior);
  EXPECT_EQ(m.t, 1.0);
}

// Fewer measured energies in the fit range than polynomial coefficients: the fit is
// under-determined (it would shape a peak out of the interpolation), so not ok, on both paths.
TEST(XanesFast, UnderDeterminedFitIsNotOk) {
  const std::vector<double> e = {7720, 7725, 7730};
  const std::vector<double> mu = {0.1, 1.0, 0.5};
  for (int order = 2; order <= 6; ++order) {
    xa::FitSettings s;
    s.order = order;
    s.half_window_ev = 10;
    const auto fast = xa::WhiteLineFitter(e, s).fit(mu.data());
    const auto slow = xa::fit_direct(e, mu, s);
    EXPECT_EQ(fast.status, slow.status) << "order " << order;
    if (order + 1 > 3) {
      EXPECT_EQ(fast.status, xa::FitStatus::no_peak_in_window) << "order " << order;
      EXPECT_TRUE(std::isnan(fast.white_line_ev)) << "order " << order;
    } else {
      EXPECT_EQ(fast.status, xa::FitStatus::ok) << "order " << order;
      // A parabola over the two rising/falling segments: its top lies right of the middle
      // sample, toward the higher third point (the parabola through the samples: 7725.71 eV).
      EXPECT_GT(fast.white_line_ev, 7725.0);
      EXPECT_LT(fast.white_line_ev, 7727.0);
    }
  }
}
