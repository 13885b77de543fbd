#pragma once
/// @file
/// @brief Frames: a non-owning 2-D view of detector pixels plus the metadata that travels with it,
/// and the memory a backend may lend for the pixels (pinned host memory for the CUDA backend).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
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

/// @brief Host memory for one frame lent by a FrameMemory; destroying the block gives it back.
class FrameBlock {
 public:
  virtual ~FrameBlock() = default;
  FrameBlock(const FrameBlock&) = delete;
  FrameBlock& operator=(const FrameBlock&) = delete;
  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  /// @brief Page-locked (pinned): a device may copy from it asynchronously, with no staging copy.
  bool page_locked() const { return page_locked_; }

 protected:
  FrameBlock(void* data, std::size_t bytes, bool page_locked) : data_(data), bytes_(bytes), page_locked_(page_locked) {}

 private:
  void* data_;
  std::size_t bytes_;
  bool page_locked_;
};

/// @brief Memory a backend lends to the frame reader so that frames land where the backend wants
/// them (the CUDA backend: pinned slots its device copies from, no host copy in between). Bounded:
/// lend() returns null when its budget is used up, and the frame then uses ordinary memory.
/// Thread-safe; blocks may outlive it.
class FrameMemory {
 public:
  virtual ~FrameMemory() = default;
  /// @brief A block of at least `bytes`, or null when none can be lent now.
  virtual std::unique_ptr<FrameBlock> lend(std::size_t bytes) = 0;
};

/// @brief A frame still compressed: the stored bytes of its one chunk, for a backend that decodes
/// on its device (host/cuda/device_decode.hpp). Only uint16 frames stored one chunk per frame.
struct EncodedFrame {
  enum class Codec { none, bitshuffle_lz4, zlib };
  Codec codec = Codec::none;
  std::vector<std::uint8_t> bytes;  ///< the chunk as stored in the file, when the frame has no block
  std::size_t size = 0;             ///< the chunk's length when it lies in Frame::block
  bool empty() const { return codec == Codec::none; }
};

/// @brief An owned frame as delivered by a FrameSource. A frame that could not be read keeps
/// its metadata and carries the reason in `error` (pixels empty), so it is reported, not dropped.
/// A frame read for device decoding carries `encoded` instead of pixels.
///
/// Its data lives in `block` when one is set (memory lent by `memory`, e.g. pinned), else in
/// `pixels` / `encoded.bytes`. Readers write through prepare_pixels() / prepare_encoded(), readers
/// of the data use view(), pixel_data(), encoded_data(). A copy holds its data in ordinary memory.
struct Frame {
  FrameMeta meta;
  int width = 0;
  int height = 0;
  std::vector<std::uint16_t> pixels;  ///< the pixels in ordinary memory (empty when in `block`)
  EncodedFrame encoded;  ///< set (pixels empty) only when ScanOptions::keep_encoded asked for it
  std::string error;     ///< empty when the frame was read correctly
  std::unique_ptr<FrameBlock> block;     ///< lent memory holding the pixels or the encoded chunk
  std::shared_ptr<FrameMemory> memory;   ///< where prepare_*() borrow a block; null: ordinary memory

  Frame() = default;
  Frame(Frame&&) noexcept = default;
  Frame& operator=(Frame&&) noexcept = default;
  Frame(const Frame& o) { *this = o; }
  Frame& operator=(const Frame& o) {
    if (this == &o) return *this;
    meta = o.meta;
    width = o.width;
    height = o.height;
    error = o.error;
    memory = o.memory;
    block.reset();
    encoded.codec = o.encoded.codec;
    encoded.size = 0;
    if (o.is_encoded()) {
      encoded.bytes.assign(o.encoded_data(), o.encoded_data() + o.encoded_size());
      pixels.clear();
    } else {
      encoded.bytes.clear();
      if (!o.block) pixels = o.pixels;
      else if (o.has_pixels()) pixels.assign(o.pixel_data(), o.pixel_data() + o.pixel_count());
      else pixels.clear();  // a failed frame keeps a block that may be smaller than its size
    }
    return *this;
  }

  bool ok() const { return error.empty(); }
  bool is_encoded() const { return !encoded.empty(); }
  std::size_t pixel_count() const { return static_cast<std::size_t>(width) * static_cast<std::size_t>(height); }
  /// @brief True when the frame holds all its pixels (decoded, in `pixels` or in `block`).
  bool has_pixels() const {
    return !is_encoded() && pixel_count() > 0 && (block ? block->bytes() >= 2 * pixel_count() : pixels.size() >= pixel_count());
  }
  const std::uint16_t* pixel_data() const {
    return block && !is_encoded() ? static_cast<const std::uint16_t*>(block->data()) : pixels.data();
  }
  std::uint16_t* pixel_data() { return block && !is_encoded() ? static_cast<std::uint16_t*>(block->data()) : pixels.data(); }
  FrameView view() const { return FrameView{pixel_data(), width, height, width}; }
  const std::uint8_t* encoded_data() const {
    return block ? static_cast<const std::uint8_t*>(block->data()) : encoded.bytes.data();
  }
  std::size_t encoded_size() const { return block ? encoded.size : encoded.bytes.size(); }

  /// @brief Room for width x height pixels (set those first), in a block from `memory` when it
  /// lends one, else in `pixels`; the frame is no longer encoded. Returns where to write them.
  std::uint16_t* prepare_pixels() {
    encoded.codec = EncodedFrame::Codec::none;
    encoded.bytes.clear();
    if (borrow(2 * pixel_count())) {
      std::vector<std::uint16_t>().swap(pixels);  // the data lives in the block: free the vector
      return static_cast<std::uint16_t*>(block->data());
    }
    pixels.resize(pixel_count());  // keeps its capacity
    return pixels.data();
  }
  /// @brief Room for an encoded chunk of `bytes` (in a block when `memory` lends one, else in
  /// encoded.bytes), for `codec`; the frame then carries no pixels. Returns where to write it.
  std::uint8_t* prepare_encoded(EncodedFrame::Codec codec, std::size_t bytes) {
    std::vector<std::uint16_t>().swap(pixels);
    encoded.codec = codec;
    // A block of at least a frame's size serves the next frame whatever its chunk's size.
    if (borrow(std::max(bytes, 2 * pixel_count()))) {
      encoded.bytes.clear();
      encoded.size = bytes;
      return static_cast<std::uint8_t*>(block->data());
    }
    encoded.size = 0;
    encoded.bytes.resize(bytes);
    return encoded.bytes.data();
  }
  /// @brief Forgets the data (a frame that failed to read); a block is kept for the next read.
  void drop_data() {
    pixels.clear();
    encoded.codec = EncodedFrame::Codec::none;
    encoded.bytes.clear();
    encoded.size = 0;
  }

 private:
  // Keeps or borrows a block of at least `bytes`; false when the frame must use ordinary memory.
  bool borrow(std::size_t bytes) {
    if (!memory) {
      block.reset();
      return false;
    }
    if (block && block->bytes() >= bytes) return true;
    block.reset();  // give the small one back first: the budget may need it
    block = memory->lend(bytes);
    return block != nullptr;
  }
};

}  // namespace laueproc
