#pragma once
/// @file
/// @brief One pass of the block-percentile background (host/stages/background.cpp block_pass)
/// on the GPU: one thread block per (cell, frame), histograms in shared memory, the selection
/// arithmetic shared with the CPU (math::select_high_bin, select_low_value, select_window_value,
/// level_from_quantiles). Pass 1 reads every 2nd pixel of every 2nd row of the raw frame; pass 2
/// every pixel of raw - (pass-1 background), offset to 32768. Cells with too few unmasked pixels
/// (and, in pass 2, cells > 40 % covered by a peak) get NaN; the host fills them
/// (fill_invalid_cells) and takes the median block sigma, exactly as background_blocks does.

#include <cuda_runtime_api.h>

#include "batch.cuh"

namespace laueproc::kernels {

/// @brief Arguments of one block pass over a batch (device pointers).
struct BlockPassArgs {
  int width = 0, height = 0, frames = 0;
  int nx = 0, ny = 0;                   ///< grid cells
  const std::uint16_t* raw = nullptr;   ///< frames * width * height
  const std::uint8_t* mask = nullptr;   ///< frames * width * height (read where params.has_mask)
  const FrameParams* params = nullptr;  ///< frames
  double q = 0.3, zq = 0, zlo = 0;      ///< quantile, normal_quantile(q), normal_quantile(q / 3)
  // Pass 2 only (prev == nullptr: pass 1): the filled pass-1 grid and its residual tables.
  const float* prev = nullptr;          ///< frames * nx * ny
  const float* coarse = nullptr;        ///< frames * height * coarse_stride
  int coarse_stride = 0;
  const int* col_cell = nullptr;
  const float* col_w = nullptr;
  float* values = nullptr;              ///< out: frames * nx * ny (NaN = to be filled)
  float* sigmas = nullptr;              ///< out: frames * nx * ny (NaN where values is NaN)
};

void launch_block_pass(cudaStream_t stream, const BlockPassArgs& args);

}  // namespace laueproc::kernels
