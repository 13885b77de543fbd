#pragma once
/// @file
/// @brief Phased bodies of the residual, the hysteresis threshold and 8-connected labeling.
///
/// Labeling is block-based union-find (Playne & Hawick, IEEE TPDS 29(6), 2018, "block
/// equivalence"; Allegretti, Bolelli & Grana, IEEE TPDS 31(2), 2020, for the GPU variants):
///   ResidualTile   per 32 x 8 tile: residual, foreground (math::above at the local background,
///                  unmasked), union-find of the tile in shared memory (root = smallest local
///                  index), flattened, written as global labels (the root's frame index);
///   BorderMerge    the 8-neighbour pairs that cross a tile border are united in global memory
///                  (atomic_min links the larger root under the smaller; finds compress paths);
///   Flatten        every foreground pixel points at its final root; each root takes a slot;
///   RootStatsAdd   npix, brightest pixel and bounding box accumulated at the root's slot;
///   Filter         detail::filter_components at each slot: seed, size, lone hot pixel.
/// Union-find work is bounded by the tiles a component crosses (a 300 px streak: ~40 tiles,
/// a 100 x 100 px saturated blob: ~52), not by its pixels, and paths are compressed.
///
/// Why it is right on a GPU (the CPU executor runs threads one after another and cannot show a
/// race; tests/gpu runs these on a device and compute-sanitizer's racecheck in gpu-check):
///  - every label only ever decreases (atomic_min), and always names an ancestor: a link
///    (atomic_min on a root) only hangs a root under a smaller index, and a compression
///    (atomic_min on a path node) writes a root found above it, which stays an ancestor because
///    roots are only ever linked, never unlinked;
///  - unite retries until the atomic_min it made landed on a node that was still a root (old
///    value == the root): then the two trees are one; a concurrent link that got there first
///    just means it finds the new roots and tries again (Playne & Hawick's argument);
///  - so after BorderMerge every component is one tree whose root is its smallest index = its
///    first pixel in raster order, which is also the CPU's component order (label_runs).
/// Statistics are counts, minima, maxima and a max over (value, ~index) keys: order-free.

#include "frame_batch.cuh"
#include "laueproc/math/noise.hpp"

namespace laueproc::kernels {

constexpr int kTileW = 32, kTileH = 8;  ///< labeling tile (one thread per pixel)
constexpr unsigned kPixelThreads = 256; ///< block size of the per-pixel bodies

/// @brief A read of a label another thread may be changing: through L2 for global memory
/// (grid::load_volatile), a volatile read for shared memory (which has no cache to be stale in).
struct GlobalLabels {
  LAUEPROC_HD static int load(const int* p) { return grid::load_volatile(p); }
};
struct SharedLabels {
  LAUEPROC_HD static int load(const int* p) { return *static_cast<const volatile int*>(p); }
};

/// @brief Root of i with path compression (every node on the path is pointed at the root).
template <class Labels>
LAUEPROC_HD inline int find_root_compress(int* label, int i) {
  int root = i;
  for (int next = Labels::load(label + root); next != root; next = Labels::load(label + root)) root = next;
  while (i != root) {
    const int next = Labels::load(label + i);
    if (next == root) break;
    grid::atomic_min(label + i, root);
    i = next;
  }
  return root;
}

/// @brief Unites the trees of a and b (Playne & Hawick's atomic_min union, with compression).
template <class Labels>
LAUEPROC_HD inline void unite(int* label, int a, int b) {
  for (;;) {
    a = find_root_compress<Labels>(label, a);
    b = find_root_compress<Labels>(label, b);
    if (a == b) return;
    if (a < b) {
      const int old = grid::atomic_min(label + b, a);
      if (old == b) return;  // b was still a root: linked
      b = old;
    } else {
      const int old = grid::atomic_min(label + a, b);
      if (old == a) return;
      a = old;
    }
  }
}

/// @brief The residual of frame f at pixel (x, y): raw - background (RowRenderer arithmetic).
LAUEPROC_HD inline float residual_at(const BatchView& v, const int* col_cell, const float* col_w, int f, int x, int y,
                                     float& background) {
  const BatchShape& sh = v.shape;
  const float* row = v.coarse + (1ll * f * sh.height + y) * sh.coarse_stride;
  background = render_at(row, col_cell, col_w, sh.width, x);
  return static_cast<float>(v.raw[frame_base(sh, f) + 1ll * y * sh.width + x]) - background;
}

/// @brief Grid (ceil(width / kTileW), ceil(height / kTileH), frames), block (kTileW, kTileH).
/// col_cell / col_w: the column tables of the grid in v.coarse (block or Gaussian).
struct ResidualTile {
  struct Params {
    BatchView v;
    const int* col_cell;
    const float* col_w;
  };
  struct Shared {
    int lab[kTileW * kTileH];
  };
  struct Local {
    int fg;
  };
  static constexpr int kPhases = 4;
  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local& l, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int f = static_cast<int>(at.block.z);
    const FrameState& st = v.state[f];
    if (st.constant) return;
    const int tx = static_cast<int>(at.thread.x), ty = static_cast<int>(at.thread.y), t = ty * kTileW + tx;
    const int x = static_cast<int>(at.block.x) * kTileW + tx, y = static_cast<int>(at.block.y) * kTileH + ty;
    const bool inside = x < sh.width && y < sh.height;
    const long long i = frame_base(sh, f) + 1ll * y * sh.width + x;
    if (p == 0) {
      l.fg = 0;
      if (inside) {
        float bg;
        const float r = residual_at(v, P.col_cell, P.col_w, f, x, y, bg);
        v.residual[i] = r;
        l.fg = math::above(r, bg, st.low) && !(st.has_mask && v.mask[i]);
      }
      s.lab[t] = l.fg ? t : -1;
    } else if (p == 1) {  // unite with W, NW, N, NE inside the tile
      if (!l.fg) return;
      if (tx > 0 && s.lab[t - 1] >= 0) unite<SharedLabels>(s.lab, t, t - 1);
      if (ty > 0) {
        const int up = t - kTileW;
        if (tx > 0 && s.lab[up - 1] >= 0) unite<SharedLabels>(s.lab, t, up - 1);
        if (s.lab[up] >= 0) unite<SharedLabels>(s.lab, t, up);
        if (tx + 1 < kTileW && s.lab[up + 1] >= 0) unite<SharedLabels>(s.lab, t, up + 1);
      }
    } else if (p == 2) {
      if (l.fg) s.lab[t] = find_root_compress<SharedLabels>(s.lab, t);
    } else if (inside) {
      int label = -1;
      if (l.fg) {
        const int r = s.lab[t];
        const int rx = static_cast<int>(at.block.x) * kTileW + r % kTileW;
        const int ry = static_cast<int>(at.block.y) * kTileH + r / kTileW;
        label = ry * sh.width + rx;
      }
      v.label[i] = label;
    }
  }
};

/// @brief Unites the foreground pairs that cross tile borders. Same grid as ResidualTile.
struct BorderMerge : BatchBody {
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int f = static_cast<int>(at.block.z);
    if (v.state[f].constant) return;
    const int tx = static_cast<int>(at.thread.x), ty = static_cast<int>(at.thread.y);
    if (tx != 0 && ty != 0 && tx != kTileW - 1) return;  // interior pairs were united in the tile
    const int x = static_cast<int>(at.block.x) * kTileW + tx, y = static_cast<int>(at.block.y) * kTileH + ty;
    if (x >= sh.width || y >= sh.height) return;
    int* label = v.label + frame_base(sh, f);
    const int i = y * sh.width + x;
    if (label[i] < 0) return;
    // The neighbours before this pixel in raster order that lie in another tile.
    if (tx == 0 && x > 0 && label[i - 1] >= 0) unite<GlobalLabels>(label, i, i - 1);
    if (y == 0) return;
    const int up = i - sh.width;
    if ((tx == 0 || ty == 0) && x > 0 && label[up - 1] >= 0) unite<GlobalLabels>(label, i, up - 1);
    if (ty == 0 && label[up] >= 0) unite<GlobalLabels>(label, i, up);
    if ((ty == 0 || tx == kTileW - 1) && x + 1 < sh.width && label[up + 1] >= 0) unite<GlobalLabels>(label, i, up + 1);
  }
};

/// @brief Every foreground pixel points at its root; each root takes a slot (RootStats reset).
/// Grid (ceil(width / kPixelThreads), height, frames), block kPixelThreads.
struct Flatten : RowElementBody<Flatten> {
  LAUEPROC_HD static int row_length(const BatchShape& sh) { return sh.width; }
  LAUEPROC_HD static void element(const BatchView& v, int x, int y, int f) {
    const BatchShape& sh = v.shape;
    FrameState& st = v.state[f];
    int* label = v.label + frame_base(sh, f);
    const int i = y * sh.width + x;
    if (label[i] < 0) return;
    const int root = find_root_compress<GlobalLabels>(label, i);
    if (root != i) {
      grid::atomic_min(label + i, root);
      return;
    }
    const int slot = grid::atomic_add(&st.roots, 1);
    if (slot >= sh.root_cap) {
      grid::atomic_or(&st.overflow, static_cast<int>(kRootsOverflow));
      return;
    }
    v.root_slot[frame_base(sh, f) + i] = slot;
    RootStats r{};
    r.root = i;
    r.npix = 0;
    r.x0 = r.y0 = 0x7FFFFFFF;
    r.x1 = r.y1 = -1;
    r.kept = 0;
    r.best = 0;
    v.roots[1ll * f * sh.root_cap + slot] = r;
  }
};

/// @brief npix, brightest pixel (ties: first in raster order) and bounding box at each root.
/// Same grid as Flatten. Frames whose roots overflowed are left to the CPU.
struct RootStatsAdd : RowElementBody<RootStatsAdd> {
  LAUEPROC_HD static int row_length(const BatchShape& sh) { return sh.width; }
  LAUEPROC_HD static void element(const BatchView& v, int x, int y, int f) {
    const BatchShape& sh = v.shape;
    if (v.state[f].overflow) return;
    const long long base = frame_base(sh, f);
    const int i = y * sh.width + x;
    const int root = v.label[base + i];
    if (root < 0) return;
    RootStats& r = v.roots[1ll * f * sh.root_cap + v.root_slot[base + root]];
    grid::atomic_add(&r.npix, 1);
    const unsigned long long key = (static_cast<unsigned long long>(ordered_bits(v.residual[base + i])) << 32) |
                                   static_cast<unsigned long long>(0xFFFFFFFFu - static_cast<unsigned int>(i));
    grid::atomic_max(&r.best, key);
    grid::atomic_min(&r.x0, x);
    grid::atomic_min(&r.y0, y);
    grid::atomic_max(&r.x1, x);
    grid::atomic_max(&r.y1, y);
  }
};

/// @brief detail::filter_components at each slot: kept when npix >= min_pixels, the brightest
/// pixel is above k_high sigma at its background (raw - residual), and it is not a lone hot pixel
/// (npix <= 9 and brightest > 5 x its highest 8-neighbour). Kept components are appended to the
/// frame's list (any order). Grid (ceil(root_cap / kPixelThreads), frames).
struct Filter : BatchBody {
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int f = static_cast<int>(at.block.y);
    FrameState& st = v.state[f];
    const long long slot = at.global_x();
    if (st.constant || st.overflow || slot >= st.roots) return;
    RootStats& r = v.roots[1ll * f * sh.root_cap + slot];
    const long long base = frame_base(sh, f);
    const float best = from_ordered_bits(static_cast<unsigned int>(r.best >> 32));
    const int bi = static_cast<int>(0xFFFFFFFFu - static_cast<unsigned int>(r.best & 0xFFFFFFFFull));
    const float bg = static_cast<float>(v.raw[base + bi]) - best;
    if (r.npix < v.config.min_pixels || !math::above(best, bg, st.high)) return;
    if (r.npix <= 9) {  // hot pixel: one pixel far above all its neighbours (a real spot is smooth)
      const int bx = bi % sh.width, by = bi / sh.width;
      float second = -1e30f;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = bx + dx, yy = by + dy;
          if ((dx || dy) && xx >= 0 && yy >= 0 && xx < sh.width && yy < sh.height) {
            const float n = v.residual[base + 1ll * yy * sh.width + xx];
            second = second < n ? n : second;  // std::max(second, n)
          }
        }
      if (best > 5.0f * (second < 0.0f ? 0.0f : second)) return;
    }
    r.kept = 1;
    const int k = grid::atomic_add(&st.kept, 1);
    if (k >= sh.kept_cap) {
      grid::atomic_or(&st.overflow, static_cast<int>(kKeptOverflow));
      return;
    }
    v.kept[1ll * f * sh.kept_cap + k] = KeptComponent{r.root, r.npix, r.x0, r.y0, r.x1, r.y1};
  }
};

}  // namespace laueproc::kernels
