// Device probe. No driver or no device means zero devices and no problem; a driver that is
// there but cannot serve this runtime (older than it, or broken) is a problem, reported loudly:
// a GPU machine with a stale driver must not look like a machine without a GPU. The sticky
// error is always cleared, so later CUDA calls in the process are not poisoned by the probe.
#include <cuda_runtime_api.h>

#include <cstdio>

#include "cuda/cuda_util.hpp"
#include "laueproc/cuda.hpp"

namespace laueproc::cuda {

namespace {

std::string version_text(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

}  // namespace

DeviceProbe probe_from(cudaError_t status, int count, int driver_version, int runtime_version) {
  DeviceProbe p;
  p.runtime_version = runtime_version;
  p.driver_version = driver_version;
  p.count = status == cudaSuccess ? count : 0;
  if (status == cudaSuccess) return p;
  if (driver_version == 0 || status == cudaErrorNoDevice) return p;  // no driver, or no GPU: nothing is wrong
  if (status == cudaErrorInsufficientDriver || driver_version < runtime_version) {
    p.problem = "the NVIDIA driver supports CUDA " + version_text(driver_version) + ", older than the CUDA " +
                version_text(runtime_version) + " runtime laueproc was built with (" + cudaGetErrorName(status) +
                "): update the driver, or run --backend cpu";
  } else {
    p.problem = std::string("the CUDA driver (CUDA ") + version_text(driver_version) +
                ") cannot be used: " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status);
  }
  return p;
}

DeviceProbe probe_devices() {
  int runtime = 0, driver = 0, count = 0;
  cudaRuntimeGetVersion(&runtime);
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  cudaGetLastError();
  const cudaError_t status = cudaGetDeviceCount(&count);
  cudaGetLastError();
  return probe_from(status, count, driver, runtime);
}

int device_count() { return probe_devices().count; }

std::string device_problem() { return probe_devices().problem; }

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
