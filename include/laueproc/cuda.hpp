#pragma once
/// @file
/// @brief What the CUDA backend can tell without CUDA types: built in, and devices present.
/// "Built with CUDA" is not "a GPU is here": both are asked separately.

#include <string>

namespace laueproc::cuda {

/// @brief Number of usable CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();
/// @brief One line per device: "0: NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"; empty without devices.
std::string describe_devices();

}  // namespace laueproc::cuda

#include <cstddef>
#include <memory>

#include "laueproc/backend.hpp"

namespace laueproc::cuda {

/// @brief Settings of the CUDA backend (none change the results).
struct CudaOptions {
  int device = 0;               ///< CUDA device ordinal
  std::size_t batch = 64;       ///< frames per batch; halved on out-of-memory (with a warning)
  int streams = 3;              ///< batches in flight (copies overlap kernels)
};

/// @brief The CUDA backend: per-pixel stages (masks, background, noise, threshold, labeling) on
/// the GPU for a batch of frames, per-peak work (deblend, moments) from compact component patches
/// with the same code as the CPU path. Throws laueproc::Error when no device can be used.
std::unique_ptr<BatchAnalyzer> make_cuda_analyzer(const ProcessConfig& config, const BadPixelMask* mask,
                                                  const CudaOptions& options);

}  // namespace laueproc::cuda

namespace laueproc::cuda {

/// @brief Memory-bandwidth floors of one device: what no frame pipeline can beat (GB = 1e9 B).
struct Floors {
  std::string device;            ///< "cuda:0 (NVIDIA H100 80GB HBM3)"
  double h2d_pinned_gbps = 0;    ///< pinned host-to-device copy, GB/s (bytes copied / time)
  double d2d_copy_gbps = 0;      ///< device-to-device copy, GB/s counting bytes read + written
};

/// @brief Measures the floors on `device` with CUDA events on one stream: one untimed copy,
/// then `repeats` timed ones, the fastest kept (a floor is the best the hardware does).
/// h2d_bytes of pinned host memory and 2 x d2d_bytes of device memory are held meanwhile.
/// Throws laueproc::Error when the device cannot be used.
Floors measure_floors(int device = 0, std::size_t h2d_bytes = std::size_t{256} << 20,
                      std::size_t d2d_bytes = std::size_t{1} << 30, int repeats = 5);

}  // namespace laueproc::cuda
