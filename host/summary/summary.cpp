/// @file
/// @brief Streaking extent and defect-scenario classification of one frame from its peak list.
///
/// Peaks come from a deblending peak finder (maxima >= ~7 px apart become separate peaks,
/// closer ones stay one peak with n_maxima > 1). The rules (docs/scenarios.md has the long form):
///
/// 1. Used peaks (SE and shapes): not saturated (a clipped top flattens and widens the moments),
///    not edge (a cut ellipse is wrong), snr >= snr_min (noise inflates a, b of faint peaks).
///    SE = mean(a*b) / r_unit^2 (unit 1 = round spot of radius r_unit, the study's
///    normalisation); se_median the median, robust to a few merged blobs. None used -> NaN.
/// 2. Split detection. Candidates: not edge, snr >= snr_min / 2 (the weaker half of a tilt
///    split carries 0.3-1 of the intensity, so it can be fainter than the SE cut; saturation
///    does not move a centroid much). Neighbours within group_radius_px through a uniform cell
///    list (cell = radius: O(N) for N peaks). Each displacement d with 7 px <= |d| <= radius
///    (7 px = the deblender's min separation: closer maxima never come out as two peaks) and
///    intensity ratio >= 0.1 votes, with both signs (so near-vertical vectors whose sign flips
///    with jitter still agree), in a 2 px histogram; the best 3x3 neighbourhood seeds a
///    mean-shift (radius 2.5 px, 3 rounds) that gives the common vector. A tilt boundary
///    displaces every reflection by the same vector (small misorientation = one rotation of the
///    whole pattern's sub-grain), while unrelated neighbours give vectors spread over the
///    half-disk of radius 60 px (~5600 px^2), so chance agreement within 2.5 px needs ~3 of
///    ~100 vectors to coincide; support < 3 -> no vector. Disjoint pairs matching the vector are
///    taken greedily by residual; pair_fraction = pairs / reflections, reflections = pairs +
///    unpaired candidates with snr >= snr_min (a split reflection is one reflection; an
///    unpaired faint peak is more likely noise than a reflection).
/// 3. stacking_fraction = share of candidates with snr >= snr_min and n_maxima >= 3 (faint
///    peaks cannot show sub-maxima): stacked tilt boundaries give
///    one blob per reflection made of several sub-peaks 3-6 px apart (below the deblender's
///    separation, so never split into separate peaks).
/// 4. elongation = median a/b over used peaks. For split frames "streaked" is judged only by
///    this per-sub-peak shape (an unresolved split pair would inflate SE without streaking);
///    for unsplit frames streaked = se > se_gnd or elongation >= 1.5 (GNDs broaden or elongate).
/// 5. Decision: n_used < min_peaks -> unknown; stacking_fraction >= stacking_fraction ->
///    stacking (checked first: blobs are large, so they would otherwise read as GND);
///    pair_fraction >= pair_fraction -> mixed if streaked else tilt_boundary; streaked -> gnd;
///    else defect_free. split_px and misorientation_deg = split_px * deg_per_px are reported
///    for tilt_boundary and mixed.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "laueproc/summary.hpp"

namespace laueproc {
namespace {

constexpr double kMinSplitPx = 7.0;        ///< = DeblendConfig::min_separation_px default
constexpr double kCandidateSnrScale = 0.5; ///< candidates need snr >= snr_min * this
constexpr double kMinPairRatio = 0.1;      ///< weaker/stronger intensity; tilt halves are 0.3-1
constexpr double kVoteBinPx = 2.0;         ///< histogram bin for the displacement vote
constexpr double kRefineTolPx = 2.5;       ///< mean-shift radius and pair-matching tolerance
constexpr int kRefineRounds = 3;
constexpr int kMinSupport = 3;             ///< displacements needed to call a consensus
constexpr int kMaxVoteBins = 256;          ///< per axis; bins widen for huge group radii
constexpr int kMaxCells = 256;             ///< per axis of the cell list
constexpr double kStreakElongation = 1.5;  ///< median a/b at which peaks count as streaked
constexpr int kStackingMaxima = 3;         ///< n_maxima of a stacked reflection

struct Displacement {
  std::int32_t i, j;
  float dx, dy;  ///< position[j] - position[i] (px)
};

struct PairMatch {
  float residual;
  std::int32_t i, j;
};

/// Per-thread buffers: summarize_frame runs per frame on worker threads, so reusing these
/// keeps the hot path allocation-free after the first frames.
struct Scratch {
  std::vector<std::int32_t> cand;        ///< candidate peak indices
  std::vector<std::int32_t> cell_of;     ///< cell of each candidate
  std::vector<std::int32_t> cell_start;  ///< CSR offsets, ncells + 1
  std::vector<std::int32_t> cell_items;  ///< candidate slots sorted by cell
  std::vector<std::int32_t> cursor;      ///< fill position per cell
  std::vector<Displacement> disp;
  std::vector<std::int32_t> hist;
  std::vector<PairMatch> matches;
  std::vector<std::uint8_t> matched;
  std::vector<double> values;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

double median_in_place(std::vector<double>& v) {
  if (v.empty()) return FrameSummary::kNaN;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lo + hi);
}

bool is_candidate(const Peak& p, const SummaryConfig& c) {
  return !p.edge && p.snr >= c.snr_min * kCandidateSnrScale && std::isfinite(p.x) && std::isfinite(p.y);
}

double intensity_ratio(const Peak& p, const Peak& q) {
  const double lo = std::min(p.intensity, q.intensity), hi = std::max(p.intensity, q.intensity);
  if (!(hi > 0.0)) return 1.0;  // no usable intensities: do not filter on them
  return std::max(lo, 0.0) / hi;
}

/// All candidate pairs closer than `radius`, through a uniform cell list (cell edge >= radius,
/// so only the 3x3 neighbouring cells are searched).
void collect_neighbours(const PeakList& peaks, double radius, Scratch& s) {
  s.disp.clear();
  const std::size_t n = s.cand.size();
  if (n < 2 || !(radius > 0.0)) return;
  double x0 = peaks[s.cand[0]].x, x1 = x0, y0 = peaks[s.cand[0]].y, y1 = y0;
  for (const std::int32_t k : s.cand) {
    x0 = std::min(x0, peaks[k].x); x1 = std::max(x1, peaks[k].x);
    y0 = std::min(y0, peaks[k].y); y1 = std::max(y1, peaks[k].y);
  }
  const double cell = std::max({radius, (x1 - x0) / kMaxCells, (y1 - y0) / kMaxCells});
  const int ncx = static_cast<int>((x1 - x0) / cell) + 1;
  const int ncy = static_cast<int>((y1 - y0) / cell) + 1;
  const std::size_t ncells = static_cast<std::size_t>(ncx) * static_cast<std::size_t>(ncy);
  s.cell_of.resize(n);
  s.cell_start.assign(ncells + 1, 0);
  s.cell_items.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    const Peak& p = peaks[s.cand[k]];
    const int cx = std::min(ncx - 1, static_cast<int>((p.x - x0) / cell));
    const int cy = std::min(ncy - 1, static_cast<int>((p.y - y0) / cell));
    s.cell_of[k] = cy * ncx + cx;
    ++s.cell_start[static_cast<std::size_t>(s.cell_of[k]) + 1];
  }
  for (std::size_t c = 0; c < ncells; ++c) s.cell_start[c + 1] += s.cell_start[c];
  // Counting sort of candidate slots by cell (CSR), with a per-cell fill cursor.
  s.cursor.assign(s.cell_start.begin(), s.cell_start.end() - 1);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t c = static_cast<std::size_t>(s.cell_of[k]);
    s.cell_items[static_cast<std::size_t>(s.cursor[c]++)] = static_cast<std::int32_t>(k);
  }

  const double r2 = radius * radius;
  for (std::size_t k = 0; k < n; ++k) {
    const std::int32_t pi = s.cand[k];
    const Peak& p = peaks[pi];
    const int cx = s.cell_of[k] % ncx, cy = s.cell_of[k] / ncx;
    for (int ny = std::max(0, cy - 1); ny <= std::min(ncy - 1, cy + 1); ++ny) {
      for (int nx = std::max(0, cx - 1); nx <= std::min(ncx - 1, cx + 1); ++nx) {
        const std::size_t c = static_cast<std::size_t>(ny * ncx + nx);
        for (std::int32_t t = s.cell_start[c]; t < s.cell_start[c + 1]; ++t) {
          const std::size_t k2 = static_cast<std::size_t>(s.cell_items[static_cast<std::size_t>(t)]);
          if (k2 <= k) continue;  // each unordered pair once
          const std::int32_t qi = s.cand[k2];
          const Peak& q = peaks[qi];
          const double dx = q.x - p.x, dy = q.y - p.y;
          if (dx * dx + dy * dy > r2) continue;
          s.disp.push_back({pi, qi, static_cast<float>(dx), static_cast<float>(dy)});
        }
      }
    }
  }
}

}  // namespace

bool is_used_peak(const Peak& p, const SummaryConfig& c) {
  return !p.saturated && !p.edge && p.snr >= c.snr_min && std::isfinite(p.a) && std::isfinite(p.b);
}

SplitEstimate find_common_split(const PeakList& peaks, const SummaryConfig& config) {
  SplitEstimate out;
  Scratch& s = scratch();
  s.cand.clear();
  for (std::size_t k = 0; k < peaks.size(); ++k)
    if (is_candidate(peaks[k], config)) s.cand.push_back(static_cast<std::int32_t>(k));
  out.n_candidates = static_cast<int>(s.cand.size());
  const double radius = config.group_radius_px;
  collect_neighbours(peaks, radius, s);
  if (s.disp.empty() || radius < kMinSplitPx) return out;

  // Vote: both signs of every eligible displacement in a (2R x 2R) histogram.
  const double bin = std::max(kVoteBinPx, 2.0 * radius / (kMaxVoteBins - 1));
  const int nb = static_cast<int>(std::ceil(2.0 * radius / bin)) + 1;
  s.hist.assign(static_cast<std::size_t>(nb) * static_cast<std::size_t>(nb), 0);
  auto bin_of = [&](double v) {
    return std::clamp(static_cast<int>(std::floor((v + radius) / bin)), 0, nb - 1);
  };
  const double min2 = kMinSplitPx * kMinSplitPx;
  auto eligible = [&](const Displacement& d) {
    const double l2 = double(d.dx) * d.dx + double(d.dy) * d.dy;
    return l2 >= min2 && intensity_ratio(peaks[d.i], peaks[d.j]) >= kMinPairRatio;
  };
  for (const Displacement& d : s.disp) {
    if (!eligible(d)) continue;
    ++s.hist[static_cast<std::size_t>(bin_of(d.dy) * nb + bin_of(d.dx))];
    ++s.hist[static_cast<std::size_t>(bin_of(-d.dy) * nb + bin_of(-d.dx))];
  }
  int best = 0;
  double cx = 0.0, cy = 0.0;
  for (const Displacement& d : s.disp) {
    if (!eligible(d)) continue;
    const int bx = bin_of(d.dx), by = bin_of(d.dy);
    int sum = 0;
    for (int yy = std::max(0, by - 1); yy <= std::min(nb - 1, by + 1); ++yy)
      for (int xx = std::max(0, bx - 1); xx <= std::min(nb - 1, bx + 1); ++xx)
        sum += s.hist[static_cast<std::size_t>(yy * nb + xx)];
    if (sum > best) { best = sum; cx = d.dx; cy = d.dy; }
  }
  if (best < kMinSupport) return out;

  // Mean-shift refinement (flat kernel): each displacement takes the sign nearer the estimate.
  const double tol2 = kRefineTolPx * kRefineTolPx;
  int support = 0;
  for (int round = 0; round < kRefineRounds; ++round) {
    double sx = 0.0, sy = 0.0;
    int count = 0;
    for (const Displacement& d : s.disp) {
      if (!eligible(d)) continue;
      const double sg = (d.dx * cx + d.dy * cy >= 0.0) ? 1.0 : -1.0;
      const double ex = sg * d.dx - cx, ey = sg * d.dy - cy;
      if (ex * ex + ey * ey > tol2) continue;
      sx += sg * d.dx; sy += sg * d.dy; ++count;
    }
    support = count;
    if (count == 0) break;
    cx = sx / count; cy = sy / count;
  }
  if (support < kMinSupport || cx * cx + cy * cy < min2) return out;
  if (cx < 0.0 || (cx == 0.0 && cy < 0.0)) { cx = -cx; cy = -cy; }

  // Disjoint pairs: greedy by residual, so each peak joins its best-matching partner.
  s.matches.clear();
  for (const Displacement& d : s.disp) {
    if (intensity_ratio(peaks[d.i], peaks[d.j]) < kMinPairRatio) continue;
    const double sg = (d.dx * cx + d.dy * cy >= 0.0) ? 1.0 : -1.0;
    const double ex = sg * d.dx - cx, ey = sg * d.dy - cy;
    const double r2 = ex * ex + ey * ey;
    if (r2 <= tol2) s.matches.push_back({static_cast<float>(r2), d.i, d.j});
  }
  std::sort(s.matches.begin(), s.matches.end(),
            [](const PairMatch& a, const PairMatch& b) { return a.residual < b.residual; });
  s.matched.assign(peaks.size(), 0);
  int pairs = 0;
  for (const PairMatch& m : s.matches) {
    if (s.matched[static_cast<std::size_t>(m.i)] || s.matched[static_cast<std::size_t>(m.j)]) continue;
    s.matched[static_cast<std::size_t>(m.i)] = s.matched[static_cast<std::size_t>(m.j)] = 1;
    ++pairs;
  }
  // Reflections: every pair, plus unpaired candidates bright enough for SE (an unpaired faint
  // peak is more likely noise or a lost half than a reflection of its own).
  int unpaired_bright = 0;
  for (const std::int32_t k : s.cand)
    if (!s.matched[static_cast<std::size_t>(k)] && peaks[static_cast<std::size_t>(k)].snr >= config.snr_min)
      ++unpaired_bright;
  out.found = true;
  out.dx = cx;
  out.dy = cy;
  out.support = support;
  out.n_pairs = pairs;
  const int reflections = pairs + unpaired_bright;
  out.pair_fraction = reflections > 0 ? double(pairs) / reflections : 0.0;
  return out;
}

FrameSummary summarize_frame(std::int64_t frame, const PeakList& peaks, const SummaryConfig& config) {
  FrameSummary f;
  f.frame = frame;
  f.n_peaks = static_cast<int>(peaks.size());
  Scratch& s = scratch();

  // 1. SE over used peaks.
  const double unit = config.r_unit_px * config.r_unit_px;
  s.values.clear();
  double sum = 0.0;
  for (const Peak& p : peaks) {
    if (!is_used_peak(p, config)) continue;
    const double v = p.a * p.b / unit;
    s.values.push_back(v);
    sum += v;
  }
  f.n_used = static_cast<int>(s.values.size());
  if (f.n_used > 0) {
    f.se = sum / f.n_used;
    f.se_median = median_in_place(s.values);
  }

  // 4. Elongation: median a/b over used peaks (b > 0).
  s.values.clear();
  for (const Peak& p : peaks)
    if (is_used_peak(p, config) && p.b > 0.0) s.values.push_back(p.a / p.b);
  f.elongation = s.values.empty() ? 0.0 : median_in_place(s.values);

  // 3. Stacking evidence over bright candidates (faint peaks cannot show sub-maxima).
  int n_cand = 0, n_stack = 0;
  for (const Peak& p : peaks) {
    if (!is_candidate(p, config) || p.snr < config.snr_min) continue;
    ++n_cand;
    if (p.n_maxima >= kStackingMaxima) ++n_stack;
  }
  f.stacking_fraction = n_cand > 0 ? double(n_stack) / n_cand : 0.0;

  // 2. Split evidence.
  const SplitEstimate split = find_common_split(peaks, config);
  f.pair_fraction = split.pair_fraction;

  // 5. Decision.
  if (f.n_used < std::max(1, config.min_peaks)) {
    f.scenario = Scenario::unknown;
    return f;
  }
  const bool elongated = f.elongation >= kStreakElongation;
  if (f.stacking_fraction >= config.stacking_fraction) {
    f.scenario = Scenario::stacking;
  } else if (split.found && f.pair_fraction >= config.pair_fraction) {
    f.scenario = elongated ? Scenario::mixed : Scenario::tilt_boundary;
    f.split_dx = split.dx;
    f.split_dy = split.dy;
    f.split_px = std::hypot(split.dx, split.dy);
    f.misorientation_deg = f.split_px * config.deg_per_px;
  } else if (elongated || f.se > config.se_gnd) {
    f.scenario = Scenario::gnd;
  } else {
    f.scenario = Scenario::defect_free;
  }
  return f;
}

}  // namespace laueproc
