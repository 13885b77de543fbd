// Frame input: stacks, per-frame files, dtypes, chunk-direct decoding, filters, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include "io/fixtures.hpp"
#include "io/scan.hpp"
#include "laueproc/io.hpp"

namespace laueproc {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

// Expects open_scan to throw InputError whose message holds every fragment.
void expect_input_error(const std::string& path, const std::vector<std::string>& fragments,
                        const ScanOptions& options = {}) {
  try {
    open_scan(path, options);
    ADD_FAILURE() << "no error opening " << path;
  } catch (const InputError& e) {
    std::string what = e.what();
    ::testing::Test::RecordProperty("message", what);  // visible with --gtest_output=xml
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const auto& f : fragments) EXPECT_NE(what.find(f), std::string::npos) << "'" << f << "' not in: " << what;
  }
}

void expect_frame_equals(const Frame& f, const std::vector<std::uint16_t>& data, std::int64_t k, int ny, int nx) {
  ASSERT_TRUE(f.ok()) << f.error;
  ASSERT_EQ(f.width, nx);
  ASSERT_EQ(f.height, ny);
  ASSERT_EQ(f.pixels.size(), static_cast<std::size_t>(ny) * nx);
  const std::size_t off = static_cast<std::size_t>(k) * ny * nx;
  EXPECT_TRUE(std::equal(f.pixels.begin(), f.pixels.end(), data.begin() + static_cast<std::ptrdiff_t>(off)))
      << "frame " << k << " differs";
}

TEST(Stack, ReadsEveryFramePixelExact) {
  TempDir dir;
  const int n = 4, ny = 40, nx = 56;
  auto data = test::pattern_stack(n, ny, nx);
  std::string file = dir / "stack.h5";
  test::write_stack(file, data, n, ny, nx);
  auto src = open_scan(file);
  const ScanInfo& info = src->info();
  EXPECT_EQ(info.layout, ScanLayout::stack);
  EXPECT_EQ(info.n_frames, n);
  EXPECT_EQ(info.height, ny);
  EXPECT_EQ(info.width, nx);
  EXPECT_EQ(info.dtype, "uint16");
  EXPECT_EQ(info.dataset, "/entry/data/data");
  EXPECT_TRUE(info.chunk.empty());
  EXPECT_TRUE(info.chunk_direct);  // contiguous: pread at the dataset's file offset
  EXPECT_FALSE(info.has_positions);
  Frame f;
  for (int k = n - 1; k >= 0; --k) {  // random access
    src->read(k, f);
    expect_frame_equals(f, data, k, ny, nx);
    EXPECT_EQ(f.meta.index, k);
    EXPECT_EQ(f.meta.index_in_file, k);
    EXPECT_EQ(f.meta.source, file);
    EXPECT_FALSE(f.meta.has_position);
  }
  EXPECT_THROW(src->read(n, f), std::out_of_range);
  EXPECT_TRUE(src->warnings().empty());
}

TEST(Stack, Positions) {
  TempDir dir;
  const int n = 3, ny = 8, nx = 8;
  auto data = test::pattern_stack(n, ny, nx);
  std::string file = dir / "pos.h5";
  test::write_stack(file, data, n, ny, nx);
  {
    h5::Handle f = h5::open_rw(file);
    h5::write_vector(f, "/entry/sample/x", {1.5, 2.5, 3.5}, file);
    h5::write_vector(f, "/entry/sample/y", {-1.0, -2.0, -3.0}, file);
  }
  auto src = open_scan(file);
  EXPECT_TRUE(src->info().has_positions);
  Frame f;
  src->read(1, f);
  EXPECT_TRUE(f.meta.has_position);
  EXPECT_DOUBLE_EQ(f.meta.x_um, 2.5);
  EXPECT_DOUBLE_EQ(f.meta.y_um, -2.0);
  auto range = io::position_range(src->info(), {});
  EXPECT_TRUE(range.present);
  EXPECT_DOUBLE_EQ(range.x_min, 1.5);
  EXPECT_DOUBLE_EQ(range.y_min, -3.0);

  std::string bad = dir / "badpos.h5";
  test::write_stack(bad, data, n, ny, nx);
  {
    h5::Handle f2 = h5::open_rw(bad);
    h5::write_vector(f2, "/entry/sample/x", {1.0, 2.0}, bad);
    h5::write_vector(f2, "/entry/sample/y", {1.0, 2.0, 3.0}, bad);
  }
  expect_input_error(bad, {bad, "/entry/sample/x", "2 values", "3 frames"});
}

TEST(Stack, SingleImageAndFallbackPaths) {
  TempDir dir;
  const int ny = 16, nx = 24;
  auto data = test::pattern_stack(1, ny, nx);
  std::string file = dir / "single.h5";
  {
    h5::Handle f = h5::create(file);
    test::write_dataset(f, "/entry/data/data", H5T_NATIVE_UINT16, data.data(), {ny, nx});
  }
  auto src = open_scan(file);
  EXPECT_EQ(src->info().n_frames, 1);
  Frame f;
  src->read(0, f);
  expect_frame_equals(f, data, 0, ny, nx);

  std::string ex = dir / "exchange.h5";
  auto data3 = test::pattern_stack(2, ny, nx);
  test::write_stack(ex, data3, 2, ny, nx, {}, "/exchange/data");
  auto src2 = open_scan(ex);
  EXPECT_EQ(src2->info().dataset, "/exchange/data");
  src2->read(1, f);
  expect_frame_equals(f, data3, 1, ny, nx);

  ScanOptions opt;
  opt.dataset = "/exchange/data";
  EXPECT_EQ(open_scan(ex, opt)->info().n_frames, 2);
}

// ---- per-frame files ---------------------------------------------------------------------------

TEST(NaturalOrder, LastNumberNumerically) {
  EXPECT_TRUE(io::natural_less("a/name_2.h5", "a/name_10.h5"));
  EXPECT_FALSE(io::natural_less("a/name_10.h5", "a/name_2.h5"));
  EXPECT_TRUE(io::natural_less("run7_0009.h5", "run1_0010.h5"));  // the last number decides
  EXPECT_TRUE(io::natural_less("x_000000000000000000000099.h5", "x_100.h5"));  // no overflow
  EXPECT_TRUE(io::natural_less("nonumber.h5", "n_1.h5"));
}

class PerFrame : public ::testing::Test {
 protected:
  static constexpr int kFiles = 12, ny = 10, nx = 14;
  void SetUp() override {
    for (int i = 1; i <= kFiles; ++i) {  // numbers 1..12, unpadded: lexical order would be wrong
      auto d = test::pattern_stack(1, ny, nx);
      for (auto& v : d) v = static_cast<std::uint16_t>(v + i);
      write(dir / ("scan_" + std::to_string(i) + ".h5"), d, i);
    }
  }
  void write(const std::string& file, const std::vector<std::uint16_t>& d, int i) {
    test::write_per_frame(file, d, ny, nx, 10.0 * i, -5.0 * i);
  }
  void check_scan(FrameSource& src) {
    const ScanInfo& info = src.info();
    EXPECT_EQ(info.layout, ScanLayout::per_frame_files);
    ASSERT_EQ(info.n_frames, kFiles);
    ASSERT_EQ(info.files.size(), static_cast<std::size_t>(kFiles));
    EXPECT_EQ(fs::path(info.files[1]).filename(), "scan_2.h5");
    EXPECT_EQ(fs::path(info.files[9]).filename(), "scan_10.h5");
    EXPECT_TRUE(info.has_positions);
    Frame f;
    for (int k = 0; k < kFiles; ++k) {
      src.read(k, f);
      ASSERT_TRUE(f.ok()) << f.error;
      EXPECT_EQ(f.pixels[5], static_cast<std::uint16_t>(test::pattern(0, 0, 5) + k + 1));
      EXPECT_EQ(f.meta.source, info.files[static_cast<std::size_t>(k)]);
      EXPECT_TRUE(f.meta.has_position);
      EXPECT_DOUBLE_EQ(f.meta.x_um, 10.0 * (k + 1));
      EXPECT_DOUBLE_EQ(f.meta.y_um, -5.0 * (k + 1));
    }
  }
  TempDir dir;
};

TEST_F(PerFrame, Directory) { check_scan(*open_scan(dir.path())); }

TEST_F(PerFrame, Glob) {
  std::ofstream(dir / "notes.txt") << "not a frame\n";
  check_scan(*open_scan(dir / "scan_*.h5"));
}

TEST_F(PerFrame, ListRelativeToItsFolder) {
  fs::create_directory(dir / "lists");
  std::ofstream list(dir / "lists/frames.txt");
  list << "# frames of scan\n";
  for (int i = kFiles; i >= 1; --i) list << "../scan_" << i << ".h5\n";  // reversed: sorted on open
  list.close();
  check_scan(*open_scan(dir / "lists/frames.txt"));
}

TEST_F(PerFrame, SingleFileIsOneFrameScan) {
  auto src = open_scan(dir / "scan_3.h5");
  EXPECT_EQ(src->info().layout, ScanLayout::per_frame_files);
  Frame f;
  src->read(0, f);
  EXPECT_DOUBLE_EQ(f.meta.x_um, 30.0);
}

TEST_F(PerFrame, SizeMismatchAndTruncatedFileAreFrameErrors) {
  auto small = test::pattern_stack(1, ny, nx - 1);
  std::string odd = dir / "scan_4.h5";
  test::write_per_frame(odd, small, ny, nx - 1, 0, 0);
  std::string cut = dir / "scan_7.h5";
  fs::resize_file(cut, fs::file_size(cut) / 2);
  auto src = open_scan(dir.path());
  Frame f;
  src->read(3, f);
  EXPECT_FALSE(f.ok());
  EXPECT_TRUE(f.pixels.empty());
  EXPECT_EQ(f.meta.index, 3);
  EXPECT_EQ(f.meta.source, odd);
  EXPECT_NE(f.error.find(odd), std::string::npos) << f.error;
  EXPECT_NE(f.error.find("differs"), std::string::npos) << f.error;
  src->read(6, f);
  EXPECT_FALSE(f.ok());
  EXPECT_NE(f.error.find(cut), std::string::npos) << f.error;
  EXPECT_NE(f.error.find("truncated"), std::string::npos) << f.error;
  ::testing::Test::RecordProperty("truncated_error", f.error);
  src->read(7, f);  // the run goes on
  EXPECT_TRUE(f.ok()) << f.error;
}

TEST(PerFrame3D, EachFileContributesItsFrames) {
  TempDir dir;
  const int ny = 6, nx = 9, n = 3;
  auto a = test::pattern_stack(n, ny, nx);
  auto b = test::pattern_stack(2 * n, ny, nx);
  std::vector<std::uint16_t> b2(b.begin() + static_cast<std::ptrdiff_t>(a.size()), b.end());
  test::write_per_frame(dir / "m_1.h5", a, ny, nx, 1.0, 2.0, n);
  test::write_per_frame(dir / "m_2.h5", b2, ny, nx, 3.0, 4.0, n);
  auto src = open_scan(dir.path());
  ASSERT_EQ(src->info().n_frames, 2 * n);
  Frame f;
  for (int k = 0; k < 2 * n; ++k) {
    src->read(k, f);
    expect_frame_equals(f, b, k, ny, nx);
    EXPECT_EQ(f.meta.index_in_file, k % n);
    EXPECT_DOUBLE_EQ(f.meta.x_um, k < n ? 1.0 : 3.0);
  }
}

// ---- dtypes ---------------------------------------------------------------------------------------

TEST(Dtype, Int32ClippedToUint16) {
  TempDir dir;
  std::vector<std::int32_t> v = {-5, 0, 123, 65535, 65536, 70000, 7, 8};
  std::string file = dir / "i32.h5";
  {
    h5::Handle f = h5::create(file);
    test::write_dataset(f, "/entry/data/data", H5T_NATIVE_INT32, v.data(), {1, 2, 4});
  }
  auto src = open_scan(file);
  EXPECT_EQ(src->info().dtype, "int32");
  Frame f;
  src->read(0, f);
  ASSERT_TRUE(f.ok()) << f.error;
  std::vector<std::uint16_t> want = {0, 0, 123, 65535, 65535, 65535, 7, 8};
  EXPECT_EQ(f.pixels, want);
  auto w = src->warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("clipped 3 pixels"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("int32"), std::string::npos) << w[0];
}

TEST(Dtype, Float32RoundedClippedNaNZero) {
  TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v = {1.4f, 2.6f, -0.7f, 1e6f, nan, 65534.6f};
  for (bool chunked : {false, true}) {
    std::string file = dir / (chunked ? "f32c.h5" : "f32.h5");
    {
      h5::Handle f = h5::create(file);
      test::write_dataset(f, "/entry/data/data", H5T_NATIVE_FLOAT, v.data(), {1, 2, 3},
                          chunked ? test::frame_chunks(2, 3, 4, true) : std::function<void(hid_t)>{});
    }
    auto src = open_scan(file);
    EXPECT_EQ(src->info().dtype, "float32");
    EXPECT_TRUE(src->info().chunk_direct);  // contiguous or chunked: read without H5Dread
    Frame f;
    src->read(0, f);
    ASSERT_TRUE(f.ok()) << f.error;
    std::vector<std::uint16_t> want = {1, 3, 0, 65535, 0, 65535};
    EXPECT_EQ(f.pixels, want);
    auto w = src->warnings();
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].find("clipped 2 pixels"), std::string::npos) << w[0];
    EXPECT_NE(w[0].find("1 NaN"), std::string::npos) << w[0];
  }
}

TEST(Dtype, BigEndianUint16ReadsCorrectly) {
  TempDir dir;
  auto data = test::pattern_stack(2, 4, 5);
  std::string file = dir / "be.h5";
  {
    h5::Handle f = h5::create(file);
    hsize_t dims[3] = {2, 4, 5};
    h5::Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    test::frame_chunks(4, 5, 1)(dcpl);
    h5::make_groups(f, "/entry/data", file);
    h5::Handle ds(H5Dcreate2(f, "/entry/data/data", H5T_STD_U16BE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
  }
  auto src = open_scan(file);
  EXPECT_FALSE(src->info().chunk_direct);  // stored bytes are not native: H5Dread converts
  Frame f;
  src->read(1, f);
  expect_frame_equals(f, data, 1, 4, 5);
}

// ---- chunk-direct vs H5Dread ----------------------------------------------------------------------

void compare_direct_and_hdf5(const std::string& file, int n, int ny, int nx, const std::vector<std::uint16_t>& data,
                             bool direct_expected) {
  ScanOptions plain;
  plain.chunk_direct = false;
  auto a = open_scan(file);
  auto b = open_scan(file, plain);
  EXPECT_EQ(a->info().chunk_direct, direct_expected);
  EXPECT_FALSE(b->info().chunk_direct);
  Frame fa, fb;
  for (int k = 0; k < n; ++k) {
    a->read(k, fa);
    b->read(k, fb);
    expect_frame_equals(fa, data, k, ny, nx);
    expect_frame_equals(fb, data, k, ny, nx);
  }
}

TEST(ChunkDirect, GzipAndShuffleMatchH5Dread) {
  TempDir dir;
  const int n = 3, ny = 64, nx = 48;
  auto data = test::pattern_stack(n, ny, nx);
  struct Case {
    const char* name;
    int level;
    bool shuffle;
    std::vector<std::string> filters;
  };
  for (const Case& c : {Case{"raw", -1, false, {}}, Case{"gz", 1, false, {"deflate(1)"}},
                        Case{"shgz", 6, true, {"shuffle(2)", "deflate(1)"}}}) {
    SCOPED_TRACE(c.name);
    std::string file = dir / (std::string(c.name) + ".h5");
    test::write_stack(file, data, n, ny, nx, test::frame_chunks(ny, nx, c.level, c.shuffle));
    auto src = open_scan(file);
    EXPECT_EQ(src->info().filters, c.filters);
    EXPECT_EQ(src->info().chunk, (std::vector<std::uint64_t>{1, static_cast<std::uint64_t>(ny), static_cast<std::uint64_t>(nx)}));
    compare_direct_and_hdf5(file, n, ny, nx, data, true);
  }
  // Chunks smaller than a frame: chunk-direct too, tile by tile.
  std::string tiles = dir / "tiles.h5";
  test::write_stack(tiles, data, n, ny, nx, [](hid_t dcpl) {
    hsize_t c[3] = {1, 16, 16};
    H5Pset_chunk(dcpl, 3, c);
    H5Pset_deflate(dcpl, 1);
  });
  compare_direct_and_hdf5(tiles, n, ny, nx, data, true);
}

TEST(ChunkDirect, Int32ShuffleDeflateConverted) {
  TempDir dir;
  const int n = 2, ny = 8, nx = 8;
  std::vector<std::int32_t> v(static_cast<std::size_t>(n) * ny * nx);
  std::vector<std::uint16_t> want(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<std::int32_t>(i * 1000) - 3000;
    want[i] = static_cast<std::uint16_t>(std::clamp<std::int64_t>(v[i], 0, 65535));
  }
  for (int level : {-1, 3}) {
    std::string file = dir / ("i32_" + std::to_string(level) + ".h5");
    {
      h5::Handle f = h5::create(file);
      test::write_dataset(f, "/entry/data/data", H5T_NATIVE_INT32, v.data(), {n, ny, nx},
                          test::frame_chunks(ny, nx, level, level >= 0));
    }
    compare_direct_and_hdf5(file, n, ny, nx, want, true);
  }
}

TEST(ChunkDirect, TwoDimensionalPerFrameFile) {
  TempDir dir;
  const int ny = 32, nx = 20;
  auto data = test::pattern_stack(1, ny, nx);
  std::string file = dir / "img_0001.h5";
  {
    h5::Handle f = h5::create(file);
    test::write_dataset(f, "/entry1/data/data", H5T_NATIVE_UINT16, data.data(), {ny, nx},
                        test::frame_chunks(ny, nx, 5, true, false));
  }
  auto src = open_scan(file);
  EXPECT_EQ(src->info().layout, ScanLayout::per_frame_files);
  EXPECT_FALSE(src->info().has_positions);
  compare_direct_and_hdf5(file, 1, ny, nx, data, true);
}

TEST(Filters, BitshuffleLz4ReadsEqual) {
  TempDir dir;
  const int n = 3, ny = 32, nx = 40;
  auto data = test::pattern_stack(n, ny, nx);
  std::string file = dir / "bslz4.h5";
  h5::init();
  try {
    test::write_stack(file, data, n, ny, nx, [](hid_t dcpl) {
      hsize_t c[3] = {1, 32, 40};
      H5Pset_chunk(dcpl, 3, c);
      const unsigned cd[2] = {0, 2};  // block size auto, LZ4
      H5Pset_filter(dcpl, 32008, H5Z_FLAG_MANDATORY, 2, cd);
    });
  } catch (const std::exception& e) {
    GTEST_SKIP() << "bitshuffle plugin (32008) not loadable: " << e.what();
  }
  auto src = open_scan(file);
  ASSERT_EQ(src->info().filters.size(), 1u);
  EXPECT_EQ(src->info().filters[0], "bitshuffle(32008)");
  EXPECT_TRUE(src->info().chunk_direct);  // own LZ4 + bit-unshuffle (io/decode.hpp)
  compare_direct_and_hdf5(file, n, ny, nx, data, true);
}

// ---- damaged frames -------------------------------------------------------------------------------

// A sound compact stack (the layout HDF5 keeps inside the object header) still reads pixel-exact.
TEST(Stack, CompactDatasetReadsEveryFrame) {
  TempDir dir;
  const std::string file = dir / "compact.h5";
  const int n = 2, ny = 8, nx = 8;
  const auto data = test::pattern_stack(n, ny, nx);
  {
    h5::Handle f = h5::create(file);
    h5::make_groups(f, "/entry/data", file);
    const hsize_t dims[3] = {n, ny, nx};
    h5::Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    ASSERT_GE(H5Pset_layout(dcpl, H5D_COMPACT), 0);
    h5::Handle ds(H5Dcreate2(f, "/entry/data/data", H5T_NATIVE_UINT16, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                  H5Dclose);
    ASSERT_TRUE(ds.valid());
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
  }
  auto src = open_scan(file);
  Frame f;
  for (int k = 0; k < n; ++k) {
    src->read(k, f);
    expect_frame_equals(f, data, k, ny, nx);
  }
}

// The fuzzer's file: a compact 2 x 16 x 16 uint16 dataset that stores 2 bytes. HDF5 1.10.8 read
// 1024 bytes out of that 2-byte buffer; the scan is refused when opened instead.
TEST(Corrupt, CompactDatasetStoredShortIsRefusedAtOpen) {
  const std::string file =
      std::string(LAUEPROC_SOURCE_DIR) + "/tests/fuzz/corpus/h5_file/regression-compact-dataset-stored-short.h5";
  for (bool direct : {true, false}) {
    ScanOptions opt;
    opt.chunk_direct = direct;
    try {
      open_scan(file, opt);
      ADD_FAILURE() << "opened";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("compact dataset of 2 stored bytes, but its shape needs 1024"), std::string::npos) << what;
      EXPECT_NE(what.find("regression-compact-dataset-stored-short.h5"), std::string::npos) << what;
    }
  }
}

TEST(Corrupt, DamagedChunkInTheMiddleIsAFrameError) {
  TempDir dir;
  const int n = 5, ny = 64, nx = 64;
  auto data = test::pattern_stack(n, ny, nx);
  std::string file = dir / "corrupt.h5";
  test::write_stack(file, data, n, ny, nx, test::frame_chunks(ny, nx, 6));
  haddr_t addr = 0;
  hsize_t size = 0;
  {
    h5::Handle f = h5::open_read(file);
    h5::Handle ds(H5Dopen2(f, "/entry/data/data", H5P_DEFAULT), H5Dclose);
    hsize_t offset[3] = {2, 0, 0};
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(ds, offset, &mask, &addr, &size), 0);
    ASSERT_GT(size, 64u);
  }
  {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(addr + size / 3));
    std::vector<char> junk(32, '\x5a');
    io.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "chunk-direct" : "H5Dread");
    ScanOptions opt;
    opt.chunk_direct = direct;
    auto src = open_scan(file, opt);
    Frame f;
    for (int k = 0; k < n; ++k) {
      EXPECT_NO_THROW(src->read(k, f));
      if (k == 2) {
        EXPECT_FALSE(f.ok());
        EXPECT_TRUE(f.pixels.empty());
        EXPECT_EQ(f.meta.index, 2);
        EXPECT_EQ(f.meta.source, file);
        EXPECT_NE(f.error.find(file), std::string::npos) << f.error;
        EXPECT_NE(f.error.find("frame 2"), std::string::npos) << f.error;
        ::testing::Test::RecordProperty(direct ? "direct_error" : "h5dread_error", f.error);
        EXPECT_EQ(f.error.find('\n'), std::string::npos) << f.error;
      } else {
        expect_frame_equals(f, data, k, ny, nx);
      }
    }
  }
}

// ---- bad input ----------------------------------------------------------------------------------

TEST(BadInput, ScanLevelErrorsNameTheFileAndProblem) {
  TempDir dir;
  auto data = test::pattern_stack(2, 4, 4);

  expect_input_error(dir / "missing.h5", {dir / "missing.h5", "no such file"});

  std::string junk = dir / "junk.h5";
  std::ofstream(junk) << "this is not hdf5 at all";
  expect_input_error(junk, {junk, "not an HDF5 file"});

  std::string nodata = dir / "nodata.h5";
  test::write_stack(nodata, data, 2, 4, 4, {}, "/other/data");
  expect_input_error(nodata, {nodata, "no dataset at /entry/data/data"});
  ScanOptions opt;
  opt.dataset = "/not/here";
  expect_input_error(nodata, {nodata, "no dataset at /not/here"}, opt);

  std::string rank1 = dir / "rank1.h5";
  {
    h5::Handle f = h5::create(rank1);
    test::write_dataset(f, "/entry/data/data", H5T_NATIVE_UINT16, data.data(), {32});
  }
  expect_input_error(rank1, {rank1, "/entry/data/data", "rank 1"});
  std::string rank4 = dir / "rank4.h5";
  {
    h5::Handle f = h5::create(rank4);
    test::write_dataset(f, "/entry/data/data", H5T_NATIVE_UINT16, data.data(), {2, 1, 4, 4});
  }
  expect_input_error(rank4, {rank4, "rank 4"});

  std::string cut = dir / "cut.h5";
  test::write_stack(cut, test::pattern_stack(4, 32, 32), 4, 32, 32);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  expect_input_error(cut, {cut, "truncated"});

  std::string str = dir / "strings.h5";
  {
    h5::Handle f = h5::create(str);
    h5::Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t, 4);
    char text[2 * 2 * 4] = {};
    test::write_dataset(f, "/entry/data/data", t, text, {1, 2, 2});
  }
  expect_input_error(str, {str, "unsupported dtype string in /entry/data/data"});

  std::string cmp = dir / "compound.h5";
  {
    h5::Handle f = h5::create(cmp);
    h5::Handle t(H5Tcreate(H5T_COMPOUND, 4), H5Tclose);
    H5Tinsert(t, "a", 0, H5T_NATIVE_UINT16);
    H5Tinsert(t, "b", 2, H5T_NATIVE_UINT16);
    std::uint16_t v[8] = {};
    test::write_dataset(f, "/entry/data/data", t, v, {1, 2, 2});
  }
  expect_input_error(cmp, {cmp, "unsupported dtype compound"});

  std::string empty = dir / "empty";
  fs::create_directory(empty);
  std::ofstream(empty + "/readme.txt") << "x";
  expect_input_error(empty, {empty, "empty scan"});
  expect_input_error(dir / "none_*.h5", {dir / "none_*.h5", "no files match"});

  std::string list = dir / "list.txt";
  test::write_per_frame(dir / "f_1.h5", data, 4, 4, 0, 0);
  std::ofstream(list) << "f_1.h5\nf_2.h5\n";
  expect_input_error(list, {dir / "f_2.h5", "no such file", list});
}

TEST(BadInput, BadFirstPerFrameFileFailsOnlyItsFrame) {
  TempDir dir;
  std::vector<float> v(4);
  std::string a = dir / "p_1.h5";
  {
    h5::Handle f = h5::create(a);
    test::write_dataset(f, "/entry1/data/data", H5T_NATIVE_UINT16, v.data(), {2, 1, 1, 2});
  }
  test::write_per_frame(dir / "p_2.h5", std::vector<std::uint16_t>(4), 2, 2, 0, 0);
  auto src = open_scan(dir.path());
  EXPECT_EQ(src->info().n_frames, 2);
  Frame f;
  src->read(0, f);
  EXPECT_FALSE(f.ok());
  EXPECT_NE(f.error.find(a), std::string::npos) << f.error;
  EXPECT_NE(f.error.find("rank 4"), std::string::npos) << f.error;
  src->read(1, f);
  EXPECT_TRUE(f.ok()) << f.error;
  // Every file bad: the scan itself fails, naming the first.
  fs::remove(dir / "p_2.h5");
  expect_input_error(dir.path(), {a, "rank 4"});
}

// ---- the real APS 34-ID-E frame ---------------------------------------------------------------------

TEST(RealData, Ge34ideFrame) {
  std::string file = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/Ge_blanc_0000_as34ide.h5";
  ASSERT_TRUE(fs::exists(file)) << file << " is missing: tests/data is part of the repository";
  auto src = open_scan(file);
  const ScanInfo& info = src->info();
  EXPECT_EQ(info.layout, ScanLayout::per_frame_files);
  EXPECT_EQ(info.n_frames, 1);
  EXPECT_EQ(info.width, 2048);
  EXPECT_EQ(info.height, 2048);
  EXPECT_EQ(info.dtype, "uint16");
  Frame f;
  src->read(0, f);
  ASSERT_TRUE(f.ok()) << f.error;
  std::uint64_t sum = std::accumulate(f.pixels.begin(), f.pixels.end(), std::uint64_t{0});
  EXPECT_GT(sum, 0u);
  EXPECT_EQ(f.view().at(0, 0), 0);        // outside the detector's disc
  EXPECT_EQ(f.view().at(2047, 2047), 0);
}

}  // namespace
}  // namespace laueproc
