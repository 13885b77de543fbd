#pragma once
/// @file
/// @brief Per-pixel background math shared by the CPU and CUDA paths: the coarse background grid
/// and its bilinear interpolation, the Gaussian quantile function used to turn a low block
/// quantile into an unbiased level, and a 9-value median.

#include <cmath>

#include "laueproc/math/hd.hpp"

namespace laueproc::math {

/// @brief Non-owning view of a coarse background grid: value of cell (i, j) at v[j * nx + i],
/// cell centres at x = (i + 0.5) * cell_x - 0.5 (px, pixel centres at integers).
struct GridView {
  const float* v = nullptr;
  int nx = 0, ny = 0;
  double cell_x = 1, cell_y = 1;
};

/// @brief Cell index i0 and fraction t in [0, 1) of coordinate `p` (px) between the centres
/// of cells i0 and i0 + 1 along an axis of cells of size `cell`; i0 runs from -1 to n - 1.
LAUEPROC_HD inline void grid_axis(double p, double cell, int& i0, double& t) {
  const double u = (p + 0.5) / cell - 0.5;
  i0 = static_cast<int>(floor(u));
  t = u - i0;
}

/// @brief Catmull-Rom weights of the points i0-1, i0, i0+1, i0+2 at fraction t. Bicubic rather
/// than bilinear: a halo 60 px wide sampled every 32 px has a bilinear error of ~f'' c^2 / 8,
/// about one noise sigma at its crest; the cubic error is O(c^3).
LAUEPROC_HD inline void cubic_weights(double t, double w[4]) {
  const double t2 = t * t, t3 = t2 * t;
  w[0] = 0.5 * (-t3 + 2 * t2 - t);
  w[1] = 0.5 * (3 * t3 - 5 * t2 + 2);
  w[2] = 0.5 * (-3 * t3 + 4 * t2 + t);
  w[3] = 0.5 * (t3 - t2);
}

/// @brief Grid value at cell (i, j), extended beyond the grid by linear extrapolation of the
/// two outer cells (so a gradient is followed to the frame edge and linear functions are
/// reproduced exactly by the cubic).
LAUEPROC_HD inline double grid_at(const GridView& g, int i, int j) {
  auto row_at = [&](int jj) -> double {
    const float* r = g.v + static_cast<long>(jj) * g.nx;
    if (g.nx < 2) return r[0];
    if (i < 0) return r[0] + i * (double(r[1]) - r[0]);
    if (i > g.nx - 1) return r[g.nx - 1] + (i - g.nx + 1) * (double(r[g.nx - 1]) - r[g.nx - 2]);
    return r[i];
  };
  if (g.ny < 2) return row_at(0);
  if (j < 0) return row_at(0) + j * (row_at(1) - row_at(0));
  if (j > g.ny - 1) return row_at(g.ny - 1) + (j - g.ny + 1) * (row_at(g.ny - 1) - row_at(g.ny - 2));
  return row_at(j);
}

/// @brief Bicubic (Catmull-Rom) value of the grid at pixel (x, y).
LAUEPROC_HD inline float grid_value(const GridView& g, double x, double y) {
  int i0, j0;
  double tx, ty, wx[4], wy[4];
  grid_axis(x, g.cell_x, i0, tx);
  grid_axis(y, g.cell_y, j0, ty);
  cubic_weights(tx, wx);
  cubic_weights(ty, wy);
  double acc = 0;
  for (int b = 0; b < 4; ++b) {
    double row = 0;
    for (int a = 0; a < 4; ++a) row += wx[a] * grid_at(g, i0 - 1 + a, j0 - 1 + b);
    acc += wy[b] * row;
  }
  return static_cast<float>(acc);
}

/// @brief Standard normal quantile z(p), 0 < p < 1 (P. J. Acklam's rational approximation,
/// refined by one Halley step).
LAUEPROC_HD inline double normal_quantile(double p) {
  const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                       1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                       6.680131188771972e+01, -1.328068155288572e+01};
  const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                       -2.549671010115819e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                       3.754408661907416e+00};
  const double lo = 0.02425;
  if (p <= 0) return -HUGE_VAL;
  if (p >= 1) return HUGE_VAL;
  double x;
  if (p < lo) {
    const double q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - lo) {
    const double q = sqrt(-2 * log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // One Halley step on erfc brings the tails (~1e-5 off) to machine precision.
  const double e = 0.5 * erfc(-x / 1.4142135623730951) - p;
  const double u = e * 2.5066282746310002 * exp(0.5 * x * x);
  return x - u / (1 + 0.5 * x * u);
}

/// @brief Background level from two low quantiles of a block, robust to peaks in the upper tail.
/// Noise is locally Gaussian with mean m and sigma s, so Q(p) = m + z(p) s; two quantiles
/// (q, q_lo) give s = (Q(q) - Q(q_lo)) / (z(q) - z(q_lo)) and m = Q(q) - z(q) s. A plain low
/// quantile would sit ~0.5 sigma under the mean (q = 0.3) and bias every integrated intensity.
LAUEPROC_HD inline void level_from_quantiles(double q_value, double qlo_value, double zq, double zlo,
                                             double& level, double& sigma) {
  double s = (zq - zlo) > 0 ? (q_value - qlo_value) / (zq - zlo) : 0.0;
  if (s < 0) s = 0;
  sigma = s;
  level = q_value - zq * s;
}

/// @brief Median of 9 values (sorting network on a local copy).
LAUEPROC_HD inline float median9(const float* in) {
  float p[9];
  for (int i = 0; i < 9; ++i) p[i] = in[i];
  // Insertion sort: 9 values, branch-light enough and clear.
  for (int i = 1; i < 9; ++i) {
    const float v = p[i];
    int j = i - 1;
    while (j >= 0 && p[j] > v) {
      p[j + 1] = p[j];
      --j;
    }
    p[j + 1] = v;
  }
  return p[4];
}

// ---- exact quantiles of integer data from histograms (block-percentile background) ---------
// Used by the CUDA block pass; the CPU (host/stages/background.cpp BlockQuantiles) finds the same
// values by counting, with the same formula. Continuous ("mid-distribution") quantile:
// value v holding ranks [below, below + count) spreads uniformly over [v - 0.5, v + 0.5).

/// @brief Rank k clamped to [0, n) as the selectors do (k = n would select past the data).
LAUEPROC_HD inline double clamp_rank(double k, int n) {
  if (k >= n) k = nextafter(static_cast<double>(n), 0.0);
  if (k < 0) k = 0;
  return k;
}

/// @brief First level of the two-level selection: the high-byte bin (0..255) of 256 counts
/// `hi` that holds rank k; `below` = ranks in lower bins.
LAUEPROC_HD inline int select_high_bin(const unsigned int* hi, double k, unsigned int& below) {
  below = 0;
  int b = 0;
  for (; b < 255; ++b) {
    if (below + hi[b] > k) break;
    below += hi[b];
  }
  return b;
}

/// @brief Second level: value at rank k inside high bin b, from the 256 low-byte counts `lo` of
/// that bin (`below` from select_high_bin).
LAUEPROC_HD inline double select_low_value(const unsigned int* lo, int b, double k, unsigned int below) {
  int l = 0;
  for (; l < 255; ++l) {
    if (lo[l] > 0 && below + lo[l] > k) break;
    below += lo[l];
  }
  const double value = b * 256.0 + l;
  const double count = lo[l] > 0 ? lo[l] : 1.0;
  return value - 0.5 + (k - below) / count;
}

/// @brief Value at rank k of a window histogram h[bins] of v - base whose end bins hold the
/// clamped values. False when the rank falls in an end bin (then use the two-level selection).
LAUEPROC_HD inline bool select_window_value(const unsigned int* h, int bins, int base, double k, double& out) {
  int b = 0;
  unsigned int below = 0;
  for (; b < bins - 1; ++b) {
    if (h[b] > 0 && below + h[b] > k) break;
    below += h[b];
  }
  if (b == 0 || b == bins - 1) return false;
  out = base + b - 0.5 + (k - below) / h[b];
  return true;
}

}  // namespace laueproc::math
