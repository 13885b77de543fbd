// Larch-style pre-edge subtraction and edge-step normalisation (xraylarch larch/xafs/pre_edge.py:
// find_e0 and preedge), per spectrum, without allocations.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>

#include "laueproc/xanes.hpp"

namespace laueproc::xanes {

namespace {

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Python's round(): ties to even, as std::nearbyint in the default rounding mode.
double py_round(double v) { return std::nearbyint(v); }

// numpy.gradient(mu)/numpy.gradient(E) at i (central inside, one-sided at the ends).
inline double dmu_de(const double* e, const double* y, std::int32_t i, std::int32_t n) {
  const std::int32_t a = i > 0 ? i - 1 : 0, b = i + 1 < n ? i + 1 : n - 1;
  return (y[b] - y[a]) / (e[b] - e[a]);
}

// Larch index_of: last index with e <= v, 0 when v is below the data.
std::int32_t index_of(const std::vector<double>& e, double v) {
  if (v < e.front()) return 0;
  return static_cast<std::int32_t>(std::upper_bound(e.begin(), e.end(), v) - e.begin()) - 1;
}

// Larch index_nearest: first index of the smallest |e - v|.
std::int32_t index_nearest(const std::vector<double>& e, double v) {
  const auto it = std::lower_bound(e.begin(), e.end(), v);
  std::int32_t hi = static_cast<std::int32_t>(it - e.begin());
  if (hi == static_cast<std::int32_t>(e.size())) return hi - 1;
  if (hi == 0) return 0;
  return (v - e[hi - 1] <= e[hi] - v) ? hi - 1 : hi;
}

}  // namespace

EdgeNormaliser::EdgeNormaliser(std::vector<double> sorted_ev, const FitSettings& settings)
    : e_(std::move(sorted_ev)), s_(settings) {
  const std::int32_t n = static_cast<std::int32_t>(e_.size());
  if (n < 2) throw std::invalid_argument("xanes normalise: need at least 2 energies");
  if (s_.nnorm && (*s_.nnorm < 0 || *s_.nnorm > 5))
    throw std::invalid_argument("xanes normalise: nnorm must be 0..5, got " + std::to_string(*s_.nnorm));
  for (const auto* v : {&s_.e0_ev, &s_.pre1_ev, &s_.pre2_ev, &s_.norm1_ev, &s_.norm2_ev})
    if (*v && !std::isfinite(**v)) throw std::invalid_argument("xanes normalise: a range setting is not finite");
  // The pre-edge line must come from below the white-line search range.
  if (s_.search_window)
    search_lo_ = static_cast<std::int32_t>(
        std::lower_bound(e_.begin(), e_.end(), s_.search_window->first - 1e-9) - e_.begin());
  const std::string data = " (data " + fmt(e_.front()) + " to " + fmt(e_.back()) + " eV)";
  if (search_lo_ < 2)
    throw std::invalid_argument(
        "xanes normalise: pre-edge range is empty: " + std::to_string(search_lo_) +
        " energies below the white-line search range" +
        (s_.search_window ? " (from " + fmt(s_.search_window->first) + " eV)" : std::string(" (whole spectrum)")) +
        data + "; the spectrum has no pre-edge: give a search window above the edge or do not normalise");
  auto check = [&](const Ranges& r, const std::string& where) {
    if (r.p2 - r.p1 < 2)
      throw std::invalid_argument("xanes normalise: pre-edge range e0" + fmt(r.pre1) + ".." + fmt(r.pre2) + " eV" +
                                  where + " holds " + std::to_string(std::max(0, r.p2 - r.p1)) +
                                  " samples below the search range, needs 2" + data);
    if (r.q2 - r.q1 < r.nnorm + 1)
      throw std::invalid_argument("xanes normalise: post-edge range e0+" + fmt(r.norm1) + "..+" + fmt(r.norm2) +
                                  " eV" + where + " holds " + std::to_string(std::max(0, r.q2 - r.q1)) +
                                  " samples, needs " + std::to_string(r.nnorm + 1) + " for degree " +
                                  std::to_string(r.nnorm) + data);
  };
  if (s_.e0_ev) {
    // Larch falls back to find_e0 outside energy[1]..energy[-2]; here that is an error.
    if (n < 3 || *s_.e0_ev < e_[1] || *s_.e0_ev > e_[static_cast<std::size_t>(n) - 2])
      throw std::invalid_argument("xanes normalise: e0 " + fmt(*s_.e0_ev) + " eV is outside the data's interior" + data);
    fixed_ie0_ = index_nearest(e_, *s_.e0_ev);
    fixed_ = resolve(fixed_ie0_);
    check(fixed_, " (e0 " + fmt(e_[static_cast<std::size_t>(fixed_ie0_)]) + " eV)");
    return;
  }
  const std::int32_t nmin = std::max<std::int32_t>(3, static_cast<std::int32_t>(n * 0.05));
  if (n < 2 * nmin + 1)
    throw std::invalid_argument("xanes normalise: " + std::to_string(n) +
                                " energies are too few to find e0 (max dmu/dE); give e0");
  // Per-spectrum e0: the grid must support the ranges for at least one e0 find_e0 can return.
  std::string first_problem;
  for (std::int32_t i = nmin; i <= n - nmin; ++i) {
    try {
      check(resolve(i), " (for e0 " + fmt(e_[static_cast<std::size_t>(i)]) + " eV)");
      return;
    } catch (const std::invalid_argument& ex) {
      if (first_problem.empty()) first_problem = ex.what();
    }
  }
  throw std::invalid_argument(first_problem + "; no e0 on this grid leaves usable ranges");
}

EdgeNormaliser::Ranges EdgeNormaliser::resolve(std::int32_t ie0) const {
  // Larch preedge() defaults, in its order.
  const double e0 = e_[static_cast<std::size_t>(ie0)], emin = e_.front(), emax = e_.back();
  Ranges r;
  r.pre1 = s_.pre1_ev ? *s_.pre1_ev
                      : (ie0 > 20 ? 5.0 * py_round((e_[1] - e0) / 5.0) : 2.0 * py_round((e_[1] - e0) / 2.0));
  r.pre1 = std::max(r.pre1, emin - e0);
  r.pre2 = s_.pre2_ev ? *s_.pre2_ev : 5.0 * py_round(r.pre1 / 15.0);
  if (r.pre1 > r.pre2) std::swap(r.pre1, r.pre2);
  r.norm2 = s_.norm2_ev ? *s_.norm2_ev : 5.0 * py_round((emax - e0) / 5.0);
  if (r.norm2 < 0) r.norm2 = emax - e0 - r.norm2;
  r.norm2 = std::min(r.norm2, emax - e0);
  r.norm1 = s_.norm1_ev ? *s_.norm1_ev : std::min(150.0, 5.0 * py_round(r.norm2 / 15.0));
  if (r.norm1 > r.norm2) std::swap(r.norm1, r.norm2);
  if (s_.nnorm) {
    r.nnorm = *s_.nnorm;
  } else {
    r.nnorm = 2;
    if (r.norm2 - r.norm1 < 350) r.nnorm = 1;
    if (r.norm2 - r.norm1 < 50) r.nnorm = 0;
  }
  r.p1 = index_of(e_, e0 + r.pre1);
  r.p2 = std::min(index_nearest(e_, e0 + r.pre2), search_lo_);
  r.q1 = index_of(e_, e0 + r.norm1);
  r.q2 = index_nearest(e_, e0 + r.norm2);
  return r;
}

std::int32_t EdgeNormaliser::find_e0(const double* y) const {
  const std::int32_t n = static_cast<std::int32_t>(e_.size());
  const double* e = e_.data();
  const std::int32_t nmin = std::max<std::int32_t>(3, static_cast<std::int32_t>(n * 0.05));
  if (n < 2 * nmin + 1) return -1;
  double maxd = -std::numeric_limits<double>::infinity();
  for (std::int32_t i = nmin; i < n - nmin; ++i) maxd = std::max(maxd, dmu_de(e, y, i, n));
  const double thr = maxd * 0.1;
  std::int32_t best = -1;
  double best_d = 0;
  double d_prev = dmu_de(e, y, nmin - 1, n), d = dmu_de(e, y, nmin, n);
  for (std::int32_t i = nmin; i <= n - nmin; ++i) {
    const double d_next = dmu_de(e, y, i + 1, n);
    if (d > thr && d > best_d && d_prev > thr && d_next > thr) {
      best = i;
      best_d = d;
    }
    d_prev = d;
    d = d_next;
  }
  return best;
}

EdgeNormalisation EdgeNormaliser::apply(const double* y, double* out) const {
  EdgeNormalisation res;
  const std::int32_t ie0 = fixed_ie0_ >= 0 ? fixed_ie0_ : find_e0(y);
  if (ie0 < 0) return res;
  const Ranges r = fixed_ie0_ >= 0 ? fixed_ : resolve(ie0);
  const double e0 = e_[static_cast<std::size_t>(ie0)];
  res.ie0 = ie0;
  res.e0_ev = e0;
  res.pre1_ev = r.pre1;
  res.pre2_ev = r.pre2;
  res.norm1_ev = r.norm1;
  res.norm2_ev = r.norm2;
  res.nnorm = r.nnorm;
  res.n_pre = std::max(0, r.p2 - r.p1);
  res.n_post = std::max(0, r.q2 - r.q1);
  if (res.n_pre < 2 || res.n_post < r.nnorm + 1) return res;
  const double* e = e_.data();
  // Pre-edge line on x = E - e0 (centred sums).
  double sx = 0, sy = 0;
  for (std::int32_t i = r.p1; i < r.p2; ++i) {
    sx += e[i] - e0;
    sy += y[i];
  }
  const double xm = sx / res.n_pre, ym = sy / res.n_pre;
  double sxx = 0, sxy = 0;
  for (std::int32_t i = r.p1; i < r.p2; ++i) {
    const double dx = e[i] - e0 - xm;
    sxx += dx * dx;
    sxy += dx * (y[i] - ym);
  }
  if (!(sxx > 0)) return res;
  const double slope = sxy / sxx, at_e0 = ym - slope * xm;
  res.pre_slope = slope;
  res.pre_at_e0 = at_e0;
  // Post-edge polynomial of mu - line on u = (E - e0) / scale (long double normal equations,
  // Gaussian elimination with partial pivoting, m <= 6); its value at e0 is the edge step.
  double scale = 1;
  for (std::int32_t i = r.q1; i < r.q2; ++i) scale = std::max(scale, std::fabs(e[i] - e0));
  long double a[36] = {}, b[6] = {};
  const int m = r.nnorm + 1;
  for (std::int32_t i = r.q1; i < r.q2; ++i) {
    const double x = e[i] - e0;
    const long double u = x / scale, z = y[i] - (at_e0 + slope * x);
    long double pw[11];
    pw[0] = 1;
    for (int j = 1; j < 2 * m - 1; ++j) pw[j] = pw[j - 1] * u;
    for (int rr = 0; rr < m; ++rr) {
      for (int c = 0; c < m; ++c) a[rr * m + c] += pw[rr + c];
      b[rr] += pw[rr] * z;
    }
  }
  double step = std::numeric_limits<double>::quiet_NaN();
  {
    for (int col = 0; col < m; ++col) {
      int piv = col;
      for (int rr = col + 1; rr < m; ++rr)
        if (std::fabs(a[rr * m + col]) > std::fabs(a[piv * m + col])) piv = rr;
      if (a[piv * m + col] == 0) return res;
      if (piv != col) {
        for (int c = 0; c < m; ++c) std::swap(a[piv * m + c], a[col * m + c]);
        std::swap(b[piv], b[col]);
      }
      for (int rr = col + 1; rr < m; ++rr) {
        const long double f = a[rr * m + col] / a[col * m + col];
        for (int c = col; c < m; ++c) a[rr * m + c] -= f * a[col * m + c];
        b[rr] -= f * b[col];
      }
    }
    for (int rr = m - 1; rr >= 0; --rr) {
      long double acc = b[rr];
      for (int c = rr + 1; c < m; ++c) acc -= a[rr * m + c] * b[c];
      b[rr] = acc / a[rr * m + rr];
    }
    step = static_cast<double>(b[0]);
  }
  res.edge_step = step;
  // A vanishing or inverted edge cannot be normalised (dividing would flip or blow up the spectrum).
  if (!(step >= s_.min_signal) || !std::isfinite(step)) return res;
  const std::int32_t n = static_cast<std::int32_t>(e_.size());
  for (std::int32_t i = 0; i < n; ++i) out[i] = (y[i] - (at_e0 + slope * (e[i] - e0))) / step;
  res.ok = true;
  return res;
}

EdgeNormalisation normalise_spectrum(const std::vector<double>& energies_ev, const std::vector<double>& mu,
                                     const FitSettings& settings, std::vector<double>* normalised) {
  if (mu.size() != energies_ev.size())
    throw std::invalid_argument("xanes normalise: " + std::to_string(mu.size()) + " mu values for " +
                                std::to_string(energies_ev.size()) + " energies");
  std::vector<std::size_t> perm(energies_ev.size());
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::stable_sort(perm.begin(), perm.end(),
                   [&](std::size_t a, std::size_t b) { return energies_ev[a] < energies_ev[b]; });
  std::vector<double> e(perm.size()), y(perm.size());
  for (std::size_t j = 0; j < perm.size(); ++j) {
    e[j] = energies_ev[perm[j]];
    y[j] = mu[perm[j]];
    if (!std::isfinite(e[j])) throw std::invalid_argument("xanes normalise: energy " + std::to_string(perm[j]) + " is not finite");
    if (j > 0 && e[j] == e[j - 1]) throw std::invalid_argument("xanes normalise: duplicate energy " + fmt(e[j]) + " eV");
  }
  EdgeNormaliser norm(e, settings);
  EdgeNormalisation res = norm.apply(y.data(), y.data());
  if (normalised) {
    normalised->assign(mu.size(), std::numeric_limits<double>::quiet_NaN());
    if (res.ok)
      for (std::size_t j = 0; j < perm.size(); ++j) (*normalised)[perm[j]] = y[j];
  }
  return res;
}

std::string describe_normalisation(const FitSettings& s) {
  if (!s.normalise) return "none";
  auto opt = [](const std::optional<double>& v, const char* dflt) { return v ? fmt(*v) : std::string(dflt); };
  std::string out = "Larch pre_edge: pre-edge line over e0+[" + opt(s.pre1_ev, "Larch default") + ", " +
                    opt(s.pre2_ev, "Larch default") + "] eV (below the search range) subtracted, divided by the edge step " +
                    "(post-edge polynomial of degree " + (s.nnorm ? std::to_string(*s.nnorm) : std::string("Larch default")) +
                    " over e0+[" + opt(s.norm1_ev, "Larch default") + ", " + opt(s.norm2_ev, "Larch default") +
                    "] eV, at e0); e0 ";
  out += s.e0_ev ? fmt(*s.e0_ev) + " eV (nearest sample)" : std::string("per spectrum (max dmu/dE, Larch find_e0)");
  return out;
}

}  // namespace laueproc::xanes
