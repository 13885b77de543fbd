// The optimised per-pixel CPU stages against straightforward reference implementations kept
// here (per-pixel background from math::grid_at, sorted-array quantiles, std::nth_element,
// brute-force masks): results must be bit-identical, on frames that exercise every branch (odd
// sizes and vector tails, masks, dead rows and columns, no-data areas, wide and narrow noise).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "laueproc/math/background.hpp"
#include "laueproc/math/noise.hpp"
#include "laueproc/stages.hpp"
#include "stages/grid_rows.hpp"
#include "stages/select.hpp"
#include "stages/synth.hpp"

using namespace laueproc;

namespace {

// ---- test frames ------------------------------------------------------------------------------

struct TestFrame {
  int w = 0, h = 0;
  std::vector<std::uint16_t> px;
  std::vector<std::uint8_t> mask;  // a static mask (empty: none)
  FrameView view() const { return test::view(px, w, h); }
  const std::uint8_t* mask_or_null() const { return mask.empty() ? nullptr : mask.data(); }
};

struct FrameSpec {
  int w, h;
  double level, noise;
  bool defects;      // dead row, stuck column, no-data corner, hot pixels
  bool static_mask;  // scattered bad pixels and a bad patch
  std::uint64_t seed;
};

TestFrame make_frame(const FrameSpec& s) {
  test::Rng rng(s.seed);
  test::Canvas c(s.w, s.h, 0);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const double rho = std::hypot(x - 0.5 * s.w, y + 0.3 * s.h);
      c.at(x, y) = s.level * (1 + 0.001 * x + 0.0005 * y) + 3 * s.level * std::exp(-0.5 * std::pow((rho - 0.9 * s.h) / (0.1 * s.h), 2));
    }
  for (int k = 0; k < s.w * s.h / 4000 + 3; ++k)
    c.gaussian(rng.uniform(5, s.w - 5), rng.uniform(5, s.h - 5), rng.uniform(0.8, 3), s.noise * rng.uniform(5, 400));
  c.noise(rng, s.noise);
  TestFrame f{s.w, s.h, c.to_u16(), {}};
  if (s.defects) {
    const int dead_row = s.h / 3, stuck_col = s.w / 4;
    for (int x = 0; x < s.w; ++x) f.px[static_cast<std::size_t>(dead_row) * s.w + x] = 0;
    for (int y = 0; y < s.h; ++y) f.px[static_cast<std::size_t>(y) * s.w + stuck_col] = 1234;
    for (int y = 0; y < s.h / 5; ++y)  // no-data corner, a ragged edge
      for (int x = 0; x < s.w / 6 - (y % 7); ++x) f.px[static_cast<std::size_t>(y) * s.w + x] = 0;
    for (int k = 0; k < 20; ++k) f.px[rng.next() % f.px.size()] = 60000;
  }
  if (s.static_mask) {
    f.mask.assign(f.px.size(), 0);
    for (std::size_t k = 0; k < f.px.size() / 300; ++k) f.mask[rng.next() % f.px.size()] = 1;
    for (int y = s.h / 2; y < s.h / 2 + 6; ++y)
      for (int x = s.w / 2; x < std::min(s.w, s.w / 2 + 40); ++x) f.mask[static_cast<std::size_t>(y) * s.w + x] = 1;
  }
  return f;
}

const std::vector<FrameSpec>& specs() {
  static const std::vector<FrameSpec> all = {
      {256, 256, 150, 8, true, false, 1},     {1000, 777, 400, 30, true, true, 2},  // odd width: vector tails
      {333, 190, 3, 1.5, false, true, 3},    // low counts: narrow histograms
      {300, 200, 3000, 400, true, false, 4},  // wide noise: clamped windows, two-level fallback
      {2048, 64, 800, 20, false, false, 5},  {37, 53, 100, 5, true, true, 6},
  };
  return all;
}

// ---- reference implementations ----------------------------------------------------------------

// The bicubic background at every pixel, straight from math::grid_at (RowRenderer's float
// arithmetic without its tables and segments).
std::vector<float> reference_render(const BackgroundGrid& g, int w, int h) {
  const math::GridView view{g.values.data(), g.nx, g.ny, g.cell_x, g.cell_y};
  std::vector<float> out(static_cast<std::size_t>(w) * h);
  for (int y = 0; y < h; ++y) {
    int j0;
    double ty, wy[4];
    math::grid_axis(y, g.cell_y, j0, ty);
    math::cubic_weights(ty, wy);
    for (int x = 0; x < w; ++x) {
      int i0;
      double tx, wx[4];
      math::grid_axis(x, g.cell_x, i0, tx);
      math::cubic_weights(tx, wx);
      float c[4], wf[4];
      for (int a = 0; a < 4; ++a) {
        double acc = 0;
        for (int b = 0; b < 4; ++b) acc += wy[b] * math::grid_at(view, i0 - 1 + a, j0 - 1 + b);
        c[a] = static_cast<float>(acc);
        wf[a] = static_cast<float>(wx[a]);
      }
      out[static_cast<std::size_t>(y) * w + x] = wf[0] * c[0] + wf[1] * c[1] + wf[2] * c[2] + wf[3] * c[3];
    }
  }
  return out;
}

// Continuous quantile at rank k of sorted integer values (value v spreads over [v - 0.5, v + 0.5)).
double reference_quantile(const std::vector<std::uint16_t>& sorted, double k) {
  const int n = static_cast<int>(sorted.size());
  k = math::clamp_rank(k, n);
  const std::uint16_t v = sorted[static_cast<std::size_t>(k)];
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), v);
  const auto hi = std::upper_bound(sorted.begin(), sorted.end(), v);
  const auto below = static_cast<unsigned int>(lo - sorted.begin());
  const auto count = static_cast<unsigned int>(hi - lo);
  return static_cast<double>(v) - 0.5 + (k - static_cast<double>(below)) / static_cast<double>(count);
}

// One block pass as background.cpp documents it, by sorting each block's samples.
double reference_pass(const TestFrame& f, const std::uint8_t* mask, double q, const BackgroundGrid* prev,
                      BackgroundGrid& grid) {
  const int w = f.w, h = f.h, step = prev ? 1 : 2;
  const double qlo = q / 3, zq = math::normal_quantile(q), zlo = math::normal_quantile(qlo);
  const std::vector<float> bg = prev ? reference_render(*prev, w, h) : std::vector<float>{};
  std::vector<float> sigmas;
  for (int j = 0; j < grid.ny; ++j)
    for (int i = 0; i < grid.nx; ++i) {
      const int x0 = static_cast<int>(static_cast<long long>(i) * w / grid.nx);
      const int x1 = static_cast<int>(static_cast<long long>(i + 1) * w / grid.nx);
      const int y0 = static_cast<int>(static_cast<long long>(j) * h / grid.ny);
      const int y1 = static_cast<int>(static_cast<long long>(j + 1) * h / grid.ny);
      std::vector<std::uint16_t> v;
      for (int y = y0; y < y1; y += 2)
        for (int x = prev ? x0 : x0 + (y & 1); x < x1; x += step) {
          const std::size_t p = static_cast<std::size_t>(y) * w + x;
          if (mask && mask[p]) continue;
          if (!prev) {
            v.push_back(f.px[p]);
            continue;
          }
          const float shifted = std::clamp(static_cast<float>(f.px[p]) - bg[p] + 32768.5f, 0.0f, 65535.0f);
          v.push_back(static_cast<std::uint16_t>(shifted));
        }
      float& cell = grid.values[static_cast<std::size_t>(j) * grid.nx + i];
      cell = std::numeric_limits<float>::quiet_NaN();
      const int n = static_cast<int>(v.size());
      if (n < std::max(8, (x1 - x0) * (y1 - y0) / (4 * 2 * step))) continue;
      std::sort(v.begin(), v.end());
      double level, sigma;
      math::level_from_quantiles(reference_quantile(v, q * n), reference_quantile(v, qlo * n), zq, zlo, level, sigma);
      if (prev) {
        const double high = level + 5.0 * std::max(sigma, 1.0);
        const auto nhigh = std::count_if(v.begin(), v.end(), [high](std::uint16_t x) { return x > high; });
        if (nhigh > 0.4 * n) continue;
        level = prev->values[static_cast<std::size_t>(j) * grid.nx + i] + (level - 32768);
      }
      cell = static_cast<float>(level);
      sigmas.push_back(static_cast<float>(sigma));
    }
  if (sigmas.empty()) return -1;
  std::nth_element(sigmas.begin(), sigmas.begin() + static_cast<std::ptrdiff_t>(sigmas.size() / 2), sigmas.end());
  return sigmas[sigmas.size() / 2];
}

BackgroundGrid reference_blocks(const TestFrame& f, const std::uint8_t* mask, const BackgroundConfig& config) {
  BackgroundGrid grid, first;
  background_grid_shape(f.w, f.h, config, grid);
  first = grid;
  const double q = std::clamp(config.percentile, 0.01, 0.99);
  if (reference_pass(f, mask, q, nullptr, first) < 0) {
    grid.block_sigma = 0;
    return grid;
  }
  fill_invalid_cells(first);
  const double sigma = reference_pass(f, mask, q, &first, grid);
  if (sigma < 0) {
    grid.values = first.values;
    grid.block_sigma = 0;
    return grid;
  }
  grid.block_sigma = sigma;
  fill_invalid_cells(grid);
  return grid;
}

// Dead rows and columns by definition: constant rows; columns constant over the rows that are
// not dead (over all rows when every row is); rows constant off the dead columns.
std::vector<std::uint8_t> reference_dead_lines(const TestFrame& f, int& lines) {
  const int w = f.w, h = f.h;
  auto px = [&](int x, int y) { return f.px[static_cast<std::size_t>(y) * w + x]; };
  std::vector<bool> row(h), col(w);
  int nrows = 0;
  for (int y = 0; y < h; ++y) {
    row[y] = std::all_of(f.px.begin() + static_cast<std::ptrdiff_t>(y) * w, f.px.begin() + static_cast<std::ptrdiff_t>(y + 1) * w,
                         [&](std::uint16_t v) { return v == px(0, y); });
    nrows += row[y];
  }
  int ncols = 0;
  for (int x = 0; x < w; ++x) {
    int ref = -1;
    bool same = true;
    for (int y = 0; y < h; ++y) {
      if (row[y] && nrows < h) continue;
      if (ref < 0) ref = px(x, y);
      same = same && px(x, y) == ref;
    }
    col[x] = same;
    ncols += same;
  }
  if (ncols > 0 && ncols < w)
    for (int y = 0; y < h; ++y) {
      if (row[y]) continue;
      int ref = -1;
      bool same = true;
      for (int x = 0; x < w; ++x) {
        if (col[x]) continue;
        if (ref < 0) ref = px(x, y);
        same = same && px(x, y) == ref;
      }
      row[y] = same;
    }
  std::vector<std::uint8_t> mask(f.px.size(), 0);
  lines = 0;
  for (int y = 0; y < h; ++y)
    if (row[y]) {
      ++lines;
      for (int x = 0; x < w; ++x) mask[static_cast<std::size_t>(y) * w + x] = 1;
    }
  for (int x = 0; x < w; ++x)
    if (col[x]) {
      ++lines;
      for (int y = 0; y < h; ++y) mask[static_cast<std::size_t>(y) * w + x] = 1;
    }
  return mask;
}

std::string describe(const Peak& p) {
  std::ostringstream s;
  s.precision(17);
  s << p.x << ' ' << p.y << ' ' << p.intensity << ' ' << p.peak_value << ' ' << p.npix << ' ' << p.mxx << ' ' << p.myy
    << ' ' << p.mxy << ' ' << p.a << ' ' << p.b << ' ' << p.theta_deg << ' ' << p.n_maxima << ' ' << p.saturated
    << ' ' << p.edge << ' ' << p.snr;
  return s.str();
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace

TEST(CpuIdentity, KthSmallestIsNthElement) {
  test::Rng rng(7);
  for (const std::size_t n : {1u, 2u, 3u, 17u, 1000u, 65537u}) {
    for (int kind = 0; kind < 4; ++kind) {
      std::vector<float> v(n);
      for (auto& x : v) {
        switch (kind) {
          case 0: x = static_cast<float>(rng.normal() * 30); break;                      // residuals
          case 1: x = static_cast<float>(std::floor(rng.uniform(0, 4))); break;          // heavy ties
          case 2: x = static_cast<float>(150 + 1e-3 * std::floor(rng.uniform(0, 50))); break;  // one binade
          default: x = static_cast<float>(std::exp(rng.uniform(-40, 40)) * (rng.uniform() < 0.5 ? -1 : 1));
        }
      }
      for (const std::size_t k : {std::size_t{0}, n / 50, n / 2, n - 1 - n / 50, n - 1}) {
        std::vector<float> sorted = v;
        std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
        const std::vector<float> before = v;
        EXPECT_EQ(detail::kth_smallest(v.data(), n, k), sorted[k]) << "n " << n << " kind " << kind << " k " << k;
        EXPECT_TRUE(same_bits(v, before)) << "input changed";
      }
    }
  }
}

TEST(CpuIdentity, RobustSigmaIsNthElementMad) {
  test::Rng rng(8);
  std::vector<float> v(50001);
  for (auto& x : v) x = static_cast<float>(std::round(rng.normal() * 12) + 0.25 * rng.uniform());
  std::vector<float> ref = v;
  const auto mid = ref.begin() + static_cast<std::ptrdiff_t>(ref.size() / 2);
  std::nth_element(ref.begin(), mid, ref.end());
  const float med = *mid;
  for (auto& x : ref) x = std::fabs(x - med);
  std::nth_element(ref.begin(), mid, ref.end());
  EXPECT_EQ(robust_sigma(v), 1.4826 * static_cast<double>(*mid));
}

TEST(CpuIdentity, RenderedBackgroundIsPerPixelBicubic) {
  for (const FrameSpec& s : specs()) {
    const TestFrame f = make_frame(s);
    for (const int block : {16, 32, 45}) {
      BackgroundConfig config;
      config.block_px = block;
      BackgroundGrid grid;
      background_blocks(f.view(), f.mask_or_null(), config, grid);
      std::vector<float> fast;
      render_background(grid, f.w, f.h, fast);
      EXPECT_TRUE(same_bits(fast, reference_render(grid, f.w, f.h))) << s.w << "x" << s.h << " block " << block;
    }
  }
}

TEST(CpuIdentity, BlockBackgroundIsSortedQuantiles) {
  for (const FrameSpec& s : specs()) {
    const TestFrame f = make_frame(s);
    std::vector<std::uint8_t> mask = f.mask.empty() ? std::vector<std::uint8_t>(f.px.size(), 0) : f.mask;
    detect_dead_lines(f.view(), mask.data());
    std::vector<std::uint8_t> scratch;
    mask_zero_pixels(f.view(), mask.data(), 3, scratch);
    for (const std::uint8_t* m : {static_cast<const std::uint8_t*>(nullptr), static_cast<const std::uint8_t*>(mask.data())})
      for (const auto& [q, block] : {std::pair{0.3, 32}, std::pair{0.12, 20}, std::pair{0.45, 45}}) {
          BackgroundConfig config;
          config.percentile = q;
          config.block_px = block;
          BackgroundGrid fast;
          background_blocks(f.view(), m, config, fast);
          const BackgroundGrid ref = reference_blocks(f, m, config);
          EXPECT_TRUE(same_bits(fast.values, ref.values))
              << s.w << "x" << s.h << " seed " << s.seed << " q " << q << " block " << block << (m ? " masked" : "");
          EXPECT_EQ(fast.block_sigma, ref.block_sigma);
        }
  }
}

TEST(CpuIdentity, SampledSigmaSamplesThePerPixelResidual) {
  for (const FrameSpec& s : specs()) {
    const TestFrame f = make_frame(s);
    BackgroundGrid grid;
    background_blocks(f.view(), f.mask_or_null(), BackgroundConfig{}, grid);
    const std::vector<float> bg = reference_render(grid, f.w, f.h);
    std::vector<float> ref_res, ref_bg;
    for (int y = std::min(2, f.h - 1); y < f.h; y += 8)
      for (int x = (y / 4) % 4; x < f.w; x += 4) {
        const std::size_t p = static_cast<std::size_t>(y) * f.w + x;
        if (!f.mask.empty() && f.mask[p]) continue;
        ref_res.push_back(static_cast<float>(f.px[p]) - bg[p]);
        ref_bg.push_back(bg[p]);
      }
    std::vector<float> samples, bg_samples;
    math::NoiseModel model;
    const double sigma = detail::sampled_sigma(f.view(), f.mask_or_null(), grid, samples, &bg_samples, &model);
    EXPECT_TRUE(same_bits(bg_samples, ref_bg)) << s.w << "x" << s.h;
    std::vector<float> copy = ref_res;
    EXPECT_EQ(sigma, robust_sigma(copy));
    const math::NoiseModel ref_model = detail::fit_noise_model(ref_res, ref_bg, sigma);
    EXPECT_EQ(model.var0, ref_model.var0);
    EXPECT_EQ(model.gain, ref_model.gain);
  }
}

TEST(CpuIdentity, RunsAreThePerPixelThreshold) {
  for (const FrameSpec& s : specs()) {
    const TestFrame f = make_frame(s);
    BackgroundGrid grid;
    background_blocks(f.view(), f.mask_or_null(), BackgroundConfig{}, grid);
    const std::vector<float> bg = reference_render(grid, f.w, f.h);
    std::vector<float> res(bg.size());
    for (std::size_t p = 0; p < res.size(); ++p) res[p] = static_cast<float>(f.px[p]) - bg[p];
    const math::SigmaThreshold t = math::sigma_threshold(math::NoiseModel{s.noise * s.noise, 0.3}, 3.0);
    std::vector<PixelRun> ref;
    for (int y = 0; y < f.h; ++y)
      for (int x = 0; x < f.w;) {
        auto on = [&](int xx) {
          const std::size_t p = static_cast<std::size_t>(y) * f.w + xx;
          return math::above(res[p], bg[p], t) && (f.mask.empty() || !f.mask[p]);
        };
        if (!on(x)) {
          ++x;
          continue;
        }
        const int x0 = x;
        while (x < f.w && on(x)) ++x;
        ref.push_back(PixelRun{y, x0, x - 1});
      }
    std::vector<PixelRun> fast;
    detail::find_runs(res.data(), bg.data(), f.mask_or_null(), f.w, f.h, t, fast);
    ASSERT_EQ(fast.size(), ref.size()) << s.w << "x" << s.h;
    for (std::size_t k = 0; k < ref.size(); ++k)
      EXPECT_TRUE(fast[k].y == ref[k].y && fast[k].x0 == ref[k].x0 && fast[k].x1 == ref[k].x1) << "run " << k;
  }
}

// analyze() (residual, flags and runs fused in one pass) against the same steps done one after
// the other from the public stage functions and the per-pixel reference background.
TEST(CpuIdentity, AnalyzeIsTheStepByStepPipeline) {
  for (const FrameSpec& s : specs()) {
    const TestFrame f = make_frame(s);
    const BadPixelMask static_mask = f.mask.empty() ? BadPixelMask() : BadPixelMask(f.w, f.h, f.mask);
    for (const bool gaussian : {false, true}) {
      ProcessConfig config;
      if (gaussian) config.background.method = BackgroundMethod::gaussian;
      CpuFrameAnalyzer analyzer(config, f.mask.empty() ? nullptr : &static_mask);
      const FrameAnalysis fast = analyzer.analyze(f.view(), 3);

      CpuFrameAnalyzer stages(config, f.mask.empty() ? nullptr : &static_mask);
      FrameAnalysis out;
      const BackgroundGrid* grid = stages.prepare(f.view(), out);
      ASSERT_NE(grid, nullptr);
      const std::uint8_t* mask = stages.mask();
      const std::vector<float> bg = reference_render(*grid, f.w, f.h);
      std::vector<float> res(bg.size());
      for (std::size_t p = 0; p < res.size(); ++p) res[p] = static_cast<float>(f.px[p]) - bg[p];
      std::vector<PixelRun> runs;
      std::vector<int> parent;
      detail::find_runs(res.data(), bg.data(), mask, f.w, f.h, math::sigma_threshold(stages.noise(), config.threshold.k_low),
                        runs);
      ComponentSet all, kept;
      label_runs(runs, all, parent);
      const FrameView view = f.view();
      detail::filter_components(res.data(), &view, f.w, f.h, all,
                                math::sigma_threshold(stages.noise(), config.threshold.k_high), config.threshold.min_pixels,
                                kept);
      std::vector<std::int32_t> owner(res.size(), 0);
      for (int c = 0; c < kept.count(); ++c)
        for (int k = kept.begin[c]; k < kept.begin[c + 1]; ++k)
          for (int x = kept.runs[k].x0; x <= kept.runs[k].x1; ++x)
            owner[static_cast<std::size_t>(kept.runs[k].y) * f.w + x] = c + 1;
      PeakList peaks;
      ComponentScratch scratch;
      for (int c = 0; c < kept.count(); ++c)
        measure_component(f.view(), res.data(), mask, owner.data(), kept, c, stages.noise(), config, 3, scratch, peaks);
      sort_and_number(peaks);

      EXPECT_EQ(fast.noise_sigma, out.noise_sigma);
      EXPECT_EQ(fast.background_level, out.background_level);
      ASSERT_EQ(fast.peaks.size(), peaks.size()) << s.w << "x" << s.h << (gaussian ? " gaussian" : "");
      EXPECT_GT(peaks.size(), 0u);
      for (std::size_t k = 0; k < peaks.size(); ++k) EXPECT_EQ(describe(fast.peaks[k]), describe(peaks[k])) << "peak " << k;
    }
  }
}

TEST(CpuIdentity, DeadLinesAreConstantLines) {
  std::vector<TestFrame> frames;
  for (const FrameSpec& s : specs()) frames.push_back(make_frame(s));
  {  // every row constant, rows differ: no dead column
    TestFrame f{40, 30, std::vector<std::uint16_t>(1200), {}};
    for (int y = 0; y < 30; ++y) std::fill_n(f.px.begin() + y * 40, 40, static_cast<std::uint16_t>(100 + y % 3));
    frames.push_back(f);
  }
  {  // a stuck column crossed by a dead row, and a dead column of zeros
    TestFrame f = make_frame({120, 90, 200, 10, false, false, 9});
    for (int y = 0; y < 90; ++y) f.px[static_cast<std::size_t>(y) * 120 + 7] = 777, f.px[static_cast<std::size_t>(y) * 120 + 119] = 0;
    for (int x = 0; x < 120; ++x) f.px[static_cast<std::size_t>(40) * 120 + x] = 5;
    frames.push_back(f);
  }
  {  // a quarter of the columns stuck: more than the list of candidate columns takes
    TestFrame f = make_frame({64, 50, 200, 10, false, false, 10});
    for (int y = 0; y < 50; ++y)
      for (int x = 0; x < 64; x += 4) f.px[static_cast<std::size_t>(y) * 64 + x] = static_cast<std::uint16_t>(300 + x);
    frames.push_back(f);
  }
  {  // a no-data top half (zeros, the rows kept alive by their last pixel): every column equal
     // for 25 rows, then noise, and one stuck column
    TestFrame f = make_frame({80, 50, 200, 10, false, false, 11});
    for (int y = 0; y < 25; ++y)
      for (int x = 0; x < 79; ++x) f.px[static_cast<std::size_t>(y) * 80 + x] = 0;
    for (int y = 0; y < 50; ++y) f.px[static_cast<std::size_t>(y) * 80 + 30] = 0;
    frames.push_back(f);
  }
  for (const TestFrame& f : frames) {
    int ref_lines = 0;
    const std::vector<std::uint8_t> ref = reference_dead_lines(f, ref_lines);
    std::vector<std::uint8_t> mask(f.px.size(), 0), zero_rows;
    bool constant = true;
    EXPECT_EQ(detect_dead_lines(f.view(), mask.data(), &constant, &zero_rows), ref_lines) << f.w << "x" << f.h;
    EXPECT_FALSE(constant);
    EXPECT_TRUE(same_bits(mask, ref)) << f.w << "x" << f.h;
    for (int y = 0; y < f.h; ++y) {
      const auto row = f.px.begin() + static_cast<std::ptrdiff_t>(y) * f.w;
      const bool has_zero = *std::min_element(row, row + f.w) == 0 && *std::max_element(row, row + f.w) != 0;
      EXPECT_EQ(zero_rows[static_cast<std::size_t>(y)] != 0, has_zero) << "row " << y;
    }
  }
}

TEST(CpuIdentity, ZeroMarginIsChebyshevDilation) {
  for (const FrameSpec& s : specs()) {
    const TestFrame f = make_frame(s);
    for (const bool dead_lines : {false, true})
      for (const int margin : {0, 1, 3, 6}) {
        std::vector<std::uint8_t> mask = f.mask.empty() ? std::vector<std::uint8_t>(f.px.size(), 0) : f.mask;
        std::vector<std::uint8_t> zero_rows, scratch;
        if (dead_lines) detect_dead_lines(f.view(), mask.data(), nullptr, &zero_rows);
        std::vector<std::uint8_t> ref = mask;
        std::size_t ref_zeros = 0;
        for (int y = 0; y < f.h; ++y)
          for (int x = 0; x < f.w; ++x) {
            const std::size_t p = static_cast<std::size_t>(y) * f.w + x;
            if (f.px[p] != 0 || mask[p]) continue;
            ++ref_zeros;
            for (int yy = std::max(0, y - margin); yy <= std::min(f.h - 1, y + margin); ++yy)
              for (int xx = std::max(0, x - margin); xx <= std::min(f.w - 1, x + margin); ++xx)
                ref[static_cast<std::size_t>(yy) * f.w + xx] |= 1;
          }
        const std::size_t zeros =
            mask_zero_pixels(f.view(), mask.data(), margin, scratch, dead_lines ? zero_rows.data() : nullptr);
        EXPECT_EQ(zeros, ref_zeros) << s.w << "x" << s.h << " margin " << margin;
        EXPECT_TRUE(same_bits(mask, ref)) << s.w << "x" << s.h << " margin " << margin << (dead_lines ? " dead lines" : "");
      }
  }
}

// A reused analyzer clears only the mask rows the last frame marked and evaluates the residual
// only where it reads it: over frames with different defects it must give, frame by frame,
// what a fresh analyzer gives (peaks, noise, mask).
TEST(CpuIdentity, ReusedAnalyzerIsFreshOnEveryFrame) {
  const FrameSpec defects{300, 200, 150, 8, true, false, 7}, clean{300, 200, 150, 8, false, false, 8};
  const TestFrame a = make_frame(defects), b = make_frame(clean);
  TestFrame c = make_frame(defects);
  for (int x = 0; x < c.w; ++x) c.px[static_cast<std::size_t>(2 * c.h / 3) * c.w + x] = 0;  // a second dead row
  for (int y = 150; y < 156; ++y)  // a no-data patch elsewhere
    for (int x = 200; x < 212; ++x) c.px[static_cast<std::size_t>(y) * c.w + x] = 0;
  std::vector<std::uint8_t> bad(a.px.size(), 0);
  for (int x = 40; x < 90; ++x) bad[static_cast<std::size_t>(120) * a.w + x] = 1;
  const BadPixelMask static_mask(a.w, a.h, bad);
  for (const BadPixelMask* m : {static_cast<const BadPixelMask*>(nullptr), &static_mask}) {
    ProcessConfig config;
    CpuFrameAnalyzer reused(config, m);
    int k = 0;
    for (const TestFrame* f : std::vector<const TestFrame*>{&a, &b, &c, &b, &a, &c}) {
      SCOPED_TRACE("frame " + std::to_string(k++) + (m ? " with a static mask" : ""));
      const FrameAnalysis got = reused.analyze(f->view(), 0);
      CpuFrameAnalyzer fresh(config, m);
      const FrameAnalysis want = fresh.analyze(f->view(), 0);
      EXPECT_EQ(got.noise_sigma, want.noise_sigma);
      EXPECT_EQ(got.background_level, want.background_level);
      EXPECT_EQ(got.masked_lines, want.masked_lines);
      ASSERT_EQ(got.peaks.size(), want.peaks.size());
      for (std::size_t p = 0; p < want.peaks.size(); ++p) EXPECT_EQ(describe(got.peaks[p]), describe(want.peaks[p]));
      ASSERT_EQ(reused.mask() == nullptr, fresh.mask() == nullptr);
      if (fresh.mask()) EXPECT_EQ(std::memcmp(reused.mask(), fresh.mask(), f->px.size()), 0);
    }
  }
}

// append_flag_runs (words of 8 flags: clear words skipped, long runs' ends found 8 at a time)
// against a byte-by-byte scan, on rows of random runs of every length, any nonzero flag value,
// over the whole row and over sub-ranges (the sparse flag pass scans evaluated ranges only).
TEST(CpuIdentity, FlagRunsAreTheByteScan) {
  test::Rng rng(99);
  for (int trial = 0; trial < 400; ++trial) {
    const int width = 1 + static_cast<int>(rng.next() % 300);
    std::vector<std::uint8_t> flags(detail::flag_row_bytes(width), 0);
    for (int x = 0; x < width;) {
      const int len = 1 + static_cast<int>(rng.next() % (trial % 4 == 0 ? 3 : 40));
      const bool on = rng.next() % 2;
      for (int k = 0; k < len && x < width; ++k, ++x)
        flags[x] = on ? static_cast<std::uint8_t>(1 + rng.next() % 255) : 0;
    }
    const int x_begin = trial % 2 ? 0 : static_cast<int>(rng.next() % width);
    const int x_end = trial % 2 ? width : x_begin + static_cast<int>(rng.next() % (width - x_begin + 1));
    std::vector<PixelRun> want;
    for (int x = x_begin; x < x_end;) {
      if (!flags[x]) {
        ++x;
        continue;
      }
      const int x0 = x;
      while (x < x_end && flags[x]) ++x;
      want.push_back(PixelRun{7, x0, x - 1});
    }
    std::vector<PixelRun> got;
    if (trial % 2) detail::append_flag_runs(flags.data(), width, 7, got);
    else detail::append_flag_runs(flags.data(), x_begin, x_end, 7, got);
    ASSERT_EQ(got.size(), want.size()) << "trial " << trial;
    for (std::size_t k = 0; k < want.size(); ++k)
      EXPECT_TRUE(got[k].y == 7 && got[k].x0 == want[k].x0 && got[k].x1 == want[k].x1)
          << "trial " << trial << " run " << k;
  }
}
