#pragma once
/// @file
/// @brief Intensity moments of a pixel set and the ellipse they describe, shared by the CPU and
/// CUDA paths. Sums are accumulated in double around a local origin (a pixel of the peak), so
/// the central moments sxx/s - (sx/s)^2 do not cancel catastrophically at x ~ 2000 px.

#include <cmath>

#include "laueproc/math/hd.hpp"

namespace laueproc::math {

/// @brief Raw weighted sums around (x0, y0). Plain struct: lives in registers or shared memory.
struct MomentSums {
  double x0 = 0, y0 = 0;  ///< local origin (px)
  double s = 0;           ///< sum of weights (counts)
  double sx = 0, sy = 0;  ///< sum w*dx, w*dy
  double sxx = 0, syy = 0, sxy = 0;
};

LAUEPROC_HD inline MomentSums moment_sums(double x0, double y0) {
  MomentSums m;
  m.x0 = x0;
  m.y0 = y0;
  return m;
}

/// @brief Adds pixel (x, y) with weight w (background-subtracted counts; may be negative).
LAUEPROC_HD inline void moment_add(MomentSums& m, double x, double y, double w) {
  const double dx = x - m.x0, dy = y - m.y0;
  m.s += w;
  m.sx += w * dx;
  m.sy += w * dy;
  m.sxx += w * dx * dx;
  m.syy += w * dy * dy;
  m.sxy += w * dx * dy;
}

/// @brief Merges two partial sums taken around the same origin (tree reductions on the GPU).
LAUEPROC_HD inline void moment_merge(MomentSums& into, const MomentSums& other) {
  into.s += other.s;
  into.sx += other.sx;
  into.sy += other.sy;
  into.sxx += other.sxx;
  into.syy += other.syy;
  into.sxy += other.sxy;
}

/// @brief Centroid and second central moments (px, px^2).
struct CentralMoments {
  double sum = 0;
  double x = 0, y = 0;
  double mxx = 0, myy = 0, mxy = 0;
  bool valid = false;  ///< false when the total weight is not positive (moments undefined)
};

LAUEPROC_HD inline CentralMoments central_moments(const MomentSums& m) {
  CentralMoments c;
  c.sum = m.s;
  if (!(m.s > 0)) {
    c.x = m.x0;
    c.y = m.y0;
    return c;
  }
  const double mx = m.sx / m.s, my = m.sy / m.s;
  c.x = m.x0 + mx;
  c.y = m.y0 + my;
  c.mxx = m.sxx / m.s - mx * mx;
  c.myy = m.syy / m.s - my * my;
  c.mxy = m.sxy / m.s - mx * my;
  c.valid = true;
  return c;
}

/// @brief The moment ellipse: eigenvalues l1 >= l2 of [[mxx, mxy], [mxy, myy]] (px^2),
/// semi-axes a = 2 sqrt(l1), b = 2 sqrt(l2) (px; negatives clamped to 0) and the major-axis
/// angle from +x toward +y (deg, in [-90, 90)). A Gaussian of sigma s gives a = b = 2 s; a
/// uniform disk of radius r gives a = b = r.
struct Ellipse {
  double l1 = 0, l2 = 0;
  double a = 0, b = 0;
  double theta_deg = 0;
};

LAUEPROC_HD inline Ellipse ellipse_from_moments(double mxx, double myy, double mxy) {
  Ellipse e;
  const double half_trace = 0.5 * (mxx + myy);
  const double half_diff = 0.5 * (mxx - myy);
  const double root = sqrt(half_diff * half_diff + mxy * mxy);
  e.l1 = half_trace + root;
  e.l2 = half_trace - root;
  e.a = 2.0 * sqrt(e.l1 > 0 ? e.l1 : 0.0);
  e.b = 2.0 * sqrt(e.l2 > 0 ? e.l2 : 0.0);
  // Major axis of a symmetric 2x2 matrix: 0.5 atan2(2 mxy, mxx - myy), in (-90, 90].
  double theta = (root > 0 ? 0.5 * atan2(2.0 * mxy, mxx - myy) : 0.0) * (180.0 / 3.14159265358979323846);
  if (theta >= 90.0) theta -= 180.0;
  if (theta < -90.0) theta += 180.0;
  e.theta_deg = theta;
  return e;
}

/// @brief Per-axis variance of a 2-D Gaussian restricted to the iso-level where it has fallen
/// to `fraction` of its peak (r^2/s^2 < T = 2 ln(1/fraction)), relative to the untruncated one:
/// r^2/s^2 is chi-square with 2 degrees of freedom, so E[r^2/s^2 | < T] = 2 - T e^{-T/2} / (1 - e^{-T/2}).
/// The same factor holds for an elliptical Gaussian (truncated at an iso-level ellipse).
LAUEPROC_HD inline double truncated_gaussian_variance_ratio(double fraction) {
  if (!(fraction > 0)) return 1.0;
  const double t = -2.0 * log(fraction);
  const double e = exp(-0.5 * t);
  return 1.0 - 0.5 * t * e / (1.0 - e);
}

/// @brief Sums of a Gaussian-windowed centroid step (SExtractor's XWIN_IMAGE, Bertin 1996-2010).
struct WindowSums {
  double s = 0, sx = 0, sy = 0;
};

/// @brief Adds a pixel at offset (dx, dy) from the current centre with value v; inv_two_s2 = 1/(2 s_w^2).
LAUEPROC_HD inline void window_add(WindowSums& w, double dx, double dy, double v, double inv_two_s2) {
  const double g = v * exp(-(dx * dx + dy * dy) * inv_two_s2);
  w.s += g;
  w.sx += g * dx;
  w.sy += g * dy;
}

/// @brief The centre update of one window iteration: x += 2 sx/s (exact Newton step when the
/// window matches a round Gaussian spot; a contraction otherwise). False when s <= 0.
LAUEPROC_HD inline bool window_step(const WindowSums& w, double& step_x, double& step_y) {
  if (!(w.s > 0)) return false;
  step_x = 2.0 * w.sx / w.s;
  step_y = 2.0 * w.sy / w.s;
  return true;
}

}  // namespace laueproc::math
