#pragma once
/// @file
/// @brief The tables the residual kernel reads, built on the host from a background grid with
/// the same functions and casts as detail::RowRenderer (host/stages/grid_rows.hpp), so the GPU
/// residual is bit-identical to the CPU's.

#include <cstddef>

#include "laueproc/math/background.hpp"
#include "laueproc/stages.hpp"

namespace laueproc::cuda {

// Column tables of detail::RowRenderer::setup (same functions, same casts).
inline void column_tables(const BackgroundGrid& grid, int width, int* cell, float* w) {
  for (int x = 0; x < width; ++x) {
    int i0;
    double t, c[4];
    math::grid_axis(x, grid.cell_x, i0, t);
    math::cubic_weights(t, c);
    cell[x] = i0;
    for (int k = 0; k < 4; ++k) w[static_cast<std::size_t>(k) * width + x] = static_cast<float>(c[k]);
  }
}

// Padded coarse rows of detail::RowRenderer::row for every row y (index ci holds cell ci - 2),
// same double accumulation order, rounded to float as there.
inline void coarse_rows(const BackgroundGrid& grid, int height, int stride, float* out) {
  const math::GridView view{grid.values.data(), grid.nx, grid.ny, grid.cell_x, grid.cell_y};
  for (int y = 0; y < height; ++y) {
    int j0;
    double ty, wy[4];
    math::grid_axis(y, view.cell_y, j0, ty);
    math::cubic_weights(ty, wy);
    float* row = out + static_cast<std::size_t>(y) * stride;
    for (int ci = 0; ci < view.nx + 4; ++ci) {
      double acc = 0;
      for (int b = 0; b < 4; ++b) acc += wy[b] * math::grid_at(view, ci - 2, j0 - 1 + b);
      row[ci] = static_cast<float>(acc);
    }
  }
}

}  // namespace laueproc::cuda
