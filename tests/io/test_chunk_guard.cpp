// Damaged stored chunks fail their frame with a reason, nothing crashes: read chunk-direct
// (laueproc's decoders) and through H5Dread, where io/chunk_guard refuses what HDF5's own
// pipeline or a filter plugin would read out of bounds.
// The cases are the fuzzer's findings (tests/fuzz/corpus/*/regression-*), rebuilt here with
// known damage so that every build checks them, not only the clang fuzz build.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "io/fixtures.hpp"
#include "io/h5.hpp"
#include "laueproc/io.hpp"

namespace laueproc {
namespace {

// A 2 x ny x nx uint16 stack chunked by frame with `filters`; frame 0's stored chunk is `stored`
// (written as is with H5Dwrite_chunk), frame 1 is left unwritten.
void write_chunk_stack(const std::string& file, int ny, int nx, const std::function<void(hid_t)>& filters,
                       const std::vector<unsigned char>& stored) {
  h5::Handle f = h5::create(file);
  h5::make_groups(f, "/entry/data", file);
  const hsize_t dims[3] = {2, static_cast<hsize_t>(ny), static_cast<hsize_t>(nx)};
  const hsize_t chunk[3] = {1, dims[1], dims[2]};
  h5::Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, 3, chunk);
  if (filters) filters(dcpl);
  h5::Handle ds(H5Dcreate2(f, "/entry/data/data", H5T_NATIVE_UINT16, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  ASSERT_TRUE(ds.valid());
  const hsize_t offset[3] = {0, 0, 0};
  ASSERT_GE(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset, stored.size(), stored.data()), 0);
}

std::string frame0_error(const std::string& file, bool direct) {
  ScanOptions o;
  o.chunk_direct = direct;
  auto src = open_scan(file, o);
  Frame f;
  src->read(0, f);
  return f.error;
}

TEST(ChunkGuard, UnfilteredChunkStoredShortIsAFrameError) {
  test::TempDir dir;
  const std::string file = dir / "short.h5";
  write_chunk_stack(file, 16, 16, {}, std::vector<unsigned char>(272, 7));  // 512 bytes expected
  for (bool direct : {true, false}) {
    const std::string error = frame0_error(file, direct);
    EXPECT_NE(error.find("272 bytes"), std::string::npos) << "direct " << direct << ": " << error;
    EXPECT_NE(error.find(file), std::string::npos) << error;
  }
}

TEST(ChunkGuard, ShuffledChunkStoredShortIsAFrameError) {
  test::TempDir dir;
  const std::string file = dir / "shuffle.h5";
  write_chunk_stack(file, 8, 8, [](hid_t dcpl) { H5Pset_shuffle(dcpl); }, std::vector<unsigned char>(100, 1));
  for (bool direct : {true, false}) EXPECT_FALSE(frame0_error(file, direct).empty()) << "direct " << direct;
}

TEST(ChunkGuard, DeflateChunkDecodingShortIsAFrameError) {
  test::TempDir dir;
  const std::string file = dir / "deflate.h5";
  std::vector<unsigned char> half(256, 3), packed(1024);
  uLongf n = packed.size();
  ASSERT_EQ(compress2(packed.data(), &n, half.data(), half.size(), 4), Z_OK);
  packed.resize(n);
  write_chunk_stack(file, 16, 16, [](hid_t dcpl) { H5Pset_deflate(dcpl, 4); }, packed);  // 512 expected
  for (bool direct : {true, false}) {
    const std::string error = frame0_error(file, direct);
    EXPECT_NE(error.find("256"), std::string::npos) << "direct " << direct << ": " << error;
  }
}

std::vector<unsigned char> bitshuffle_header(std::uint64_t total, std::uint32_t block) {
  std::vector<unsigned char> h(12);
  for (int i = 0; i < 8; ++i) h[static_cast<std::size_t>(i)] = static_cast<unsigned char>(total >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) h[static_cast<std::size_t>(8 + i)] = static_cast<unsigned char>(block >> (24 - 8 * i));
  return h;
}

TEST(ChunkGuard, DamagedBitshuffleChunksAreFrameErrors) {
  h5::init();
  if (H5Zfilter_avail(32008) <= 0) GTEST_SKIP() << "no bitshuffle filter plugin";
  test::TempDir dir;
  auto bitshuffle = [](hid_t dcpl) {
    const unsigned cd[2] = {0, 2};
    H5Pset_filter(dcpl, 32008, H5Z_FLAG_MANDATORY, 2, cd);
  };
  struct Case {
    const char* name;
    std::vector<unsigned char> stored;
    const char* reason;
  };
  std::vector<Case> cases;
  // The header claims 0x0f0f... bytes: the plugin would allocate that.
  cases.push_back({"huge", bitshuffle_header(0x0f0f000000000000ull, 0), "header says"});
  // Right size, one block whose LZ4 stream is garbage that LZ4_decompress_fast reads past.
  auto garbage = bitshuffle_header(512, 0);
  for (unsigned char b : {0x00, 0x00, 0x00, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) garbage.push_back(b);
  cases.push_back({"lz4", garbage, "corrupt LZ4 block"});
  // A block size that runs past the chunk.
  auto past = bitshuffle_header(512, 0);
  for (unsigned char b : {0x00, 0x01, 0x00, 0x00, 0x11}) past.push_back(b);
  cases.push_back({"past", past, "truncated"});
  for (const Case& c : cases) {
    const std::string file = dir / (std::string(c.name) + ".h5");
    write_chunk_stack(file, 16, 16, bitshuffle, c.stored);
    for (bool direct : {true, false}) {  // laueproc's decoder; HDF5's plugin after chunk_guard
      const std::string error = frame0_error(file, direct);
      EXPECT_NE(error.find(c.reason), std::string::npos) << c.name << ", direct " << direct << ": " << error;
    }
  }
  // The fuzzer's own file (an LZ4 block overflowing inside the plugin): frame 1 is refused.
  const std::string found = std::string(LAUEPROC_SOURCE_DIR) + "/tests/fuzz/corpus/h5_file/regression-bitshuffle-lz4-block-overflow.h5";
  for (bool direct : {true, false}) {
    ScanOptions o;
    o.chunk_direct = direct;
    auto src = open_scan(found, o);
    Frame f;
    src->read(1, f);
    EXPECT_NE(f.error.find("corrupt LZ4 block"), std::string::npos) << "direct " << direct << ": " << f.error;
  }
}

// The fuzzer's file whose bitshuffle options say 0-byte elements: the plugin divided by it.
TEST(ChunkGuard, BitshuffleOptionsWithElementSizeZeroAreRefused) {
  h5::init();
  if (H5Zfilter_avail(32008) <= 0) GTEST_SKIP() << "no bitshuffle filter plugin";
  const std::string found =
      std::string(LAUEPROC_SOURCE_DIR) + "/tests/fuzz/corpus/h5_file/regression-bitshuffle-element-size-0.h5";
  ScanOptions o;
  o.chunk_direct = false;  // the plugin's path
  auto src = open_scan(found, o);
  Frame f;
  src->read(0, f);
  EXPECT_NE(f.error.find("bitshuffle filter options give 0-byte elements"), std::string::npos) << f.error;
}

TEST(ChunkGuard, GoodBitshuffleFramesStillRead) {
  h5::init();
  if (H5Zfilter_avail(32008) <= 0) GTEST_SKIP() << "no bitshuffle filter plugin";
  test::TempDir dir;
  const std::string file = dir / "good.h5";
  const auto data = test::pattern_stack(3, 40, 24);
  test::write_stack(file, data, 3, 40, 24, [](hid_t dcpl) {
    const hsize_t chunk[3] = {1, 40, 24};
    H5Pset_chunk(dcpl, 3, chunk);
    const unsigned cd[2] = {0, 2};
    H5Pset_filter(dcpl, 32008, H5Z_FLAG_MANDATORY, 2, cd);
  });
  for (bool direct : {true, false}) {
    ScanOptions o;
    o.chunk_direct = direct;
    auto src = open_scan(file, o);
    Frame f;
    for (int k = 0; k < 3; ++k) {
      src->read(k, f);
      ASSERT_TRUE(f.ok()) << f.error;
      EXPECT_TRUE(std::equal(f.pixels.begin(), f.pixels.end(), data.begin() + k * 40 * 24)) << "frame " << k;
    }
  }
}

}  // namespace
}  // namespace laueproc
