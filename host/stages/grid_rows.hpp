#pragma once
/// @file
/// @brief Row-at-a-time evaluation of a background grid (same formula as math::grid_value, with
/// the per-column cell index and weight precomputed), used inside the full-frame passes.

#include <vector>

#include "laueproc/math/background.hpp"
#include "laueproc/math/noise.hpp"
#include "laueproc/stages.hpp"

namespace laueproc::detail {

class RowRenderer {
 public:
  void setup(const BackgroundGrid& grid, int width) {
    view_ = math::GridView{grid.values.data(), grid.nx, grid.ny, grid.cell_x, grid.cell_y};
    width_ = width;
    for (auto* v : {&w0_, &w1_, &w2_, &w3_}) v->resize(static_cast<std::size_t>(width));
    coarse_.resize(static_cast<std::size_t>(grid.nx) + 4);
    seg_begin_.clear();
    seg_cell_.clear();
    for (int x = 0; x < width; ++x) {
      int i0;
      double t, w[4];
      math::grid_axis(x, grid.cell_x, i0, t);
      math::cubic_weights(t, w);
      if (seg_cell_.empty() || seg_cell_.back() != i0) {
        seg_begin_.push_back(x);
        seg_cell_.push_back(i0);
      }
      w0_[x] = static_cast<float>(w[0]);
      w1_[x] = static_cast<float>(w[1]);
      w2_[x] = static_cast<float>(w[2]);
      w3_[x] = static_cast<float>(w[3]);
    }
    seg_begin_.push_back(width);
  }
  /// @brief Background of row y into out[0..width) (math::grid_value up to float rounding).
  void row(int y, float* out) {
    int j0;
    double ty, wy[4];
    math::grid_axis(y, view_.cell_y, j0, ty);
    math::cubic_weights(ty, wy);
    // Padded coarse row: index ci holds cell ci - 2 (cells -2 .. nx + 1, extrapolated).
    for (int ci = 0; ci < view_.nx + 4; ++ci) {
      double acc = 0;
      for (int b = 0; b < 4; ++b) acc += wy[b] * math::grid_at(view_, ci - 2, j0 - 1 + b);
      coarse_[ci] = static_cast<float>(acc);
    }
    // Per cell the four coarse values are fixed: the inner loop is a vectorisable dot product.
    for (std::size_t s = 0; s + 1 < seg_begin_.size(); ++s) {
      const float* c = coarse_.data() + (seg_cell_[s] + 1);  // cell i0 - 1 at padded i0 + 1
      const float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
      const float *a = w0_.data(), *b = w1_.data(), *d = w2_.data(), *e = w3_.data();
      for (int x = seg_begin_[s]; x < seg_begin_[s + 1]; ++x) out[x] = a[x] * c0 + b[x] * c1 + d[x] * c2 + e[x] * c3;
    }
  }

 private:
  math::GridView view_;
  int width_ = 0;
  std::vector<float> w0_, w1_, w2_, w3_;
  std::vector<int> seg_begin_, seg_cell_;
  std::vector<float> coarse_;
};

/// @brief Taps of background_gaussian's truncated Gaussian (sigma gaussian_sigma_px / 4 cells,
/// 3.5 sigma each side): `taps` gets 2 radius + 1 values; returns the radius.
int gaussian_taps(const BackgroundConfig& config, std::vector<float>& taps);

/// @brief Robust sigma of (frame - grid) on a sparse sample (every 4th pixel of every 8th row),
/// masked pixels excluded; `samples` (and `bg_samples`, the grid at the same pixels) are filled.
/// With `model`, also fits the noise model var0 + gain x background (see fit_noise_model).
double sampled_sigma(const FrameView& frame, const std::uint8_t* mask, const BackgroundGrid& grid,
                     std::vector<float>& samples, std::vector<float>* bg_samples, math::NoiseModel* model = nullptr);

/// @brief Fits variance = var0 + gain x background to residual samples and the background at the
/// same pixels: robust variances (1.4826 MAD)^2 in background bins, weighted least squares. Falls
/// back to {sigma^2, 0} when the background spans too little or the slope is negative.
math::NoiseModel fit_noise_model(const std::vector<float>& residuals, const std::vector<float>& backgrounds,
                                 double sigma);

/// @brief Runs of {residual above k sigma(background), unmasked} in raster order, appended to
/// `runs`. `background` may be null (then background 0: the threshold is k sqrt(var0)).
void find_runs(const float* residual, const float* background, const std::uint8_t* mask, int width, int height,
               const math::SigmaThreshold& threshold, std::vector<PixelRun>& runs);

/// @brief Keeps the components of `all` that hold a seed (brightest pixel above `high` at its
/// background, raw - residual; 0 without `frame`), have >= min_pixels pixels and are not a lone
/// hot pixel (max > 5x its highest 8-neighbour while npix <= 9).
void filter_components(const float* residual, const FrameView* frame, int width, int height,
                       const ComponentSet& all, const math::SigmaThreshold& high, int min_pixels, ComponentSet& out);

}  // namespace laueproc::detail
