#pragma once
/// @file
/// @brief The per-component code of both backends (stages 4-5): deblending (prominence by 0-dim
/// persistence, single-linkage groups, priority-flood watershed), the grown support, intensity
/// moments, the core moments and the windowed centroid. One LAUEPROC_HD implementation: the CPU
/// stages (host/stages/deblend.cpp, moments.cpp, analyzer.cpp) call it, and the CUDA backend runs
/// it one thread per component (kernels/measure_body.cuh), so both give the same peaks by
/// construction. No allocation: the caller hands in scratch (component_scratch_bytes).
///
/// Sorting and the priority queue are written here (heapsort, binary heap) because both order
/// keys that are all distinct (ties are broken by index), so any correct algorithm gives
/// std::sort's and std::priority_queue's sequence exactly.

#include <cmath>
#include <cstdint>

#include "laueproc/config.hpp"
#include "laueproc/math/hd.hpp"
#include "laueproc/math/moments.hpp"
#include "laueproc/math/noise.hpp"
#include "laueproc/peak.hpp"

namespace laueproc::math {

/// @brief What the per-component code reads of a frame (frame indices i = y * width + x).
struct FramePixels {
  const float* residual = nullptr;     ///< width * height
  const std::uint16_t* raw = nullptr;  ///< rows of raw_stride values
  long long raw_stride = 0;  ///< values per row (FrameView::stride)
  const std::uint8_t* mask = nullptr;  ///< width * height, null = nothing masked
  int width = 0, height = 0;
};

namespace component_detail {

// std::max / std::min exactly (NaN included): (a < b) ? b : a, (b < a) ? b : a.
template <class T>
LAUEPROC_HD inline T max_of(T a, T b) { return (a < b) ? b : a; }
template <class T>
LAUEPROC_HD inline T min_of(T a, T b) { return (b < a) ? b : a; }

// Path halving (deblend's find_root).
LAUEPROC_HD inline int find_halving(int* parent, int i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

// Heapsort of `idx[0..n)` by before(a, b) (a strict total order): ascending.
template <class Before>
LAUEPROC_HD inline void heap_sort(int* idx, int n, const Before& before) {
  auto sift = [&](int root, int end) {
    for (;;) {
      int child = 2 * root + 1;
      if (child >= end) return;
      if (child + 1 < end && before(idx[child], idx[child + 1])) ++child;
      if (!before(idx[root], idx[child])) return;
      const int t = idx[root];
      idx[root] = idx[child];
      idx[child] = t;
      root = child;
    }
  };
  for (int i = n / 2 - 1; i >= 0; --i) sift(i, n);
  for (int end = n - 1; end > 0; --end) {
    const int t = idx[0];
    idx[0] = idx[end];
    idx[end] = t;
    sift(0, end);
  }
}

// Binary min-heap of ints in heap[0..size).
LAUEPROC_HD inline void heap_push(int* heap, int& size, int v) {
  int i = size++;
  while (i > 0) {
    const int up = (i - 1) / 2;
    if (heap[up] <= v) break;
    heap[i] = heap[up];
    i = up;
  }
  heap[i] = v;
}
LAUEPROC_HD inline int heap_pop(int* heap, int& size) {
  const int top = heap[0];
  const int last = heap[--size];
  int i = 0;
  for (;;) {
    int child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1] < heap[child]) ++child;
    if (last <= heap[child]) break;
    heap[i] = heap[child];
    i = child;
  }
  if (size > 0) heap[i] = last;
  return top;
}

}  // namespace component_detail

/// @brief Scratch of one component of n pixels whose bounding box holds box_area pixels and
/// whose box grown by grow_px holds grown_area: carved from one byte buffer (4-byte aligned).
struct ComponentScratchView {
  int* px;
  int* py;
  float* val;
  int* box;       ///< box_area: index of each pixel in the component's box, -1 elsewhere
  int* order;     ///< pixels from high to low
  int* rank;
  int* parent;
  int* regmax;
  float* prominence;
  int* sig;       ///< significant maxima
  int* group;
  int* heap;
  int* peak_of;   ///< n: peak of each pixel
  int* n_maxima;  ///< n: significant maxima per peak
  int* lbox;      ///< grown_area: -1 blocked, 0 free, p + 1 peak p
  int* lbox_next;
  int* core;
  int* support;
};

/// @brief Bytes component_scratch needs.
LAUEPROC_HD inline unsigned long long component_scratch_bytes(int n, long long box_area, long long grown_area) {
  return 4ull * (15ull * static_cast<unsigned long long>(n) + static_cast<unsigned long long>(box_area) +
                 3ull * static_cast<unsigned long long>(grown_area));
}

/// @brief Points the arrays of a ComponentScratchView into `base` (component_scratch_bytes long).
LAUEPROC_HD inline ComponentScratchView component_scratch(unsigned char* base, int n, long long box_area,
                                                          long long grown_area) {
  ComponentScratchView s;
  unsigned char* p = base;
  auto ints = [&](long long count) {
    int* r = reinterpret_cast<int*>(p);
    p += 4 * count;
    return r;
  };
  auto floats = [&](long long count) {
    float* r = reinterpret_cast<float*>(p);
    p += 4 * count;
    return r;
  };
  s.px = ints(n);
  s.py = ints(n);
  s.val = floats(n);
  s.box = ints(box_area);
  s.order = ints(n);
  s.rank = ints(n);
  s.parent = ints(n);
  s.regmax = ints(n);
  s.prominence = floats(n);
  s.sig = ints(n);
  s.group = ints(n);
  s.heap = ints(n);
  s.peak_of = ints(n);
  s.n_maxima = ints(n);
  s.lbox = ints(grown_area);
  s.lbox_next = ints(grown_area);
  s.core = ints(n);
  s.support = ints(grown_area);
  return s;
}

/// @brief How a component splits: peak_of[k] (scratch) = peak of its k-th pixel; n_maxima[p]
/// for p < n_peaks (scratch, n_maxima_count entries).
struct Split {
  int n_peaks = 1;
  int n_maxima_count = 1;
};

/// @brief Deblends the component of n pixels `pixels` (frame indices, raster order): maxima
/// with prominence >= prominence_sigma * sigma (0-dim persistence: height above the saddle to a
/// higher maximum) grouped by single linkage at min_separation_px; several groups (and split)
/// -> a priority-flood watershed (Meyer 1994) from the groups' maxima over the component.
LAUEPROC_HD inline Split deblend_component(const float* residual, int width, const int* pixels, int n, double sigma,
                                           const DeblendConfig& config, ComponentScratchView& s) {
  using namespace component_detail;
  int xmin = 0x7FFFFFFF, xmax = -1, ymin = 0x7FFFFFFF, ymax = -1;
  for (int k = 0; k < n; ++k) {
    const int i = pixels[k], x = i % width, y = i / width;
    s.px[k] = x;
    s.py[k] = y;
    s.val[k] = residual[i];
    xmin = min_of(xmin, x);
    xmax = max_of(xmax, x);
    ymin = min_of(ymin, y);
    ymax = max_of(ymax, y);
  }
  Split out;
  for (int k = 0; k < n; ++k) s.peak_of[k] = 0;
  s.n_maxima[0] = 1;
  if (n < 3) return out;

  const int bw = xmax - xmin + 1, bh = ymax - ymin + 1;
  for (long long k = 0; k < 1ll * bw * bh; ++k) s.box[k] = -1;
  for (int k = 0; k < n; ++k) s.box[static_cast<long long>(s.py[k] - ymin) * bw + (s.px[k] - xmin)] = k;
  auto neighbours = [&](int k, auto&& fn) {
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        if (!dx && !dy) continue;
        const int x = s.px[k] - xmin + dx, y = s.py[k] - ymin + dy;
        if (x < 0 || y < 0 || x >= bw || y >= bh) continue;
        const int q = s.box[static_cast<long long>(y) * bw + x];
        if (q >= 0) fn(q);
      }
  };

  // Pixels from high to low (ties by raster order, so the result is deterministic).
  for (int k = 0; k < n; ++k) s.order[k] = k;
  const float* val = s.val;
  heap_sort(s.order, n, [val](int a, int b) { return val[a] > val[b] || (val[a] == val[b] && a < b); });
  for (int i = 0; i < n; ++i) s.rank[s.order[i]] = i;

  // Prominence by 0-dimensional persistence (Edelsbrunner, Letscher & Zomorodian 2002): flood
  // from the top; when two regions meet at a saddle, the one with the lower maximum dies with
  // prominence = its maximum - saddle.
  for (int k = 0; k < n; ++k) {
    s.parent[k] = -1;
    s.regmax[k] = -1;
    s.prominence[k] = -1.0f;
  }
  for (int i = 0; i < n; ++i) {
    const int p = s.order[i];
    int roots[8];
    int nr = 0;
    neighbours(p, [&](int q) {
      if (s.parent[q] < 0) return;  // not flooded yet
      const int r = find_halving(s.parent, q);
      for (int j = 0; j < nr; ++j)
        if (roots[j] == r) return;
      roots[nr++] = r;
    });
    if (nr == 0) {
      s.parent[p] = p;
      s.regmax[p] = p;
      s.prominence[p] = HUGE_VALF;  // until it dies
      continue;
    }
    int survivor = roots[0];
    for (int j = 1; j < nr; ++j)
      if (s.rank[s.regmax[roots[j]]] < s.rank[s.regmax[survivor]]) survivor = roots[j];
    for (int j = 0; j < nr; ++j) {
      if (roots[j] == survivor) continue;
      const int m = s.regmax[roots[j]];
      s.prominence[m] = s.val[m] - s.val[p];
      s.parent[roots[j]] = survivor;
    }
    s.parent[p] = survivor;
  }
  // Significant maxima, highest first (the global maximum always is one).
  const float need = static_cast<float>(config.prominence_sigma * sigma);
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const int k = s.order[i];
    if (s.prominence[k] >= need) s.sig[m++] = k;
  }
  // Single-linkage groups at min_separation_px: chains of close sub-maxima (stacking) stay one.
  for (int i = 0; i < m; ++i) s.group[i] = i;
  const double d2 = config.min_separation_px * config.min_separation_px;
  for (int i = 0; i < m; ++i)
    for (int j = i + 1; j < m; ++j) {
      const double dx = s.px[s.sig[i]] - s.px[s.sig[j]], dy = s.py[s.sig[i]] - s.py[s.sig[j]];
      if (dx * dx + dy * dy < d2) {
        const int a = find_halving(s.group, i), b = find_halving(s.group, j);
        if (a != b) s.group[max_of(a, b)] = min_of(a, b);
      }
    }
  // Number groups by their highest maximum (gid reuses parent).
  int* gid = s.parent;
  for (int i = 0; i < m; ++i) gid[i] = -1;
  int ngroups = 0;
  for (int i = 0; i < m; ++i) {
    const int r = find_halving(s.group, i);
    if (gid[r] < 0) {
      gid[r] = ngroups++;
      s.n_maxima[gid[r]] = 0;
    }
    ++s.n_maxima[gid[r]];
  }
  out.n_maxima_count = ngroups;
  if (ngroups <= 1 || !config.split) {
    out.n_maxima_count = 1;
    s.n_maxima[0] = max_of(1, m);
    return out;
  }
  // Watershed by priority flood (Meyer 1994) from all maxima of each group over the component.
  out.n_peaks = ngroups;
  for (int k = 0; k < n; ++k) s.peak_of[k] = -1;
  int heap_size = 0;
  for (int i = 0; i < m; ++i) {
    s.peak_of[s.sig[i]] = gid[find_halving(s.group, i)];
    heap_push(s.heap, heap_size, s.rank[s.sig[i]]);
  }
  while (heap_size > 0) {
    const int p = s.order[heap_pop(s.heap, heap_size)];
    neighbours(p, [&](int q) {
      if (s.peak_of[q] >= 0) return;
      s.peak_of[q] = s.peak_of[p];
      heap_push(s.heap, heap_size, s.rank[q]);
    });
  }
  return out;
}

namespace component_detail {

// A core level under 3 noise sigmas would be set by the noise, not by the spot.
constexpr double kCoreMinSigmas = 3.0;

// Iterated Gaussian-window centroid over the peak's support, window sigma = the spot's own
// (geometric mean of the ellipse's), at least 1 px: a narrower window on an undersampled spot
// (sigma ~0.5 px) locks to pixel centres (0.2 px off LaueTools' Gaussian fits on the Ge frame;
// 0.02 px with 1 px). Converges to the centre of a symmetric spot regardless of its wings and
// of which pixels the threshold kept; keeps (x, y) when it does not converge.
LAUEPROC_HD inline void windowed_centroid(const float* residual, int w, const int* support, int nsupport,
                                          const Ellipse& e, double& x, double& y) {
  const double s_w = max_of(1.0, 0.5 * sqrt(e.a * e.b));  // a = 2 sigma
  const double inv_two_s2 = 1.0 / (2.0 * s_w * s_w);
  double cx = x, cy = y;
  for (int iteration = 0; iteration < 30; ++iteration) {
    WindowSums sums;
    for (int k = 0; k < nsupport; ++k) {
      const int i = support[k];
      window_add(sums, i % w - cx, i / w - cy, residual[i], inv_two_s2);
    }
    double dx, dy;
    if (!window_step(sums, dx, dy)) return;
    cx += dx;
    cy += dy;
    if (hypot(cx - x, cy - y) > 2.0 * s_w + 1.0) return;  // ran away: keep the moment centroid
    if (fabs(dx) + fabs(dy) < 1e-6) {
      x = cx;
      y = cy;
      return;
    }
  }
}

// The windowed centroid as both backends run it; the CPU passes its own Window with the same
// results (host/stages/window_centroid.hpp: coordinates converted once, exp vectorised).
struct PlainWindow {
  LAUEPROC_HD void operator()(const float* residual, int w, const int* support, int nsupport, const Ellipse& e,
                              double& x, double& y) const {
    windowed_centroid(residual, w, support, nsupport, e, x, y);
  }
};

}  // namespace component_detail

/// @brief Intensity moments of one pixel set (see laueproc::measure_moments): `core` (ncore
/// pixels above the low threshold) sets npix, peak_value and edge; `support` (the core grown)
/// gives intensity, centroid and moments. frame/peak numbers are left 0. `window`: how the
/// windowed centroid is computed (any Window gives PlainWindow's results).
template <class Window = component_detail::PlainWindow>
LAUEPROC_HD inline Peak measure_pixels(const FramePixels& f, const int* core, int ncore, const int* support,
                                       int nsupport, double sigma, const MomentConfig& config, bool clip_negative,
                                       const Window& window = Window{}) {
  using namespace component_detail;
  const int w = f.width, h = f.height;
  const float* residual = f.residual;
  Peak p;
  p.npix = static_cast<std::int32_t>(ncore);
  float best = -HUGE_VALF;
  int best_i = ncore == 0 ? (nsupport == 0 ? 0 : support[0]) : core[0];
  for (int k = 0; k < ncore; ++k) {
    const int i = core[k];
    if (residual[i] > best) {
      best = residual[i];
      best_i = i;
    }
    const int x = i % w, y = i / w;
    if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
      p.edge = true;
    } else if (f.mask && !p.edge) {
      for (int dy = -1; dy <= 1 && !p.edge; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          if (f.mask[static_cast<long long>(y + dy) * w + (x + dx)]) {
            p.edge = true;
            break;
          }
    }
  }
  p.peak_value = ncore == 0 ? 0.0 : static_cast<double>(best);
  // Local origin at the brightest pixel: the central moments are then differences of O(10 px^2)
  // numbers, not of O(10^6 px^2) ones.
  MomentSums sums = moment_sums(best_i % w, best_i / w);
  for (int k = 0; k < nsupport; ++k) {
    const int i = support[k];
    const int x = i % w, y = i / w;
    const float r = residual[i];
    moment_add(sums, x, y, clip_negative ? max_of(r, 0.0f) : r);
    if (f.raw[y * f.raw_stride + x] >= config.saturation) p.saturated = true;
  }
  CentralMoments cm = central_moments(sums);
  p.intensity = sums.s;

  // The core: pixels above core_fraction x peak (never under 3 sigma), whose second moments,
  // scaled to the untruncated Gaussian's, describe the spot without the long wings of real
  // detectors' point-spread functions (1 % of the peak 3-6 px out on the MarCCD Ge frame, which
  // dominate whole-support moments of sharp spots). Bright peaks take their shape from it. For
  // faint peaks the wings are under the noise and a core cut near the noise makes the scaling
  // noisy: their shape comes from the whole grown support, the core only sizes the window below.
  const double core_level = max_of(config.core_fraction * p.peak_value, kCoreMinSigmas * sigma);
  Ellipse window_shape{};
  bool have_window_shape = false;
  if (config.core_fraction > 0 && cm.valid && p.peak_value > core_level) {
    MomentSums core_sums = moment_sums(sums.x0, sums.y0);
    for (int k = 0; k < nsupport; ++k) {
      const int i = support[k];
      if (residual[i] >= core_level) moment_add(core_sums, i % w, i / w, residual[i]);
    }
    const CentralMoments core_cm = central_moments(core_sums);
    if (core_cm.valid) {
      const double scale = 1.0 / truncated_gaussian_variance_ratio(core_level / p.peak_value);
      window_shape = ellipse_from_moments(core_cm.mxx * scale, core_cm.myy * scale, core_cm.mxy * scale);
      have_window_shape = true;
      if (config.core_fraction * p.peak_value >= kCoreMinSigmas * sigma) {
        cm.x = core_cm.x;
        cm.y = core_cm.y;
        cm.mxx = core_cm.mxx * scale;
        cm.myy = core_cm.myy * scale;
        cm.mxy = core_cm.mxy * scale;
      }
    }
  }
  p.x = cm.x;
  p.y = cm.y;
  if (cm.valid) {
    p.mxx = cm.mxx;
    p.myy = cm.myy;
    p.mxy = cm.mxy;
    const Ellipse e = ellipse_from_moments(cm.mxx, cm.myy, cm.mxy);
    p.a = e.a;
    p.b = e.b;
    p.theta_deg = e.theta_deg;
    if (config.windowed_centroid)
      window(residual, w, support, nsupport, have_window_shape ? window_shape : e, p.x, p.y);
  }
  p.snr = sigma > 0 ? p.peak_value / sigma : 0.0;
  return p;
}

/// @brief Bounding box of a component's pixels, and the scratch it needs (grown by grow_px).
struct ComponentBox {
  int xmin, xmax, ymin, ymax;
  long long box_area, grown_area;
};
LAUEPROC_HD inline ComponentBox component_box(int xmin, int xmax, int ymin, int ymax, int width, int height,
                                              int grow_px) {
  using namespace component_detail;
  ComponentBox b{xmin, xmax, ymin, ymax, 1ll * (xmax - xmin + 1) * (ymax - ymin + 1), 0};
  const int g = max_of(0, grow_px);
  const int bx0 = max_of(0, xmin - g), bx1 = min_of(width - 1, xmax + g);
  const int by0 = max_of(0, ymin - g), by1 = min_of(height - 1, ymax + g);
  b.grown_area = 1ll * (bx1 - bx0 + 1) * (by1 - by0 + 1);
  return b;
}

/// @brief Deblends a kept component and measures each of its peaks: emit(peak, p) for p in
/// 0..n_peaks-1 (Peak::frame left 0, n_maxima set). `pixels`: its n pixels in raster order;
/// `box`: from component_box; `other(i)`: true when pixel i belongs to another kept component
/// (the grown support never takes it). Reads the residual on the box grown by grow_px + 1, the
/// mask there, and the raw frame on the grown support. The noise where it sits: at the
/// background under its brightest pixel.
template <class Other, class Emit, class Window = component_detail::PlainWindow>
LAUEPROC_HD inline void measure_component_pixels(const FramePixels& f, const int* pixels, int n, const ComponentBox& cb,
                                                 const NoiseModel& noise, const DeblendConfig& deblend,
                                                 const MomentConfig& moments, const Other& other,
                                                 ComponentScratchView& s, const Emit& emit,
                                                 const Window& window = Window{}) {
  using namespace component_detail;
  constexpr double kSigmaFloor = 0.5;  // uint16 quantisation: never a zero sigma
  const int w = f.width, h = f.height;
  float best = -1e30f;
  int best_i = 0;
  for (int k = 0; k < n; ++k) {
    const int i = pixels[k];
    if (f.residual[i] > best) {
      best = f.residual[i];
      best_i = i;
    }
  }
  const float bg = static_cast<float>(f.raw[(best_i / w) * f.raw_stride + best_i % w]) - best;
  const double sigma = max_of(kSigmaFloor, noise_sigma(noise, bg));
  const Split split = deblend_component(f.residual, w, pixels, n, sigma, deblend, s);
  const int g = max_of(0, moments.grow_px);
  const int bx0 = max_of(0, cb.xmin - g), bx1 = min_of(w - 1, cb.xmax + g);
  const int by0 = max_of(0, cb.ymin - g), by1 = min_of(h - 1, cb.ymax + g);
  const int bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;
  // Local labels: -1 blocked (masked, or a pixel of another component), 0 free, p+1 peak p.
  int* box = s.lbox;
  int* box_next = s.lbox_next;
  for (int y = by0; y <= by1; ++y)
    for (int x = bx0; x <= bx1; ++x) {
      const long long i = 1ll * y * w + x;
      const bool blocked = (f.mask && f.mask[i]) || other(static_cast<int>(i));
      box[static_cast<long long>(y - by0) * bw + (x - bx0)] = blocked ? -1 : 0;
    }
  for (int k = 0; k < n; ++k) {
    const int i = pixels[k], x = i % w, y = i / w;
    box[static_cast<long long>(y - by0) * bw + (x - bx0)] = s.peak_of[k] + 1;
  }
  // Grow the support by g pixels (8-connected dilation), never into blocked pixels; a free pixel
  // next to two peaks goes to the first in scan order of its neighbours.
  for (int step = 0; step < g; ++step) {
    for (long long k = 0; k < 1ll * bw * bh; ++k) box_next[k] = box[k];
    for (int y = 0; y < bh; ++y)
      for (int x = 0; x < bw; ++x) {
        if (box[static_cast<long long>(y) * bw + x] != 0) continue;
        int label = 0;
        for (int dy = -1; dy <= 1 && !label; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int xx = x + dx, yy = y + dy;
            if (xx < 0 || yy < 0 || xx >= bw || yy >= bh) continue;
            const int v = box[static_cast<long long>(yy) * bw + xx];
            if (v > 0) {
              label = v;
              break;
            }
          }
        box_next[static_cast<long long>(y) * bw + x] = label;
      }
    int* t = box;
    box = box_next;
    box_next = t;
  }
  for (int p = 0; p < split.n_peaks; ++p) {
    int ncore = 0, nsupport = 0;
    for (int k = 0; k < n; ++k)
      if (s.peak_of[k] == p) s.core[ncore++] = pixels[k];
    for (int y = 0; y < bh; ++y)
      for (int x = 0; x < bw; ++x)
        if (box[static_cast<long long>(y) * bw + x] == p + 1) s.support[nsupport++] = (y + by0) * w + (x + bx0);
    Peak peak = measure_pixels(f, s.core, ncore, s.support, nsupport, sigma, moments, false, window);
    peak.n_maxima = s.n_maxima[p];
    emit(peak, p);
  }
}

}  // namespace laueproc::math
