#pragma once
/// @file
/// @brief Decoding compressed frames on the device, so that compressed bytes, not pixels, cross
/// PCIe: bitshuffle/LZ4 chunks by nvCOMP's batched LZ4 and our bit-unshuffle kernel, zlib
/// (HDF5 deflate) chunks by nvCOMP's batched Deflate after we strip the zlib header, with the
/// Adler-32 checked by our kernel. Frames come from a FrameSource opened with
/// ScanOptions::keep_encoded (Frame::encoded). Host-internal (CUDA types).
///
/// The seam for a backend: give decode() the batch's frames and the device buffer that holds the
/// batch's raw frames (frame i at i x width x height pixels); encoded frames are decoded there,
/// frames that carry pixels are copied there. Without nvCOMP at build time, available() is false
/// and the reader decodes on the host as usual.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "laueproc/frame.hpp"

namespace laueproc::cuda {

class DeviceDecoder {
 public:
  /// @brief True when this laueproc was built with nvCOMP (LAUEPROC_NVCOMP).
  static bool available();
  /// @brief On the current device. Throws laueproc::Error when !available().
  DeviceDecoder();
  ~DeviceDecoder();
  DeviceDecoder(const DeviceDecoder&) = delete;
  DeviceDecoder& operator=(const DeviceDecoder&) = delete;

  /// @brief Fills `device_frames` (frame i at i * width * height uint16, all frames of one size)
  /// from `frames` on `stream`, then waits for it. Returns one message per frame: empty when the
  /// frame is in place, else why not (corrupt chunk, checksum...): the caller reports that frame
  /// as failed. Throws laueproc::Error for a device or nvCOMP failure.
  std::vector<std::string> decode(const std::vector<const Frame*>& frames, std::uint16_t* device_frames,
                                  cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace laueproc::cuda
