// White-line fits: the projector-cached fast path (WhiteLineFitter) and the direct oracle.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>

#include "laueproc/xanes.hpp"

namespace laueproc::xanes {

namespace {

constexpr double kSnap = 1e-6;  // grid-index tolerance: grid points this close to a sample are the sample

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void check_settings(const FitSettings& s) {
  if (s.order < 2 || s.order > 6)
    throw std::invalid_argument("xanes fit: order must be 2..6, got " + std::to_string(s.order));
  if (!(s.grid_step_ev > 0) || !std::isfinite(s.grid_step_ev))
    throw std::invalid_argument("xanes fit: grid step must be > 0 eV, got " + fmt(s.grid_step_ev));
  if (!(s.half_window_ev > 0) || !std::isfinite(s.half_window_ev))
    throw std::invalid_argument("xanes fit: half window must be > 0 eV, got " + fmt(s.half_window_ev));
  if (s.search_window && !(s.search_window->first <= s.search_window->second))
    throw std::invalid_argument("xanes fit: search window " + fmt(s.search_window->first) + ":" +
                                fmt(s.search_window->second) + " is empty");
}

// Ascending permutation of the energies; rejects non-finite values and duplicates.
std::vector<std::size_t> sort_energies(const std::vector<double>& e) {
  if (e.size() < 2) throw std::invalid_argument("xanes fit: need at least 2 energies, got " + std::to_string(e.size()));
  for (std::size_t i = 0; i < e.size(); ++i)
    if (!std::isfinite(e[i]))
      throw std::invalid_argument("xanes fit: energy " + std::to_string(i) + " is not finite");
  std::vector<std::size_t> perm(e.size());
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::stable_sort(perm.begin(), perm.end(), [&](std::size_t a, std::size_t b) { return e[a] < e[b]; });
  for (std::size_t j = 1; j < perm.size(); ++j)
    if (e[perm[j]] == e[perm[j - 1]])
      throw std::invalid_argument("xanes fit: duplicate energy " + fmt(e[perm[j]]) + " eV (entries " +
                                  std::to_string(std::min(perm[j], perm[j - 1])) + " and " +
                                  std::to_string(std::max(perm[j], perm[j - 1])) + ")");
  return perm;
}

// Grid geometry shared by both paths: g_k = e0 + k * step, k = 0..last_k; search range kmin..kmax.
struct Grid {
  double e0 = 0, step = 0;
  std::int32_t last_k = 0, kmin = 0, kmax = 0, half = 0;
};

Grid make_grid(const std::vector<double>& sorted, const FitSettings& s) {
  Grid g;
  g.e0 = sorted.front();
  g.step = s.grid_step_ev;
  double span = (sorted.back() - g.e0) / g.step;
  if (span > 5e7) throw std::invalid_argument("xanes fit: grid step " + fmt(g.step) + " eV is too fine for the energy range");
  g.last_k = static_cast<std::int32_t>(std::floor(span + kSnap));
  g.kmin = 0;
  g.kmax = g.last_k;
  if (s.search_window) {
    double lo = std::ceil((s.search_window->first - g.e0) / g.step - kSnap);
    double hi = std::floor((s.search_window->second - g.e0) / g.step + kSnap);
    g.kmin = static_cast<std::int32_t>(std::max(0.0, std::min(lo, static_cast<double>(g.last_k) + 1)));
    g.kmax = static_cast<std::int32_t>(std::min(static_cast<double>(g.last_k), std::max(hi, -1.0)));
    if (g.kmin > g.kmax)
      throw std::invalid_argument("xanes fit: search window " + fmt(s.search_window->first) + ":" +
                                  fmt(s.search_window->second) + " eV holds no data (energies " +
                                  fmt(sorted.front()) + " to " + fmt(sorted.back()) + " eV)");
  }
  g.half = static_cast<std::int32_t>(std::floor(s.half_window_ev / g.step + kSnap));
  return g;
}

// Solves the (m x m) system A x = b in place by Gaussian elimination with partial pivoting.
// Returns false when A is singular.
bool solve(long double* a, long double* b, int m, int nrhs) {
  for (int col = 0; col < m; ++col) {
    int piv = col;
    for (int r = col + 1; r < m; ++r)
      if (std::fabs(a[r * m + col]) > std::fabs(a[piv * m + col])) piv = r;
    if (a[piv * m + col] == 0) return false;
    if (piv != col) {
      for (int c = 0; c < m; ++c) std::swap(a[piv * m + c], a[col * m + c]);
      for (int c = 0; c < nrhs; ++c) std::swap(b[piv * nrhs + c], b[col * nrhs + c]);
    }
    for (int r = 0; r < m; ++r) {
      if (r == col) continue;
      long double f = a[r * m + col] / a[col * m + col];
      if (f == 0) continue;
      for (int c = col; c < m; ++c) a[r * m + c] -= f * a[col * m + c];
      for (int c = 0; c < nrhs; ++c) b[r * nrhs + c] -= f * b[col * nrhs + c];
    }
  }
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < nrhs; ++c) b[r * nrhs + c] /= a[r * m + r];
  return true;
}

inline double horner(const double* c, int order, double t) {
  double v = c[order];
  for (int j = order - 1; j >= 0; --j) v = v * t + c[j];
  return v;
}

inline double horner_d(const double* c, int order, double t) {
  double v = order * c[order];
  for (int j = order - 1; j >= 1; --j) v = v * t + j * c[j];
  return v;
}

}  // namespace

const char* to_string(FitStatus status) {
  switch (status) {
    case FitStatus::ok: return "ok";
    case FitStatus::no_peak_in_window: return "no_peak_in_window";
    case FitStatus::max_at_window_edge: return "max_at_window_edge";
    case FitStatus::flat_or_low_signal: return "flat_low_signal";
    case FitStatus::nan_in_spectrum: return "nan_in_spectrum";
  }
  return "unknown";
}

PolyMax polynomial_maximum(const double* c, int order, double t_lo, double t_hi) {
  PolyMax best;
  best.t = t_lo;
  best.value = horner(c, order, t_lo);
  double v_hi = horner(c, order, t_hi);
  if (v_hi > best.value) {
    best.t = t_hi;
    best.value = v_hi;
  }
  auto consider = [&](double t) {  // an interior local maximum wins ties against the ends
    if (!(t > t_lo && t < t_hi)) return;
    double v = horner(c, order, t);
    if (v >= best.value) {
      best = PolyMax{t, v, true};
    }
  };
  if (order == 2) {
    if (c[2] < 0) consider(-c[1] / (2 * c[2]));
  } else if (order == 3) {
    // p'(t) = 3 c3 t^2 + 2 c2 t + c1; local maxima where p'' = 6 c3 t + 2 c2 < 0.
    double a = 3 * c[3], b = 2 * c[2], cc = c[1];
    auto local_max = [&](double t) {
      if (6 * c[3] * t + 2 * c[2] < 0) consider(t);
    };
    if (std::fabs(a) <= 1e-14 * (std::fabs(b) + std::fabs(cc))) {
      if (b != 0) local_max(-cc / b);
    } else {
      double disc = b * b - 4 * a * cc;
      if (disc >= 0) {
        // Numerically stable roots (Press et al., Numerical Recipes 5.6).
        double q = -0.5 * (b + std::copysign(std::sqrt(disc), b));
        if (q != 0) {
          local_max(q / a);
          local_max(cc / q);
        } else {
          local_max(0.0);
        }
      }
    }
  } else {
    // Orders 4..6: p' has at most 5 roots; sample it densely and bisect every + to - change.
    constexpr int kSamples = 64;  // p' has <= 5 roots; two within 1/64 of the range would be a negligible bump
    double dt = (t_hi - t_lo) / kSamples;
    double t_prev = t_lo, d_prev = horner_d(c, order, t_lo);
    for (int s = 1; s <= kSamples; ++s) {
      double t = (s == kSamples) ? t_hi : t_lo + s * dt;
      double d = horner_d(c, order, t);
      if (d_prev > 0 && d <= 0) {
        double a = t_prev, b = t;
        for (int it = 0; it < 60 && b - a > 1e-15 * (1 + std::fabs(a)); ++it) {
          double m = 0.5 * (a + b);
          if (horner_d(c, order, m) > 0) a = m; else b = m;
        }
        consider(0.5 * (a + b));
      }
      t_prev = t;
      d_prev = d;
    }
  }
  return best;
}

// ---- fast path -----------------------------------------------------------------

WhiteLineFitter::WhiteLineFitter(std::vector<double> energies_ev, FitSettings settings)
    : energies_(std::move(energies_ev)), settings_(std::move(settings)) {
  check_settings(settings_);
  perm_ = sort_energies(energies_);
  const std::size_t n = energies_.size();
  sorted_.resize(n);
  for (std::size_t j = 0; j < n; ++j) sorted_[j] = energies_[perm_[j]];
  const Grid g = make_grid(sorted_, settings_);
  const int m = settings_.order + 1;

  // Sample positions in grid units; locate(k) gives the segment and weight of grid point k.
  std::vector<double> a(n);
  for (std::size_t j = 0; j < n; ++j) a[j] = (sorted_[j] - g.e0) / g.step;
  auto locate = [&](std::int32_t k) {
    auto it = std::upper_bound(a.begin(), a.end(), k + kSnap);
    std::int32_t i = static_cast<std::int32_t>(it - a.begin()) - 1;
    i = std::max<std::int32_t>(0, i);
    double w = 0;
    if (static_cast<std::size_t>(i) + 1 < n && std::fabs(k - a[i]) >= kSnap)
      w = std::clamp((k - a[i]) / (a[i + 1] - a[i]), 0.0, 1.0);
    return Candidate{k, i, w};
  };

  // Candidates: the first and last grid point of every segment, inside the search range.
  for (std::size_t i = 0; i < n; ++i) {
    double first = std::ceil(a[i] - kSnap);
    double last = (i + 1 < n) ? std::ceil(a[i + 1] - kSnap) - 1 : std::floor(a[i] + kSnap);
    double lo = std::max(first, static_cast<double>(g.kmin));
    double hi = std::min(last, static_cast<double>(g.kmax));
    if (lo > hi) continue;
    candidates_.push_back(locate(static_cast<std::int32_t>(lo)));
    // The last grid point of a segment is never a strict maximum when the next sample lies on the
    // grid inside the search range (the segment is linear, the sample itself is a candidate).
    const bool next_on_grid = i + 1 < n && std::fabs(a[i + 1] - std::round(a[i + 1])) < kSnap &&
                              std::round(a[i + 1]) <= g.kmax;
    if (hi > lo && !next_on_grid) candidates_.push_back(locate(static_cast<std::int32_t>(hi)));
  }
  if (candidates_.empty()) throw std::invalid_argument("xanes fit: no grid point inside the search window");
  // Grid through every sample searched (integer-eV energies, 0.1 eV grid): argmax over a
  // contiguous run of samples, a branch-light float loop.
  samples_only_ = true;
  for (std::size_t c = 0; c < candidates_.size(); ++c)
    samples_only_ &= candidates_[c].w == 0 && candidates_[c].i == candidates_[0].i + static_cast<std::int32_t>(c);

  // One projector per candidate maximum: P = (X^T X)^-1 X^T M on t in [-1, 1] (long double).
  windows_.resize(candidates_.size());
  std::vector<long double> gram(static_cast<std::size_t>(m * m)), pg;
  for (std::size_t ci = 0; ci < candidates_.size(); ++ci) {
    const Candidate& cand = candidates_[ci];
    Window& w = windows_[ci];
    w.k0 = std::max(0, cand.k - g.half);
    w.k1 = std::min(g.last_k, cand.k + g.half);
    w.at_search_edge = (cand.k == g.kmin || cand.k == g.kmax);
    const int npts = w.k1 - w.k0 + 1;
    w.centre_ev = g.e0 + 0.5 * (w.k0 + w.k1) * g.step;
    w.half_width_ev = 0.5 * (w.k1 - w.k0) * g.step;
    if (npts < m) {
      w.too_few = true;
      continue;
    }
    std::vector<Candidate> pts(static_cast<std::size_t>(npts));
    std::vector<long double> t(static_cast<std::size_t>(npts));
    for (int q = 0; q < npts; ++q) {
      pts[q] = locate(w.k0 + q);
      t[q] = static_cast<long double>(2 * (w.k0 + q) - w.k0 - w.k1) / (w.k1 - w.k0);
    }
    w.i_lo = pts.front().i;
    const std::int32_t i_hi = pts.back().w > 0 ? pts.back().i + 1 : pts.back().i;
    w.n_local = i_hi - w.i_lo + 1;
    if (w.n_local < m) {  // fewer measured energies than coefficients: the fit would invent the peak
      w.too_few = true;
      continue;
    }

    // Normal equations on the centred, scaled axis; pg = (X^T X)^-1 X^T, m x npts.
    std::fill(gram.begin(), gram.end(), 0.0L);
    pg.assign(static_cast<std::size_t>(m * npts), 0.0L);
    for (int q = 0; q < npts; ++q) {
      long double pw[14];
      pw[0] = 1;
      for (int j = 1; j < 2 * m - 1; ++j) pw[j] = pw[j - 1] * t[q];
      for (int r = 0; r < m; ++r) {
        for (int c = 0; c < m; ++c) gram[r * m + c] += pw[r + c];
        pg[r * npts + q] = pw[r];
      }
    }
    if (!solve(gram.data(), pg.data(), m, npts)) {
      w.too_few = true;
      continue;
    }
    // Fold the interpolation in: coefficients straight from the original samples.
    const std::size_t nl = static_cast<std::size_t>(w.n_local);
    w.coef_offset = coef_.size();
    coef_.resize(coef_.size() + static_cast<std::size_t>(m) * nl, 0.0);
    w.quad_offset = quad_.size();
    quad_.resize(quad_.size() + 3 * nl, 0.0);
    double* P = coef_.data() + w.coef_offset;
    double* qd = quad_.data() + w.quad_offset;
    double* qo = qd + nl;
    double* sv = qo + nl;
    std::vector<long double> fold(static_cast<std::size_t>(m) * nl, 0.0L);
    for (int q = 0; q < npts; ++q) {
      std::size_t l = static_cast<std::size_t>(pts[q].i - w.i_lo);
      long double wr = pts[q].w, wl = 1 - wr;
      for (int r = 0; r < m; ++r) {
        fold[r * nl + l] += pg[r * npts + q] * wl;
        if (wr > 0) fold[r * nl + l + 1] += pg[r * npts + q] * wr;
      }
      // Q = M^T M (tridiagonal) and s = M^T 1 give SS_tot without touching the grid per pixel.
      qd[l] += static_cast<double>(wl * wl);
      sv[l] += static_cast<double>(wl);
      if (wr > 0) {
        qd[l + 1] += static_cast<double>(wr * wr);
        qo[l] += static_cast<double>(wl * wr);
        sv[l + 1] += static_cast<double>(wr);
      }
    }
    for (std::size_t idx = 0; idx < fold.size(); ++idx) P[idx] = static_cast<double>(fold[idx]);
    // Centred Gram of the non-constant columns: SS_reg = c~^T G c~ (the fit has an intercept).
    long double mean[7] = {};
    for (int q = 0; q < npts; ++q) {
      long double p = 1;
      for (int j = 1; j < m; ++j) mean[j] += (p *= t[q]);
    }
    for (int j = 1; j < m; ++j) mean[j] /= npts;
    long double gc[36] = {};
    for (int q = 0; q < npts; ++q) {
      long double d[7], p = 1;
      for (int j = 1; j < m; ++j) d[j] = (p *= t[q]) - mean[j];
      for (int r = 1; r < m; ++r)
        for (int c = 1; c < m; ++c) gc[(r - 1) * (m - 1) + (c - 1)] += d[r] * d[c];
    }
    for (int idx = 0; idx < (m - 1) * (m - 1); ++idx) w.gram[idx] = static_cast<double>(gc[idx]);
  }
  if (settings_.normalise) normaliser_.emplace(sorted_, settings_);
}

template <typename T, bool kCheckSignal>
FitResult WhiteLineFitter::fit_sorted(const T* y) const {
  FitResult res;
  const std::size_t n = sorted_.size();
  // NaN/inf check and peak-to-peak in one pass (x - x is 0 only for finite x).
  T lo = y[0], hi = y[0], finite = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const T v = y[j];
    finite += v - v;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  if (finite != 0) {
    res.status = FitStatus::nan_in_spectrum;
    return res;
  }
  if (kCheckSignal && !(static_cast<double>(hi) - static_cast<double>(lo) >= settings_.min_signal)) {
    res.status = FitStatus::flat_or_low_signal;
    return res;
  }
  // Argmax of the interpolated grid (first maximum), over the precomputed candidates.
  std::size_t best = 0;
  double best_v;
  if (samples_only_) {
    const T* ys0 = y + candidates_[0].i;
    const std::size_t nc = candidates_.size();
    T m = ys0[0];
    for (std::size_t c = 1; c < nc; ++c) m = ys0[c] > m ? ys0[c] : m;
    while (ys0[best] != m) ++best;
    best_v = static_cast<double>(m);
  } else {
    best_v = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < candidates_.size(); ++c) {
      const Candidate& cd = candidates_[c];
      double v = static_cast<double>(y[cd.i]);
      if (cd.w > 0) v += cd.w * (static_cast<double>(y[cd.i + 1]) - v);
      if (v > best_v) {
        best_v = v;
        best = c;
      }
    }
  }
  const Window& w = windows_[best];
  if (w.too_few) {
    res.status = FitStatus::no_peak_in_window;
    return res;
  }
  const int order = settings_.order, m = order + 1;
  const std::size_t nl = static_cast<std::size_t>(w.n_local);
  const double* P = coef_.data() + w.coef_offset;
  const double* qd = quad_.data() + w.quad_offset;
  const double* qo = qd + nl;
  const double* sv = qo + nl;
  // Shift by the maximum so R^2's sums of squares do not cancel.
  const double ref = best_v;
  double ys[512];
  std::vector<double> big;
  double* yl = ys;
  if (nl > 512) {
    big.resize(nl);
    yl = big.data();
  }
  double ss = 0, sy = 0;
  for (std::size_t l = 0; l < nl; ++l) {
    yl[l] = static_cast<double>(y[w.i_lo + static_cast<std::int32_t>(l)]) - ref;
    sy += sv[l] * yl[l];
    ss += qd[l] * yl[l] * yl[l];
  }
  for (std::size_t l = 0; l + 1 < nl; ++l) ss += 2 * qo[l] * yl[l] * yl[l + 1];
  double c[7] = {};
  for (int r = 0; r < m; ++r) {
    const double* row = P + static_cast<std::size_t>(r) * nl;
    double acc = 0;
    for (std::size_t l = 0; l < nl; ++l) acc += row[l] * yl[l];
    c[r] = acc;
  }
  const int npts = w.k1 - w.k0 + 1;
  double ss_tot = ss - sy * sy / npts;
  double ss_reg = 0;
  for (int r = 0; r < order; ++r)
    for (int q = 0; q < order; ++q) ss_reg += c[r + 1] * w.gram[r * order + q] * c[q + 1];
  c[0] += ref;
  PolyMax pm = polynomial_maximum(c, order, -1.0, 1.0);
  res.white_line_ev = w.centre_ev + w.half_width_ev * pm.t;
  res.peak_height = pm.value;
  res.r2 = ss_tot > 0 ? std::min(1.0, ss_reg / ss_tot) : std::numeric_limits<double>::quiet_NaN();
  res.status = (pm.interior && !w.at_search_edge) ? FitStatus::ok : FitStatus::max_at_window_edge;
  return res;
}

template <typename T>
FitResult WhiteLineFitter::fit_normalised(const T* y, double* work) const {
  // Same NaN and signal checks as the raw path, on the raw mu; then normalise and fit without
  // the signal check (normalised units).
  FitResult res;
  const std::size_t n = sorted_.size();
  double lo = static_cast<double>(y[0]), hi = lo, finite = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double v = static_cast<double>(y[j]);
    finite += v - v;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    work[j] = v;
  }
  if (finite != 0) {
    res.status = FitStatus::nan_in_spectrum;
    return res;
  }
  if (!(hi - lo >= settings_.min_signal) || !normaliser_->apply(work, work).ok) {
    res.status = FitStatus::flat_or_low_signal;
    return res;
  }
  return fit_sorted<double, false>(work);
}

FitResult WhiteLineFitter::fit(const float* mu, std::ptrdiff_t stride) const {
  const std::size_t n = sorted_.size();
  if (normaliser_) {
    std::vector<double> work(n);
    for (std::size_t j = 0; j < n; ++j) work[j] = mu[static_cast<std::ptrdiff_t>(perm_[j]) * stride];
    return fit_normalised(work.data(), work.data());
  }
  float local[256];
  std::vector<float> big;
  float* y = local;
  if (n > 256) {
    big.resize(n);
    y = big.data();
  }
  for (std::size_t j = 0; j < n; ++j) y[j] = mu[static_cast<std::ptrdiff_t>(perm_[j]) * stride];
  return fit_sorted(y);
}

FitResult WhiteLineFitter::fit(const double* mu, std::ptrdiff_t stride) const {
  std::vector<double> y(sorted_.size());
  for (std::size_t j = 0; j < y.size(); ++j) y[j] = mu[static_cast<std::ptrdiff_t>(perm_[j]) * stride];
  if (normaliser_) return fit_normalised(y.data(), y.data());
  return fit_sorted(y.data());
}

void WhiteLineFitter::fit_many(const float* data, std::size_t n_pixels, FitResult* out, int threads) const {
  const std::size_t n = sorted_.size();
  // Work in blocks: transpose a block of pixels to pixel-major, ascending-energy order so each
  // spectrum is contiguous; rows of the input are read contiguously.
  constexpr std::size_t kBlock = 256;
  auto run = [&](std::size_t p_begin, std::size_t p_end) {
    std::vector<float> buf(kBlock * n);
    std::vector<double> work(normaliser_ ? n : 0);  // normalised spectrum, one per thread
    for (std::size_t p0 = p_begin; p0 < p_end; p0 += kBlock) {
      const std::size_t nb = std::min(kBlock, p_end - p0);
      for (std::size_t j = 0; j < n; ++j) {
        const float* row = data + perm_[j] * n_pixels + p0;
        for (std::size_t p = 0; p < nb; ++p) buf[p * n + j] = row[p];
      }
      if (normaliser_) {
        for (std::size_t p = 0; p < nb; ++p) out[p0 + p] = fit_normalised(buf.data() + p * n, work.data());
      } else {
        for (std::size_t p = 0; p < nb; ++p) out[p0 + p] = fit_sorted(buf.data() + p * n);
      }
    }
  };
  std::size_t nt = static_cast<std::size_t>(std::max(1, threads));
  nt = std::min(nt, std::max<std::size_t>(1, n_pixels / kBlock));
  if (nt <= 1) {
    run(0, n_pixels);
    return;
  }
  std::vector<std::thread> pool;
  const std::size_t per = (n_pixels + nt - 1) / nt;
  for (std::size_t t = 1; t < nt; ++t) {
    std::size_t b = std::min(n_pixels, t * per), e = std::min(n_pixels, (t + 1) * per);
    if (b < e) pool.emplace_back(run, b, e);
  }
  run(0, std::min(n_pixels, per));
  for (auto& th : pool) th.join();
}

// ---- direct oracle -----------------------------------------------------------------

FitResult fit_direct(const std::vector<double>& energies_ev, const std::vector<double>& mu,
                     const FitSettings& settings) {
  check_settings(settings);
  if (mu.size() != energies_ev.size())
    throw std::invalid_argument("xanes fit: " + std::to_string(mu.size()) + " mu values for " +
                                std::to_string(energies_ev.size()) + " energies");
  if (settings.normalise) {
    // Raw checks first (as the fast path), then the plain direct fit of the normalised spectrum.
    sort_energies(energies_ev);
    make_grid(std::vector<double>{*std::min_element(energies_ev.begin(), energies_ev.end()),
                                  *std::max_element(energies_ev.begin(), energies_ev.end())},
              settings);
    FitResult res;
    double lo = mu[0], hi = mu[0];
    for (double v : mu) {
      if (!std::isfinite(v)) {
        res.status = FitStatus::nan_in_spectrum;
        return res;
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    std::vector<double> norm;
    const EdgeNormalisation en = normalise_spectrum(energies_ev, mu, settings, &norm);
    if (!(hi - lo >= settings.min_signal) || !en.ok) {
      res.status = FitStatus::flat_or_low_signal;
      return res;
    }
    FitSettings plain = settings;
    plain.normalise = false;
    plain.min_signal = 0;  // checked on the raw mu above
    return fit_direct(energies_ev, norm, plain);
  }
  auto perm = sort_energies(energies_ev);
  const std::size_t n = perm.size();
  std::vector<double> e(n), y(n);
  for (std::size_t j = 0; j < n; ++j) {
    e[j] = energies_ev[perm[j]];
    y[j] = mu[perm[j]];
  }
  const Grid g = make_grid(e, settings);
  FitResult res;
  double lo = y[0], hi = y[0];
  for (double v : y) {
    if (!std::isfinite(v)) {
      res.status = FitStatus::nan_in_spectrum;
      return res;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!(hi - lo >= settings.min_signal)) {
    res.status = FitStatus::flat_or_low_signal;
    return res;
  }
  // Plain linear interpolation of the whole grid.
  std::vector<double> grid(static_cast<std::size_t>(g.last_k) + 1);
  for (std::size_t k = 0; k < grid.size(); ++k) {
    double ek = g.e0 + static_cast<double>(k) * g.step;
    std::size_t i = static_cast<std::size_t>(std::upper_bound(e.begin(), e.end(), ek) - e.begin());
    i = std::min(std::max<std::size_t>(i, 1), n - 1) - 1;  // segment [e_i, e_i+1]
    double w = std::clamp((ek - e[i]) / (e[i + 1] - e[i]), 0.0, 1.0);
    grid[k] = w == 0 ? y[i] : (w == 1 ? y[i + 1] : y[i] + w * (y[i + 1] - y[i]));
  }
  std::int32_t kbest = g.kmin;
  for (std::int32_t k = g.kmin; k <= g.kmax; ++k)
    if (grid[k] > grid[kbest]) kbest = k;
  const std::int32_t k0 = std::max(0, kbest - g.half), k1 = std::min(g.last_k, kbest + g.half);
  const int m = settings.order + 1, npts = k1 - k0 + 1;
  if (npts < m) return res;
  // Measured energies the interpolated fit range reads (as the fast path's Window::n_local).
  auto sample_at = [&](std::int32_t k, bool upper) {
    const double ek = g.e0 + static_cast<double>(k) * g.step;
    std::size_t i = static_cast<std::size_t>(std::upper_bound(e.begin(), e.end(), ek) - e.begin());
    i = std::min(std::max<std::size_t>(i, 1), n - 1) - 1;
    const double w = std::clamp((ek - e[i]) / (e[i + 1] - e[i]), 0.0, 1.0);
    return upper ? (w > 0 ? i + 1 : i) : (w == 1 ? i + 1 : i);
  };
  if (static_cast<int>(sample_at(k1, true) - sample_at(k0, false) + 1) < m) return res;
  // Normal equations on u = E - E_max (eV), long double.
  long double A[49] = {}, b[7] = {};
  for (std::int32_t k = k0; k <= k1; ++k) {
    long double u = static_cast<long double>(k - kbest) * g.step, pw[14];
    pw[0] = 1;
    for (int j = 1; j < 2 * m - 1; ++j) pw[j] = pw[j - 1] * u;
    for (int r = 0; r < m; ++r) {
      for (int c = 0; c < m; ++c) A[r * m + c] += pw[r + c];
      b[r] += pw[r] * grid[k];
    }
  }
  if (!solve(A, b, m, 1)) return res;
  double c[7];
  for (int r = 0; r < m; ++r) c[r] = static_cast<double>(b[r]);
  const double u_lo = (k0 - kbest) * g.step, u_hi = (k1 - kbest) * g.step;
  PolyMax pm = polynomial_maximum(c, settings.order, u_lo, u_hi);
  const double e_max = g.e0 + kbest * g.step;
  double mean = 0;
  for (std::int32_t k = k0; k <= k1; ++k) mean += grid[k];
  mean /= npts;
  double ss_tot = 0, ss_res = 0;
  for (std::int32_t k = k0; k <= k1; ++k) {
    double f = horner(c, settings.order, (k - kbest) * g.step);
    ss_res += (grid[k] - f) * (grid[k] - f);
    ss_tot += (grid[k] - mean) * (grid[k] - mean);
  }
  res.white_line_ev = e_max + pm.t;
  res.peak_height = pm.value;
  res.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : std::numeric_limits<double>::quiet_NaN();
  const bool edge = !pm.interior || kbest == g.kmin || kbest == g.kmax;
  res.status = edge ? FitStatus::max_at_window_edge : FitStatus::ok;
  return res;
}

}  // namespace laueproc::xanes
