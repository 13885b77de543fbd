// Pinned frame memory: the reader decodes (or, for device decoding, reads the stored chunks)
// straight into page-locked blocks, from which the analyzer's copies to the device start
// asynchronously; no host copy of the pixels in between (issue 9's host budget).
#include <cuda_runtime_api.h>

#include "cuda/cuda_util.hpp"
#include "io/frame_memory.hpp"
#include "laueproc/cuda.hpp"

namespace laueproc::cuda {

std::shared_ptr<FrameMemory> make_pinned_frame_memory(std::size_t max_bytes, int device) {
  io::BlockAllocator a;
  // Reader threads allocate: set the device first (a thread's default would open device 0's
  // context). Portable: any device of the process may copy from the block. A failed allocation
  // (pinned memory is a limited resource) only means the frame goes to ordinary memory.
  a.allocate = [device](std::size_t n) -> void* {
    void* p = nullptr;
    if (cudaSetDevice(device) != cudaSuccess || cudaHostAlloc(&p, n, cudaHostAllocPortable) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  };
  a.release = [](void* p) { log_cuda_error(cudaFreeHost(p), "cudaFreeHost"); };
  a.page_locked = true;
  return std::make_shared<io::BlockPool>(max_bytes, std::move(a));
}

}  // namespace laueproc::cuda
