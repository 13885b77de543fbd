#pragma once
/// @file
/// @brief Scoring of candidate orientations against observed spots: the inner loop of Laue
/// indexing, shared by the CPU engine (host/index/engine.cpp) and the GPU kernel
/// (kernels/index_score.cu), whose body is the phased struct IndexScoreKernel below
/// (CPU-tested in tests/index with the grid executor).
///
/// An observed spot (unit scattering direction n, lab frame) is taken to the crystal frame by a
/// candidate's matrix C (lab -> crystal Cartesian, C = B0 M^-1 normalised per spot), looked up in
/// a cube-map of reference directions (the allowed reflections' directions, primitive hkl), and
/// counts when a reference direction lies within the tolerance and one of its allowed harmonics
/// diffracts inside the energy band with |q| <= q_max.

#include "laueproc/math/grid.hpp"
#include "laueproc/math/laue.hpp"

namespace laueproc::math {

/// @brief Flat view of the reference-direction table (device or host pointers).
struct DirectionTableView {
  const double* dir = nullptr;       ///< 3 per direction: unit crystal-Cartesian direction
  const double* q1 = nullptr;        ///< |B0 h| of the primitive hkl (1/Angstrom)
  const unsigned long long* allowed = nullptr;  ///< bit n-1: harmonic n allowed (n <= 64)
  const int* bin_start = nullptr;    ///< 6 grid^2 + 1 offsets into bin_items
  const int* bin_items = nullptr;    ///< direction indices per bin (each direction in every bin its
                                     ///< tolerance cap touches)
  int grid = 1;                      ///< bins per cube-face edge
  int n_dirs = 0;
};

/// @brief Cube-map bin of a unit (or any non-zero) direction: face by the largest component,
/// then the two others / that one, in [-1, 1] -> grid x grid bins.
LAUEPROC_HD inline int cube_bin(Vec3 c, int grid) {
  const double ax = c.x < 0 ? -c.x : c.x, ay = c.y < 0 ? -c.y : c.y, az = c.z < 0 ? -c.z : c.z;
  int face;
  double u, v, m;
  if (ax >= ay && ax >= az) {
    face = c.x >= 0 ? 0 : 1, m = ax, u = c.y, v = c.z;
  } else if (ay >= az) {
    face = c.y >= 0 ? 2 : 3, m = ay, u = c.x, v = c.z;
  } else {
    face = c.z >= 0 ? 4 : 5, m = az, u = c.x, v = c.y;
  }
  int iu = static_cast<int>((u / m + 1.0) * 0.5 * grid), iv = static_cast<int>((v / m + 1.0) * 0.5 * grid);
  iu = iu < 0 ? 0 : (iu >= grid ? grid - 1 : iu);
  iv = iv < 0 ? 0 : (iv >= grid ? grid - 1 : iv);
  return (face * grid + iv) * grid + iu;
}

/// @brief The reference direction nearest to unit c with cos(angle) >= cos_tol, or -1.
LAUEPROC_HD inline int nearest_direction(const DirectionTableView& t, Vec3 c, double cos_tol, double* cos_best) {
  const int b = cube_bin(c, t.grid);
  int best = -1;
  double best_cos = cos_tol;
  for (int i = t.bin_start[b]; i < t.bin_start[b + 1]; ++i) {
    const int d = t.bin_items[i];
    const double cs = c.x * t.dir[3 * d] + c.y * t.dir[3 * d + 1] + c.z * t.dir[3 * d + 2];
    if (cs >= best_cos) best_cos = cs, best = d;
  }
  if (cos_best) *cos_best = best_cos;
  return best;
}

/// @brief Smallest allowed harmonic n of a direction whose first harmonic diffracts at e1_kev,
/// with n e1 in [e_min, e_max] and n q1 <= q_max; 0 when none.
LAUEPROC_HD inline int harmonic_in_band(unsigned long long allowed, double q1, double e1_kev, double e_min,
                                        double e_max, double q_max) {
  for (int n = 1; n <= 64; ++n) {
    if (n * q1 > q_max || n * e1_kev > e_max) return 0;
    if (((allowed >> (n - 1)) & 1ull) && n * e1_kev >= e_min) return n;
  }
  return 0;
}

/// @brief Settings of one scoring pass.
struct ScoreSettings {
  double cos_tol = 1, tol_rad = 0;  ///< match tolerance (cosine, and radians for the weight)
  double e_min = 5, e_max = 23, q_max = 3;
};

/// @brief One spot against one candidate: returns the weight 1 - (angle / tol)^2 of a match
/// (0 when none) and the matched direction in *dir_out (-1 when none).
LAUEPROC_HD inline double score_spot(const DirectionTableView& t, const Mat3& lab_to_crystal, Vec3 n,
                                     const ScoreSettings& s, int* dir_out) {
  *dir_out = -1;
  const double sin_theta = -n.x;  // ki . n = -sin(theta)
  if (sin_theta <= 0) return 0;
  const Vec3 c = normalized(lab_to_crystal * n);
  double cs = 0;
  const int d = nearest_direction(t, c, s.cos_tol, &cs);
  if (d < 0) return 0;
  constexpr double kHc = 12.398419843320026;
  const double e1 = kHc * t.q1[d] / (2.0 * sin_theta);
  if (harmonic_in_band(t.allowed[d], t.q1[d], e1, s.e_min, s.e_max, s.q_max) == 0) return 0;
  *dir_out = d;
  // Small-angle: angle^2 ~ 2 (1 - cos).
  const double a2 = 2.0 * (1.0 - (cs > 1 ? 1 : cs));
  const double w = 1.0 - a2 / (s.tol_rad * s.tol_rad);
  return w > 0 ? w : 0;
}

/// @brief The GPU scoring kernel's body (grid.hpp convention): one block per candidate, the
/// block's threads stride over the spots, then a tree reduction of (weighted score, count).
struct IndexScoreKernel {
  static constexpr unsigned kThreads = 128;
  struct Params {
    DirectionTableView table;
    const Mat3* candidates = nullptr;      ///< lab -> crystal matrices, one per block
    int n_candidates = 0;
    const Vec3* spots = nullptr;           ///< unit scattering directions
    const unsigned char* active = nullptr; ///< 1: spot still free (not taken by an earlier grain)
    int n_spots = 0;
    ScoreSettings settings;
    double* score = nullptr;               ///< per candidate
    int* count = nullptr;                  ///< per candidate
  };
  struct Shared {
    double score[kThreads];
    int count[kThreads];
  };
  struct Local {
    int unused;
  };
  static constexpr int kPhases = 9;  // accumulate, 7 halvings (128 -> 1), write
  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    const unsigned t = at.thread_rank();
    const int cand = static_cast<int>(at.block.x);
    if (p == 0) {
      double sum = 0;
      int cnt = 0;
      if (cand < P.n_candidates) {
        const Mat3 m = P.candidates[cand];
        for (int i = static_cast<int>(t); i < P.n_spots; i += static_cast<int>(kThreads)) {
          if (P.active && !P.active[i]) continue;
          int d = -1;
          const double w = score_spot(P.table, m, P.spots[i], P.settings, &d);
          if (d >= 0) sum += w, ++cnt;
        }
      }
      s.score[t] = sum;
      s.count[t] = cnt;
    } else if (p < kPhases - 1) {
      const unsigned half = kThreads >> p;
      if (t < half) {
        s.score[t] += s.score[t + half];
        s.count[t] += s.count[t + half];
      }
    } else if (t == 0 && cand < P.n_candidates) {
      P.score[cand] = s.score[0];
      P.count[cand] = s.count[0];
    }
  }
};

}  // namespace laueproc::math
