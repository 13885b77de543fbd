#include "output/chunk_compressor.hpp"

#include <libdeflate.h>

#include <memory>

#include "laueproc/error.hpp"

namespace laueproc::output {

namespace {

struct CompressorFree {
  void operator()(libdeflate_compressor* c) const noexcept { libdeflate_free_compressor(c); }
};
struct DecompressorFree {
  void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
};

}  // namespace

std::vector<unsigned char> shuffle_deflate(const std::vector<unsigned char>& raw, std::size_t element_size,
                                           int level, std::uint32_t& filter_mask) {
  // H5Z shuffle: byte j of every element, then byte j+1 ...; a tail shorter than an element stays.
  const std::size_t n = raw.size(), count = element_size > 1 ? n / element_size : 0;
  std::vector<unsigned char> shuffled(n);
  if (count > 0) {
    for (std::size_t j = 0; j < element_size; ++j)
      for (std::size_t i = 0; i < count; ++i) shuffled[j * count + i] = raw[i * element_size + j];
    std::copy(raw.begin() + static_cast<std::ptrdiff_t>(count * element_size), raw.end(),
              shuffled.begin() + static_cast<std::ptrdiff_t>(count * element_size));
  } else {
    shuffled = raw;
  }
  thread_local std::unique_ptr<libdeflate_compressor, CompressorFree> compressor;
  thread_local int compressor_level = -1;
  if (!compressor || compressor_level != level) {
    compressor.reset(libdeflate_alloc_compressor(level));
    compressor_level = level;
    if (!compressor) throw Error("cannot start the deflate compressor (level " + std::to_string(level) + ")");
  }
  // H5Z deflate: a zlib stream no larger than the input, else the optional filter is skipped.
  std::vector<unsigned char> out(n);
  const std::size_t size = n == 0 ? 0 : libdeflate_zlib_compress(compressor.get(), shuffled.data(), n, out.data(), n);
  if (size == 0) {
    filter_mask = 0x2;
    return shuffled;
  }
  out.resize(size);
  filter_mask = 0;
  return out;
}

std::vector<unsigned char> inflate_unshuffle(const std::vector<unsigned char>& stored, std::size_t raw_size,
                                             std::size_t element_size, std::uint32_t filter_mask) {
  std::vector<unsigned char> shuffled(raw_size);
  if (filter_mask & 0x2) {
    shuffled = stored;
  } else {
    std::unique_ptr<libdeflate_decompressor, DecompressorFree> d(libdeflate_alloc_decompressor());
    std::size_t got = 0;
    if (!d || libdeflate_zlib_decompress(d.get(), stored.data(), stored.size(), shuffled.data(), raw_size, &got) !=
                  LIBDEFLATE_SUCCESS ||
        got != raw_size)
      throw Error("a compressed chunk does not inflate to its size");
  }
  const std::size_t count = element_size > 1 ? raw_size / element_size : 0;
  if (count == 0) return shuffled;
  std::vector<unsigned char> raw(shuffled);
  for (std::size_t j = 0; j < element_size; ++j)
    for (std::size_t i = 0; i < count; ++i) raw[i * element_size + j] = shuffled[j * count + i];
  return raw;
}

ChunkCompressor::ChunkCompressor(std::size_t element_size, int level, std::size_t max_in_flight)
    : element_size_(element_size), level_(level), max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight) {
  thread_ = std::thread([this] { run(); });
}

ChunkCompressor::~ChunkCompressor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void ChunkCompressor::run() {
  for (;;) {
    Chunk chunk;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [&] { return stop_ || !queued_.empty(); });
      if (stop_) return;
      chunk = std::move(queued_.front());
      queued_.pop_front();
    }
    try {
      chunk.bytes = shuffle_deflate(chunk.bytes, element_size_, level_, chunk.filter_mask);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    done_.push_back(std::move(chunk));
    finished_.notify_all();
  }
}

void ChunkCompressor::hand_over(const Sink& done, bool wait_all) {
  for (;;) {
    std::deque<Chunk> ready;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (wait_all) finished_.wait(lock, [&] { return done_.size() == in_flight_; });
      if (error_) std::rethrow_exception(error_);
      ready.swap(done_);
      in_flight_ -= ready.size();
    }
    for (Chunk& c : ready) done(c);
    if (!wait_all || ready.empty()) return;
  }
}

void ChunkCompressor::submit(Chunk chunk, const Sink& done) {
  hand_over(done, false);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Bounded memory: wait until one of the queued chunks is finished.
    finished_.wait(lock, [&] { return in_flight_ - done_.size() < max_in_flight_ || error_; });
  }
  hand_over(done, false);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queued_.push_back(std::move(chunk));
    ++in_flight_;
  }
  work_.notify_one();
}

void ChunkCompressor::collect(const Sink& done) { hand_over(done, false); }

void ChunkCompressor::drain(const Sink& done) { hand_over(done, true); }

}  // namespace laueproc::output
