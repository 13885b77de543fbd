#pragma once
/// @file
/// @brief Residual and threshold: residual = raw - bicubic background (the CPU RowRenderer's
/// float arithmetic, same operation order, compiled with -fmad=false so it is bit-identical),
/// foreground = residual > low and unmasked; also resets the per-root label statistics.

#include <cuda_runtime_api.h>

#include "batch.cuh"

namespace laueproc::kernels {

/// @brief One thread per pixel of every frame of `batch`.
void launch_residual_threshold(cudaStream_t stream, const BatchView& batch);

}  // namespace laueproc::kernels
