#pragma once
/// @file
/// @brief Launch wrappers of the whole-frame pipeline (kernels/frame_pipeline.cuh) on a CUDA
/// stream, and of the cuFFT variant of the Gaussian background. Asynchronous; launch errors
/// throw laueproc::Error naming the kernel.

#include <cuda_runtime_api.h>

#include <memory>
#include <string>

#include "frame_batch.cuh"

namespace laueproc::kernels {

/// @brief The whole pipeline of one batch (v's arrays in device memory). With `fft` (not null)
/// the Gaussian background's convolution runs through it instead of the separable filter.
class GaussianFft;
void launch_batch(cudaStream_t stream, const BatchView& v, GaussianFft* fft = nullptr);

/// @brief Only the front end (masks .. noise) or only the Gaussian background (benchmarks).
void launch_front_end(cudaStream_t stream, const BatchView& v, GaussianFft* fft = nullptr);

/// @brief The Gaussian background's convolution by cuFFT: plans made once per (shape, frames),
/// kept until the shape changes. Zero-padded to >= dw + radius (no wrap-around), the kernel's
/// spectrum computed once per shape. Holds device buffers; one per stream. cuFFT is loaded at
/// the first run (dlopen of libcufft.so.12): run() throws laueproc::Error when it is missing.
class GaussianFft {
 public:
  GaussianFft();
  ~GaussianFft();
  GaussianFft(const GaussianFft&) = delete;
  GaussianFft& operator=(const GaussianFft&) = delete;
  /// @brief Sum and count grids (v.gsum, v.gcnt) -> v.ggrid, replacing GaussAlongX/GaussAlongY.
  void run(cudaStream_t stream, const BatchView& v);
  /// @brief Empty when cuFFT can be loaded, else why not.
  static std::string unavailable();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace laueproc::kernels
