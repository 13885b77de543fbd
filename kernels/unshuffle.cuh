#pragma once
/// @file
/// @brief Launch wrappers for the device decode bodies (kernels/unshuffle_body.cuh).

#include <cuda_runtime_api.h>

#include "unshuffle_body.cuh"

namespace laueproc::kernels {

/// @brief Bit-unshuffles `p.n_blocks` bitshuffle blocks, one CUDA block each, on `stream`.
void launch_bit_unshuffle(const BitUnshuffleKernel::Params& p, cudaStream_t stream);
/// @brief Adler-32 of `p.n_chunks` buffers, one CUDA block each, on `stream`.
void launch_adler32(const Adler32Kernel::Params& p, cudaStream_t stream);

}  // namespace laueproc::kernels
