#pragma once
/// @file
/// @brief Runs a phased kernel body (laueproc/math/grid.hpp) on the GPU: one __global__ template,
/// a __syncthreads() between phases. The CPU twin is tests/kernels/cpu_grid.hpp.

#include <cuda_runtime_api.h>

#include "laueproc/math/grid.hpp"

namespace laueproc::kernels {

template <class K>
__global__ void phased_kernel(typename K::Params params) {
  __shared__ typename K::Shared shared;
  typename K::Local local;
  const grid::Index at{{blockIdx.x, blockIdx.y, blockIdx.z},
                       {threadIdx.x, threadIdx.y, threadIdx.z},
                       {gridDim.x, gridDim.y, gridDim.z},
                       {blockDim.x, blockDim.y, blockDim.z}};
  if constexpr (!grid::PhaseOrder<K>::kLoops) {
    for (int p = 0; p < K::kPhases; ++p) {
      if (p > 0) __syncthreads();
      K::phase(p, at, shared, local, params);
    }
  } else {  // next_phase reads shared memory between two barriers, so every thread agrees
    for (int p = 0; p < K::kPhases;) {
      K::phase(p, at, shared, local, params);
      __syncthreads();
      p = grid::PhaseOrder<K>::next(p, shared);
      __syncthreads();
    }
  }
}

inline dim3 to_dim3(const grid::Dim& d) { return dim3(d.x, d.y, d.z); }

/// @brief Launches K on `stream` (the caller checks cudaGetLastError with LAUEPROC_CUDA_CHECK).
template <class K>
void launch_phased(cudaStream_t stream, grid::Dim grid_dim, grid::Dim block_dim, const typename K::Params& params) {
  if (grid_dim.count() == 0 || block_dim.count() == 0) return;
  phased_kernel<K><<<to_dim3(grid_dim), to_dim3(block_dim), 0, stream>>>(params);
}

}  // namespace laueproc::kernels
