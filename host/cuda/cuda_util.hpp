#pragma once
/// @file
/// @brief CUDA runtime helpers of the host side: one check macro and move-only owners of device
/// memory, pinned host memory, streams and events (destructors never throw; they log to stderr).
/// Host-internal: public headers (include/laueproc) carry no CUDA types.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>

#include "laueproc/error.hpp"

namespace laueproc::cuda {

/// @brief Throws laueproc::Error("<expr> failed: <name>: <text> at file:line") after clearing the
/// sticky error state, so a later call is not poisoned by this one.
[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
  cudaGetLastError();
  throw Error(std::string(expr) + " failed: " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status) +
              " at " + file + ":" + std::to_string(line));
}

/// @brief Logs (never throws) a failed call in a destructor.
inline void log_cuda_error(cudaError_t status, const char* expr) noexcept {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  std::fprintf(stderr, "laueproc: warning: %s failed: %s\n", expr, cudaGetErrorName(status));
}

struct DeviceProbe;
/// @brief probe_devices()'s rules, given what the runtime answered (cudaGetDeviceCount's status
/// and count, cudaDriverGetVersion, cudaRuntimeGetVersion): testable without a driver.
DeviceProbe probe_from(cudaError_t status, int count, int driver_version, int runtime_version);

}  // namespace laueproc::cuda

#define LAUEPROC_CUDA_CHECK(expr)                                                          \
  do {                                                                                     \
    const cudaError_t laueproc_status_ = (expr);                                           \
    if (laueproc_status_ != cudaSuccess)                                                   \
      ::laueproc::cuda::throw_cuda_error(laueproc_status_, #expr, __FILE__, __LINE__);     \
  } while (0)

namespace laueproc::cuda {

/// @brief Thrown by the owners below when an allocation fails for lack of memory, so callers can
/// retry with a smaller batch.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

/// @brief Where a CudaBuffer lives: device memory (cudaMalloc) ...
struct DeviceMemory {
  static cudaError_t allocate(void** p, std::size_t bytes) { return cudaMalloc(p, bytes); }
  static cudaError_t release(void* p) { return cudaFree(p); }
  static constexpr const char* kAllocate = "cudaMalloc";
  static constexpr const char* kRelease = "cudaFree";
  static constexpr const char* kWhat = "device memory";
};
/// @brief ... or page-locked host memory (cudaMallocHost), for asynchronous copies.
struct PinnedMemory {
  static cudaError_t allocate(void** p, std::size_t bytes) { return cudaMallocHost(p, bytes); }
  static cudaError_t release(void* p) { return cudaFreeHost(p); }
  static constexpr const char* kAllocate = "cudaMallocHost";
  static constexpr const char* kRelease = "cudaFreeHost";
  static constexpr const char* kWhat = "pinned memory";
};

/// @brief Move-only owner of an array of T in `Memory` (elements not constructed; contents
/// undefined). Allocation failures for lack of memory throw OutOfMemory, others Error.
template <typename T, typename Memory>
class CudaBuffer {
 public:
  CudaBuffer() = default;
  explicit CudaBuffer(std::size_t count) { allocate(count); }
  ~CudaBuffer() { reset(); }
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  CudaBuffer(CudaBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  CudaBuffer& operator=(CudaBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  /// @brief Frees and allocates `count` elements.
  void allocate(std::size_t count) {
    reset();
    if (count == 0) return;
    void* p = nullptr;
    const cudaError_t status = Memory::allocate(&p, count * sizeof(T));
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw OutOfMemory(std::string(Memory::kAllocate) + " of " + std::to_string(count * sizeof(T)) +
                        " bytes: out of " + Memory::kWhat);
    }
    if (status != cudaSuccess) throw_cuda_error(status, Memory::kAllocate, __FILE__, __LINE__);
    ptr_ = static_cast<T*>(p);
    size_ = count;
  }
  /// @brief Grows (never shrinks) to at least `count` elements; contents are lost when it grows.
  void reserve(std::size_t count) {
    if (count > size_) allocate(count);
  }
  void reset() noexcept {
    if (ptr_) log_cuda_error(Memory::release(ptr_), Memory::kRelease);
    ptr_ = nullptr;
    size_ = 0;
  }
  T* get() const { return ptr_; }
  std::size_t size() const { return size_; }
  /// @brief Host access: pinned buffers only.
  template <typename M = Memory, typename = std::enable_if_t<std::is_same_v<M, PinnedMemory>>>
  T& operator[](std::size_t i) const {
    return ptr_[i];
  }

 private:
  T* ptr_ = nullptr;
  std::size_t size_ = 0;
};

template <typename T>
using DeviceBuffer = CudaBuffer<T, DeviceMemory>;
template <typename T>
using PinnedBuffer = CudaBuffer<T, PinnedMemory>;

/// @brief Owning non-blocking CUDA stream.
class Stream {
 public:
  Stream() { LAUEPROC_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_) log_cuda_error(cudaStreamDestroy(s_), "cudaStreamDestroy");
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      if (s_) log_cuda_error(cudaStreamDestroy(s_), "cudaStreamDestroy");
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  cudaStream_t get() const { return s_; }
  void synchronize() const { LAUEPROC_CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

/// @brief Owning CUDA event. Default flags: timing enabled (benchmarks read it). For waiting,
/// kBlocking: synchronize() sleeps instead of spinning a host core.
class Event {
 public:
  static constexpr unsigned kBlocking = cudaEventBlockingSync | cudaEventDisableTiming;
  explicit Event(unsigned flags = cudaEventDefault) { LAUEPROC_CUDA_CHECK(cudaEventCreateWithFlags(&e_, flags)); }
  ~Event() {
    if (e_) log_cuda_error(cudaEventDestroy(e_), "cudaEventDestroy");
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    if (this != &o) {
      if (e_) log_cuda_error(cudaEventDestroy(e_), "cudaEventDestroy");
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s) { LAUEPROC_CUDA_CHECK(cudaEventRecord(e_, s)); }
  void synchronize() const { LAUEPROC_CUDA_CHECK(cudaEventSynchronize(e_)); }
  /// @brief Milliseconds from `start` to this event (both recorded and complete).
  float since(const Event& start) const {
    float ms = 0;
    LAUEPROC_CUDA_CHECK(cudaEventElapsedTime(&ms, start.e_, e_));
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

}  // namespace laueproc::cuda
