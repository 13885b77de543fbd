#pragma once
/// @file
/// @brief Frame input: HDF5 stacks and APS 34-ID-E per-frame files, streamed with read-ahead.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "laueproc/frame.hpp"

namespace laueproc {

/// @brief How a scan is laid out on disk.
enum class ScanLayout {
  stack,            ///< one file, one N x ny x nx dataset (or a single 2-D image)
  per_frame_files,  ///< one file per raster point (APS 34-ID-E)
};

/// @brief Which inflate decodes deflate ("gzip") chunks read chunk-direct. Every choice gives the
/// same bytes; they differ in speed (benchmarks/RESULTS.md: bench_reader).
enum class Inflater {
  fastest,     ///< ISA-L's igzip for streams made at zlib level 6-9, libdeflate below (measured)
  libdeflate,  ///< libdeflate for every stream
  isal,        ///< ISA-L for every stream (libdeflate when this build has no ISA-L)
  zlib,        ///< zlib's inflate: the reference the others are tested and measured against
};

/// @brief What the user may override when opening a scan.
struct ScanOptions {
  std::string dataset;   ///< image dataset path; empty = layout default (see scan_default_dataset)
  std::string x_path;    ///< positions; empty = layout default (/entry/sample/x or /entry1/sample/sampleX)
  std::string y_path;
  bool chunk_direct = true;  ///< read and decode stored chunks ourselves when possible (see docs/input.md)
  Inflater inflater = Inflater::fastest;  ///< chunk-direct deflate decoder (benchmarks compare them)
  /// Deliver uint16 frames stored one chunk per frame with bitshuffle/LZ4 or deflate alone as
  /// Frame::encoded (still compressed), for a backend that decodes on its device.
  bool keep_encoded = false;
};

/// @brief What a scan holds (the `info` subcommand prints this).
struct ScanInfo {
  ScanLayout layout = ScanLayout::stack;
  std::vector<std::string> files;  ///< the stack file, or the per-frame files in frame order
  std::string dataset;             ///< image dataset path inside each file
  std::int64_t n_frames = 0;
  int height = 0;                  ///< ny
  int width = 0;                   ///< nx
  std::string dtype;               ///< "uint16", "int32", "uint32", "float32"
  std::vector<std::uint64_t> chunk;  ///< chunk shape, empty if contiguous
  std::vector<std::string> filters;  ///< e.g. "deflate", "bitshuffle(32008)"
  bool has_positions = false;
  bool chunk_direct = false;       ///< frames are read chunk-direct (own pread + decoders)
  std::uint64_t stored_bytes = 0;  ///< bytes the image dataset takes in its file (per-frame: the first file)
  /// "bitshuffle/LZ4" or "deflate" when the frames can be delivered still compressed for a device
  /// decoder (ScanOptions::keep_encoded: uint16, one chunk per frame, that filter alone); else
  /// empty and device_decode_note says why ("not one chunk per frame"...).
  std::string device_decodable;
  std::string device_decode_note;
};

/// @brief Random-access source of frames. Implementations throw InputError for problems with
/// the scan as a whole (missing file, wrong rank, unsupported dtype...) and report a problem
/// with one frame in Frame::error, so a long run goes on and lists the frame as failed.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual const ScanInfo& info() const = 0;
  /// @brief Reads frame `index` (0 <= index < info().n_frames) into `out`, reusing its buffer.
  /// May be called from several threads at once (each with its own `out`) when
  /// concurrent_reads() is true.
  virtual void read(std::int64_t index, Frame& out) = 0;
  /// @brief True when read() is thread-safe, so several reader threads may decode at once.
  virtual bool concurrent_reads() const { return false; }
  /// @brief Consecutive frames one reader should take at a time (frames that share a chunk).
  virtual std::int64_t frames_per_read() const { return 1; }
  /// @brief Notes on conversions made while reading (e.g. clipping of float32 data), for the log.
  virtual std::vector<std::string> warnings() const { return {}; }
};

/// @brief What convert_to_uint16() changed.
struct PixelConversion {
  std::uint64_t clipped = 0;  ///< values outside [0, 65535], set to the nearer end
  std::uint64_t nan = 0;      ///< NaN values, set to 0
};

/// @brief Converts `n` pixels of type `dtype` ("uint8", "int8", "uint16", "int16", "uint32",
/// "int32", "uint64", "int64", "float32", "float64"; native byte order) to uint16 exactly as the
/// scan reader does for non-uint16 data: clipping to [0, 65535], floats rounded half up, NaN -> 0.
/// Throws UsageError for another dtype.
PixelConversion convert_to_uint16(const std::string& dtype, const void* in, std::size_t n, std::uint16_t* out);

/// @brief Opens a scan: an HDF5 file (stack or single image), a directory of per-frame files,
/// a glob pattern ("scan_*.h5"), or a text file listing one frame file per line.
std::unique_ptr<FrameSource> open_scan(const std::string& path, const ScanOptions& options = {});

/// @brief Reader threads for `readers` = 0: the number of cores (at most 32).
int resolve_readers(int readers);

/// @brief Delivers frames of a source in the given order, read ahead by `readers` threads (one
/// when the source does not allow concurrent reads) into slots by position, so at most `depth`
/// frames (at least two per reader) are held and the order of delivery never depends on which
/// reader finished first. I/O and decoding overlap processing. With `memory` (a backend's, e.g.
/// pinned host memory), frames are read into blocks it lends (Frame::block) while it has some.
class FrameStream {
 public:
  FrameStream(FrameSource& source, std::vector<std::int64_t> order, std::size_t depth = 4, int readers = 1,
              std::shared_ptr<FrameMemory> memory = nullptr);
  /// @brief As above, with the order given one index at a time by `next_index` (false: no more
  /// frames), called by one reader thread at a time, only when every position known so far is
  /// taken. It may block, e.g. while an MPI rank waits for its next hand-out; whoever makes it
  /// block must be able to release it before the stream is destroyed.
  FrameStream(FrameSource& source, std::function<bool(std::int64_t&)> next_index, std::size_t depth = 4,
              int readers = 1, std::shared_ptr<FrameMemory> memory = nullptr);
  ~FrameStream();
  FrameStream(const FrameStream&) = delete;
  FrameStream& operator=(const FrameStream&) = delete;

  /// @brief Next frame in order; false at the end. Rethrows a scan-level error of the reader.
  bool next(Frame& out);

 private:
  FrameStream(FrameSource& source, std::vector<std::int64_t> order, std::function<bool(std::int64_t&)> next_index,
              std::size_t depth, int readers, std::shared_ptr<FrameMemory> memory);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace laueproc
