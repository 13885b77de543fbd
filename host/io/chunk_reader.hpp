#pragma once
/// @file
/// @brief Chunk-direct frame reading: the stored bytes of the chunks that hold a frame are
/// located with HDF5 (under h5::library_mutex(), a B-tree lookup of microseconds), read with
/// pread() and decoded (io/decode.hpp) outside the lock, so several reader threads read and
/// decode at once. Any chunk shape (tiles, several frames per chunk, partial edge chunks) and
/// the filters deflate, shuffle, bitshuffle (none/LZ4/zstd) and zstd; contiguous datasets are
/// read with pread alone. Anything else is left to H5Dread.

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "laueproc/frame.hpp"
#include "laueproc/io.hpp"

namespace laueproc::io {

/// @brief One filter of a dataset's pipeline.
struct FilterSpec {
  H5Z_filter_t id = 0;
  std::vector<unsigned> cd;  ///< client data (shuffle: element size; bitshuffle: see decode.hpp)
};

/// @brief Short name of a filter id for messages and `info`, e.g. "bitshuffle(32008)".
std::string filter_label(H5Z_filter_t id);

/// @brief Undoes a dataset's filter pipeline on one stored chunk.
struct ChunkCodec {
  std::vector<FilterSpec> filters;  ///< in pipeline (write) order
  std::size_t elem_size = 2;
  Inflater inflater = Inflater::fastest;  ///< deflate decoder (all give the same bytes)

  /// @brief Empty when every chunk can be decoded here; else why not (unknown filter...).
  std::string unsupported() const;
  /// @brief Decodes a stored chunk of `n` bytes into `out` (`out_size` = the chunk's uncompressed
  /// size). `mask`: HDF5's filter mask (bit i set = filter i was skipped for this chunk). Uses
  /// `a` and `b` as scratch. Throws DecodeError.
  void decode(const std::uint8_t* in, std::size_t n, std::uint32_t mask, std::uint8_t* out, std::size_t out_size,
              std::vector<std::uint8_t>& a, std::vector<std::uint8_t>& b) const;
};

/// @brief Per reader thread: buffers reused from frame to frame, and the decoded chunks of the
/// last chunk row when a chunk holds several frames.
struct ChunkScratch {
  std::vector<std::uint8_t> raw, a, b, tile;
  std::uint64_t cached_owner = 0;                   ///< id of the ChunkReader the cached row belongs to
  std::int64_t cached_first_frame = -1;             ///< first frame of the cached chunk row
  std::vector<std::vector<std::uint8_t>> cached;    ///< decoded chunks of that row, one per tile
};

/// @brief Reads the frames of one image dataset chunk-direct. Immutable once planned and
/// shared by reader threads (pread on its own file descriptor).
class ChunkReader {
 public:
  /// @brief Plans chunk-direct reading of `ds` (rank 2 = one image, or 3 = frames x ny x nx),
  /// with HDF5 lock held. Returns null and sets `why` when it cannot be done (compact layout,
  /// external storage, unsupported filter, non-native byte order, file not openable...).
  static std::unique_ptr<ChunkReader> plan(hid_t ds, const std::string& file, const std::string& path,
                                           const std::vector<hsize_t>& dims, ChunkCodec codec, bool native_order,
                                           std::string* why);
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  /// @brief Reads frame k as stored (ny x nx elements of elem_size bytes) into `out`. Takes the
  /// HDF5 lock itself: call without holding it. Returns false when a chunk of the frame was never
  /// written (the caller reads the fill value through HDF5). Throws InputError naming the frame.
  bool read_frame(std::int64_t k, std::uint8_t* out, ChunkScratch& s) const;

  /// @brief Frames that share one chunk (1 unless the chunk spans several frames): readers
  /// that take this many consecutive frames decode each chunk once.
  std::int64_t frames_per_chunk() const { return frames_per_chunk_; }
  /// @brief True when one chunk is exactly one frame.
  bool one_chunk_per_frame() const;
  const ChunkCodec& codec() const { return codec_; }
  bool contiguous() const { return chunk_.empty(); }

  /// @brief The stored bytes of frame k's single chunk (one_chunk_per_frame() only) and its
  /// filter mask, for a decoder elsewhere (a GPU): read into `room(size)`, which returns where
  /// `size` bytes may be written (e.g. a pinned block). Returns false when the chunk was never
  /// written (room not called).
  bool read_stored_chunk(std::int64_t k, const std::function<std::uint8_t*(std::size_t)>& room,
                         std::uint32_t& mask) const;

 private:
  ChunkReader() = default;
  struct Stored {
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    unsigned mask = 0;
  };
  bool locate(const std::vector<std::vector<hsize_t>>& offsets, std::vector<Stored>& where) const;
  void fetch(const Stored& at, std::uint8_t* dst, const std::string& what) const;
  std::string where(std::int64_t k) const;

  std::uint64_t id_ = 0;         // unique per reader: keys the chunk-row cache of a ChunkScratch
  hid_t ds_ = H5I_INVALID_HID;  // owned by the caller's FrameDataset, which outlives this reader
  std::string file_, path_;
  int fd_ = -1;
  std::vector<hsize_t> dims_, chunk_;
  std::size_t elem_size_ = 2;
  std::size_t chunk_bytes_ = 0;
  haddr_t contiguous_addr_ = HADDR_UNDEF;
  std::int64_t frames_per_chunk_ = 1;
  ChunkCodec codec_;
};

}  // namespace laueproc::io
