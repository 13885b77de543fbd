// Frame memory (io/frame_memory.hpp, Frame::block): the seam through which the reader writes
// frames straight into a backend's memory (pinned for the CUDA backend). Ground truth: the
// pattern stacks the fixtures write; the same frames read into lent blocks, into ordinary memory,
// and still compressed into blocks must all give those pixels.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "io/decode.hpp"
#include "io/fixtures.hpp"
#include "io/frame_memory.hpp"
#include "laueproc/io.hpp"

namespace laueproc {
namespace {

using test::TempDir;

// A pool over ordinary memory that counts what it hands out, to see blocks come back.
std::shared_ptr<io::BlockPool> counting_pool(std::size_t max_bytes, std::set<void*>& live) {
  io::BlockAllocator a;
  a.allocate = [&live](std::size_t n) {
    void* p = std::malloc(n);
    live.insert(p);
    return p;
  };
  a.release = [&live](void* p) {
    live.erase(p);
    std::free(p);
  };
  return std::make_shared<io::BlockPool>(max_bytes, std::move(a));
}

TEST(BlockPool, ReusesBlocksKeepsToItsBudgetAndFreesEverything) {
  std::set<void*> live;
  {
    auto pool = counting_pool(std::size_t{256} << 10, live);  // four 64 KiB granules
    auto a = pool->lend(1000);
    ASSERT_TRUE(a);
    EXPECT_GE(a->bytes(), 1000u);
    EXPECT_FALSE(a->page_locked());
    void* first = a->data();
    a.reset();  // back to the pool...
    auto b = pool->lend(2000);
    EXPECT_EQ(b->data(), first);  // ...and lent again, not allocated again
    EXPECT_EQ(pool->stats().allocated, 1u);
    auto c = pool->lend(std::size_t{64} << 10);
    auto d = pool->lend(std::size_t{128} << 10);
    ASSERT_TRUE(c && d);
    EXPECT_FALSE(pool->lend(1));  // 256 KiB lent: the budget is used up
    EXPECT_EQ(pool->stats().refused, 1u);
    c.reset();
    // A free block too small for the request is dropped to make room for one that fits.
    auto e = pool->lend(std::size_t{100} << 10);
    EXPECT_FALSE(e);  // 64 KiB free + 0 unallocated < 128 KiB rounded up
    b.reset();
    e = pool->lend(std::size_t{100} << 10);
    EXPECT_TRUE(e);
    EXPECT_LE(pool->stats().held_bytes, std::size_t{256} << 10);
    pool.reset();  // lent blocks outlive their pool...
    EXPECT_FALSE(live.empty());
    d.reset();
    e.reset();
  }
  EXPECT_TRUE(live.empty());  // ...and are freed when they come back
}

TEST(FrameMemory, FramesInBlocksCopyAndMoveLikeOrdinaryOnes) {
  auto pool = io::make_host_frame_memory(std::size_t{1} << 20);
  Frame f;
  f.width = 5;
  f.height = 3;
  f.memory = pool;
  std::uint16_t* p = f.prepare_pixels();
  for (int i = 0; i < 15; ++i) p[i] = static_cast<std::uint16_t>(100 + i);
  ASSERT_TRUE(f.block);
  EXPECT_TRUE(f.pixels.empty());
  EXPECT_TRUE(f.has_pixels());
  EXPECT_EQ(f.view().at(4, 2), 114);
  const Frame copy = f;  // a copy holds its pixels in ordinary memory
  EXPECT_FALSE(copy.block);
  EXPECT_EQ(copy.pixels.size(), 15u);
  EXPECT_EQ(copy.view().at(4, 2), 114);
  Frame moved = std::move(f);
  EXPECT_TRUE(moved.block);
  EXPECT_EQ(moved.view().at(0, 0), 100);
  // The same frame read still compressed keeps the block (a frame's size serves any chunk).
  void* block = moved.block->data();
  std::uint8_t* chunk = moved.prepare_encoded(EncodedFrame::Codec::zlib, 7);
  EXPECT_EQ(static_cast<void*>(chunk), block);
  EXPECT_TRUE(moved.is_encoded());
  EXPECT_FALSE(moved.has_pixels());
  EXPECT_EQ(moved.encoded_size(), 7u);
  moved.drop_data();
  EXPECT_FALSE(moved.is_encoded());
  // A frame that failed after growing (a per-file scan's odd file) keeps its small block: a copy
  // must not read width x height pixels out of it.
  moved.width = 4000;
  moved.height = 4000;
  moved.error = "wrong size";
  const Frame failed_copy = moved;
  EXPECT_TRUE(failed_copy.pixels.empty());
  EXPECT_FALSE(failed_copy.has_pixels());
}

// Reads every frame of `path` through FrameStream (2 readers) with `memory`; checks them against
// the pattern; returns how many lay in lent blocks.
int read_all_and_check(const std::string& path, int n, int ny, int nx, const std::shared_ptr<FrameMemory>& memory,
                       const ScanOptions& options = {}) {
  const auto data = test::pattern_stack(n, ny, nx);
  auto src = open_scan(path, options);
  std::vector<std::int64_t> order;
  for (int k = n - 1; k >= 0; --k) order.push_back(k);  // any order
  FrameStream stream(*src, order, 4, 2, memory);
  Frame f;
  int in_blocks = 0, seen = 0;
  const std::size_t pixels = static_cast<std::size_t>(ny) * nx;
  std::vector<std::uint16_t> decoded(pixels);
  while (stream.next(f)) {
    const std::int64_t k = order[static_cast<std::size_t>(seen++)];
    EXPECT_TRUE(f.ok()) << f.error;
    const std::uint16_t* px = f.pixel_data();
    if (f.is_encoded()) {  // still compressed: decode the stored chunk as a device would
      auto* out = reinterpret_cast<std::uint8_t*>(decoded.data());
      if (f.encoded.codec == EncodedFrame::Codec::zlib)
        io::decode_zlib(f.encoded_data(), f.encoded_size(), out, pixels * 2);
      else
        io::decode_bitshuffle_lz4(f.encoded_data(), f.encoded_size(), out, pixels * 2, 2);
      px = decoded.data();
    } else {
      EXPECT_TRUE(f.has_pixels());
    }
    EXPECT_EQ(std::memcmp(px, data.data() + static_cast<std::size_t>(k) * pixels, pixels * 2), 0) << path << " frame " << k;
    in_blocks += f.block != nullptr;
  }
  EXPECT_EQ(seen, n);
  return in_blocks;
}

TEST(FrameMemory, ReaderWritesStraightIntoLentBlocksSamePixels) {
  TempDir dir;
  const int n = 6, ny = 24, nx = 40;
  const auto data = test::pattern_stack(n, ny, nx);
  const std::string raw = dir / "raw.h5", gz = dir / "gz.h5", tiles = dir / "tiles.h5";
  test::write_stack(raw, data, n, ny, nx);
  test::write_stack(gz, data, n, ny, nx, test::frame_chunks(ny, nx, 4, true));
  test::write_stack(tiles, data, n, ny, nx, [](hid_t dcpl) {
    hsize_t c[3] = {1, 8, 8};
    H5Pset_chunk(dcpl, 3, c);
    H5Pset_deflate(dcpl, 1);
  });
  const std::filesystem::path per = dir / "per";
  std::filesystem::create_directories(per);
  for (int k = 0; k < n; ++k)
    test::write_per_frame((per / ("f_" + std::to_string(k) + ".h5")).string(),
                          std::vector<std::uint16_t>(data.begin() + k * ny * nx, data.begin() + (k + 1) * ny * nx), ny,
                          nx, k, 0);
  for (const std::string& path : std::vector<std::string>{raw, gz, tiles, per.string()}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(read_all_and_check(path, n, ny, nx, nullptr), 0);  // the CPU path: ordinary memory
    EXPECT_EQ(read_all_and_check(path, n, ny, nx, io::make_host_frame_memory(std::size_t{8} << 20)), n);
    // A budget of one block: frames that find it lent fall back to ordinary memory (how many do
    // depends on the readers' timing: frames keep their blocks as they circulate), just as correct;
    // a budget below one block lends nothing.
    read_all_and_check(path, n, ny, nx, io::make_host_frame_memory(std::size_t{64} << 10));
    EXPECT_EQ(read_all_and_check(path, n, ny, nx, io::make_host_frame_memory(1024)), 0);
  }
}

TEST(FrameMemory, StillCompressedChunksLandInBlocksAndSayWhyNot) {
  TempDir dir;
  const int n = 5, ny = 24, nx = 40;
  const auto data = test::pattern_stack(n, ny, nx);
  const std::string raw = dir / "raw.h5", gz = dir / "gz.h5", tiles = dir / "tiles.h5", shuffled = dir / "sh.h5";
  test::write_stack(raw, data, n, ny, nx);
  test::write_stack(gz, data, n, ny, nx, test::frame_chunks(ny, nx, 4));
  test::write_stack(shuffled, data, n, ny, nx, test::frame_chunks(ny, nx, 4, true));
  test::write_stack(tiles, data, n, ny, nx, [](hid_t dcpl) {
    hsize_t c[3] = {1, 8, 8};
    H5Pset_chunk(dcpl, 3, c);
    H5Pset_deflate(dcpl, 1);
  });
  ScanOptions keep;
  keep.keep_encoded = true;
  auto memory = io::make_host_frame_memory(std::size_t{8} << 20);
  EXPECT_EQ(open_scan(gz)->info().device_decodable, "deflate");
  EXPECT_EQ(read_all_and_check(gz, n, ny, nx, memory, keep), n);
  // What the device cannot take arrives decoded, and the scan says why.
  EXPECT_EQ(open_scan(tiles)->info().device_decode_note, "not one chunk per frame");
  EXPECT_EQ(open_scan(shuffled)->info().device_decode_note, "more than one filter");
  EXPECT_EQ(open_scan(raw)->info().device_decode_note, "not chunked");
  EXPECT_TRUE(open_scan(raw)->info().device_decodable.empty());
  for (const std::string& path : std::vector<std::string>{tiles, shuffled, raw}) EXPECT_EQ(read_all_and_check(path, n, ny, nx, memory, keep), n);
  // bitshuffle/LZ4 (h5py fixture): its chunk arrives whole.
  ScanOptions b = keep;
  b.dataset = "/uint16_frame";
  auto bs = open_scan(std::string(LAUEPROC_TEST_DATA_DIR) + "/io/bitshuffle_h5py.h5", b);
  EXPECT_EQ(bs->info().device_decodable, "bitshuffle/LZ4");
  Frame f;
  f.memory = memory;
  bs->read(1, f);
  ASSERT_TRUE(f.ok()) << f.error;
  ASSERT_TRUE(f.block);
  ASSERT_EQ(f.encoded.codec, EncodedFrame::Codec::bitshuffle_lz4);
  std::vector<std::uint16_t> px(21 * 27);
  io::decode_bitshuffle_lz4(f.encoded_data(), f.encoded_size(), reinterpret_cast<std::uint8_t*>(px.data()), px.size() * 2, 2);
  auto plain = open_scan(std::string(LAUEPROC_TEST_DATA_DIR) + "/io/bitshuffle_h5py.h5", [] {
    ScanOptions o;
    o.dataset = "/uint16_frame";
    return o;
  }());
  Frame g;
  plain->read(1, g);
  ASSERT_TRUE(g.ok()) << g.error;
  EXPECT_EQ(std::memcmp(px.data(), g.pixel_data(), px.size() * 2), 0);
}

}  // namespace
}  // namespace laueproc
