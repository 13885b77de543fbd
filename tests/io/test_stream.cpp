// FrameStream: order, early destruction, exception propagation, with a real HDF5 source too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "io/fixtures.hpp"
#include "laueproc/io.hpp"

namespace laueproc {
namespace {

// A source whose frame k holds the value k; throws at `throw_at`; optional delay per read.
class FakeSource : public FrameSource {
 public:
  explicit FakeSource(std::int64_t n, std::int64_t throw_at = -1, int delay_ms = 0)
      : throw_at_(throw_at), delay_ms_(delay_ms) {
    info_.n_frames = n;
    info_.width = 4;
    info_.height = 2;
  }
  const ScanInfo& info() const override { return info_; }
  void read(std::int64_t index, Frame& out) override {
    ++reads;
    if (delay_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    if (index == throw_at_) throw InputError("fake.h5", "disk vanished");
    out.meta = FrameMeta{};
    out.meta.index = index;
    out.width = 4;
    out.height = 2;
    out.error.clear();
    out.pixels.assign(8, static_cast<std::uint16_t>(index));
  }
  std::atomic<int> reads{0};

 private:
  ScanInfo info_;
  std::int64_t throw_at_;
  int delay_ms_;
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
