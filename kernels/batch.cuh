#pragma once
/// @file
/// @brief Plain data shared by the launch wrappers and the host orchestration (no CUDA syntax:
/// g++ reads it too). A batch holds `frames` frames of one size, each at offset f * width *
/// height in every per-pixel array.

#include <cstdint>

#include "laueproc/math/noise.hpp"

namespace laueproc::kernels {

/// @brief Per-frame scalars of the threshold and filter stages.
struct FrameParams {
  math::SigmaThreshold high;  ///< seed level: k_high sigma(background), math::above as on the CPU
  math::SigmaThreshold low;   ///< run level: k_low sigma(background)
  int has_mask = 0;           ///< 0: the frame has no masked pixel (mask bytes are not read)
};

/// @brief A kept component: root = frame-local index of its first pixel in raster order
/// (= the CPU's numbering order), bounding box inclusive.
struct KeptComponent {
  int root = 0;
  int npix = 0;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// @brief One rectangle to copy back: frame f, box (x0, y0, w, h), at element `offset` of the
/// patch buffers.
struct PatchDesc {
  int frame = 0;
  int x0 = 0, y0 = 0, w = 0, h = 0;
  long long offset = 0;
};

/// @brief Device pointers of one batch (non-owning).
struct BatchView {
  int width = 0, height = 0, frames = 0;
  const std::uint16_t* raw = nullptr;  ///< frames * n, row-major, stride = width
  const std::uint8_t* mask = nullptr;  ///< frames * n, 1 = bad
  float* residual = nullptr;           ///< frames * n
  int* label = nullptr;                ///< frames * n: -1 background, else parent / root (frame-local index)
  int* npix = nullptr;                 ///< frames * n, at roots
  unsigned long long* best = nullptr;  ///< frames * n, at roots: (ordered value << 32) | ~index
  int* box = nullptr;                  ///< frames * n * 4, at roots: x0, y0, x1, y1
  int* kidx = nullptr;                 ///< frames * n, at kept roots: kept index, else -1
  const float* coarse = nullptr;       ///< frames * height * coarse_stride: padded coarse rows (RowRenderer)
  int coarse_stride = 0;               ///< floats per coarse row (grid nx + 4)
  const int* col_cell = nullptr;       ///< width: cell i0 of each column
  const float* col_w = nullptr;        ///< 4 * width: column weights w0 | w1 | w2 | w3
  const FrameParams* params = nullptr; ///< frames
  KeptComponent* kept = nullptr;       ///< frames * kept_cap
  int* kept_count = nullptr;           ///< frames (may exceed kept_cap: overflow)
  int kept_cap = 0;
  int min_pixels = 1;
};

}  // namespace laueproc::kernels
