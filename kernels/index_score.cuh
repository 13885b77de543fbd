#pragma once
/// @file
/// @brief Launch wrapper of the indexing scoring kernel (body: laueproc/math/index_score.hpp,
/// IndexScoreKernel): one block per candidate orientation. Params hold device pointers.

#include <cuda_runtime_api.h>

#include "laueproc/math/index_score.hpp"

namespace laueproc::kernels {

void launch_index_score(cudaStream_t stream, const math::IndexScoreKernel::Params& params);

}  // namespace laueproc::kernels
