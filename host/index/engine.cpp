// The indexing engine: reference tables per (material, settings), candidate orientations from
// angle pairs of the brightest spots (as LaueTools), scoring of every candidate against all spots
// (math/index_score.hpp, the GPU kernel's body too), least-squares refinement, more grains on the
// spots left over. Method and measured figures: docs/indexing.md.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "laueproc/error.hpp"
#include "laueproc/index.hpp"
#include "laueproc/math/index_score.hpp"

namespace laueproc::index {

namespace {

constexpr double kDeg = 3.14159265358979323846 / 180.0;
constexpr double kHc = 12.398419843320026;
constexpr int kCubeGrid = 64;
constexpr int kStaleCandidates = 300;
constexpr std::size_t kProbeSpots = 40;  // spots scored before a candidate with no support is dropped  // candidates without a better score before a clear grain is taken
// Deviatoric strain (5 more parameters) only from this many spots: fewer leave it poorly
// determined, and a wrong strain tilts the orientation.
constexpr std::size_t kMinStrainSpots = 30;

int gcd3(int a, int b, int c) { return std::gcd(std::gcd(std::abs(a), std::abs(b)), std::abs(c)); }

Vec3 as_vec(const std::array<int, 3>& h) { return {double(h[0]), double(h[1]), double(h[2])}; }

/// Solves the n x n system a x = b (Gaussian elimination with partial pivoting); false if singular.
bool solve(std::vector<double>& a, std::vector<double>& b, int n) {
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int r = c + 1; r < n; ++r)
      if (std::abs(a[r * n + c]) > std::abs(a[piv * n + c])) piv = r;
    if (std::abs(a[piv * n + c]) < 1e-300) return false;
    if (piv != c) {
      for (int k = 0; k < n; ++k) std::swap(a[c * n + k], a[piv * n + k]);
      std::swap(b[c], b[piv]);
    }
    for (int r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (int k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  for (int c = n - 1; c >= 0; --c) {
    double s = b[c];
    for (int k = c + 1; k < n; ++k) s -= a[c * n + k] * b[k];
    b[c] = s / a[c * n + c];
  }
  return true;
}

// Generators of the small linear maps A in M' = (I + A) M: 3 rotations, then 5 symmetric
// traceless (deviatoric) strains.
Mat3 generator(int k) {
  Mat3 g;
  switch (k) {
    case 0: g(1, 2) = -1, g(2, 1) = 1; break;
    case 1: g(0, 2) = 1, g(2, 0) = -1; break;
    case 2: g(0, 1) = -1, g(1, 0) = 1; break;
    case 3: g(0, 0) = 1, g(1, 1) = -1; break;
    case 4: g(0, 0) = 1, g(1, 1) = 1, g(2, 2) = -2; break;
    case 5: g(0, 1) = g(1, 0) = 1; break;
    case 6: g(0, 2) = g(2, 0) = 1; break;
    default: g(1, 2) = g(2, 1) = 1; break;
  }
  return g;
}

struct Match {
  int spot = -1, dir = -1;
  double cos = -1;
};

}  // namespace

// ---- tables ------------------------------------------------------------------------------------

struct Indexer::Tables {
  Geometry geo;
  Material mat;
  IndexSettings set;
  std::vector<double> dir, q1;
  std::vector<unsigned long long> allowed;
  std::vector<std::array<int, 3>> hkl;
  std::vector<int> bin_start, bin_items;
  struct PairEntry {
    double angle;
    int u, v;
  };
  std::vector<PairEntry> pairs;

  math::DirectionTableView view() const {
    math::DirectionTableView v;
    v.dir = dir.data();
    v.q1 = q1.data();
    v.allowed = allowed.data();
    v.bin_start = bin_start.data();
    v.bin_items = bin_items.data();
    v.grid = kCubeGrid;
    v.n_dirs = static_cast<int>(q1.size());
    return v;
  }
  Vec3 direction(int d) const { return {dir[3 * d], dir[3 * d + 1], dir[3 * d + 2]}; }
  double q_low(int d) const {  // |q| of the lowest allowed harmonic
    const unsigned long long m = allowed[static_cast<std::size_t>(d)];
    int n = 1;
    while (!((m >> (n - 1)) & 1ull)) ++n;
    return n * q1[static_cast<std::size_t>(d)];
  }

  void build_directions() {
    const Lattice& L = mat.lattice;
    const int hmax = static_cast<int>(std::floor(set.q_max * L.a)), kmax = static_cast<int>(std::floor(set.q_max * L.b)),
              lmax = static_cast<int>(std::floor(set.q_max * L.c));
    for (int h = -hmax; h <= hmax; ++h)
      for (int k = -kmax; k <= kmax; ++k)
        for (int l = -lmax; l <= lmax; ++l) {
          if (gcd3(h, k, l) != 1) continue;
          const Vec3 q = mat.b0 * Vec3{double(h), double(k), double(l)};
          const double qn = math::norm(q);
          if (qn > set.q_max) continue;
          unsigned long long mask = 0;
          for (int n = 1; n <= 64 && n * qn <= set.q_max; ++n)
            if (mat.rule.allowed(n * h, n * k, n * l)) mask |= 1ull << (n - 1);
          if (!mask) continue;
          const Vec3 u = (1.0 / qn) * q;
          dir.insert(dir.end(), {u.x, u.y, u.z});
          q1.push_back(qn);
          allowed.push_back(mask);
          hkl.push_back({h, k, l});
        }
    if (q1.empty()) throw UsageError("no allowed reflection with |q| <= q_max for " + mat.name);
  }

  // Each direction goes into every cube-map bin its cap (1.3 x the largest tolerance) touches,
  // so a lookup reads one bin.
  void build_cube_map() {
    const double cap = 1.3 * std::max({set.match_tolerance_deg, set.final_tolerance_deg, set.pair_tolerance_deg}) * kDeg;
    const int n_bins = 6 * kCubeGrid * kCubeGrid;
    std::vector<std::vector<int>> bins(static_cast<std::size_t>(n_bins));
    std::vector<int> touched;
    for (int d = 0; d < static_cast<int>(q1.size()); ++d) {
      const Vec3 c = direction(d);
      const Vec3 a = math::normalized(math::cross(c, std::abs(c.x) < 0.9 ? Vec3{1, 0, 0} : Vec3{0, 1, 0}));
      const Vec3 b = math::cross(c, a);
      touched.clear();
      touched.push_back(math::cube_bin(c, kCubeGrid));
      for (double frac : {0.5, 1.0})
        for (int s = 0; s < 24; ++s) {
          const double phi = 2.0 * 3.14159265358979323846 * s / 24, r = frac * cap;
          const Vec3 p = std::cos(r) * c + std::sin(r) * (std::cos(phi) * a + std::sin(phi) * b);
          touched.push_back(math::cube_bin(p, kCubeGrid));
        }
      std::sort(touched.begin(), touched.end());
      touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
      for (int t : touched) bins[static_cast<std::size_t>(t)].push_back(d);
    }
    bin_start.assign(static_cast<std::size_t>(n_bins) + 1, 0);
    for (int b = 0; b < n_bins; ++b)
      bin_start[static_cast<std::size_t>(b) + 1] = bin_start[static_cast<std::size_t>(b)] + static_cast<int>(bins[static_cast<std::size_t>(b)].size());
    bin_items.reserve(static_cast<std::size_t>(bin_start.back()));
    for (const auto& b : bins) bin_items.insert(bin_items.end(), b.begin(), b.end());
  }

  // Reference set of the pair look-up: the low-|q| directions (n_pair_directions, whole shells), one
  // representative per symmetry family as the first spot of a pair.
  void build_pairs() {
    std::vector<int> order(q1.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return q_low(a) < q_low(b); });
    double q_pair = set.q_pair;
    if (q_pair <= 0) {
      const std::size_t want = std::min<std::size_t>(static_cast<std::size_t>(std::max(2, set.n_pair_directions)), order.size());
      q_pair = q_low(order[want - 1]) * (1 + 1e-9);
    }
    std::vector<int> ref;
    for (int d : order)
      if (q_low(d) <= q_pair) ref.push_back(d);
    // Families: canonical form = the largest S h (lexicographic) over the symmetry.
    std::map<std::array<int, 3>, int> family_rep;
    std::vector<int> reps;
    for (int d : ref) {
      const auto& h = hkl[static_cast<std::size_t>(d)];
      std::array<int, 3> best{-1000, -1000, -1000};
      for (const auto& s : mat.symmetry) {
        const std::array<int, 3> t{s[0] * h[0] + s[1] * h[1] + s[2] * h[2], s[3] * h[0] + s[4] * h[1] + s[5] * h[2],
                                   s[6] * h[0] + s[7] * h[1] + s[8] * h[2]};
        best = std::max(best, t);
      }
      if (family_rep.emplace(best, d).second) reps.push_back(d);
    }
    for (int u : reps)
      for (int v : ref) {
        const double c = math::dot(direction(u), direction(v));
        if (std::abs(c) > 0.9999) continue;  // parallel: no orientation
        pairs.push_back({std::acos(c) / kDeg, u, v});
      }
    std::sort(pairs.begin(), pairs.end(), [](const PairEntry& a, const PairEntry& b) { return a.angle < b.angle; });
  }
};

Indexer::Indexer(Geometry geometry, Material material, IndexSettings settings) : t_(std::make_unique<Tables>()) {
  if (!(settings.energy_min_kev > 0 && settings.energy_min_kev < settings.energy_max_kev))
    throw UsageError("energy band must satisfy 0 < min < max (keV)");
  if (settings.max_grains < 1) throw UsageError("--max-grains must be at least 1");
  if (!(settings.q_max > 0 && settings.q_max <= 10)) throw UsageError("q_max must lie in (0, 10] 1/Angstrom");
  if (!(settings.match_tolerance_deg > 0 && settings.final_tolerance_deg > 0 && settings.pair_tolerance_deg > 0))
    throw UsageError("tolerances must be positive");
  if (settings.min_matched < 3) throw UsageError("a grain needs at least 3 matched spots");
  t_->geo = std::move(geometry);
  t_->mat = std::move(material);
  t_->set = settings;
  t_->build_directions();
  t_->build_cube_map();
  t_->build_pairs();
}

Indexer::~Indexer() = default;
Indexer::Indexer(Indexer&&) noexcept = default;
Indexer& Indexer::operator=(Indexer&&) noexcept = default;
const Geometry& Indexer::geometry() const { return t_->geo; }
const Material& Indexer::material() const { return t_->mat; }
const IndexSettings& Indexer::settings() const { return t_->set; }
std::size_t Indexer::n_reference_directions() const { return t_->q1.size(); }
math::DirectionTableView Indexer::direction_table() const { return t_->view(); }
Indexer::TableSizes Indexer::table_sizes() const { return {t_->q1.size(), t_->bin_start.size(), t_->bin_items.size()}; }

// ---- orientation arithmetic --------------------------------------------------------------------

Mat3 nearest_rotation(const Mat3& a) {
  Mat3 u = a;
  for (int it = 0; it < 50; ++it) {  // Higham's iteration U <- (U + U^-T) / 2
    const Mat3 inv_t = math::transpose(math::inverse(u));
    Mat3 next;
    double change = 0;
    for (int i = 0; i < 9; ++i) {
      next.m[i] = 0.5 * (u.m[i] + inv_t.m[i]);
      change = std::max(change, std::abs(next.m[i] - u.m[i]));
    }
    u = next;
    if (change < 1e-15) break;
  }
  return u;
}

namespace {

/// The symmetry operation S (index into material.symmetry) that brings M2 S closest to M1, and the
/// rotation angle (rad) left. The polar factor of (M2 S) B0^-1 is U2 (B0 S B0^-1): B0 S B0^-1 is a
/// rotation, so one polar decomposition per matrix serves all 24 (or 6) operations.
std::size_t closest_operation(const Mat3& m1, const Mat3& m2, const Material& material, double& angle) {
  const Mat3 b0_inv = math::inverse(material.b0);
  const Mat3 u1t = math::transpose(nearest_rotation(m1 * b0_inv));
  const Mat3 u2 = nearest_rotation(m2 * b0_inv);
  angle = 1e300;
  std::size_t best = 0;
  for (std::size_t k = 0; k < material.symmetry.size(); ++k) {
    Mat3 sm;
    for (int i = 0; i < 9; ++i) sm.m[i] = material.symmetry[k][static_cast<std::size_t>(i)];
    const double a = math::rotation_angle(u2 * (material.b0 * sm * b0_inv) * u1t);
    if (a < angle) angle = a, best = k;
  }
  return best;
}

}  // namespace

Mat3 closest_equivalent(const Mat3& m1, const Mat3& m2, const Material& material) {
  double angle = 0;
  const std::size_t k = closest_operation(m1, m2, material, angle);
  Mat3 sm;
  for (int i = 0; i < 9; ++i) sm.m[i] = material.symmetry[k][static_cast<std::size_t>(i)];
  return m2 * sm;
}

double misorientation_deg(const Mat3& m1, const Mat3& m2, const Material& material) {
  double angle = 0;
  closest_operation(m1, m2, material, angle);
  return angle / kDeg;
}

// ---- indexing one frame ------------------------------------------------------------------------

namespace {

struct Work {
  const Indexer::Tables* t;
  std::vector<Vec3> n;        // unit scattering directions
  std::vector<unsigned char> active;
  math::DirectionTableView view;
};

math::ScoreSettings score_settings(const IndexSettings& s, double tol_deg) {
  math::ScoreSettings ss;
  ss.tol_rad = tol_deg * kDeg;
  ss.cos_tol = std::cos(ss.tol_rad);
  ss.e_min = s.energy_min_kev;
  ss.e_max = s.energy_max_kev;
  ss.q_max = s.q_max;
  return ss;
}

/// Matches of orientation M (lab = M h) at tolerance tol_deg among the spots with active[i]:
/// one spot per reference direction (the closest).
std::vector<Match> match_spots(const Work& w, const Mat3& m, const Material& mat, double tol_deg,
                               const IndexSettings& set) {
  const Mat3 c = mat.b0 * math::inverse(m);
  const math::ScoreSettings ss = score_settings(set, tol_deg);
  std::vector<Match> out;
  for (int i = 0; i < static_cast<int>(w.n.size()); ++i) {
    if (!w.active[static_cast<std::size_t>(i)]) continue;
    int d = -1;
    math::score_spot(w.view, c, w.n[static_cast<std::size_t>(i)], ss, &d);
    if (d < 0) continue;
    const Vec3 p = math::normalized(m * as_vec(w.t->hkl[static_cast<std::size_t>(d)]));
    out.push_back({i, d, math::dot(p, w.n[static_cast<std::size_t>(i)])});
  }
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.dir != b.dir ? a.dir < b.dir : a.cos > b.cos; });
  out.erase(std::unique(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.dir == b.dir; }), out.end());
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.spot < b.spot; });
  return out;
}

/// One Gauss-Newton step of M' = (I + A) M on the matched directions; 3 or 8 parameters.
Mat3 refine_step(const Work& w, const Mat3& m, const std::vector<Match>& matches, int n_params) {
  std::vector<double> jtj(static_cast<std::size_t>(n_params * n_params), 0.0), jtr(static_cast<std::size_t>(n_params), 0.0);
  Mat3 gens[8];
  for (int k = 0; k < n_params; ++k) gens[k] = generator(k);
  // Cauchy weights on a scale of 2.5 median residuals: a spot pulled by a touching neighbour
  // (split and merged spots) counts less than the well-measured majority.
  std::vector<double> res;
  res.reserve(matches.size());
  for (const Match& mt : matches)
    res.push_back(math::norm(w.n[static_cast<std::size_t>(mt.spot)] -
                             math::normalized(m * as_vec(w.t->hkl[static_cast<std::size_t>(mt.dir)]))));
  std::vector<double> sorted = res;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const double scale = std::max(2.5 * sorted[sorted.size() / 2], 1e-7);
  std::size_t idx = 0;
  for (const Match& mt : matches) {
    const double u = res[idx++] / scale, weight = 1.0 / (1.0 + u * u);
    const Vec3 p = math::normalized(m * as_vec(w.t->hkl[static_cast<std::size_t>(mt.dir)]));
    const Vec3 r = w.n[static_cast<std::size_t>(mt.spot)] - p;
    Vec3 j[8];
    for (int k = 0; k < n_params; ++k) {
      const Vec3 g = gens[k] * p;
      j[k] = g - math::dot(p, g) * p;  // (I - p p^T) G p
    }
    for (int a = 0; a < n_params; ++a) {
      jtr[static_cast<std::size_t>(a)] += weight * math::dot(j[a], r);
      for (int b = 0; b < n_params; ++b) jtj[static_cast<std::size_t>(a * n_params + b)] += weight * math::dot(j[a], j[b]);
    }
  }
  for (int a = 0; a < n_params; ++a) jtj[static_cast<std::size_t>(a * n_params + a)] *= 1.0 + 1e-9;
  if (!solve(jtj, jtr, n_params)) return m;
  const Mat3 rot = math::rotation_from_vector({jtr[0], jtr[1], jtr[2]});
  Mat3 strain = math::identity3();
  for (int k = 3; k < n_params; ++k) {
    const Mat3 g = gens[k];
    for (int i = 0; i < 9; ++i) strain.m[i] += jtr[static_cast<std::size_t>(k)] * g.m[i];
  }
  return rot * strain * m;
}

double mean_angle_deg(const Work& w, const Mat3& m, const std::vector<Match>& matches) {
  double sum = 0;
  for (const Match& mt : matches) {
    const Vec3 p = math::normalized(m * as_vec(w.t->hkl[static_cast<std::size_t>(mt.dir)]));
    sum += std::acos(std::min(1.0, math::dot(p, w.n[static_cast<std::size_t>(mt.spot)])));
  }
  return matches.empty() ? 0 : sum / static_cast<double>(matches.size()) / kDeg;
}

/// Refines M with decreasing tolerances; returns the final matches.
std::vector<Match> refine(const Work& w, Mat3& m, const Material& mat, const IndexSettings& set) {
  const double tols[] = {set.match_tolerance_deg, set.match_tolerance_deg,
                         0.5 * (set.match_tolerance_deg + set.final_tolerance_deg), set.final_tolerance_deg,
                         set.final_tolerance_deg, set.final_tolerance_deg};
  std::vector<Match> matches;
  for (int it = 0; it < 6; ++it) {
    matches = match_spots(w, m, mat, tols[it], set);
    if (matches.size() < 3) return matches;
    const int n_params = set.refine_strain && it >= 2 && matches.size() >= kMinStrainSpots ? 8 : 3;
    m = refine_step(w, m, matches, n_params);
  }
  return match_spots(w, m, mat, set.final_tolerance_deg, set);
}

}  // namespace

FrameIndex Indexer::index(const std::vector<SpotInput>& spots) const {
  const Tables& t = *t_;
  const IndexSettings& set = t.set;
  FrameIndex out;
  out.spots.assign(spots.size(), IndexedSpot{});
  Work w;
  w.t = &t;
  w.view = t.view();
  w.n.resize(spots.size());
  w.active.assign(spots.size(), 0);
  for (std::size_t i = 0; i < spots.size(); ++i) {
    if (!std::isfinite(spots[i].x) || !std::isfinite(spots[i].y)) continue;
    w.n[i] = t.geo.pixel_to_scattering(spots[i].x, spots[i].y);
    w.active[i] = w.n[i].x < 0 ? 1 : 0;  // a spot can only come from a reflection with ki . n < 0
  }
  // Brightest first (stable: equal intensities keep the input order).
  std::vector<int> by_intensity(spots.size());
  std::iota(by_intensity.begin(), by_intensity.end(), 0);
  std::stable_sort(by_intensity.begin(), by_intensity.end(),
                   [&](int a, int b) { return spots[static_cast<std::size_t>(a)].intensity > spots[static_cast<std::size_t>(b)].intensity; });

  const math::ScoreSettings score_ss = score_settings(set, set.match_tolerance_deg);
  const double pair_tol = set.pair_tolerance_deg;
  std::vector<Mat3> accepted;  // UB B0 of the grains found
  std::vector<std::vector<Match>> grain_matches;

  for (int g = 0; g < set.max_grains; ++g) {
    const int n_active = static_cast<int>(std::count(w.active.begin(), w.active.end(), 1));
    if (n_active < set.min_matched) break;
    std::vector<int> top, scan;  // brightest spots for pairs; every active spot, brightest first
    for (int i : by_intensity)
      if (w.active[static_cast<std::size_t>(i)]) {
        if (static_cast<int>(top.size()) < set.n_brightest) top.push_back(i);
        scan.push_back(i);
      }

    double best_score = -1;
    int best_count = 0;
    Mat3 best_rot;
    int n_cand = 0;
    const int good_enough = std::max(2 * set.min_matched, static_cast<int>(0.7 * n_active));
    const int clear_grain = std::max(2 * set.min_matched, static_cast<int>(0.25 * n_active));
    int best_at = 0;
    bool done = false;
    for (std::size_t a = 0; a < top.size() && !done; ++a)
      for (std::size_t b = 0; b < a && !done; ++b) {
        const Vec3 na = w.n[static_cast<std::size_t>(top[a])], nb = w.n[static_cast<std::size_t>(top[b])];
        const double ang = std::acos(std::max(-1.0, std::min(1.0, math::dot(na, nb)))) / kDeg;
        auto lo = std::lower_bound(t.pairs.begin(), t.pairs.end(), ang - pair_tol,
                                   [](const Tables::PairEntry& e, double v) { return e.angle < v; });
        for (auto it = lo; it != t.pairs.end() && it->angle <= ang + pair_tol && !done; ++it) {
          const Vec3 u = t.direction(it->u), v = t.direction(it->v);
          for (int order = 0; order < 2 && !done; ++order) {
            const Mat3 rot = order == 0 ? math::triad(u, v, na, nb) : math::triad(u, v, nb, na);
            const Mat3 lab_to_crystal = math::transpose(rot);
            double score = 0;
            int count = 0;
            for (std::size_t k = 0; k < scan.size(); ++k) {
              int d = -1;
              const double s = math::score_spot(w.view, lab_to_crystal, w.n[static_cast<std::size_t>(scan[k])], score_ss, &d);
              if (d >= 0) score += s, ++count;
              // A wrong candidate matches little beyond its own pair: give up after the
              // brightest kProbeSpots when it has found nothing else.
              if (k + 1 == kProbeSpots && count <= 2) break;
            }
            ++n_cand;
            if (score > best_score) best_score = score, best_count = count, best_rot = rot, best_at = n_cand;
            // Stop at a candidate that explains most spots, or at a clear grain (a quarter of
            // the spots: chance gives a few percent) that nothing has beaten for a while.
            if (best_count >= good_enough || n_cand >= set.max_candidates ||
                (best_count >= clear_grain && n_cand - best_at >= kStaleCandidates))
              done = true;
          }
        }
      }
    out.n_candidates += n_cand;
    if (best_count < set.min_matched) break;

    Mat3 m = best_rot * t.mat.b0;
    std::vector<Match> matches = refine(w, m, t.mat, set);
    const int n = static_cast<int>(matches.size());
    if (n < set.min_matched || n < set.min_matched_fraction * n_active) break;
    bool duplicate = false;  // the left-overs of a grain already found (its badly measured spots)
    for (const Mat3& other : accepted)
      if (misorientation_deg(other, m, t.mat) < std::max(0.1, 1.5 * set.final_tolerance_deg)) duplicate = true;
    if (duplicate) break;
    accepted.push_back(m);
    for (const Match& mt : matches) w.active[static_cast<std::size_t>(mt.spot)] = 0;
    grain_matches.push_back(matches);
  }

  // Spots claimed by an earlier grain may fit a later one better (split spots of a tilt
  // boundary): every spot goes to the grain that predicts it best, then each grain is refined
  // once more on its final spots.
  if (accepted.size() > 1) {
    std::fill(w.active.begin(), w.active.end(), 0);
    for (const auto& gm : grain_matches)
      for (const Match& mt : gm) w.active[static_cast<std::size_t>(mt.spot)] = 1;
    std::vector<std::vector<Match>> per_grain(accepted.size());
    std::vector<int> owner(spots.size(), -1);
    std::vector<double> owner_cos(spots.size(), -2);
    std::vector<Match> owner_match(spots.size());
    for (std::size_t g = 0; g < accepted.size(); ++g)
      for (const Match& mt : match_spots(w, accepted[g], t.mat, set.final_tolerance_deg, set))
        if (mt.cos > owner_cos[static_cast<std::size_t>(mt.spot)]) {
          owner_cos[static_cast<std::size_t>(mt.spot)] = mt.cos;
          owner[static_cast<std::size_t>(mt.spot)] = static_cast<int>(g);
          owner_match[static_cast<std::size_t>(mt.spot)] = mt;
        }
    for (std::size_t i = 0; i < spots.size(); ++i)
      if (owner[i] >= 0) per_grain[static_cast<std::size_t>(owner[i])].push_back(owner_match[i]);
    for (std::size_t g = 0; g < accepted.size(); ++g) {
      if (per_grain[g].size() >= kMinStrainSpots && set.refine_strain)
        accepted[g] = refine_step(w, accepted[g], per_grain[g], 8);
      else if (per_grain[g].size() >= 3)
        accepted[g] = refine_step(w, accepted[g], per_grain[g], 3);
      grain_matches[g] = per_grain[g];
    }
  }

  // Report: hkl of the lowest allowed harmonic in the band, energy, pixel deviation.
  const Mat3 b0_inv = math::inverse(t.mat.b0);
  for (std::size_t g = 0; g < accepted.size(); ++g) {
    const Mat3& m = accepted[g];
    Grain grain;
    grain.ub_b0 = m;
    const Mat3 ub = m * b0_inv;
    grain.rotation = nearest_rotation(ub);
    // UB = U P, P symmetric: deviatoric part of (I - P) in the crystal frame (reciprocal vectors
    // shrink where the lattice stretches).
    const Mat3 p = math::transpose(grain.rotation) * ub;
    const double tr = (3.0 - (p(0, 0) + p(1, 1) + p(2, 2))) / 3.0;
    grain.deviatoric_strain = {1 - p(0, 0) - tr, 1 - p(1, 1) - tr, 1 - p(2, 2) - tr,
                               -0.5 * (p(1, 2) + p(2, 1)), -0.5 * (p(0, 2) + p(2, 0)), -0.5 * (p(0, 1) + p(1, 0))};
    double dev_sum = 0;
    int dev_n = 0;
    for (const Match& mt : grain_matches[g]) {
      const auto& h = t.hkl[static_cast<std::size_t>(mt.dir)];
      const Vec3 n_obs = w.n[static_cast<std::size_t>(mt.spot)];
      const double e1 = kHc * t.q1[static_cast<std::size_t>(mt.dir)] / (2.0 * -n_obs.x);
      int harm = math::harmonic_in_band(t.allowed[static_cast<std::size_t>(mt.dir)], t.q1[static_cast<std::size_t>(mt.dir)], e1,
                                        set.energy_min_kev, set.energy_max_kev, set.q_max);
      if (harm == 0) continue;  // the refined orientation moved it out of the band
      IndexedSpot& s = out.spots[static_cast<std::size_t>(mt.spot)];
      s.grain = static_cast<int>(g);
      s.h = harm * h[0], s.k = harm * h[1], s.l = harm * h[2];
      const Vec3 q = m * Vec3{double(s.h), double(s.k), double(s.l)};
      s.energy_kev = math::diffracted_energy_kev(q);
      double px = 0, py = 0;
      if (t.geo.kf_to_pixel(math::outgoing_direction(math::normalized(q)), px, py)) {
        s.dev_px = std::hypot(px - spots[static_cast<std::size_t>(mt.spot)].x, py - spots[static_cast<std::size_t>(mt.spot)].y);
        dev_sum += s.dev_px;
        ++dev_n;
      }
      ++grain.n_indexed;
    }
    grain.mean_dev_px = dev_n ? dev_sum / dev_n : std::numeric_limits<double>::quiet_NaN();
    grain.mean_dev_deg = mean_angle_deg(w, m, grain_matches[g]);
    out.grains.push_back(grain);
  }
  return out;
}

// ---- predictions -------------------------------------------------------------------------------

std::vector<PredictedSpot> predict_spots(const Geometry& g, const Material& mat, const Mat3& m, double e_min,
                                         double e_max, double q_max) {
  std::vector<PredictedSpot> out;
  const Lattice& L = mat.lattice;
  const int hmax = static_cast<int>(std::floor(q_max * L.a)), kmax = static_cast<int>(std::floor(q_max * L.b)),
            lmax = static_cast<int>(std::floor(q_max * L.c));
  for (int h = -hmax; h <= hmax; ++h)
    for (int k = -kmax; k <= kmax; ++k)
      for (int l = -lmax; l <= lmax; ++l) {
        if (gcd3(h, k, l) != 1) continue;
        const Vec3 q = m * Vec3{double(h), double(k), double(l)};
        const double qn = math::norm(q);
        if (qn > q_max || q.x >= 0) continue;
        const double e1 = math::diffracted_energy_kev(q);
        PredictedSpot s;
        int first = 0, count = 0;
        for (int n = 1; n * qn <= q_max && n * e1 <= e_max; ++n)
          if (n * e1 >= e_min && mat.rule.allowed(n * h, n * k, n * l)) {
            if (!first) first = n;
            ++count;
          }
        if (!first) continue;
        s.q_unit = (1.0 / qn) * q;
        double x = 0, y = 0;
        if (!g.kf_to_pixel(math::outgoing_direction(s.q_unit), x, y)) continue;
        if (x < -0.5 || y < -0.5 || x > g.nx - 0.5 || y > g.ny - 0.5) continue;
        s.h = first * h, s.k = first * k, s.l = first * l;
        s.x = x, s.y = y;
        s.energy_kev = first * e1;
        s.n_harmonics = count;
        out.push_back(s);
      }
  return out;
}

}  // namespace laueproc::index
