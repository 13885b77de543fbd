#pragma once
/// @file
/// @brief Phased bodies of the per-frame masks (CpuFrameAnalyzer::prepare_mask on the device):
/// detect_dead_lines' three passes (rows, columns without the dead rows, rows without the dead
/// columns), the constant-frame test, mask_zero_pixels' Chebyshev dilation of the zero pixels,
/// and the final mask = static | dead lines | zeros grown by the margin. Minima, maxima and
/// counts do not depend on the order the threads run in, so the result is the CPU's exactly.
/// Launch order (frame_pipeline.cuh): FrameInit, LineRows(1), LineCols(1), LineDecide(0),
/// LineCols(2), LineDecide(1), LineRows(3), LineDecide(2), ZeroRows, MaskFinal.

#include "frame_batch.cuh"

namespace laueproc::kernels {

constexpr unsigned kMaskThreads = 256;    ///< block size of every mask body
constexpr int kColumnRowsPerBlock = 64;   ///< rows one LineCols block reduces

/// @brief Resets frame f's state and column statistics (and the batch's peak count).
/// Grid (frames), block kMaskThreads.
struct FrameInit : BatchBody {
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const int f = static_cast<int>(at.block.x);
    const BatchShape& s = P.v.shape;
    const unsigned t = at.thread_rank(), nt = at.block_threads();
    if (t == 0) {
      FrameState st{};
      st.gmin = 0xFFFFFFFFu;
      st.gmax = 0;
      P.v.state[f] = st;
      if (f == 0) *P.v.peak_total = 0;
    }
    for (int x = static_cast<int>(t); x < s.width; x += static_cast<int>(nt)) {
      const long long i = 1ll * f * s.width + x;
      P.v.col_min[i] = 0xFFFFFFFFu;
      P.v.col_max[i] = 0;
      P.v.dead_col[i] = 0;
    }
  }
};

/// @brief Row minima/maxima: pass 1 (every row: dead_row, frame min/max) or pass 3 (rows not yet
/// dead, without the dead columns, in frames whose LineDecide asked for it).
/// Grid (height, frames), block kMaskThreads.
struct LineRows {
  struct Params {
    BatchView v;
    int pass;  ///< 1 or 3
  };
  struct Shared {
    unsigned int mn[kMaskThreads], mx[kMaskThreads];
    int active;
  };
  struct Local {};
  static constexpr int kPhases = 10;  // load, 8 halvings, write
  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    const BatchShape& sh = P.v.shape;
    const int y = static_cast<int>(at.block.x), f = static_cast<int>(at.block.y);
    const unsigned t = at.thread_rank();
    const FrameState& st = P.v.state[f];
    const long long r = 1ll * f * sh.height + y;
    if (p == 0) {
      const bool active = P.pass == 1 || (st.constant == 0 && st.line_pass == 3 && !P.v.dead_row[r]);
      unsigned int mn = 0xFFFFFFFFu, mx = 0;
      if (active) {
        const std::uint16_t* row = P.v.raw + frame_base(sh, f) + 1ll * y * sh.width;
        const std::uint8_t* dead_col = P.v.dead_col + 1ll * f * sh.width;
        for (int x = static_cast<int>(t); x < sh.width; x += static_cast<int>(kMaskThreads)) {
          if (P.pass == 3 && dead_col[x]) continue;
          const unsigned int v = row[x];
          mn = v < mn ? v : mn;
          mx = v > mx ? v : mx;
        }
      }
      s.mn[t] = mn;
      s.mx[t] = mx;
      if (t == 0) s.active = active ? 1 : 0;
    } else if (p <= 8) {
      const unsigned half = kMaskThreads >> p;
      if (t < half) {
        s.mn[t] = s.mn[t + half] < s.mn[t] ? s.mn[t + half] : s.mn[t];
        s.mx[t] = s.mx[t + half] > s.mx[t] ? s.mx[t + half] : s.mx[t];
      }
    } else if (t == 0 && s.active) {
      if (P.pass == 1) {
        P.v.dead_row[r] = P.v.config.detect_dead_lines && s.mn[0] == s.mx[0];
        grid::atomic_min(&P.v.state[f].gmin, s.mn[0]);
        grid::atomic_max(&P.v.state[f].gmax, s.mx[0]);
      } else {
        P.v.dead_row[r] = s.mn[0] == s.mx[0];
      }
    }
  }
};

/// @brief Column minima/maxima over kColumnRowsPerBlock rows per block: pass 1 (every row) or
/// pass 2 (without the dead rows, frames whose LineDecide asked for it).
/// Grid (ceil(width / kMaskThreads), ceil(height / kColumnRowsPerBlock), frames).
struct LineCols {
  struct Params {
    BatchView v;
    int pass;  ///< 1 or 2
  };
  struct Shared {};
  struct Local {};
  static constexpr int kPhases = 1;
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchShape& sh = P.v.shape;
    const int f = static_cast<int>(at.block.z);
    const FrameState& st = P.v.state[f];
    if (!P.v.config.detect_dead_lines) return;
    if (P.pass == 2 && (st.constant || st.line_pass != 2)) return;
    const long long xl = at.global_x();
    if (xl >= sh.width) return;
    const int x = static_cast<int>(xl);
    const int y0 = static_cast<int>(at.block.y) * kColumnRowsPerBlock;
    const int y1 = y0 + kColumnRowsPerBlock < sh.height ? y0 + kColumnRowsPerBlock : sh.height;
    const std::uint16_t* raw = P.v.raw + frame_base(sh, f);
    const std::uint8_t* dead_row = P.v.dead_row + 1ll * f * sh.height;
    unsigned int mn = 0xFFFFFFFFu, mx = 0;
    for (int y = y0; y < y1; ++y) {
      if (P.pass == 2 && dead_row[y]) continue;
      const unsigned int v = raw[1ll * y * sh.width + x];
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
    }
    if (mx < mn) return;  // no row counted
    grid::atomic_min(&P.v.col_min[1ll * f * sh.width + x], mn);
    grid::atomic_max(&P.v.col_max[1ll * f * sh.width + x], mx);
  }
};

/// @brief detect_dead_lines' decisions, one block per frame. Stage 0 (after pass 1): constant
/// frame; dead rows counted; columns judged again without them (pass 2) when some but not all
/// rows are dead, else the dead columns now, and rows judged again (pass 3) when some but not
/// all columns are dead. Stage 1 (after pass 2): dead columns, pass 3 or not. Stage 2 (after
/// pass 3): masked_lines. Grid (frames), block kMaskThreads.
struct LineDecide {
  struct Params {
    BatchView v;
    int stage;  ///< 0, 1 or 2
  };
  struct Shared {
    int rows, cols, skip, pass2;
  };
  struct Local {};
  static constexpr int kPhases = 5;
  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    const BatchShape& sh = P.v.shape;
    const int f = static_cast<int>(at.block.x);
    FrameState& st = P.v.state[f];
    const int t = static_cast<int>(at.thread_rank()), nt = static_cast<int>(at.block_threads());
    const std::uint8_t* dead_row = P.v.dead_row + 1ll * f * sh.height;
    std::uint8_t* dead_col = P.v.dead_col + 1ll * f * sh.width;
    unsigned int* cmin = P.v.col_min + 1ll * f * sh.width;
    unsigned int* cmax = P.v.col_max + 1ll * f * sh.width;
    const bool detect = P.v.config.detect_dead_lines != 0;
    if (p == 0) {
      if (t == 0) {
        s.rows = s.cols = s.pass2 = 0;
        if (P.stage == 0) s.skip = st.gmin == st.gmax || !detect;
        else if (P.stage == 1) s.skip = st.constant || st.line_pass != 2;
        else s.skip = st.constant || !detect;
      }
    } else if (p == 1) {  // count the dead lines (stages 0 and 2)
      if (s.skip || P.stage == 1) return;
      int rows = 0, cols = 0;
      for (int y = t; y < sh.height; y += nt) rows += dead_row[y];
      if (P.stage == 2)
        for (int x = t; x < sh.width; x += nt) cols += dead_col[x];
      if (rows) grid::atomic_add(&s.rows, rows);
      if (cols) grid::atomic_add(&s.cols, cols);
    } else if (p == 2) {
      if (t != 0) return;
      if (P.stage == 0) {
        st.constant = st.gmin == st.gmax ? 1 : 0;
        st.line_pass = 0;
        s.pass2 = !s.skip && s.rows > 0 && s.rows < sh.height;
      } else if (P.stage == 2 && !s.skip) {
        st.dead_rows = s.rows;
        st.dead_cols = s.cols;
        st.masked_lines = s.rows + s.cols;
      }
    } else if (p == 3) {
      if (s.skip || P.stage == 2) return;
      if (s.pass2) {  // pass 2 judges the columns again: their statistics start over
        for (int x = t; x < sh.width; x += nt) {
          cmin[x] = 0xFFFFFFFFu;
          cmax[x] = 0;
        }
        return;
      }
      int cols = 0;
      for (int x = t; x < sh.width; x += nt) {
        dead_col[x] = cmin[x] == cmax[x];
        cols += dead_col[x];
      }
      if (cols) grid::atomic_add(&s.cols, cols);
    } else {  // p == 4
      if (t != 0 || s.skip || P.stage == 2) return;
      st.line_pass = s.pass2 ? 2 : (s.cols > 0 && s.cols < sh.width ? 3 : 0);
    }
  }
};

/// @brief mask_zero_pixels, first half: zero pixels off the static mask and the dead lines are
/// counted (FrameState::zeros), and zero_near marks the pixels within margin columns of one
/// in the same row. Grid (ceil(width / kMaskThreads), height, frames), block kMaskThreads.
struct ZeroRows {
  struct Params {
    BatchView v;
  };
  struct Shared {
    unsigned int count;
  };
  struct Local {};
  static constexpr int kPhases = 3;
  LAUEPROC_HD static bool is_zero(const BatchView& v, int f, int x, int y) {
    const BatchShape& sh = v.shape;
    const long long i = 1ll * y * sh.width + x;
    if (v.raw[frame_base(sh, f) + i] != 0) return false;
    if (v.static_mask && v.static_mask[i]) return false;
    return !(v.dead_row[1ll * f * sh.height + y] || v.dead_col[1ll * f * sh.width + x]);
  }
  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int y = static_cast<int>(at.block.y), f = static_cast<int>(at.block.z);
    const FrameState& st = v.state[f];
    const bool active = v.config.zero_is_invalid && !st.constant;
    if (p == 0) {
      if (at.thread_rank() == 0) s.count = 0;
    } else if (p == 1) {
      const long long xl = at.global_x();
      if (!active || xl >= sh.width) return;
      const int x = static_cast<int>(xl), m = v.config.margin_px > 0 ? v.config.margin_px : 0;
      const bool zero = is_zero(v, f, x, y);
      if (zero) grid::atomic_add(&s.count, 1u);
      bool near = zero;
      const int x0 = x - m > 0 ? x - m : 0, x1 = x + m < sh.width - 1 ? x + m : sh.width - 1;
      for (int xx = x0; xx <= x1 && !near; ++xx) near = is_zero(v, f, xx, y);
      v.zero_near[frame_base(sh, f) + 1ll * y * sh.width + x] = near ? 1 : 0;
    } else if (at.thread_rank() == 0 && s.count) {
      grid::atomic_add(&v.state[f].zeros, s.count);
    }
  }
};

/// @brief The frame's mask: static | dead row | dead column | a zero pixel within the margin
/// (Chebyshev distance: zero_near of the rows within the margin). Block (0, 0) of each frame
/// also sets FrameState::has_mask. Grid (ceil(width / kMaskThreads), height, frames).
struct MaskFinal : BatchBody {
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int y = static_cast<int>(at.block.y), f = static_cast<int>(at.block.z);
    FrameState& st = v.state[f];
    if (st.constant) return;
    if (at.block.x == 0 && y == 0 && at.thread_rank() == 0)
      st.has_mask = (v.static_mask != nullptr || st.masked_lines > 0 || st.zeros > 0) ? 1 : 0;
    const long long xl = at.global_x();
    if (xl >= sh.width) return;
    const int x = static_cast<int>(xl);
    const long long i = 1ll * y * sh.width + x;
    bool bad = (v.static_mask && v.static_mask[i]) ||
               (v.dead_row[1ll * f * sh.height + y] || v.dead_col[1ll * f * sh.width + x]);
    if (!bad && st.zeros > 0) {
      const int m = v.config.margin_px > 0 ? v.config.margin_px : 0;
      const int y0 = y - m > 0 ? y - m : 0, y1 = y + m < sh.height - 1 ? y + m : sh.height - 1;
      const std::uint8_t* near = v.zero_near + frame_base(sh, f) + x;
      for (int yy = y0; yy <= y1 && !bad; ++yy) bad = near[1ll * yy * sh.width] != 0;
    }
    v.mask[frame_base(sh, f) + i] = bad ? 1 : 0;
  }
};

}  // namespace laueproc::kernels
