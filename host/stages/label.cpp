/// @file
/// @brief Stages 2-3: hysteresis threshold and 8-connected component labeling over pixel runs.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "laueproc/stages.hpp"
#include "stages/grid_rows.hpp"

namespace laueproc {
namespace {

int find_root(std::vector<int>& parent, int i) {
  int root = i;
  while (parent[root] != root) root = parent[root];
  while (parent[i] != root) {  // path compression
    const int next = parent[i];
    parent[i] = root;
    i = next;
  }
  return root;
}

void unite(std::vector<int>& parent, int a, int b) {
  a = find_root(parent, a);
  b = find_root(parent, b);
  if (a == b) return;
  if (a < b) parent[b] = a;  // the smallest run index is the root: raster-order numbering
  else parent[a] = b;
}

}  // namespace

namespace detail {

void append_flag_runs(const std::uint8_t* flags, int width, int y, std::vector<PixelRun>& runs) {
  append_flag_runs(flags, 0, width, y, runs);
}

void append_flag_runs(const std::uint8_t* flags, int x_begin, int x_end, int y, std::vector<PixelRun>& runs) {
  int x = x_begin;
  const int width = x_end;
  while (x < width) {
    // Peaks are sparse: skip 8 clear pixels at a time (the row has 8 zero bytes of padding).
    std::uint64_t word;
    std::memcpy(&word, flags + x, sizeof word);
    if (!word) {
      x = (x + 8) & ~7;
      continue;
    }
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "byte i of a loaded word is bits 8i..8i+7");
    x += __builtin_ctzll(word) / 8;  // the first nonzero byte
    if (x >= width) break;
    const int x0 = x;
    // The run's end, 8 bytes at a time while none is zero (long runs: the no-data area's zeros).
    constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
    for (;;) {
      if (x + 8 > width) {
        while (x < width && flags[x]) ++x;
        break;
      }
      std::memcpy(&word, flags + x, sizeof word);
      const std::uint64_t zero_bytes = (word - kOnes) & ~word & kHighs;  // lowest set bit: first zero byte
      if (!zero_bytes) {
        x += 8;
        continue;
      }
      x += __builtin_ctzll(zero_bytes) / 8;
      break;
    }
    runs.push_back(PixelRun{y, x0, x - 1});
  }
}

void find_runs(const float* residual, const float* background, const std::uint8_t* mask, int width, int height,
               const math::SigmaThreshold& threshold, std::vector<PixelRun>& runs) {
  const float a = threshold.k2var0, g = threshold.k2gain;
  thread_local std::vector<float> zero_row;
  thread_local std::vector<std::uint8_t> flags;
  if (!background && static_cast<int>(zero_row.size()) < width) zero_row.assign(static_cast<std::size_t>(width), 0.0f);
  flags.assign(flag_row_bytes(width), 0);
  std::uint8_t* f = flags.data();
  for (int y = 0; y < height; ++y) {
    const float* r = residual + static_cast<std::size_t>(y) * width;
    const float* b = background ? background + static_cast<std::size_t>(y) * width : zero_row.data();
    for (int x = 0; x < width; ++x) f[x] = above(r[x], b[x], a, g);  // vectorised
    if (mask) {
      const std::uint8_t* m = mask + static_cast<std::size_t>(y) * width;
      for (int x = 0; x < width; ++x) f[x] &= !m[x];
    }
    append_flag_runs(f, width, y, runs);
  }
}
}  // namespace detail

void label_runs(const std::vector<PixelRun>& runs, ComponentSet& out, std::vector<int>& parent) {
  const int n = static_cast<int>(runs.size());
  parent.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) parent[i] = i;
  // First pass: each run meets the runs of the row above that overlap it in 8-connectivity
  // (columns [x0 - 1, x1 + 1]); both lists are sorted, so a two-pointer sweep suffices.
  int prev_begin = 0, prev_end = 0, cur_begin = 0;
  while (cur_begin < n) {
    const int y = runs[cur_begin].y;
    int cur_end = cur_begin;
    while (cur_end < n && runs[cur_end].y == y) ++cur_end;
    if (prev_end > prev_begin && runs[prev_begin].y == y - 1) {
      int p = prev_begin;
      for (int c = cur_begin; c < cur_end; ++c) {
        while (p < prev_end && runs[p].x1 < runs[c].x0 - 1) ++p;
        for (int q = p; q < prev_end && runs[q].x0 <= runs[c].x1 + 1; ++q) unite(parent, c, q);
      }
    }
    prev_begin = cur_begin;
    prev_end = cur_end;
    cur_begin = cur_end;
  }
  // Second pass: number the roots in raster order and bucket the runs (counting sort, stable).
  thread_local std::vector<int> comp_of_run, fill;
  comp_of_run.resize(static_cast<std::size_t>(n));
  int ncomp = 0;
  for (int i = 0; i < n; ++i) {
    const int root = find_root(parent, i);
    comp_of_run[i] = root == i ? ncomp++ : comp_of_run[root];
  }
  out.begin.assign(static_cast<std::size_t>(ncomp) + 1, 0);
  for (int i = 0; i < n; ++i) ++out.begin[comp_of_run[i] + 1];
  for (int c = 0; c < ncomp; ++c) out.begin[c + 1] += out.begin[c];
  fill.assign(out.begin.begin(), out.begin.end() - 1);
  out.runs.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.runs[fill[comp_of_run[i]]++] = runs[i];
}

int label_components(const std::uint8_t* binary, int width, int height, std::vector<std::int32_t>& labels) {
  std::vector<PixelRun> runs;
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* b = binary + static_cast<std::size_t>(y) * width;
    for (int x = 0; x < width;) {
      if (!b[x]) {
        ++x;
        continue;
      }
      const int x0 = x;
      while (x < width && b[x]) ++x;
      runs.push_back(PixelRun{y, x0, x - 1});
    }
  }
  ComponentSet set;
  std::vector<int> parent;
  label_runs(runs, set, parent);
  labels.assign(static_cast<std::size_t>(width) * height, 0);
  for (int c = 0; c < set.count(); ++c)
    for (int k = set.begin[c]; k < set.begin[c + 1]; ++k) {
      const PixelRun& r = set.runs[k];
      std::fill(labels.begin() + static_cast<std::ptrdiff_t>(r.y) * width + r.x0,
                labels.begin() + static_cast<std::ptrdiff_t>(r.y) * width + r.x1 + 1, c + 1);
    }
  return set.count();
}

namespace detail {
// Keeps the components that hold a seed, are big enough and are not a lone hot pixel.
void filter_components(const float* residual, const FrameView* frame, int width, int height,
                       const ComponentSet& all, const math::SigmaThreshold& high, int min_pixels, ComponentSet& out) {
  out.runs.clear();
  out.begin.assign(1, 0);
  for (int c = 0; c < all.count(); ++c) {
    // The size first: most components are a few noise pixels, rejected without reading the
    // residual (the CPU analyzer evaluates it only for components of >= min_pixels pixels).
    const int npix = all.pixels(c);
    if (npix < min_pixels) continue;
    float best = -1e30f;
    int bx = 0, by = 0;
    for (int k = all.begin[c]; k < all.begin[c + 1]; ++k) {
      const PixelRun& r = all.runs[k];
      const float* row = residual + static_cast<std::size_t>(r.y) * width;
      for (int x = r.x0; x <= r.x1; ++x)
        if (row[x] > best) {
          best = row[x];
          bx = x;
          by = r.y;
        }
    }
    // The background under the brightest pixel: raw - residual (the GPU evaluates the same).
    const float bg = frame ? static_cast<float>(frame->at(bx, by)) - best : 0.0f;
    if (!math::above(best, bg, high)) continue;
    if (npix <= 9) {  // hot pixel: one pixel far above all its neighbours (a real spot is smooth)
      float second = -1e30f;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int x = bx + dx, y = by + dy;
          if ((dx || dy) && x >= 0 && y >= 0 && x < width && y < height)
            second = std::max(second, residual[static_cast<std::size_t>(y) * width + x]);
        }
      if (best > 5.0f * std::max(second, 0.0f)) continue;
    }
    out.runs.insert(out.runs.end(), all.runs.begin() + all.begin[c], all.runs.begin() + all.begin[c + 1]);
    out.begin.push_back(static_cast<int>(out.runs.size()));
  }
}
}  // namespace detail

void hysteresis_threshold(const float* residual, const std::uint8_t* mask, int width, int height,
                          double low, double high, int min_pixels, ComponentSet& out) {
  std::vector<PixelRun> runs;
  // An absolute level: sigma_threshold of {var0 = 1, gain = 0} with k = level.
  const math::NoiseModel unit{1.0, 0.0};
  detail::find_runs(residual, nullptr, mask, width, height, math::sigma_threshold(unit, low), runs);
  ComponentSet all;
  std::vector<int> parent;
  label_runs(runs, all, parent);
  detail::filter_components(residual, nullptr, width, height, all, math::sigma_threshold(unit, high), min_pixels, out);
}

}  // namespace laueproc
