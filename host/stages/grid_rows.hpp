#pragma once
/// @file
/// @brief Row-at-a-time evaluation of a background grid (same formula as math::grid_value, with
/// the per-column cell index and weight precomputed), used inside the full-frame passes.

#include <cmath>
#include <cstdint>
#include <vector>

#include "laueproc/math/background.hpp"
#include "laueproc/math/noise.hpp"
#include "laueproc/stages.hpp"
#include "stages/clones.hpp"

namespace laueproc::detail {

/// @brief The background along the columns of one grid cell in one row: per-column cubic weights
/// w0..w3 and the cell's four coarse values c0..c3 (the y-interpolated grid rows).
struct CubicSegment {
  const float *w0, *w1, *w2, *w3;
  float c0, c1, c2, c3;
  /// The background from a column's four weights, in this float order on both backends
  /// (kernels/residual.cu; no FMA contraction).
  LAUEPROC_INLINE static float value(float a0, float a1, float a2, float a3, float b0, float b1, float b2, float b3) {
    return a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3;
  }
  float at(int x) const { return value(w0[x], w1[x], w2[x], w3[x], c0, c1, c2, c3); }
};

class RowRenderer {
 public:
  void setup(const BackgroundGrid& grid, int width) {
    view_ = math::GridView{grid.values.data(), grid.nx, grid.ny, grid.cell_x, grid.cell_y};
    width_ = width;
    for (auto* v : {&w0_, &w1_, &w2_, &w3_}) v->resize(static_cast<std::size_t>(width));
    coarse_.resize(static_cast<std::size_t>(grid.nx) + 4);
    seg_begin_.clear();
    seg_cell_.clear();
    col_cell_.resize(static_cast<std::size_t>(width));
    kept_rows_ = 0;
    for (int x = 0; x < width; ++x) {
      int i0;
      double t, w[4];
      math::grid_axis(x, grid.cell_x, i0, t);
      math::cubic_weights(t, w);
      if (seg_cell_.empty() || seg_cell_.back() != i0) {
        seg_begin_.push_back(x);
        seg_cell_.push_back(i0);
      }
      col_cell_[x] = i0;
      w0_[x] = static_cast<float>(w[0]);
      w1_[x] = static_cast<float>(w[1]);
      w2_[x] = static_cast<float>(w[2]);
      w3_[x] = static_cast<float>(w[3]);
    }
    seg_begin_.push_back(width);
    // The grid extended by two extrapolated cells on every side (math::grid_at's values), so a
    // coarse row below is four table rows and no edge branches.
    ext_stride_ = grid.nx + 4;
    ext_.resize(static_cast<std::size_t>(ext_stride_) * (grid.ny + 4));
    for (int j = -2; j < grid.ny + 2; ++j)
      for (int i = -2; i < grid.nx + 2; ++i)
        ext_[static_cast<std::size_t>(j + 2) * ext_stride_ + (i + 2)] = math::grid_at(view_, i, j);
    // Catmull-Rom weights sum to 1 with sum |w| <= 1.25 per axis, so |background| <= 1.5625 x the
    // largest |table value| (plus float rounding); NaN fails the test.
    bounded_ = true;
    for (const double v : ext_) bounded_ = bounded_ && std::fabs(v) < 5e8;
  }
  /// @brief True when every background this renderer gives has |value| < 2^30 (no NaN).
  bool bounded() const { return bounded_; }
  /// @brief Background of row y into out[0..width) (math::grid_value up to float rounding).
  void row(int y, float* out) {
    for_each_segment(y, [out](int x0, int x1, const CubicSegment& bg) {
      for (int x = x0; x < x1; ++x) out[x] = bg.at(x);
    });
  }
  /// @brief Calls f(x0, x1, segment) for the columns [x0, x1) of row y that share one cell, in
  /// order; segment.at(x) is the background at column x. Lets a pass evaluate the background in
  /// registers next to its own work (or at sampled columns only), with row()'s arithmetic.
  template <typename F>
  LAUEPROC_INLINE void for_each_segment(int y, F&& f) {
    const float* coarse = coarse_row(y);
    // Per cell the four coarse values are fixed: the inner loops are vectorisable dot products.
    for (int s = 0; s < segments(); ++s) f(seg_begin_[s], seg_begin_[s + 1], segment(coarse, s));
  }
  /// @brief Row y's padded coarse row (kept when keep_rows covers y): index ci holds cell
  /// ci - 2 (cells -2 .. nx + 1, extrapolated), y-interpolated in double, rounded to float.
  LAUEPROC_INLINE const float* coarse_row(int y) {
    int j0;
    double ty, wy[4];
    math::grid_axis(y, view_.cell_y, j0, ty);
    math::cubic_weights(ty, wy);
    // Rows j0 - 1 .. j0 + 2 of the extended grid (j0 >= -1, j0 + 2 <= ny + 1).
    const double* e = ext_.data() + static_cast<std::size_t>(j0 + 1) * ext_stride_;
    float* const coarse = y < kept_rows_ ? rows_.data() + static_cast<std::size_t>(y) * ext_stride_ : coarse_.data();
    for (int ci = 0; ci < ext_stride_; ++ci) {
      double acc = 0;
      for (int b = 0; b < 4; ++b) acc += wy[b] * e[static_cast<std::size_t>(b) * ext_stride_ + ci];
      coarse[ci] = static_cast<float>(acc);
    }
    return coarse;
  }
  /// @brief Number of segments (runs of columns sharing one cell) of a row.
  int segments() const { return static_cast<int>(seg_begin_.size()) - 1; }
  /// @brief Columns [segment_begin(s), segment_begin(s + 1)) form segment s.
  int segment_begin(int s) const { return seg_begin_[s]; }
  /// @brief segment_begin(0 .. segments()) as an array (a pass's hot loop keeps it in a register).
  const int* segment_begins() const { return seg_begin_.data(); }
  /// @brief segment_coarse(s) - 1 for s in 0 .. segments() - 1, as an array.
  const int* segment_cells() const { return seg_cell_.data(); }
  /// @brief Segment s of a row whose coarse row is `coarse`: its values are coarse[k .. k + 3],
  /// k = segment_coarse(s).
  int segment_coarse(int s) const { return seg_cell_[s] + 1; }  // cell i0 - 1 at padded i0 + 1
  CubicSegment segment(const float* coarse, int s) const {
    const float* c = coarse + segment_coarse(s);
    return CubicSegment{w0_.data(), w1_.data(), w2_.data(), w3_.data(), c[0], c[1], c[2], c[3]};
  }
  /// @brief Length of a padded coarse row.
  int coarse_length() const { return ext_stride_; }
  /// @brief From now on (until the next setup), for_each_segment keeps the coarse row of each
  /// row y < height it visits, so that at(x, y) can evaluate single pixels of those rows later.
  void keep_rows(int height) {
    kept_rows_ = height;
    rows_.resize(static_cast<std::size_t>(height) * ext_stride_);
  }
  /// @brief The background at (x, y), bit for bit what for_each_segment's segment gave there; row y
  /// must have been visited since keep_rows.
  float at(int x, int y) const {
    const float* c = rows_.data() + static_cast<std::size_t>(y) * ext_stride_ + (col_cell_[x] + 1);
    return CubicSegment::value(w0_[x], w1_[x], w2_[x], w3_[x], c[0], c[1], c[2], c[3]);
  }

 private:
  math::GridView view_;
  int width_ = 0;
  std::vector<float> w0_, w1_, w2_, w3_;
  std::vector<int> seg_begin_, seg_cell_;
  std::vector<float> coarse_;
  std::vector<int> col_cell_;  ///< per column: its cell i0 (seg_cell_ of its segment)
  std::vector<float> rows_;    ///< keep_rows: coarse row of row y at y * ext_stride_
  int kept_rows_ = 0;
  bool bounded_ = false;
  std::vector<double> ext_;
  int ext_stride_ = 0;
};

/// @brief Taps of background_gaussian's truncated Gaussian (sigma gaussian_sigma_px / 4 cells,
/// 3.5 sigma each side): `taps` gets 2 radius + 1 values; returns the radius.
int gaussian_taps(const BackgroundConfig& config, std::vector<float>& taps);

/// @brief Robust sigma of (frame - grid) on a sparse sample (every 4th pixel of every 8th row),
/// masked pixels excluded; `samples` (and `bg_samples`, the grid at the same pixels) are filled.
/// With `model`, also fits the noise model var0 + gain x background (see fit_noise_model).
/// `masked_rows` (optional): as background_blocks'.
double sampled_sigma(const FrameView& frame, const std::uint8_t* mask, const BackgroundGrid& grid,
                     std::vector<float>& samples, std::vector<float>* bg_samples, math::NoiseModel* model = nullptr,
                     const std::uint8_t* masked_rows = nullptr);

/// @brief Fits variance = var0 + gain x background to residual samples and the background at the
/// same pixels: robust variances (1.4826 MAD)^2 in background bins, weighted least squares. Falls
/// back to {sigma^2, 0} when the background spans too little or the slope is negative.
math::NoiseModel fit_noise_model(const std::vector<float>& residuals, const std::vector<float>& backgrounds,
                                 double sigma);

/// @brief math::above with the threshold's two floats passed by value: in a loop that stores
/// floats the compiler cannot keep a SigmaThreshold's fields in registers otherwise, and the
/// loop would not vectorise. Same float expression.
inline bool above(float residual, float background, float k2var0, float k2gain) {
  return residual * std::fabs(residual) > k2var0 + k2gain * (background > 0.0f ? background : 0.0f);
}

/// @brief Appends the runs of nonzero flags[0..width) of row y (flags padded with zeros to
/// flag_row_bytes(width): empty stretches are skipped 8 pixels at a time).
void append_flag_runs(const std::uint8_t* flags, int width, int y, std::vector<PixelRun>& runs);
/// @brief append_flag_runs over the columns [x_begin, x_end) only (the 8 bytes past x_end are
/// read: they must exist; runs end at x_end).
void append_flag_runs(const std::uint8_t* flags, int x_begin, int x_end, int y, std::vector<PixelRun>& runs);

/// @brief Bytes of a flag row for `width` pixels, padded for append_flag_runs.
inline std::size_t flag_row_bytes(int width) { return static_cast<std::size_t>(width) + 8; }

/// @brief Runs of {residual above k sigma(background), unmasked} in raster order, appended to
/// `runs`. `background` may be null (then background 0: the threshold is k sqrt(var0)).
void find_runs(const float* residual, const float* background, const std::uint8_t* mask, int width, int height,
               const math::SigmaThreshold& threshold, std::vector<PixelRun>& runs);

/// @brief Keeps the components of `all` that hold a seed (brightest pixel above `high` at its
/// background, raw - residual; 0 without `frame`), have >= min_pixels pixels and are not a lone
/// hot pixel (max > 5x its highest 8-neighbour while npix <= 9). Reads the residual only on the
/// components of >= min_pixels pixels and their 8-neighbours.
void filter_components(const float* residual, const FrameView* frame, int width, int height,
                       const ComponentSet& all, const math::SigmaThreshold& high, int min_pixels, ComponentSet& out);

}  // namespace laueproc::detail
