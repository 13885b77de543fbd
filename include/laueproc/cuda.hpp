#pragma once
/// @file
/// @brief What the CUDA backend can tell without CUDA types: built in, and devices present.
/// "Built with CUDA" is not "a GPU is here": both are asked separately.

#include <string>

namespace laueproc::cuda {

/// @brief What the CUDA runtime says about this machine.
struct DeviceProbe {
  int count = 0;            ///< usable devices
  int driver_version = 0;   ///< CUDA version the driver supports (13000 = 13.0); 0 without a driver
  int runtime_version = 0;  ///< CUDA runtime laueproc was built with
  std::string problem;      ///< empty, or why a driver that is present cannot be used (e.g. older than the runtime)
};
/// @brief Asks the runtime (never throws). No driver or no GPU: count 0 and no problem.
DeviceProbe probe_devices();
/// @brief Number of usable CUDA devices; 0 when there is no driver, no device, or a problem (never throws).
int device_count();
/// @brief probe_devices().problem: non-empty when a driver is installed but unusable (a stale
/// driver must be reported, not taken for a machine without GPU).
std::string device_problem();
/// @brief One line per device: "0: NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"; empty without devices.
std::string describe_devices();

}  // namespace laueproc::cuda

#include <cstddef>
#include <memory>

#include "laueproc/backend.hpp"

namespace laueproc::cuda {

/// @brief Settings of the CUDA backend (none change the results, except gaussian_fft: see docs/cuda.md).
struct CudaOptions {
  int device = 0;               ///< CUDA device ordinal
  std::size_t batch = 64;       ///< frames per analyze() call it prefers; split over the streams
  int streams = 3;              ///< sub-batches in flight (each: a stream and its device arena)
  /// Share of the device's free memory this analyzer may take (1 / analyzers on the device):
  /// sub-batches are cut to fit it (and halved on out-of-memory, with a warning).
  double memory_share = 0.8;
  /// Gaussian background by cuFFT instead of the separable filter (bit-exact with the CPU):
  /// within ~1e-5 of it (docs/cuda.md); bench_cuda measures both.
  bool gaussian_fft = false;
};

/// @brief The CUDA backend: the whole frame on the GPU for a batch of frames (masks, background,
/// noise, threshold, labeling, deblending and moments with the CPU path's own code); the host
/// uploads frames and receives peak records. Throws laueproc::Error when no device can be used.
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
