#pragma once
/// @file
/// @brief 8-connected component labeling of the foreground and the hysteresis filter, on the GPU.
/// Union-find with atomicMin (Playne & Hawick, "A new algorithm for parallel connected-component
/// labelling on GPUs", IEEE TPDS 29(6), 2018): every foreground pixel starts as its own root,
/// unites with its W, NW, N and NE neighbours (the root is always the smallest index), then every
/// pixel points at its root. The root is the component's first pixel in raster order, which is
/// also the CPU's component order. This is the simple global-memory version; the block-based
/// variant (shared-memory tiles first, Allegretti et al. 2019) is the planned optimisation.

#include <cuda_runtime_api.h>

#include "batch.cuh"

namespace laueproc::kernels {

/// @brief Unites neighbouring foreground pixels (labels must hold i or -1, from the residual kernel).
void launch_label_merge(cudaStream_t stream, const BatchView& batch);

/// @brief Points every foreground pixel at its root and accumulates npix, brightest pixel and
/// bounding box at the root.
void launch_label_flatten_stats(cudaStream_t stream, const BatchView& batch);

/// @brief At each root: keeps the component when it has >= min_pixels pixels, a seed (best >
/// high) and is not a lone hot pixel (npix <= 9 and best > 5 x max(highest 8-neighbour, 0)),
/// exactly detail::filter_components; appends it to the frame's kept list (unordered).
void launch_filter(cudaStream_t stream, const BatchView& batch);

/// @brief kidx[frame * n + root] = k for the sorted kept roots (`frame_of`, `root`, count `total`).
void launch_assign_kept_index(cudaStream_t stream, const BatchView& batch, const int* frame_of, const int* root,
                              const int* index, int total);

/// @brief Copies the residual and owner (kept index of the pixel's component, -1 otherwise) of
/// each patch into `out_residual` / `out_owner` at the patch's offset.
void launch_gather_patches(cudaStream_t stream, const BatchView& batch, const PatchDesc* patches, int count,
                           float* out_residual, int* out_owner);

}  // namespace laueproc::kernels
