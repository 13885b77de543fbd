// FrameStream: order, early destruction, exception propagation, with a real HDF5 source too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "io/fixtures.hpp"
#include "laueproc/io.hpp"

namespace laueproc {
namespace {

// A source whose frame k holds the value k; throws at `throw_at`; optional delay per read;
// `concurrent`: read() may run on several threads (delays then vary per frame, so readers finish
// out of order).
class FakeSource : public FrameSource {
 public:
  explicit FakeSource(std::int64_t n, std::int64_t throw_at = -1, int delay_ms = 0, bool concurrent = false,
                      std::int64_t per_read = 1)
      : throw_at_(throw_at), delay_ms_(delay_ms), concurrent_(concurrent), per_read_(per_read) {
    info_.n_frames = n;
    info_.width = 4;
    info_.height = 2;
  }
  const ScanInfo& info() const override { return info_; }
  bool concurrent_reads() const override { return concurrent_; }
  std::int64_t frames_per_read() const override { return per_read_; }
  void read(std::int64_t index, Frame& out) override {
    ++reads;
    const int active = ++in_read;
    int seen = max_in_read.load();
    while (active > seen && !max_in_read.compare_exchange_weak(seen, active)) {
    }
    if (delay_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(concurrent_ ? delay_ms_ * (index % 3) : delay_ms_));
    --in_read;
    if (index == throw_at_) throw InputError("fake.h5", "disk vanished");
    out.meta = FrameMeta{};
    out.meta.index = index;
    out.width = 4;
    out.height = 2;
    out.error.clear();
    out.pixels.assign(8, static_cast<std::uint16_t>(index));
  }
  std::atomic<int> reads{0};
  std::atomic<int> in_read{0}, max_in_read{0};

 private:
  ScanInfo info_;
  std::int64_t throw_at_;
  int delay_ms_;
  bool concurrent_;
  std::int64_t per_read_;
};

TEST(FrameStream, DeliversInGivenOrder) {
  FakeSource src(50);
  std::vector<std::int64_t> order;
  for (int i = 49; i >= 0; i -= 2) order.push_back(i);
  FrameStream stream(src, order, 3);
  Frame f;
  std::size_t i = 0;
  while (stream.next(f)) {
    ASSERT_LT(i, order.size());
    EXPECT_EQ(f.meta.index, order[i]);
    EXPECT_EQ(f.pixels[7], static_cast<std::uint16_t>(order[i]));
    ++i;
  }
  EXPECT_EQ(i, order.size());
  EXPECT_FALSE(stream.next(f));
}

TEST(FrameStream, SeveralReadersDeliverInOrder) {
  for (int readers : {1, 2, 3, 4})
    for (std::int64_t per_read : {1, 3}) {
      SCOPED_TRACE("readers " + std::to_string(readers) + " per_read " + std::to_string(per_read));
      FakeSource src(40, -1, 1, true, per_read);
      std::vector<std::int64_t> order;
      for (std::int64_t i = 0; i < 40; ++i) order.push_back((i * 17) % 40);  // a permutation
      FrameStream stream(src, order, 4, readers);
      Frame f;
      std::size_t i = 0;
      while (stream.next(f)) {
        ASSERT_LT(i, order.size());
        EXPECT_EQ(f.meta.index, order[i]);
        EXPECT_EQ(f.pixels[3], static_cast<std::uint16_t>(order[i]));
        ++i;
      }
      EXPECT_EQ(i, order.size());
      EXPECT_EQ(src.reads.load(), 40);
      if (readers > 1) EXPECT_GT(src.max_in_read.load(), 1);  // they did read at the same time
      EXPECT_LE(src.max_in_read.load(), readers);
    }
}

TEST(FrameStream, SerialSourceGetsOneReader) {
  FakeSource src(20, -1, 1, false);
  std::vector<std::int64_t> order(20);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  FrameStream stream(src, order, 4, 4);
  Frame f;
  int n = 0;
  while (stream.next(f)) EXPECT_EQ(f.meta.index, n++);
  EXPECT_EQ(n, 20);
  EXPECT_EQ(src.max_in_read.load(), 1);
}

TEST(FrameStream, ErrorWithSeveralReadersComesAfterEveryEarlierFrame) {
  FakeSource src(30, 7, 1, true);
  std::vector<std::int64_t> order(30);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  FrameStream stream(src, order, 6, 3);
  Frame f;
  for (int k = 0; k < 7; ++k) {
    ASSERT_TRUE(stream.next(f));
    EXPECT_EQ(f.meta.index, k);
  }
  EXPECT_THROW(stream.next(f), InputError);
  EXPECT_FALSE(stream.next(f));
}

TEST(FrameStream, EarlyDestructionStopsTheReader) {
  FakeSource src(100000);
  std::vector<std::int64_t> order(100000);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  {
    FrameStream stream(src, order, 2);
    Frame f;
    ASSERT_TRUE(stream.next(f));
    EXPECT_EQ(f.meta.index, 0);
  }  // must join without reading everything
  EXPECT_LT(src.reads.load(), 10);
  {
    FrameStream never_read(src, order, 4);  // destroyed before any next()
  }
}

TEST(FrameStream, ReaderExceptionRethrownAfterEarlierFrames) {
  FakeSource src(10, 3, 1);
  FrameStream stream(src, {0, 1, 2, 3, 4, 5}, 4);
  Frame f;
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(stream.next(f));
    EXPECT_EQ(f.meta.index, k);
  }
  try {
    stream.next(f);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("disk vanished"), std::string::npos);
  }
  EXPECT_FALSE(stream.next(f));
}

TEST(FrameStream, ReadersGiveTheSameFramesFromTiledMultiFrameChunks) {
  test::TempDir dir;
  const int n = 7, ny = 33, nx = 45;
  auto data = test::pattern_stack(n, ny, nx);
  std::string file = dir / "t.h5";
  test::write_stack(file, data, n, ny, nx, [](hid_t dcpl) {
    hsize_t c[3] = {3, 16, 20};  // 3 frames per chunk, partial edge chunks in y, x and frames
    H5Pset_chunk(dcpl, 3, c);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 1);
  });
  auto src = open_scan(file);
  ASSERT_TRUE(src->info().chunk_direct);
  EXPECT_TRUE(src->concurrent_reads());
  EXPECT_EQ(src->frames_per_read(), 3);
  std::vector<std::int64_t> order = {0, 1, 2, 3, 4, 5, 6, 2, 5};
  for (int readers : {1, 2, 3}) {
    FrameStream stream(*src, order, 2, readers);
    Frame f;
    for (std::int64_t k : order) {
      ASSERT_TRUE(stream.next(f));
      ASSERT_TRUE(f.ok()) << f.error;
      ASSERT_EQ(f.meta.index, k);
      EXPECT_TRUE(std::equal(f.pixels.begin(), f.pixels.end(), data.begin() + k * ny * nx)) << "frame " << k;
    }
    EXPECT_FALSE(stream.next(f));
  }
}

TEST(FrameStream, StreamsAnHdf5Stack) {
  test::TempDir dir;
  const int n = 6, ny = 16, nx = 16;
  auto data = test::pattern_stack(n, ny, nx);
  std::string file = dir / "s.h5";
  test::write_stack(file, data, n, ny, nx, test::frame_chunks(ny, nx, 1));
  auto src = open_scan(file);
  FrameStream stream(*src, {5, 0, 3}, 2);
  Frame f;
  for (std::int64_t k : {5, 0, 3}) {
    ASSERT_TRUE(stream.next(f));
    ASSERT_TRUE(f.ok()) << f.error;
    EXPECT_EQ(f.meta.index, k);
    EXPECT_EQ(f.pixels[17], test::pattern(k, 1, 1));
  }
  EXPECT_FALSE(stream.next(f));
}

}  // namespace
}  // namespace laueproc

namespace laueproc {
namespace {

// Per-frame files holding several frames in one chunk: a reader's cached chunk row must never
// serve another file's frame (same frame numbers inside each file).
TEST(FrameStream, ChunkRowCacheNeverCrossesFiles) {
  test::TempDir dir;
  const int per = 3, ny = 12, nx = 10, files = 4;
  std::vector<std::vector<std::uint16_t>> data;
  std::string list_text;
  for (int i = 0; i < files; ++i) {
    data.push_back(test::pattern_stack(per, ny, nx));
    for (auto& v : data.back()) v = static_cast<std::uint16_t>(v + 1000 * i);
    const std::string file = dir / ("f_" + std::to_string(i) + ".h5");
    h5::Handle f = h5::create(file);
    test::write_dataset(f, "/entry1/data/data", H5T_NATIVE_UINT16, data.back().data(), {per, ny, nx}, [](hid_t dcpl) {
      hsize_t c[3] = {per, ny, nx};
      H5Pset_chunk(dcpl, 3, c);
      H5Pset_deflate(dcpl, 1);
    });
  }
  auto src = open_scan(dir.path());
  ASSERT_EQ(src->info().n_frames, per * files);
  ASSERT_TRUE(src->info().chunk_direct);
  std::vector<std::int64_t> order;
  for (std::int64_t k = 0; k < per * files; ++k) order.push_back(k);
  for (int readers : {1, 2}) {
    FrameStream stream(*src, order, 2, readers);
    Frame f;
    for (std::int64_t k : order) {
      ASSERT_TRUE(stream.next(f));
      ASSERT_TRUE(f.ok()) << f.error;
      const auto& d = data[static_cast<std::size_t>(k / per)];
      EXPECT_TRUE(std::equal(f.pixels.begin(), f.pixels.end(), d.begin() + (k % per) * ny * nx)) << "frame " << k;
    }
  }
}

// The order may come one index at a time (an MPI rank's hand-outs): same order, any readers.
TEST(FrameStream, TakesItsOrderFromAFunction) {
  for (int readers : {1, 3})
    for (std::int64_t per_read : {1, 4}) {
      FakeSource src(60, -1, 1, true, per_read);
      std::vector<std::int64_t> order;
      for (std::int64_t i = 0; i < 60; ++i) order.push_back((i * 17) % 60);
      std::size_t next = 0;
      FrameStream stream(src, [&](std::int64_t& index) {
        if (next >= order.size()) return false;
        index = order[next++];
        return true;
      }, 4, readers);
      Frame f;
      for (std::int64_t expected : order) {
        ASSERT_TRUE(stream.next(f)) << readers << " " << per_read;
        EXPECT_EQ(f.meta.index, expected);
      }
      EXPECT_FALSE(stream.next(f));
    }
}

// A function that blocks (waiting for a hand-out) is released by its owner; the stream then ends.
TEST(FrameStream, BlockedOrderFunctionIsReleased) {
  FakeSource src(10);
  std::mutex m;
  std::condition_variable cv;
  bool released = false;
  std::int64_t given = 0;
  auto next_index = [&](std::int64_t& index) {
    std::unique_lock<std::mutex> lock(m);
    if (given < 3) {
      index = given++;
      return true;
    }
    cv.wait(lock, [&] { return released; });  // no more hand-outs until released
    return false;
  };
  {
    FrameStream stream(src, next_index, 4, 2);
    Frame f;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(stream.next(f));
    {
      std::lock_guard<std::mutex> lock(m);
      released = true;
    }
    cv.notify_all();
    EXPECT_FALSE(stream.next(f));
  }
  EXPECT_EQ(src.reads.load(), 3);
}

}  // namespace
}  // namespace laueproc
