#pragma once
/// @file
/// @brief Small 3-vector / 3x3-matrix math of Laue indexing, shared by the CPU engine and the
/// GPU scoring kernel (LAUEPROC_HD, no library calls beyond <cmath>).
///
/// Conventions (docs/indexing.md): lab frame of LaueTools (x along the incident beam, z up
/// towards a top detector, y = z x x); ki = (1, 0, 0); a spot's unit scattering vector
/// n = (kf - ki) / |kf - ki|; q_lab = M (h, k, l)^T with M = UB B0 (columns a*, b*, c* in the lab
/// frame, 1/Angstrom, no 2 pi).

#include <cmath>

#include "laueproc/math/hd.hpp"

namespace laueproc::math {

struct Vec3 {
  double x = 0, y = 0, z = 0;
};

LAUEPROC_HD inline Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
LAUEPROC_HD inline Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
LAUEPROC_HD inline Vec3 operator*(double s, Vec3 a) { return {s * a.x, s * a.y, s * a.z}; }
LAUEPROC_HD inline double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
LAUEPROC_HD inline Vec3 cross(Vec3 a, Vec3 b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
LAUEPROC_HD inline double norm(Vec3 a) { return std::sqrt(dot(a, a)); }
LAUEPROC_HD inline Vec3 normalized(Vec3 a) {
  const double n = norm(a);
  return n > 0 ? (1.0 / n) * a : a;
}

/// @brief Row-major 3x3 matrix: m[3 * row + col].
struct Mat3 {
  double m[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  LAUEPROC_HD double operator()(int r, int c) const { return m[3 * r + c]; }
  LAUEPROC_HD double& operator()(int r, int c) { return m[3 * r + c]; }
  LAUEPROC_HD Vec3 column(int c) const { return {m[c], m[3 + c], m[6 + c]}; }
};

LAUEPROC_HD inline Mat3 identity3() {
  Mat3 r;
  r.m[0] = r.m[4] = r.m[8] = 1;
  return r;
}
LAUEPROC_HD inline Mat3 from_columns(Vec3 a, Vec3 b, Vec3 c) {
  Mat3 r;
  r.m[0] = a.x, r.m[1] = b.x, r.m[2] = c.x;
  r.m[3] = a.y, r.m[4] = b.y, r.m[5] = c.y;
  r.m[6] = a.z, r.m[7] = b.z, r.m[8] = c.z;
  return r;
}
LAUEPROC_HD inline Vec3 operator*(const Mat3& a, Vec3 v) {
  return {a.m[0] * v.x + a.m[1] * v.y + a.m[2] * v.z, a.m[3] * v.x + a.m[4] * v.y + a.m[5] * v.z,
          a.m[6] * v.x + a.m[7] * v.y + a.m[8] * v.z};
}
LAUEPROC_HD inline Mat3 operator*(const Mat3& a, const Mat3& b) {
  Mat3 r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[3 * i + j] = a.m[3 * i] * b.m[j] + a.m[3 * i + 1] * b.m[3 + j] + a.m[3 * i + 2] * b.m[6 + j];
  return r;
}
LAUEPROC_HD inline Mat3 transpose(const Mat3& a) {
  Mat3 r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[3 * i + j] = a.m[3 * j + i];
  return r;
}
/// @brief A^T v without forming the transpose.
LAUEPROC_HD inline Vec3 transpose_times(const Mat3& a, Vec3 v) {
  return {a.m[0] * v.x + a.m[3] * v.y + a.m[6] * v.z, a.m[1] * v.x + a.m[4] * v.y + a.m[7] * v.z,
          a.m[2] * v.x + a.m[5] * v.y + a.m[8] * v.z};
}
LAUEPROC_HD inline double determinant(const Mat3& a) {
  return a.m[0] * (a.m[4] * a.m[8] - a.m[5] * a.m[7]) - a.m[1] * (a.m[3] * a.m[8] - a.m[5] * a.m[6]) +
         a.m[2] * (a.m[3] * a.m[7] - a.m[4] * a.m[6]);
}
/// @brief Inverse (the caller makes sure det != 0).
LAUEPROC_HD inline Mat3 inverse(const Mat3& a) {
  const double d = 1.0 / determinant(a);
  Mat3 r;
  r.m[0] = (a.m[4] * a.m[8] - a.m[5] * a.m[7]) * d;
  r.m[1] = (a.m[2] * a.m[7] - a.m[1] * a.m[8]) * d;
  r.m[2] = (a.m[1] * a.m[5] - a.m[2] * a.m[4]) * d;
  r.m[3] = (a.m[5] * a.m[6] - a.m[3] * a.m[8]) * d;
  r.m[4] = (a.m[0] * a.m[8] - a.m[2] * a.m[6]) * d;
  r.m[5] = (a.m[2] * a.m[3] - a.m[0] * a.m[5]) * d;
  r.m[6] = (a.m[3] * a.m[7] - a.m[4] * a.m[6]) * d;
  r.m[7] = (a.m[1] * a.m[6] - a.m[0] * a.m[7]) * d;
  r.m[8] = (a.m[0] * a.m[4] - a.m[1] * a.m[3]) * d;
  return r;
}

/// @brief Rotation by the rotation vector w (axis w/|w|, angle |w| rad), Rodrigues' formula.
LAUEPROC_HD inline Mat3 rotation_from_vector(Vec3 w) {
  const double a = norm(w);
  Mat3 r = identity3();
  if (a < 1e-300) return r;
  const Vec3 u = (1.0 / a) * w;
  const double c = std::cos(a), s = std::sin(a), t = 1 - c;
  r.m[0] = c + t * u.x * u.x, r.m[1] = t * u.x * u.y - s * u.z, r.m[2] = t * u.x * u.z + s * u.y;
  r.m[3] = t * u.x * u.y + s * u.z, r.m[4] = c + t * u.y * u.y, r.m[5] = t * u.y * u.z - s * u.x;
  r.m[6] = t * u.x * u.z - s * u.y, r.m[7] = t * u.y * u.z + s * u.x, r.m[8] = c + t * u.z * u.z;
  return r;
}

/// @brief Rotation angle (rad) of a rotation matrix, from its trace (clamped).
LAUEPROC_HD inline double rotation_angle(const Mat3& r) {
  double c = 0.5 * (r.m[0] + r.m[4] + r.m[8] - 1.0);
  c = c > 1 ? 1 : (c < -1 ? -1 : c);
  return std::acos(c);
}

/// @brief The rotation R with R a1 ∥ b1 exactly and R a2 in the plane (b1, b2) (TRIAD): the
/// orientation proposed by a matched pair of directions (a: crystal frame, b: lab frame).
LAUEPROC_HD inline Mat3 triad(Vec3 a1, Vec3 a2, Vec3 b1, Vec3 b2) {
  const Vec3 ta = normalized(a1), tb = normalized(b1);
  const Vec3 ua = normalized(cross(a1, a2)), ub = normalized(cross(b1, b2));
  const Vec3 va = cross(ta, ua), vb = cross(tb, ub);
  // R = [tb ub vb] [ta ua va]^T
  return from_columns(tb, ub, vb) * transpose(from_columns(ta, ua, va));
}

/// @brief Unit scattering direction of a spot whose outgoing unit direction is kf (ki = x).
LAUEPROC_HD inline Vec3 scattering_direction(Vec3 kf_unit) { return normalized(kf_unit - Vec3{1, 0, 0}); }

/// @brief Outgoing unit direction for a unit scattering direction n: the mirror of ki in the
/// diffracting plane, kf = ki - 2 (ki . n) n. Needs n.x < 0 (a reflection that can diffract).
LAUEPROC_HD inline Vec3 outgoing_direction(Vec3 n) { return Vec3{1, 0, 0} - (2.0 * n.x) * n; }

/// @brief Photon energy (keV) that diffracts reciprocal vector q (1/Angstrom, no 2 pi) with
/// ki along +x: E = hc |q|^2 / (-2 q_x); +inf when q_x >= 0 (cannot diffract).
LAUEPROC_HD inline double diffracted_energy_kev(Vec3 q) {
  constexpr double kHcKevAngstrom = 12.398419843320026;
  return q.x < 0 ? kHcKevAngstrom * dot(q, q) / (-2.0 * q.x) : HUGE_VAL;
}

}  // namespace laueproc::math
