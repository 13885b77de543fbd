/// @file
/// @brief Stage 4: splitting components with several well-resolved maxima.

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>

#include "laueproc/stages.hpp"

namespace laueproc {
namespace {

int find_root(std::vector<int>& parent, int i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];  // path halving
    i = parent[i];
  }
  return i;
}

}  // namespace

void deblend(const float* residual, int width, int height, const ComponentSet& set, int c, double sigma,
             const DeblendConfig& config, DeblendResult& out) {
  (void)height;
  thread_local std::vector<int> px, py, box, order, rank, parent, regmax, sig, group;
  thread_local std::vector<float> val, prominence;
  thread_local std::vector<int> heap_storage;
  px.clear();
  py.clear();
  val.clear();
  int xmin = std::numeric_limits<int>::max(), xmax = -1, ymin = std::numeric_limits<int>::max(), ymax = -1;
  for (int k = set.begin[c]; k < set.begin[c + 1]; ++k) {
    const PixelRun& r = set.runs[k];
    for (int x = r.x0; x <= r.x1; ++x) {
      px.push_back(x);
      py.push_back(r.y);
      val.push_back(residual[static_cast<std::size_t>(r.y) * width + x]);
    }
    xmin = std::min(xmin, r.x0);
    xmax = std::max(xmax, r.x1);
    ymin = std::min(ymin, r.y);
    ymax = std::max(ymax, r.y);
  }
  const int n = static_cast<int>(px.size());
  out.n_peaks = 1;
  out.peak_of.assign(static_cast<std::size_t>(n), 0);
  out.n_maxima.assign(1, 1);
  if (n < 3) return;

  const int bw = xmax - xmin + 1, bh = ymax - ymin + 1;
  box.assign(static_cast<std::size_t>(bw) * bh, -1);
  for (int k = 0; k < n; ++k) box[static_cast<std::size_t>(py[k] - ymin) * bw + (px[k] - xmin)] = k;
  auto neighbours = [&](int k, auto&& fn) {
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        if (!dx && !dy) continue;
        const int x = px[k] - xmin + dx, y = py[k] - ymin + dy;
        if (x < 0 || y < 0 || x >= bw || y >= bh) continue;
        const int q = box[static_cast<std::size_t>(y) * bw + x];
        if (q >= 0) fn(q);
      }
  };

  // Pixels from high to low (ties by raster order, so the result is deterministic).
  order.resize(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return val[a] > val[b] || (val[a] == val[b] && a < b); });
  rank.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) rank[order[i]] = i;

  // Prominence by 0-dimensional persistence (Edelsbrunner, Letscher & Zomorodian 2002): flood
  // from the top; when two regions meet at a saddle, the one with the lower maximum dies with
  // prominence = its maximum - saddle.
  parent.assign(static_cast<std::size_t>(n), -1);
  regmax.assign(static_cast<std::size_t>(n), -1);
  prominence.assign(static_cast<std::size_t>(n), -1.0f);
  for (int i = 0; i < n; ++i) {
    const int p = order[i];
    int roots[8];
    int nr = 0;
    neighbours(p, [&](int q) {
      if (parent[q] < 0) return;  // not flooded yet
      const int r = find_root(parent, q);
      for (int j = 0; j < nr; ++j)
        if (roots[j] == r) return;
      roots[nr++] = r;
    });
    if (nr == 0) {
      parent[p] = p;
      regmax[p] = p;
      prominence[p] = std::numeric_limits<float>::infinity();  // until it dies
      continue;
    }
    int survivor = roots[0];
    for (int j = 1; j < nr; ++j)
      if (rank[regmax[roots[j]]] < rank[regmax[survivor]]) survivor = roots[j];
    for (int j = 0; j < nr; ++j) {
      if (roots[j] == survivor) continue;
      const int m = regmax[roots[j]];
      prominence[m] = val[m] - val[p];
      parent[roots[j]] = survivor;
    }
    parent[p] = survivor;
  }
  // Significant maxima, highest first (the global maximum always is one).
  const float need = static_cast<float>(config.prominence_sigma * sigma);
  sig.clear();
  for (int i = 0; i < n; ++i) {
    const int k = order[i];
    if (prominence[k] >= need) sig.push_back(k);
  }
  const int m = static_cast<int>(sig.size());
  // Single-linkage groups at min_separation_px: chains of close sub-maxima (stacking) stay one.
  group.resize(static_cast<std::size_t>(m));
  for (int i = 0; i < m; ++i) group[i] = i;
  const double d2 = config.min_separation_px * config.min_separation_px;
  for (int i = 0; i < m; ++i)
    for (int j = i + 1; j < m; ++j) {
      const double dx = px[sig[i]] - px[sig[j]], dy = py[sig[i]] - py[sig[j]];
      if (dx * dx + dy * dy < d2) {
        const int a = find_root(group, i), b = find_root(group, j);
        if (a != b) group[std::max(a, b)] = std::min(a, b);
      }
    }
  // Number groups by their highest maximum.
  std::vector<int>& gid = parent;  // reuse: group number of each significant maximum's root
  gid.assign(static_cast<std::size_t>(m), -1);
  int ngroups = 0;
  out.n_maxima.clear();
  for (int i = 0; i < m; ++i) {
    const int r = find_root(group, i);
    if (gid[r] < 0) {
      gid[r] = ngroups++;
      out.n_maxima.push_back(0);
    }
    ++out.n_maxima[gid[r]];
  }
  if (ngroups <= 1 || !config.split) {
    out.n_maxima.assign(1, std::max(1, m));
    return;
  }
  // Watershed by priority flood (Meyer 1994) from all maxima of each group over the component.
  out.n_peaks = ngroups;
  out.peak_of.assign(static_cast<std::size_t>(n), -1);
  heap_storage.clear();
  std::priority_queue<int, std::vector<int>, std::greater<int>> heap(std::greater<int>(), std::move(heap_storage));
  for (int i = 0; i < m; ++i) {
    out.peak_of[sig[i]] = gid[find_root(group, i)];
    heap.push(rank[sig[i]]);
  }
  while (!heap.empty()) {
    const int p = order[heap.top()];
    heap.pop();
    neighbours(p, [&](int q) {
      if (out.peak_of[q] >= 0) return;
      out.peak_of[q] = out.peak_of[p];
      heap.push(rank[q]);
    });
  }
}

}  // namespace laueproc
