#pragma once
/// @file
/// @brief Frames: a non-owning 2-D view of detector pixels plus the metadata that travels with it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "laueproc/math/hd.hpp"

namespace laueproc {

/// @brief Non-owning view of a uint16 image, row-major; x = column (fast), y = row (slow).
struct FrameView {
  const std::uint16_t* data = nullptr;
  int width = 0;              ///< pixels per row (nx)
  int height = 0;             ///< rows (ny)
  std::ptrdiff_t stride = 0;  ///< elements between the starts of two rows (>= width)

  LAUEPROC_HD std::uint16_t at(int x, int y) const { return data[y * stride + x]; }
  LAUEPROC_HD std::size_t pixel_count() const {
    return static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  }
};

/// @brief Where a frame came from and where the beam was.
struct FrameMeta {
  std::int64_t index = 0;         ///< 0-based position of the frame in the scan
  std::string source;             ///< file it was read from
  std::int64_t index_in_file = 0; ///< frame number inside that file (0 for per-frame files)
  bool has_position = false;      ///< x_um/y_um are known
  double x_um = 0.0;              ///< sample X, micrometres
  double y_um = 0.0;              ///< sample Y, micrometres
};

/// @brief A frame still compressed: the stored bytes of its one chunk, for a backend that decodes
/// on its device (host/cuda/device_decode.hpp). Only uint16 frames stored one chunk per frame.
struct EncodedFrame {
  enum class Codec { none, bitshuffle_lz4, zlib };
  Codec codec = Codec::none;
  std::vector<std::uint8_t> bytes;  ///< the chunk as stored in the file
  bool empty() const { return codec == Codec::none; }
};

/// @brief An owned frame as delivered by a FrameSource. A frame that could not be read keeps
/// its metadata and carries the reason in `error` (pixels empty), so it is reported, not dropped.
/// A frame read for device decoding carries `encoded` instead of `pixels`.
struct Frame {
  FrameMeta meta;
  int width = 0;
  int height = 0;
  std::vector<std::uint16_t> pixels;
  EncodedFrame encoded;  ///< set (and pixels empty) only when ScanOptions::keep_encoded asked for it
  std::string error;  ///< empty when the frame was read correctly

  bool ok() const { return error.empty(); }
  FrameView view() const { return FrameView{pixels.data(), width, height, width}; }
};

}  // namespace laueproc
