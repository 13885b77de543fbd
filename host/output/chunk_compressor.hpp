#pragma once
/// @file
/// @brief Whole chunks of a table compressed off the writing thread, as HDF5's shuffle + deflate
/// filters would (the same filter pipeline, so every HDF5 reader decodes them), for
/// H5Dwrite_chunk. gzip of `/peaks` was 44 % of the result writer's time, the one writer of an
/// MPI run (benchmarks/RESULTS.md); here it is libdeflate (~2.7x zlib at the same level) on a
/// thread of its own.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace laueproc::output {

/// @brief Shuffles (bytes of equal rank together, element size `element_size`) and
/// zlib-compresses `raw` at `level`, as HDF5's H5Z shuffle then deflate filters do. Returns the
/// stored bytes and the HDF5 filter mask: 0, or 0x2 (deflate skipped) when compression would not
/// make the chunk smaller, as HDF5 does with an optional filter.
std::vector<unsigned char> shuffle_deflate(const std::vector<unsigned char>& raw, std::size_t element_size,
                                           int level, std::uint32_t& filter_mask);
/// @brief The inverse, for tests: unshuffled bytes of a chunk stored with `filter_mask`.
std::vector<unsigned char> inflate_unshuffle(const std::vector<unsigned char>& stored, std::size_t raw_size,
                                             std::size_t element_size, std::uint32_t filter_mask);

/// @brief One thread compressing chunks in submission order; the owner collects them.
class ChunkCompressor {
 public:
  struct Chunk {
    std::uint64_t offset = 0;           ///< first row of the chunk in the table
    std::vector<unsigned char> bytes;   ///< raw (file-layout) rows in, stored bytes out
    std::uint32_t filter_mask = 0;
  };
  using Sink = std::function<void(Chunk&)>;

  ChunkCompressor(std::size_t element_size, int level, std::size_t max_in_flight = 4);
  ~ChunkCompressor();  ///< drops what was not collected (the journal holds every row)
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;

  /// @brief Queues a chunk; first hands the finished ones to `done` (on this thread), waiting
  /// for some while `max_in_flight` chunks are queued.
  void submit(Chunk chunk, const Sink& done);
  /// @brief Hands every finished chunk to `done` without waiting.
  void collect(const Sink& done);
  /// @brief Waits for every queued chunk and hands each to `done`. Rethrows a compression error.
  void drain(const Sink& done);

 private:
  void run();
  void hand_over(const Sink& done, bool wait_all);

  const std::size_t element_size_;
  const int level_;
  const std::size_t max_in_flight_;
  std::mutex mutex_;
  std::condition_variable work_, finished_;
  std::deque<Chunk> queued_, done_;
  std::size_t in_flight_ = 0;  // queued + being compressed + done, not yet handed over
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace laueproc::output
