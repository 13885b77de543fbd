/// @file
/// @brief Raster cells for frame summaries and the scan maps built from them.
///
/// Position clustering (no --grid): raster positions are a grid of steps s (34-ID-E: 0.5 um)
/// read back with encoder jitter j << s. Per axis, sorted distinct positions have gaps that are
/// either jitter (<= 2j, inside a column) or steps (>= s - 2j). The "large" gaps are those >=
/// 0.3 x the largest one (the largest may span a missing column, 2s or 3s); a cluster break is a
/// gap above half the smallest large gap, and never below kMinStepUm (a step smaller than 20 nm is
/// meaningless for a 300 nm beam, so such gaps are jitter: this is what keeps one jittered
/// column from being split). This holds for jitter up to ~13 % of the step, in any scan order
/// (raster, snake, random), since it only looks at the set of positions.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <string>

#include "laueproc/error.hpp"
#include "laueproc/summary.hpp"

namespace laueproc {
namespace {

constexpr double kMinStepUm = 0.02;     ///< smallest raster step told apart from jitter (um)
constexpr double kLargeGapShare = 0.3;  ///< gaps >= this x the largest one are steps

/// Clusters 1-D positions; writes each value's raster index (ascending position) to `id` and
/// returns the number of indices (clusters, plus empty ones where a step was skipped).
int cluster_axis(const std::vector<double>& v, std::vector<int>& id) {
  const std::size_t n = v.size();
  id.assign(n, 0);
  if (n == 0) return 0;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  double largest = 0.0;
  for (std::size_t k = 1; k < n; ++k) largest = std::max(largest, v[order[k]] - v[order[k - 1]]);
  if (largest < kMinStepUm) return 1;
  double smallest_large = largest;
  for (std::size_t k = 1; k < n; ++k) {
    const double g = v[order[k]] - v[order[k - 1]];
    if (g >= kLargeGapShare * largest) smallest_large = std::min(smallest_large, g);
  }
  const double threshold = std::max(kMinStepUm, 0.5 * smallest_large);
  std::vector<double> centre(1, 0.0);
  std::vector<int> count(1, 0);
  for (std::size_t k = 0; k < n; ++k) {
    if (k > 0 && v[order[k]] - v[order[k - 1]] > threshold) {
      centre.push_back(0.0);
      count.push_back(0);
    }
    id[order[k]] = static_cast<int>(centre.size()) - 1;
    centre.back() += v[order[k]];
    ++count.back();
  }
  const std::size_t nc = centre.size();
  for (std::size_t c = 0; c < nc; ++c) centre[c] /= count[c];
  // Index = whole steps from the first cluster, so a missing column stays an empty column
  // in the maps; the step is the smallest centre spacing. Irregular spacings that would put
  // two clusters in one index fall back to the cluster rank.
  double step = std::numeric_limits<double>::infinity();
  for (std::size_t c = 1; c < nc; ++c) step = std::min(step, centre[c] - centre[c - 1]);
  if (nc < 2) return 1;
  std::vector<int> index(nc, 0);
  bool regular = true;
  for (std::size_t c = 1; c < nc && regular; ++c) {
    const double steps = (centre[c] - centre[0]) / step;
    index[c] = static_cast<int>(std::lround(steps));
    regular = index[c] > index[c - 1] && std::fabs(steps - index[c]) < 0.25 && index[c] < 4 * int(nc) + 16;
  }
  if (!regular) std::iota(index.begin(), index.end(), 0);
  for (std::size_t k = 0; k < n; ++k) id[k] = index[static_cast<std::size_t>(id[k])];
  return index.back() + 1;
}

bool position_ok(const FrameSummary& f) {
  return f.has_position && std::isfinite(f.x_um) && std::isfinite(f.y_um);
}

int grid_rows(const std::vector<FrameSummary>& frames, const GridSpec& grid) {
  if (grid.ny > 0) return grid.ny;
  std::int64_t last = -1;
  for (const FrameSummary& f : frames) last = std::max(last, f.frame);
  return static_cast<int>(std::max<std::int64_t>(1, (last + grid.nx) / grid.nx));
}

}  // namespace

void assign_grid(std::vector<FrameSummary>& frames, const GridSpec& grid) {
  if (grid.nx < 0 || grid.ny < 0 || (grid.nx == 0 && grid.ny > 0))
    throw UsageError("--grid: need NX > 0 (and NY >= 0), got " + std::to_string(grid.nx) + "x" +
                     std::to_string(grid.ny));
  if (frames.empty()) return;

  if (grid.nx > 0) {  // explicit raster, row-major
    const std::int64_t nx = grid.nx, ny = grid_rows(frames, grid);
    for (FrameSummary& f : frames) {
      if (f.frame < 0 || f.frame >= nx * ny)
        throw UsageError("--grid " + std::to_string(nx) + "x" + std::to_string(ny) + " holds " +
                         std::to_string(nx * ny) + " frames, but frame " + std::to_string(f.frame) +
                         " exists");
      const std::int64_t iy = f.frame / nx;
      std::int64_t ix = f.frame % nx;
      if (grid.snake && iy % 2 == 1) ix = nx - 1 - ix;
      f.ix = static_cast<int>(ix);
      f.iy = static_cast<int>(iy);
    }
    return;
  }

  std::vector<double> xs, ys;
  std::vector<std::size_t> who;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    if (!position_ok(frames[k])) continue;
    xs.push_back(frames[k].x_um);
    ys.push_back(frames[k].y_um);
    who.push_back(k);
  }
  std::vector<int> idx, idy;
  const int ncx = cluster_axis(xs, idx);
  const int ncy = cluster_axis(ys, idy);
  if (who.empty() || (ncx <= 1 && ncy <= 1 && frames.size() > 1)) {
    // No positions, or a time series at one position: a line in frame order.
    std::int64_t first = frames.front().frame;
    for (const FrameSummary& f : frames) first = std::min(first, f.frame);
    for (FrameSummary& f : frames) {
      f.ix = static_cast<int>(f.frame - first);
      f.iy = 0;
    }
    return;
  }
  for (FrameSummary& f : frames) f.ix = f.iy = -1;
  for (std::size_t k = 0; k < who.size(); ++k) {
    frames[who[k]].ix = idx[k];
    frames[who[k]].iy = idy[k];
  }
}

ScanMaps build_maps(const std::vector<FrameSummary>& frames, const GridSpec& grid) {
  ScanMaps m;
  int max_ix = -1, max_iy = -1;
  for (const FrameSummary& f : frames) {
    if (f.ix < 0 || f.iy < 0) continue;
    max_ix = std::max(max_ix, f.ix);
    max_iy = std::max(max_iy, f.iy);
  }
  m.nx = grid.nx > 0 ? grid.nx : max_ix + 1;
  m.ny = grid.nx > 0 ? grid_rows(frames, grid) : max_iy + 1;
  if (m.nx <= 0 || m.ny <= 0) {
    m.nx = m.ny = 0;
    return m;
  }
  const std::size_t cells = static_cast<std::size_t>(m.nx) * static_cast<std::size_t>(m.ny);
  constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
  m.se.assign(cells, kNaNf);
  m.se_median.assign(cells, kNaNf);
  m.n_peaks.assign(cells, kNaNf);
  m.background.assign(cells, kNaNf);
  m.noise.assign(cells, kNaNf);
  m.scenario.assign(cells, std::int8_t{-1});

  // Lowest frame index wins a shared cell; axes average every placed frame's position.
  std::vector<std::size_t> winner(cells, frames.size());
  std::vector<double> sx(static_cast<std::size_t>(m.nx), 0.0), sy(static_cast<std::size_t>(m.ny), 0.0);
  std::vector<int> cx(static_cast<std::size_t>(m.nx), 0), cy(static_cast<std::size_t>(m.ny), 0);
  bool any_position = false;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const FrameSummary& f = frames[k];
    if (f.ix < 0 || f.iy < 0 || f.ix >= m.nx || f.iy >= m.ny) continue;
    const std::size_t c = static_cast<std::size_t>(f.iy) * static_cast<std::size_t>(m.nx) +
                          static_cast<std::size_t>(f.ix);
    if (winner[c] == frames.size() || f.frame < frames[winner[c]].frame) winner[c] = k;
    if (position_ok(f)) {
      any_position = true;
      sx[static_cast<std::size_t>(f.ix)] += f.x_um;
      ++cx[static_cast<std::size_t>(f.ix)];
      sy[static_cast<std::size_t>(f.iy)] += f.y_um;
      ++cy[static_cast<std::size_t>(f.iy)];
    }
  }
  for (std::size_t c = 0; c < cells; ++c) {
    if (winner[c] == frames.size()) continue;
    const FrameSummary& f = frames[winner[c]];
    m.se[c] = static_cast<float>(f.se);
    m.se_median[c] = static_cast<float>(f.se_median);
    m.n_peaks[c] = static_cast<float>(f.n_peaks);
    m.background[c] = static_cast<float>(f.background);
    m.noise[c] = static_cast<float>(f.noise);
    m.scenario[c] = static_cast<std::int8_t>(f.scenario);
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  m.x_um.resize(static_cast<std::size_t>(m.nx));
  m.y_um.resize(static_cast<std::size_t>(m.ny));
  for (std::size_t i = 0; i < m.x_um.size(); ++i)
    m.x_um[i] = !any_position ? double(i) : (cx[i] > 0 ? sx[i] / cx[i] : kNaN);
  for (std::size_t i = 0; i < m.y_um.size(); ++i)
    m.y_um[i] = !any_position ? double(i) : (cy[i] > 0 ? sy[i] / cy[i] : kNaN);
  return m;
}

}  // namespace laueproc
