// Bandwidth floors of a CUDA device (pinned host-to-device, device-to-device copy), shared by
// `laueproc bench` and benchmarks/bench_cuda.cpp so both report the same numbers.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "cuda/cuda_util.hpp"
#include "laueproc/cuda.hpp"

namespace laueproc::cuda {

namespace {

// Fastest of `repeats` timed copies after one untimed one, in milliseconds.
float best_copy_ms(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, int repeats) {
  Stream s;
  Event a, b;
  LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, s.get()));  // warm-up
  s.synchronize();
  float best = std::numeric_limits<float>::max();
  for (int r = 0; r < repeats; ++r) {
    a.record(s.get());
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, s.get()));
    b.record(s.get());
    b.synchronize();
    best = std::min(best, b.since(a));
  }
  return std::max(best, 1e-6f);
}

}  // namespace

Floors measure_floors(int device, std::size_t h2d_bytes, std::size_t d2d_bytes, int repeats) {
  const int count = device_count();
  if (device < 0 || device >= count)
    throw Error("CUDA floors: no CUDA device " + std::to_string(device) + " (" + std::to_string(count) + " present)");
  if (h2d_bytes == 0 || d2d_bytes == 0 || repeats < 1) throw UsageError("CUDA floors: sizes and repeats must be > 0");
  LAUEPROC_CUDA_CHECK(cudaSetDevice(device));
  cudaDeviceProp prop{};
  LAUEPROC_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  Floors f;
  f.device = "cuda:" + std::to_string(device) + " (" + prop.name + ")";
  {
    PinnedBuffer<char> h(h2d_bytes);
    DeviceBuffer<char> d(h2d_bytes);
    std::memset(h.get(), 1, h2d_bytes);  // touch every page before timing
    const float ms = best_copy_ms(d.get(), h.get(), h2d_bytes, cudaMemcpyHostToDevice, repeats);
    f.h2d_pinned_gbps = static_cast<double>(h2d_bytes) / (ms * 1e-3) / 1e9;
  }
  {
    DeviceBuffer<char> x(d2d_bytes), y(d2d_bytes);
    LAUEPROC_CUDA_CHECK(cudaMemset(x.get(), 1, d2d_bytes));
    const float ms = best_copy_ms(y.get(), x.get(), d2d_bytes, cudaMemcpyDeviceToDevice, repeats);
    f.d2d_copy_gbps = 2.0 * static_cast<double>(d2d_bytes) / (ms * 1e-3) / 1e9;  // read + write
  }
  return f;
}

}  // namespace laueproc::cuda
