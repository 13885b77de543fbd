/// @file
/// @brief Stage 1: background estimation (block percentile, Gaussian low-pass) and robust noise.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "laueproc/math/background.hpp"
#include "laueproc/stages.hpp"
#include "stages/clones.hpp"
#include "stages/grid_rows.hpp"
#include "stages/select.hpp"

namespace laueproc {
namespace {

// Sixteen int16 lanes (GCC vector extension): one AVX2 register in the AVX2 clone, two SSE2
// registers in the portable one.
using Int16x16 = std::int16_t __attribute__((vector_size(32)));
using Int16x8 = std::int16_t __attribute__((vector_size(16)));
constexpr int kLanes = 16;

// Number of s[0..n) <= t (n a multiple of kLanes). The lanes count the values above t in 16
// bits, summed in 16 bits too: exact for chunks of up to 2^15 values.
LAUEPROC_CLONES unsigned int count_at_most(const std::int16_t* s, int n, std::int16_t t) {
  const Int16x16 limit = Int16x16{} + t;
  unsigned int above = 0;
  constexpr int kChunk = 1 << 15;
  for (int i0 = 0; i0 < n; i0 += kChunk) {
    const int i1 = std::min(n, i0 + kChunk);
    Int16x16 acc{};
#pragma GCC unroll 4
    for (int i = i0; i < i1; i += kLanes) {
      Int16x16 x;
      std::memcpy(&x, s + i, sizeof x);
      acc -= x > limit;  // a true lane compares to -1
    }
    Int16x8 half[2];
    std::memcpy(half, &acc, sizeof acc);
    Int16x8 sum = half[0] + half[1];
    sum += __builtin_shuffle(sum, Int16x8{4, 5, 6, 7, 0, 1, 2, 3});
    sum += __builtin_shuffle(sum, Int16x8{2, 3, 0, 1, 6, 7, 4, 5});
    sum += __builtin_shuffle(sum, Int16x8{1, 0, 3, 2, 5, 4, 7, 6});
    above += static_cast<std::uint16_t>(sum[0]);
  }
  return static_cast<unsigned int>(n) - above;
}

// Smallest and largest of s[0..n), n > 0 (vectorises).
LAUEPROC_CLONES void signed_range(const std::int16_t* s, int n, std::int16_t& lo_out, std::int16_t& hi_out) {
  std::int16_t lo = INT16_MAX, hi = INT16_MIN;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, s[i]);
    hi = std::max(hi, s[i]);
  }
  lo_out = lo;
  hi_out = hi;
}

// A value flipped to signed: v ^ 0x8000 keeps the order, and x86 compares signed 16-bit lanes only.
LAUEPROC_INLINE std::int16_t flipped(std::uint16_t v) { return static_cast<std::int16_t>(v ^ 0x8000u); }

// Exact continuous ("mid-distribution") quantiles of one block's integer values: value v
// holding ranks [below, below + count) spreads uniformly over [v - 0.5, v + 0.5), so low-count
// frames (a few counts per pixel) do not get a staircase background. The value at rank k is the
// smallest v with more than k values <= v, found by bisection on the value between the block's
// extremes, each step one vectorised count over the block (~12 counts of ~32 vectors per block:
// cheaper than a histogram's scalar increment per value). The formula uses only the count below
// the value and the count of the value, so every exact method gives the same numbers: the GPU
// twin (kernels/background_body.cuh: window histograms, two-level when clamped) computes the
// same levels.
class BlockQuantiles {
 public:
  /// The block's n > 0 values, flipped(); s has room for kLanes - 1 more (padding written here).
  void build(std::int16_t* s, int n) {
    values_ = s;
    n_ = n;
    padded_ = (n + kLanes - 1) / kLanes * kLanes;
    for (int i = n; i < padded_; ++i) s[i] = INT16_MAX;  // above every value but 65535 (see count_le)
    std::int16_t lo, hi;
    signed_range(s, n, lo, hi);
    lo_ = static_cast<std::uint16_t>(lo) ^ 0x8000;
    hi_ = static_cast<std::uint16_t>(hi) ^ 0x8000;
  }
  /// Number of values > limit (> floor(limit) for integers).
  unsigned int count_above(double limit) const {
    if (!(limit < 65535.0)) return 0;
    if (limit < 0) return static_cast<unsigned int>(n_);
    return static_cast<unsigned int>(n_) - count_le(static_cast<int>(limit));
  }
  /// Values at ranks k_lo <= k_hi of the values given to build().
  void select(double k_lo, double k_hi, double& v_lo, double& v_hi) {
    k_lo = math::clamp_rank(k_lo, n_);
    k_hi = math::clamp_rank(k_hi, n_);
    // Bracket of rank k: count_le(lo) <= k < count_le(hi). The probes of the first search that
    // bracket k_hi too start the second.
    // The search starts at the last block's values (neighbouring blocks' quantiles differ by a
    // count or two: a few probes instead of a bisection of the block's whole range).
    Bracket first{lo_ - 1, 0, hi_, static_cast<unsigned int>(n_)};
    Bracket second = first;
    v_lo = value_at(k_lo, first, &second, k_hi, last_lo_);
    v_hi = value_at(k_hi, second, nullptr, 0, first.hi + (last_hi_ - last_lo_));
    last_lo_ = first.hi;
    last_hi_ = second.hi;
  }

 private:
  struct Bracket {
    int lo;
    unsigned int count_lo;
    int hi;
    unsigned int count_hi;
  };
  unsigned int count_le(int t) const {
    const unsigned int c = count_at_most(values_, padded_, flipped(static_cast<std::uint16_t>(t)));
    return t == 0xFFFF ? c - static_cast<unsigned int>(padded_ - n_) : c;
  }
  // The continuous value at rank k inside bracket b; each probe also narrows `other` for rank
  // k2. Probes gallop from `guess` (guess, then 1, 3, 7, ... away toward the rank) while they stay
  // inside the bracket, then bisect. The bracket the search ends with, so the value, is the same
  // for any probes.
  double value_at(double k, Bracket& b, Bracket* other, double k2, int guess) const {
    int mid = guess, step = 1;
    bool gallop = true;
    while (b.hi - b.lo > 1) {
      if (gallop && (mid <= b.lo || mid >= b.hi)) gallop = false;
      if (!gallop) mid = b.lo + (b.hi - b.lo) / 2;
      const unsigned int c = count_le(mid);
      if (c > k) {
        b.hi = mid;
        b.count_hi = c;
      } else {
        b.lo = mid;
        b.count_lo = c;
      }
      if (other) {
        if (c > k2 && mid < other->hi) {
          other->hi = mid;
          other->count_hi = c;
        } else if (c <= k2 && mid > other->lo) {
          other->lo = mid;
          other->count_lo = c;
        }
      }
      if (gallop) {  // the next probe
        mid += c > k ? -step : step;
        step *= 2;
      }
    }
    if (other && b.lo > other->lo) {  // count_le(b.lo) <= k <= k2
      other->lo = b.lo;
      other->count_lo = b.count_lo;
    }
    const unsigned int below = b.count_lo, count = b.count_hi - b.count_lo;
    return b.hi - 0.5 + (k - below) / count;
  }

  const std::int16_t* values_ = nullptr;
  int n_ = 0, padded_ = 0, lo_ = 0, hi_ = 0;
  int last_lo_ = 0, last_hi_ = 0;  ///< integer values found for the last block
};

}  // namespace

namespace {

// Fills NaN cells with the mean of their valid 8-neighbours, growing inward until none is left.
void fill_invalid(BackgroundGrid& grid, std::vector<float>& copy) {
  copy = grid.values;
  for (bool missing = true; missing;) {
    missing = false;
    bool progress = false;
    for (int j = 0; j < grid.ny; ++j)
      for (int i = 0; i < grid.nx; ++i) {
        if (!std::isnan(grid.values[static_cast<std::size_t>(j) * grid.nx + i])) continue;
        double s = 0;
        int c = 0;
        for (int dj = -1; dj <= 1; ++dj)
          for (int di = -1; di <= 1; ++di) {
            const int ii = i + di, jj = j + dj;
            if (ii < 0 || jj < 0 || ii >= grid.nx || jj >= grid.ny) continue;
            const float v = grid.values[static_cast<std::size_t>(jj) * grid.nx + ii];
            if (!std::isnan(v)) {
              s += v;
              ++c;
            }
          }
        if (c > 0) {
          copy[static_cast<std::size_t>(j) * grid.nx + i] = static_cast<float>(s / c);
          progress = true;
        } else {
          missing = true;
        }
      }
    grid.values = copy;
    if (!progress) break;
  }
}

// Pass 2's value of a pixel: raw - background offset to 32768, rounded half up by truncation
// of a positive number (lround is a libm call), on the uint16 histogram's range. The GPU twin
// (kernels/background.cu) evaluates the same float expression.
constexpr int kResidualOffset = 32768;
LAUEPROC_INLINE std::uint16_t shifted_residual(std::uint16_t raw, float background) {
  const float v = std::clamp(static_cast<float>(raw) - background + (kResidualOffset + 0.5f), 0.0f, 65535.0f);
  return static_cast<std::uint16_t>(v);
}

// shifted_residual for a background known to lie well inside the int range (|background| <
// 2^30: RowRenderer::bounded): the truncation to int is then defined, and clamping the integer
// gives the same value as clamping the float (v in (-1, 0) truncates to 0, v < 0 clamps to 0,
// v > 65535 to 65535). Integer min/max vectorise to two instructions; the float clamp's NaN
// semantics cost the vectoriser compares and blends.
LAUEPROC_INLINE std::uint16_t shifted_residual_bounded(std::uint16_t raw, float background) {
  const int v = static_cast<int>(static_cast<float>(raw) - background + (kResidualOffset + 0.5f));
  return static_cast<std::uint16_t>(std::min(std::max(v, 0), 65535));
}

// shifted_residual (kBounded: shifted_residual_bounded) of the columns [x0, x1) of one row, the
// background evaluated in registers (restrict: vectorised without run-time overlap checks).
template <bool kBounded>
LAUEPROC_INLINE void shifted_segment(const detail::CubicSegment& bg, int x0, int x1,
                                     const std::uint16_t* __restrict raw, std::uint16_t* __restrict out) {
  const float* __restrict w0 = bg.w0;
  const float* __restrict w1 = bg.w1;
  const float* __restrict w2 = bg.w2;
  const float* __restrict w3 = bg.w3;
  const float c0 = bg.c0, c1 = bg.c1, c2 = bg.c2, c3 = bg.c3;
  for (int x = x0; x < x1; ++x) {
    const float b = detail::CubicSegment::value(w0[x], w1[x], w2[x], w3[x], c0, c1, c2, c3);
    out[x] = kBounded ? shifted_residual_bounded(raw[x], b) : shifted_residual(raw[x], b);
  }
}

// Pass 2's values of row y.
LAUEPROC_CLONES void shifted_row(detail::RowRenderer& renderer, int y, const std::uint16_t* raw, std::uint16_t* out) {
  if (renderer.bounded())
    renderer.for_each_segment(y, [&](int x0, int x1, const detail::CubicSegment& bg) {
      // Cells of 32 px blocks: a constant trip count, straight vector code without a tail.
      if (x1 - x0 == 32) shifted_segment<true>(bg, x0, x0 + 32, raw, out);
      else shifted_segment<true>(bg, x0, x1, raw, out);
    });
  else
    renderer.for_each_segment(y, [&](int x0, int x1, const detail::CubicSegment& bg) {
      shifted_segment<false>(bg, x0, x1, raw, out);
    });
}

// True when any of m[0..n) is nonzero (8 bytes at a time).
bool any_set(const std::uint8_t* m, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, m + i, sizeof word);
    if (word) return true;
  }
  for (; i < n; ++i)
    if (m[i]) return true;
  return false;
}

// Appends flipped(v[x0]), flipped(v[x0 + step]), ... (x < x1) to out, leaving out pixels whose
// mask byte is set (mrow may be null); returns the new end.
LAUEPROC_INLINE std::int16_t* gather_flipped(const std::uint16_t* __restrict v, const std::uint8_t* mrow, int x0,
                                             int x1, int step, std::int16_t* __restrict out) {
  if (!mrow || !any_set(mrow + x0, x1 - x0)) {
    if (step == 1) {
      for (int x = x0; x < x1; ++x) out[x - x0] = flipped(v[x]);  // vectorised
      return out + (x1 - x0);
    }
    for (int x = x0; x < x1; x += step) *out++ = flipped(v[x]);
    return out;
  }
  for (int x = x0; x < x1; x += step) {
    *out = flipped(v[x]);  // branch-free compaction: always store, advance past unmasked pixels only
    out += !mrow[x];
  }
  return out;
}

// One pass over the blocks. Without `prev`: quantiles of the raw pixels. With `prev`: quantiles
// of (raw - prev background), offset to 32768 and rounded to stay on the integer histogram
// (rounding adds 1/12 count^2 of variance, no bias); the result is prev + correction.
// Returns the median block sigma.
double block_pass(const FrameView& frame, const std::uint8_t* mask, const std::uint8_t* masked_rows, double q,
                  const BackgroundGrid* prev, BackgroundGrid& grid) {
  const int w = frame.width, h = frame.height;
  const double qlo = q / 3.0;
  const double zq = math::normal_quantile(q), zlo = math::normal_quantile(qlo);
  thread_local std::vector<std::uint16_t> shifted;
  thread_local std::vector<std::int16_t> gather;
  thread_local std::vector<float> sigmas;
  thread_local BlockQuantiles quantiles;
  thread_local detail::RowRenderer renderer;
  // Pass 1 only seeds pass 2, so it reads every 2nd pixel of every 2nd row (4x cheaper); pass 2
  // reads every pixel of every 2nd row: 512 samples of a 32 px block put the quantile within
  // 0.06 sigma, and half the rows halve the background rendering, the costliest part.
  const int step = prev ? 1 : 2;
  constexpr int kRowStep = 2;
  if (prev) renderer.setup(*prev, w);
  sigmas.clear();
  for (int j = 0; j < grid.ny; ++j) {
    const int y0 = static_cast<int>(static_cast<long long>(j) * h / grid.ny);
    const int y1 = static_cast<int>(static_cast<long long>(j + 1) * h / grid.ny);
    if (prev) {  // this block row's pass-2 values, whole rows at a time (vectorised)
      shifted.resize(static_cast<std::size_t>(y1 - y0) * w);
      for (int y = y0; y < y1; y += kRowStep)
        shifted_row(renderer, y, frame.data + y * frame.stride, shifted.data() + static_cast<std::size_t>(y - y0) * w);
    }
    for (int i = 0; i < grid.nx; ++i) {
      const int x0 = static_cast<int>(static_cast<long long>(i) * w / grid.nx);
      const int x1 = static_cast<int>(static_cast<long long>(i + 1) * w / grid.nx);
      gather.resize(static_cast<std::size_t>(x1 - x0) * (y1 - y0) + kLanes);
      std::int16_t* const first = gather.data();
      std::int16_t* out = first;
      for (int y = y0; y < y1; y += kRowStep) {
        const std::uint8_t* mrow =
            mask && (!masked_rows || masked_rows[y]) ? mask + static_cast<std::size_t>(y) * w : nullptr;
        if (prev) out = gather_flipped(shifted.data() + static_cast<std::size_t>(y - y0) * w, mrow, x0, x1, 1, out);
        else out = gather_flipped(frame.data + y * frame.stride, mrow, x0 + (y & 1), x1, step, out);
      }
      const int n = static_cast<int>(out - first);
      float& cell = grid.values[static_cast<std::size_t>(j) * grid.nx + i];
      cell = std::numeric_limits<float>::quiet_NaN();
      // Too few good pixels for a trustworthy low quantile: filled from neighbours later.
      if (n < std::max(8, (x1 - x0) * (y1 - y0) / (4 * kRowStep * step))) continue;  // a quarter of the samples
      quantiles.build(first, n);
      double vq, vlo;
      quantiles.select(qlo * n, q * n, vlo, vq);
      double level, sigma;
      math::level_from_quantiles(vq, vlo, zq, zlo, level, sigma);
      if (prev) {
        // A block mostly covered by a peak (> 40 % of its pixels 5 sigma up) cannot show its
        // background: leave it to its neighbours.
        const double high = level + 5.0 * std::max(sigma, 1.0);
        if (quantiles.count_above(high) > 0.4 * n) continue;
        level = prev->values[static_cast<std::size_t>(j) * grid.nx + i] + (level - kResidualOffset);
      }
      cell = static_cast<float>(level);
      sigmas.push_back(static_cast<float>(sigma));
    }
  }
  if (sigmas.empty()) return -1;
  std::nth_element(sigmas.begin(), sigmas.begin() + static_cast<std::ptrdiff_t>(sigmas.size() / 2), sigmas.end());
  return sigmas[sigmas.size() / 2];
}

}  // namespace

void background_grid_shape(int width, int height, const BackgroundConfig& config, BackgroundGrid& grid) {
  const int block = std::max(4, config.block_px);
  grid.nx = std::max(1, static_cast<int>(std::lround(static_cast<double>(width) / block)));
  grid.ny = std::max(1, static_cast<int>(std::lround(static_cast<double>(height) / block)));
  grid.cell_x = static_cast<double>(width) / grid.nx;
  grid.cell_y = static_cast<double>(height) / grid.ny;
  grid.values.assign(static_cast<std::size_t>(grid.nx) * grid.ny, 0.0f);
}

void fill_invalid_cells(BackgroundGrid& grid) {
  thread_local std::vector<float> copy;
  fill_invalid(grid, copy);
}

void background_blocks(const FrameView& frame, const std::uint8_t* mask, const BackgroundConfig& config,
                       BackgroundGrid& grid, const std::uint8_t* masked_rows) {
  background_grid_shape(frame.width, frame.height, config, grid);
  const double q = std::clamp(config.percentile, 0.01, 0.99);
  thread_local std::vector<float> copy;
  thread_local BackgroundGrid first;
  // Pass 1 on raw pixels. On a steep slope (the flank of the glass halo: ~2.5 counts/px, 80
  // counts across a block vs 8 of noise) the block's spread is slope, not noise, and the level
  // is biased; pass 2 repeats the quantiles on the residual of pass 1, where only noise is left.
  first.nx = grid.nx;
  first.ny = grid.ny;
  first.cell_x = grid.cell_x;
  first.cell_y = grid.cell_y;
  first.values.resize(grid.values.size());
  if (block_pass(frame, mask, masked_rows, q, nullptr, first) < 0) {  // everything masked: flat zero
    grid.block_sigma = 0;
    return;
  }
  fill_invalid(first, copy);
  const double sigma = block_pass(frame, mask, masked_rows, q, &first, grid);
  if (sigma < 0) {
    grid.values = first.values;
    grid.block_sigma = 0;
    return;
  }
  grid.block_sigma = sigma;
  fill_invalid(grid, copy);
  // No smoothing of the grid: each level already averages ~1000 pixels (~0.06 sigma), and a
  // 3x3 median or mean would flatten the crest of the halo.
}

void background_gaussian(const FrameView& frame, const std::uint8_t* mask, const BackgroundConfig& config,
                         const BackgroundGrid& clip_ref, double sigma, BackgroundGrid& grid) {
  constexpr int kDecim = 4;
  const int w = frame.width, h = frame.height;
  const int dw = (w + kDecim - 1) / kDecim, dh = (h + kDecim - 1) / kDecim;
  grid.nx = dw;
  grid.ny = dh;
  grid.cell_x = grid.cell_y = kDecim;
  grid.block_sigma = clip_ref.block_sigma;
  const std::size_t nd = static_cast<std::size_t>(dw) * dh;
  thread_local std::vector<float> sum, cnt, tmp_s, tmp_c, ref_row;
  thread_local detail::RowRenderer ref;
  sum.assign(nd, 0.0f);
  cnt.assign(nd, 0.0f);
  ref_row.resize(static_cast<std::size_t>(w));
  ref.setup(clip_ref, w);
  const float clip = static_cast<float>(3.0 * sigma);
  // 1. Clip bright pixels to the reference background and average 4x4 cells. Masked pixels
  //    carry no weight at all.
  for (int y = 0; y < h; ++y) {
    ref.row(y, ref_row.data());
    const std::uint16_t* row = frame.data + y * frame.stride;
    const std::uint8_t* mrow = mask ? mask + static_cast<std::size_t>(y) * w : nullptr;
    float* srow = sum.data() + static_cast<std::size_t>(y / kDecim) * dw;
    float* crow = cnt.data() + static_cast<std::size_t>(y / kDecim) * dw;
    for (int x = 0; x < w; ++x) {
      if (mrow && mrow[x]) continue;
      const float v = row[x];
      const float b = ref_row[x];
      srow[x / kDecim] += v > b + clip ? b : v;
      crow[x / kDecim] += 1.0f;
    }
  }
  // 2. Exact separable Gaussian (truncated at 3.5 sigma) on sums and weights: the ratio is a
  //    normalised convolution (Knutsson & Westin 1993), unbiased at edges and masked cells.
  thread_local std::vector<float> kernel;
  const int radius = detail::gaussian_taps(config, kernel);
  tmp_s.assign(nd, 0.0f);
  tmp_c.assign(nd, 0.0f);
  for (int y = 0; y < dh; ++y) {  // along x
    const float* s = sum.data() + static_cast<std::size_t>(y) * dw;
    const float* c = cnt.data() + static_cast<std::size_t>(y) * dw;
    float* os = tmp_s.data() + static_cast<std::size_t>(y) * dw;
    float* oc = tmp_c.data() + static_cast<std::size_t>(y) * dw;
    for (int x = 0; x < dw; ++x) {
      const int k0 = std::max(-radius, -x), k1 = std::min(radius, dw - 1 - x);
      float as = 0, ac = 0;
      for (int k = k0; k <= k1; ++k) {
        as += kernel[k + radius] * s[x + k];
        ac += kernel[k + radius] * c[x + k];
      }
      os[x] = as;
      oc[x] = ac;
    }
  }
  std::fill(sum.begin(), sum.end(), 0.0f);
  std::fill(cnt.begin(), cnt.end(), 0.0f);
  for (int y = 0; y < dh; ++y) {  // along y, row by row so the inner loop runs over x
    const int k0 = std::max(-radius, -y), k1 = std::min(radius, dh - 1 - y);
    float* os = sum.data() + static_cast<std::size_t>(y) * dw;
    float* oc = cnt.data() + static_cast<std::size_t>(y) * dw;
    for (int k = k0; k <= k1; ++k) {
      const float g = kernel[k + radius];
      const float* s = tmp_s.data() + static_cast<std::size_t>(y + k) * dw;
      const float* c = tmp_c.data() + static_cast<std::size_t>(y + k) * dw;
      for (int x = 0; x < dw; ++x) {
        os[x] += g * s[x];
        oc[x] += g * c[x];
      }
    }
  }
  grid.values.resize(nd);
  const math::GridView rv{clip_ref.values.data(), clip_ref.nx, clip_ref.ny, clip_ref.cell_x, clip_ref.cell_y};
  for (int y = 0; y < dh; ++y)
    for (int x = 0; x < dw; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * dw + x;
      grid.values[i] = cnt[i] > 1e-3f ? sum[i] / cnt[i]
                                      : math::grid_value(rv, kDecim * x + 1.5, kDecim * y + 1.5);
    }
}

void render_background(const BackgroundGrid& grid, int width, int height, std::vector<float>& out) {
  out.resize(static_cast<std::size_t>(width) * height);
  detail::RowRenderer r;
  r.setup(grid, width);
  for (int y = 0; y < height; ++y) r.row(y, out.data() + static_cast<std::size_t>(y) * width);
}

double robust_sigma(std::vector<float>& values) {
  if (values.empty()) return 0.0;
  const std::size_t mid = values.size() / 2;
  const float med = detail::kth_smallest(values.data(), values.size(), mid);
  for (auto& v : values) v = std::fabs(v - med);
  return 1.4826 * static_cast<double>(detail::kth_smallest(values.data(), values.size(), mid));
}

namespace detail {
int gaussian_taps(const BackgroundConfig& config, std::vector<float>& taps) {
  constexpr int kDecim = 4;
  const double sd = std::max(0.5, config.gaussian_sigma_px / kDecim);
  const int radius = static_cast<int>(std::ceil(3.5 * sd));
  taps.resize(static_cast<std::size_t>(2 * radius + 1));
  for (int k = -radius; k <= radius; ++k) taps[k + radius] = static_cast<float>(std::exp(-0.5 * k * k / (sd * sd)));
  return radius;
}

// Robust sigma of (frame - grid) on every 4th pixel of every 8th row (1/32 of the frame:
// ~130k samples at 2048^2, sigma to ~0.4 %), masked pixels excluded.
math::NoiseModel fit_noise_model(const std::vector<float>& residuals, const std::vector<float>& backgrounds,
                                 double sigma) {
  const math::NoiseModel flat{sigma * sigma, 0.0};
  // Every 2nd sample is plenty (~65k at 2048^2: each bin's MAD to ~1 %) and halves the cost.
  constexpr std::size_t kStride = 2;
  const std::size_t n = std::min(residuals.size(), backgrounds.size()) / kStride;
  constexpr int kBins = math::kNoiseBins;
  if (n < static_cast<std::size_t>(kBins) * math::kNoiseMinPerBin) return flat;
  // Bins of equal width between the 2nd and 98th percentile of the background.
  thread_local std::vector<float> strided;  // every kStride-th background sample
  strided.resize(n);
  for (std::size_t i = 0; i < n; ++i) strided[i] = backgrounds[i * kStride];
  auto at = [&](double q) {
    const auto k = static_cast<std::size_t>(q * static_cast<double>(n - 1));
    return static_cast<double>(detail::kth_smallest(strided.data(), n, k));
  };
  const double lo = at(0.02), hi = at(0.98);
  if (!math::noise_range_fits(lo, hi)) return flat;  // too flat to tell a slope
  thread_local std::vector<float> bin_values[kBins];
  double bin_bg[kBins] = {};
  for (auto& v : bin_values) v.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const double b = backgrounds[i * kStride];
    if (b < lo || b > hi) continue;
    const int k = math::noise_bin(b, lo, hi);
    bin_values[k].push_back(residuals[i * kStride]);
    bin_bg[k] += b;
  }
  unsigned long long count[kBins];
  double sd[kBins];
  for (int k = 0; k < kBins; ++k) {
    count[k] = bin_values[k].size();
    sd[k] = count[k] >= static_cast<unsigned long long>(math::kNoiseMinPerBin) ? robust_sigma(bin_values[k]) : 0.0;
  }
  return math::noise_model_from_bins(count, bin_bg, sd, sigma);
}

double sampled_sigma(const FrameView& frame, const std::uint8_t* mask, const BackgroundGrid& grid,
                     std::vector<float>& samples, std::vector<float>* bg_samples, math::NoiseModel* model,
                     const std::uint8_t* masked_rows) {
  constexpr int kStep = 4;
  const int w = frame.width, h = frame.height;
  thread_local RowRenderer r;
  r.setup(grid, w);
  constexpr int kRowStep = 2 * kStep;
  const int first_row = std::min(kStep / 2, h - 1);
  // At most one sample per kStep columns of each sampled row: written through pointers (no
  // push_back's capacity test per sample), then cut to the count. The vectors keep their size
  // between frames, so only a few masked samples' worth is zero-filled again.
  const std::size_t capacity =
      static_cast<std::size_t>((h - first_row + kRowStep - 1) / kRowStep) * static_cast<std::size_t>(w / kStep + 1);
  samples.resize(capacity);
  if (bg_samples) bg_samples->resize(capacity);
  float* out = samples.data();
  float* bg_out = bg_samples ? bg_samples->data() : nullptr;
  for (int y = first_row; y < h; y += kRowStep) {
    const std::uint16_t* raw = frame.data + y * frame.stride;
    const std::uint8_t* mrow =
        mask && (!masked_rows || masked_rows[y]) ? mask + static_cast<std::size_t>(y) * w : nullptr;
    const int phase = (y / kStep) % kStep;  // sampled columns: x = phase (mod kStep)
    // The background at the sampled columns only (a quarter of the row's).
    r.for_each_segment(y, [&](int x0, int x1, const CubicSegment& bg) {
      for (int x = x0 + ((phase - x0) % kStep + kStep) % kStep; x < x1; x += kStep) {
        if (mrow && mrow[x]) continue;
        const float b = bg.at(x);
        *out++ = static_cast<float>(raw[x]) - b;
        if (bg_out) *bg_out++ = b;
      }
    });
  }
  samples.resize(static_cast<std::size_t>(out - samples.data()));
  if (bg_samples) bg_samples->resize(samples.size());
  if (model && bg_samples) {  // before robust_sigma reorders the samples
    thread_local std::vector<float> residual_copy;
    residual_copy.assign(samples.begin(), samples.end());
    const double sigma = robust_sigma(samples);
    *model = fit_noise_model(residual_copy, *bg_samples, sigma);
    return sigma;
  }
  return robust_sigma(samples);
}
}  // namespace detail

void estimate_background(const FrameView& frame, const std::uint8_t* mask, const BackgroundConfig& config,
                         std::vector<float>& background) {
  BackgroundGrid blocks;
  background_blocks(frame, mask, config, blocks);
  if (config.method == BackgroundMethod::block_percentile) {
    render_background(blocks, frame.width, frame.height, background);
    return;
  }
  std::vector<float> samples;
  const double sigma = detail::sampled_sigma(frame, mask, blocks, samples, nullptr);
  BackgroundGrid gauss;
  background_gaussian(frame, mask, config, blocks, sigma, gauss);
  render_background(gauss, frame.width, frame.height, background);
}

}  // namespace laueproc
