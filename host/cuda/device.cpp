// Device probe. A missing driver or device means zero devices, and the sticky error is cleared
// so that later CUDA calls in the process are not poisoned by it.
#include <cuda_runtime_api.h>

#include <cstdio>

#include "laueproc/cuda.hpp"

namespace laueproc::cuda {

int device_count() {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

std::string describe_devices() {
  std::string text;
  int n = device_count();
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    char line[320];  // the name (up to 256) and the numbers
    std::snprintf(line, sizeof line, "%d: %s, sm_%d%d, %.1f GiB\n", i, prop.name, prop.major, prop.minor,
                  static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    text += line;
  }
  return text;
}

}  // namespace laueproc::cuda
