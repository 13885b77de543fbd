#pragma once
/// @file
/// @brief Decoding compressed frames on the device, so that compressed bytes, not pixels, cross
/// PCIe: bitshuffle/LZ4 chunks by nvCOMP's batched LZ4 and our bit-unshuffle kernel, zlib
/// (HDF5 deflate) chunks by nvCOMP's batched Deflate after we strip the zlib header, with the
/// Adler-32 checked by our kernel. Frames come from a FrameSource opened with
/// ScanOptions::keep_encoded (Frame::encoded). Host-internal (CUDA types).
///
/// The seam for a backend: enqueue() the batch's encoded frames with where each goes in the
/// device buffer that holds the batch's raw frames, record an event after it, and once the stream
/// has passed that point read finish() for the frames that failed. Nothing waits in between.
/// Chunks that lie in page-locked blocks (Frame::block from the CUDA backend's pinned memory) are
/// uploaded straight from there; others go through a pinned staging copy. The host side is
/// decode_plan.hpp (tested in CI without a device). Without nvCOMP at build time, available() is
/// false and the reader decodes on the host as usual.

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

  /// @brief Queues on `stream` the decoding of `frames` (all of one size): frame i lands at
  /// `device_frames` + out_offsets[i] bytes (empty: i x frame bytes). Frames that carry pixels are
  /// copied there. Returns without waiting: the frames' data and this decoder stay untouched until
  /// the stream has passed the queued work; then call finish(). Throws laueproc::Error for a
  /// device or nvCOMP failure (frame-level problems are reported by finish()).
  void enqueue(const std::vector<const Frame*>& frames, const std::vector<std::size_t>& out_offsets,
               std::uint16_t* device_frames, cudaStream_t stream);
  /// @brief After the stream has passed the last enqueue(): one message per frame of it, empty
  /// when the frame is in place, else why not (corrupt chunk, checksum...): the caller reports that
  /// frame as failed.
  std::vector<std::string> finish();
  /// @brief enqueue() (frame i at i x frame bytes), wait for the stream, finish().
  std::vector<std::string> decode(const std::vector<const Frame*>& frames, std::uint16_t* device_frames,
                                  cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace laueproc::cuda
