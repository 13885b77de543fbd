#pragma once
/// @file
/// @brief Phased bodies of the block-percentile background (host/stages/background.cpp
/// background_blocks) and of the tables that evaluate a grid per pixel (detail::RowRenderer):
///   GridColumns  column tables of a grid shape (cell index and the four cubic weights);
///   CoarseRows   per row, the grid's padded coarse row (double accumulation, rounded to float);
///   BlockPass    one thread block per (cell, frame): the quantiles of the cell's gathered pixels
///                by exact histogram selection (math::select_* shared with the CPU);
///   FillCells    one block per frame: NaN cells filled from their neighbours until none is left
///                (a loop over phases), and pass 2's median block sigma (radix selection).
/// Every value is computed by the CPU's expressions in the CPU's order (no FMA contraction on
/// the device: -fmad=false), and counts do not depend on thread order: the grid is the CPU's
/// bit for bit.

#include "frame_batch.cuh"
#include "laueproc/math/background.hpp"
#include "select.cuh"

namespace laueproc::kernels {

constexpr unsigned kBlockPassThreads = 256;
constexpr int kBackgroundOffset = 32768;  ///< pass 2's offset (block_pass kOffset)
constexpr int kWindowBins = 1024;         ///< bins of the window histogram

/// @brief detail::RowRenderer::setup's column tables for cells of `cell_x` px.
/// Grid (ceil(width / 256)), block 256.
struct GridColumns {
  struct Params {
    int width;
    double cell_x;
    int* col_cell;  ///< [width]
    float* col_w;   ///< [4 * width]
  };
  struct Shared {};
  struct Local {};
  static constexpr int kPhases = 1;
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const long long xl = at.global_x();
    if (xl >= P.width) return;
    const int x = static_cast<int>(xl);
    int i0;
    double t, c[4];
    math::grid_axis(x, P.cell_x, i0, t);
    math::cubic_weights(t, c);
    P.col_cell[x] = i0;
    for (int k = 0; k < 4; ++k) P.col_w[static_cast<long long>(k) * P.width + x] = static_cast<float>(c[k]);
  }
};

/// @brief detail::RowRenderer::row's padded coarse row (index ci = cell ci - 2, extrapolated)
/// of every row of every frame. Grid (height, frames), block 64.
struct CoarseRows {
  struct Params {
    BatchView v;
    const float* values;      ///< the grid of frame f at values + f * frame_stride
    long long frame_stride;
    int nx, ny;
    double cell_x, cell_y;
  };
  struct Shared {};
  struct Local {};
  static constexpr int kPhases = 1;
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchShape& sh = P.v.shape;
    const int y = static_cast<int>(at.block.x), f = static_cast<int>(at.block.y);
    if (P.v.state[f].constant) return;
    const math::GridView view{P.values + f * P.frame_stride, P.nx, P.ny, P.cell_x, P.cell_y};
    int j0;
    double ty, wy[4];
    math::grid_axis(y, view.cell_y, j0, ty);
    math::cubic_weights(ty, wy);
    float* row = P.v.coarse + (1ll * f * sh.height + y) * sh.coarse_stride;
    for (int ci = static_cast<int>(at.thread_rank()); ci < view.nx + 4; ci += static_cast<int>(at.block_threads())) {
      double acc = 0;
      for (int b = 0; b < 4; ++b) acc += wy[b] * math::grid_at(view, ci - 2, j0 - 1 + b);
      row[ci] = static_cast<float>(acc);
    }
  }
};

/// @brief One pass of block_pass (background.cpp) over every cell of every frame. Pass 1 (first
/// = false): every 2nd pixel of every 2nd row of the raw frame. Pass 2: every pixel of every
/// 2nd row of raw - (pass-1 background, coarse rows in v.coarse), offset to 32768 and rounded.
/// Cells with too few unmasked pixels, or in pass 2 > 40 % covered by a peak, get NaN.
/// Grid (cells, frames), block kBlockPassThreads.
struct BlockPass {
  struct Params {
    BatchView v;
    int second;  ///< 0: pass 1, 1: pass 2
  };
  struct Shared {
    unsigned int hi[256], lo[256], win[kWindowBins];
    int n, nhigh, lo_bin, status, b_sel, skip;
    unsigned int below_sel;
    double k_sel, vq, vlo, level, sigma, high;
  };
  struct Local {};
  static constexpr int kPhases = 14;

  struct Cell {
    int x0, y0, bw, area;
  };
  LAUEPROC_HD static Cell cell_of(const BatchShape& sh, int cell) {
    const int i = cell % sh.nx, j = cell / sh.nx;
    const int y0 = static_cast<int>(1ll * j * sh.height / sh.ny), y1 = static_cast<int>(1ll * (j + 1) * sh.height / sh.ny);
    const int x0 = static_cast<int>(1ll * i * sh.width / sh.nx), x1 = static_cast<int>(1ll * (i + 1) * sh.width / sh.nx);
    return Cell{x0, y0, x1 - x0, (x1 - x0) * (y1 - y0)};
  }

  // Calls fn(value) for this thread's share of the cell's gathered pixels (any order: only
  // counts are taken). Value: raw (pass 1) or the rounded offset residual (pass 2).
  template <class Fn>
  LAUEPROC_HD static void visit(const grid::Index& at, const Params& P, int f, const Cell& c, Fn&& fn) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const std::uint16_t* raw = v.raw + frame_base(sh, f);
    const std::uint8_t* mask = v.state[f].has_mask ? v.mask + frame_base(sh, f) : nullptr;
    for (int t = static_cast<int>(at.thread_rank()); t < c.area; t += static_cast<int>(at.block_threads())) {
      const int y = c.y0 + t / c.bw, x = c.x0 + t % c.bw;
      if ((y - c.y0) & 1) continue;  // every 2nd row
      if (!P.second) {
        const int dx = x - c.x0 - (y & 1);
        if (dx < 0 || (dx & 1)) continue;  // pass 1: x = x0 + (y & 1), step 2
      }
      const long long i = 1ll * y * sh.width + x;
      if (mask && mask[i]) continue;
      unsigned int value = raw[i];
      if (P.second) {
        const float* row = v.coarse + (1ll * f * sh.height + y) * sh.coarse_stride;
        const float b = render_at(row, v.col_cell, v.col_w, sh.width, x);
        float r = static_cast<float>(raw[i]) - b + (kBackgroundOffset + 0.5f);
        r = r < 0.0f ? 0.0f : (65535.0f < r ? 65535.0f : r);  // std::clamp(r, 0, 65535)
        value = static_cast<std::uint16_t>(r);
      }
      fn(value);
    }
  }

  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    const BatchShape& sh = P.v.shape;
    const int cell = static_cast<int>(at.block.x), f = static_cast<int>(at.block.y);
    const int t = static_cast<int>(at.thread_rank()), nt = static_cast<int>(at.block_threads());
    const Cell c = cell_of(sh, cell);
    const double q = P.v.config.q, qlo = q / 3.0;
    const long long out = 1ll * f * sh.cells() + cell;
    switch (p) {
      case 0:
        for (int k = t; k < kWindowBins; k += nt) s.win[k] = 0;
        for (int k = t; k < 256; k += nt) s.hi[k] = 0;
        if (t == 0) {
          const FrameState& st = P.v.state[f];
          s.n = s.nhigh = s.status = 0;
          s.lo_bin = -1;
          s.skip = st.constant || (P.second && st.flat);
        }
        break;
      case 1:
        if (s.skip) break;
        {
          int n = 0;
          visit(at, P, f, c, [&](unsigned int v) {
            ++n;
            grid::atomic_add(&s.hi[v >> 8], 1u);
            if (P.second) {
              int b = static_cast<int>(v) - (kBackgroundOffset - kWindowBins / 4);
              b = b < 0 ? 0 : (b > kWindowBins - 1 ? kWindowBins - 1 : b);
              grid::atomic_add(&s.win[b], 1u);
            }
          });
          if (n) grid::atomic_add(&s.n, n);
        }
        break;
      case 2:
        if (t != 0 || s.skip) break;
        {
          const int step = P.second ? 1 : 2;
          const int need = c.area / (4 * 2 * step);  // a quarter of the samples
          if (s.n < (need > 8 ? need : 8)) {
            s.status = 1;  // too few good pixels: filled from the neighbours later
          } else if (P.second) {
            double v1, v2;
            const int base = kBackgroundOffset - kWindowBins / 4;
            if (math::select_window_value(s.win, kWindowBins, base, q * s.n, v1) &&
                math::select_window_value(s.win, kWindowBins, base, qlo * s.n, v2)) {
              s.vq = v1;
              s.vlo = v2;
              s.status = 2;  // done by the window
            }
          }
        }
        break;
      case 3:
      case 7:  // the exact two-level selection (math::select_high_bin, select_low_value), rank q n, then q/3 n
        if (t != 0 || s.skip || s.status != 0) break;
        {
          s.k_sel = math::clamp_rank((p == 3 ? q : qlo) * s.n, s.n);
          unsigned int below;
          s.b_sel = math::select_high_bin(s.hi, s.k_sel, below);
          s.below_sel = below;
        }
        break;
      case 4:
      case 8:
        if (s.skip || s.status != 0 || s.b_sel == s.lo_bin) break;
        for (int k = t; k < 256; k += nt) s.lo[k] = 0;
        break;
      case 5:
      case 9:
        if (s.skip || s.status != 0 || s.b_sel == s.lo_bin) break;
        {
          const unsigned int b = static_cast<unsigned int>(s.b_sel);
          visit(at, P, f, c, [&](unsigned int v) {
            if ((v >> 8) == b) grid::atomic_add(&s.lo[v & 0xFF], 1u);
          });
        }
        break;
      case 6:
      case 10:
        if (t != 0 || s.skip || s.status != 0) break;
        s.lo_bin = s.b_sel;
        (p == 6 ? s.vq : s.vlo) = math::select_low_value(s.lo, s.b_sel, s.k_sel, s.below_sel);
        break;
      case 11:
        if (t != 0 || s.skip || s.status == 1) break;
        {
          double level, sigma;
          math::level_from_quantiles(s.vq, s.vlo, P.v.config.zq, P.v.config.zlo, level, sigma);
          s.level = level;
          s.sigma = sigma;
          s.high = level + 5.0 * (sigma > 1.0 ? sigma : 1.0);
        }
        break;
      case 12:  // a block mostly covered by a peak (> 40 % of its pixels 5 sigma up): NaN
        if (s.skip || s.status == 1 || !P.second) break;
        {
          int nhigh = 0;
          const double high = s.high;
          visit(at, P, f, c, [&](unsigned int v) { nhigh += v > high; });
          if (nhigh) grid::atomic_add(&s.nhigh, nhigh);
        }
        break;
      default:  // 13
        if (t != 0 || s.skip) break;
        if (s.status == 1 || (P.second && s.nhigh > 0.4 * s.n)) {
          P.v.values[out] = quiet_nan();
          P.v.sigmas[out] = quiet_nan();
        } else {
          const double level = P.second ? P.v.first[out] + (s.level - kBackgroundOffset) : s.level;
          P.v.values[out] = static_cast<float>(level);
          P.v.sigmas[out] = static_cast<float>(s.sigma);
        }
        break;
    }
  }
};

/// @brief After a block pass, one block per frame: fill_invalid_cells on the pass's values.
/// Stage 1: values -> first (FrameState::flat when no cell is valid: background_blocks then
/// returns its zeroed grid). Stage 2: values -> grid, block_sigma = median of the valid cells'
/// sigmas (nth_element's element, by radix selection); no valid cell: grid = first
/// (fill_source); a flat frame: grid = 0. The fill sweeps loop through next_phase.
/// Grid (frames), block 256.
struct FillCells {
  struct Params {
    BatchView v;
    int stage;  ///< 1 or 2
  };
  struct Shared {
    unsigned int hist[2][256];
    RadixSelect sel;
    int stage, valid, mode, progress, missing, again;
  };
  struct Local {};
  enum Mode : int { kSkip = 0, kFill = 1, kZero = 2, kFromFirst = 3 };
  // 0 clear, 1 count + copy, 2 decide, 3 zero / from first, 4..12 median select (stage 2),
  // 13 sweep, 14 copy back, 15 loop or stop.
  static constexpr int kApply = 3, kSelect0 = 4, kSweep = kSelect0 + kSelectPhases, kCopyBack = kSweep + 1,
                       kLoop = kCopyBack + 1, kPhases = kLoop + 1;

  LAUEPROC_HD static int next_phase(int p, const Shared& s) {
    if (p == kApply) return s.mode != kFill ? kPhases : (s.stage == 2 ? kSelect0 : kSweep);
    if (p == kLoop) return s.again ? kSweep : kPhases;
    return p + 1;
  }

  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int f = static_cast<int>(at.block.x);
    const int t = static_cast<int>(at.thread_rank()), nt = static_cast<int>(at.block_threads());
    FrameState& st = v.state[f];
    const int cells = sh.cells();
    const float* values = v.values + 1ll * f * cells;
    const float* sigmas = v.sigmas + 1ll * f * cells;
    float* a = (P.stage == 1 ? v.first : v.grid) + 1ll * f * cells;  // the grid being filled
    float* b = v.fill_tmp + 1ll * f * cells;                         // fill_invalid's copy
    if (p == 0) {
      if (t == 0) {
        s.stage = P.stage;
        s.valid = s.progress = s.missing = s.again = 0;
      }
    } else if (p == 1) {
      if (st.constant || (P.stage == 2 && st.flat)) return;
      int valid = 0;
      for (int k = t; k < cells; k += nt) {
        const float x = values[k];
        valid += !(x != x);
        a[k] = x;
        b[k] = x;
      }
      if (valid) grid::atomic_add(&s.valid, valid);
    } else if (p == 2) {
      if (t != 0) return;
      if (st.constant) {
        s.mode = kSkip;
      } else if (P.stage == 1) {
        st.flat = s.valid == 0 ? 1 : 0;
        s.mode = s.valid == 0 ? kZero : kFill;
      } else if (st.flat) {
        s.mode = kZero;
      } else if (s.valid == 0) {
        s.mode = kFromFirst;
        st.fill_source = 1;
      } else {
        s.mode = kFill;
      }
      if (P.stage == 2) {
        st.valid_cells = s.valid;
        st.block_sigma = 0;
      }
      radix_begin(s.sel, static_cast<unsigned long long>(s.valid / 2), static_cast<unsigned long long>(s.valid));
    } else if (p == kApply) {
      if (s.mode == kZero)
        for (int k = t; k < cells; k += nt) a[k] = 0.0f;
      else if (s.mode == kFromFirst)
        for (int k = t; k < cells; k += nt) a[k] = v.first[1ll * f * cells + k];
    } else if (p < kSweep) {  // median of the valid sigmas
      const int rel = p - kSelect0;
      if (rel == 0) {
        for (int k = t; k < 256; k += nt) s.hist[0][k] = 0;
        return;
      }
      const int d = radix_pass(rel);
      if (rel % 2 == 1) {
        unsigned int* h = s.hist[d & 1];
        for (int k = t; k < cells; k += nt) {
          const float x = sigmas[k];
          if (x != x) continue;
          const unsigned int key = ordered_bits(x);
          if (radix_candidate(s.sel, key)) grid::atomic_add(&h[radix_digit(d, key)], 1u);
        }
      } else if (t == 0) {
        radix_choose(s.sel, d, s.hist[d & 1]);
        if (d == 3) st.block_sigma = from_ordered_bits(s.sel.prefix);
      } else if (d < 3) {
        for (int k = t - 1; k < 256; k += nt - 1) s.hist[(d + 1) & 1][k] = 0;
      }
    } else if (p == kSweep) {  // one sweep of fill_invalid: NaN cells of a -> b
      int progress = 0, missing = 0;
      for (int k = t; k < cells; k += nt) {
        if (!(a[k] != a[k])) continue;
        const int i = k % sh.nx, j = k / sh.nx;
        double sum = 0;
        int count = 0;
        for (int dj = -1; dj <= 1; ++dj)
          for (int di = -1; di <= 1; ++di) {
            const int ii = i + di, jj = j + dj;
            if (ii < 0 || jj < 0 || ii >= sh.nx || jj >= sh.ny) continue;
            const float x = a[jj * sh.nx + ii];
            if (!(x != x)) {
              sum += x;
              ++count;
            }
          }
        if (count > 0) {
          b[k] = static_cast<float>(sum / count);
          progress = 1;
        } else {
          missing = 1;
        }
      }
      if (progress) grid::atomic_or(&s.progress, 1);
      if (missing) grid::atomic_or(&s.missing, 1);
    } else if (p == kCopyBack) {  // grid.values = copy
      for (int k = t; k < cells; k += nt) a[k] = b[k];
    } else if (t == 0) {  // kLoop: another sweep while cells are missing and the last one filled some
      s.again = s.missing && s.progress;
      s.progress = s.missing = 0;
    }
  }
};

}  // namespace laueproc::kernels
