// Chunk decoders (io/decode.hpp) against independent ground truth: a bit-by-bit transcription of
// the bitshuffle layout, the HDF5 bitshuffle plugin (H5Dread of the same chunks), files written
// by h5py with the Python bitshuffle package, zlib's inflate and the known pixel values; and
// malformed input that must end as a DecodeError, never a crash.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <zlib.h>

#ifdef LAUEPROC_TEST_HAVE_ZSTD
#include <zstd.h>
#endif

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/chunk_reader.hpp"
#include "io/decode.hpp"
#include "io/fixtures.hpp"
#include "io/h5.hpp"
#include "laueproc/io.hpp"

namespace laueproc {
namespace {

using io::DecodeError;
using test::TempDir;
using Bytes = std::vector<std::uint8_t>;

Bytes random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

// The layout as documented by bitshuffle, one bit at a time: row 8j+k holds bit k of byte j of
// every element, element i at bit i%8 of byte i/8.
Bytes reference_shuffle(const Bytes& in, std::size_t n, std::size_t es) {
  Bytes out(n * es, 0);
  const std::size_t n8 = n / 8;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < es; ++j)
      for (std::size_t k = 0; k < 8; ++k)
        if (in[i * es + j] >> k & 1) out[(8 * j + k) * n8 + i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  return out;
}

TEST(BitShuffle, BlockMatchesTheBitByBitLayoutAndInverts) {
  for (std::size_t es : {1, 2, 3, 4, 8})
    for (std::size_t n : {8, 16, 56, 64, 72, 128, 136, 256, 264, 520, 4096, 4232}) {
      SCOPED_TRACE("elem " + std::to_string(es) + " n " + std::to_string(n));
      const Bytes in = random_bytes(n * es, static_cast<std::uint32_t>(n * 31 + es));
      Bytes shuffled(n * es), back(n * es);
      io::bit_shuffle_block(in.data(), shuffled.data(), n, es);
      ASSERT_EQ(shuffled, reference_shuffle(in, n, es));
      io::bit_unshuffle_block(shuffled.data(), back.data(), n, es);
      ASSERT_EQ(back, in);
    }
}

TEST(BitShuffle, DefaultBlockAsThePlugin) {
  EXPECT_EQ(io::bitshuffle_default_block(1), 8192u);
  EXPECT_EQ(io::bitshuffle_default_block(2), 4096u);
  EXPECT_EQ(io::bitshuffle_default_block(4), 2048u);
  EXPECT_EQ(io::bitshuffle_default_block(8), 1024u);
  EXPECT_EQ(io::bitshuffle_default_block(128), 128u);  // at least 128
}

TEST(BitShuffle, Lz4RoundTripWithPartialBlockAndLeftover) {
  for (std::size_t es : {1, 2, 4})
    for (std::size_t n : {3, 8, 100, 4096, 4099, 10000}) {
      SCOPED_TRACE("elem " + std::to_string(es) + " n " + std::to_string(n));
      const Bytes in = random_bytes(n * es, static_cast<std::uint32_t>(n + es));
      const Bytes enc = io::encode_bitshuffle_lz4(in.data(), in.size(), es, 64);
      Bytes out(in.size());
      io::decode_bitshuffle_lz4(enc.data(), enc.size(), out.data(), out.size(), es);
      EXPECT_EQ(out, in);
      const io::BitshuffleLayout L = io::parse_bitshuffle(enc.data(), enc.size(), es, in.size());
      EXPECT_EQ(L.leftover_bytes, n % 8 * es);
    }
}

// ---- against the HDF5 bitshuffle plugin and h5py-written files ------------------------------

struct Typed {
  const char* name;
  hid_t type;
  std::size_t size;
};
const Typed kTypes[] = {{"uint8", H5T_NATIVE_UINT8, 1},
                        {"uint16", H5T_NATIVE_UINT16, 2},
                        {"uint32", H5T_NATIVE_UINT32, 4},
                        {"int32", H5T_NATIVE_INT32, 4},
                        {"float32", H5T_NATIVE_FLOAT, 4}};

// value(k, y, x) of scripts/make_io_fixtures.py, as the stored bytes of `type`.
Bytes fixture_values(const Typed& t, hsize_t n, hsize_t ny, hsize_t nx) {
  Bytes out(n * ny * nx * t.size);
  std::size_t i = 0;
  for (hsize_t k = 0; k < n; ++k)
    for (hsize_t y = 0; y < ny; ++y)
      for (hsize_t x = 0; x < nx; ++x, ++i) {
        const std::int64_t v = static_cast<std::int64_t>((k * 1000003 + y * 7919 + x * 104729) % 65521);
        std::uint8_t* p = out.data() + i * t.size;
        if (t.size == 1) {
          *p = static_cast<std::uint8_t>(v % 251);
        } else if (t.size == 2) {
          const auto u = static_cast<std::uint16_t>(v);
          std::memcpy(p, &u, 2);
        } else if (std::string(t.name) == "uint32") {
          const auto u = static_cast<std::uint32_t>(v * 65537);
          std::memcpy(p, &u, 4);
        } else if (std::string(t.name) == "int32") {
          const auto s = static_cast<std::int32_t>(v * 32771 - (std::int64_t{1} << 30));
          std::memcpy(p, &s, 4);
        } else {
          const auto f = static_cast<float>(static_cast<double>(v) * 0.25 - 100.0);
          std::memcpy(p, &f, 4);
        }
      }
  return out;
}

// Every chunk of `path`: read the stored bytes, decode them with ChunkCodec, and compare the part
// inside the dataset with `truth` (N x ny x nx elements). Returns the number of chunks checked.
int check_every_chunk(const std::string& file, const std::string& path, const Bytes& truth, std::size_t es) {
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle f = h5::open_read(file);
  h5::Handle ds = h5::open_dataset(f, path, file);
  const auto dims = h5::shape(ds, file, path);
  h5::Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
  std::vector<hsize_t> chunk(3);
  EXPECT_GE(H5Pget_chunk(dcpl, 3, chunk.data()), 0);
  io::ChunkCodec codec;
  codec.elem_size = es;
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0;
    std::size_t n = 16;
    std::vector<unsigned> cd(n);
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &n, cd.data(), 0, nullptr, nullptr);
    cd.resize(n);
    codec.filters.push_back({id, cd});
  }
  EXPECT_EQ(codec.unsupported(), "");
  const std::size_t chunk_bytes = chunk[0] * chunk[1] * chunk[2] * es;
  Bytes stored, decoded(chunk_bytes), a, b;
  int checked = 0;
  for (hsize_t c0 = 0; c0 < dims[0]; c0 += chunk[0])
    for (hsize_t c1 = 0; c1 < dims[1]; c1 += chunk[1])
      for (hsize_t c2 = 0; c2 < dims[2]; c2 += chunk[2]) {
        hsize_t off[3] = {c0, c1, c2}, size = 0;
        EXPECT_GE(H5Dget_chunk_storage_size(ds, off, &size), 0);
        stored.resize(size);
        std::uint32_t mask = 0;
        EXPECT_GE(H5Dread_chunk(ds, H5P_DEFAULT, off, &mask, stored.data()), 0);
        codec.decode(stored.data(), stored.size(), mask, decoded.data(), decoded.size(), a, b);
        for (hsize_t k = 0; k < chunk[0] && c0 + k < dims[0]; ++k)
          for (hsize_t y = 0; y < chunk[1] && c1 + y < dims[1]; ++y) {
            const std::size_t w = std::min(chunk[2], dims[2] - c2);
            const std::uint8_t* got = decoded.data() + ((k * chunk[1] + y) * chunk[2]) * es;
            const std::uint8_t* want = truth.data() + (((c0 + k) * dims[1] + c1 + y) * dims[2] + c2) * es;
            EXPECT_EQ(std::memcmp(got, want, w * es), 0) << path << " chunk " << c0 << "," << c1 << "," << c2;
          }
        ++checked;
      }
  return checked;
}

TEST(BitshufflePlugin, EveryDtypeAndChunkShapeDecodesBitExact) {
  h5::init();
  {
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    if (H5Zfilter_avail(io::kBitshuffleFilter) <= 0) GTEST_SKIP() << "HDF5 bitshuffle plugin not installed";
  }
  TempDir dir;
  const hsize_t n = 3, ny = 37, nx = 53;
  struct Shape {
    const char* name;
    hsize_t chunk[3];
    unsigned block;        // elements; 0 = default
    unsigned compression;  // 0 none, 2 LZ4
  };
  const Shape shapes[] = {{"frame_lz4", {1, ny, nx}, 0, 2},
                          {"tiles_lz4", {2, 16, 24}, 0, 2},
                          {"odd_lz4", {1, 13, 7}, 64, 2},
                          {"big_lz4", {3, 37, 53}, 256, 2},
                          {"tiles_plain", {2, 16, 24}, 0, 0},
                          {"odd_plain", {1, 13, 7}, 64, 0}};
  for (const Typed& t : kTypes) {
    const Bytes truth = fixture_values(t, n, ny, nx);
    const std::string file = dir / (std::string(t.name) + ".h5");
    {
      std::lock_guard<std::mutex> lock(h5::library_mutex());
      h5::Handle f = h5::create(file);
      for (const Shape& s : shapes)
        test::write_dataset(f, std::string("/") + s.name, t.type, truth.data(), {n, ny, nx}, [&](hid_t dcpl) {
          H5Pset_chunk(dcpl, 3, s.chunk);
          const unsigned cd[2] = {s.block, s.compression};
          H5Pset_filter(dcpl, io::kBitshuffleFilter, H5Z_FLAG_MANDATORY, 2, cd);
        });
    }
    for (const Shape& s : shapes) {
      SCOPED_TRACE(std::string(t.name) + " " + s.name);
      EXPECT_GT(check_every_chunk(file, std::string("/") + s.name, truth, t.size), 0);
    }
  }
}

TEST(BitshuffleH5py, FilesWrittenByH5pyDecodeBitExact) {
  const std::string file = std::string(LAUEPROC_TEST_DATA_DIR) + "/io/bitshuffle_h5py.h5";
  for (const Typed& t : kTypes) {
    const Bytes truth = fixture_values(t, 2, 21, 27);
    for (const char* shape : {"frame", "tiles", "odd"}) {
      const std::string path = std::string("/") + t.name + "_" + shape;
      SCOPED_TRACE(path);
      EXPECT_GT(check_every_chunk(file, path, truth, t.size), 0);
    }
  }
  EXPECT_EQ(check_every_chunk(file, "/uint16_gzip_tiles", fixture_values(kTypes[1], 2, 21, 27), 2), 1 * 3 * 3);
}

TEST(BitshuffleH5py, ReadThroughOpenScanEqualsTheValues) {
  // uint16 frames through the whole reader: chunk-direct, tiles, several frames per chunk.
  const std::string file = std::string(LAUEPROC_TEST_DATA_DIR) + "/io/bitshuffle_h5py.h5";
  const Bytes truth = fixture_values(kTypes[1], 2, 21, 27);
  for (const char* name : {"/uint16_frame", "/uint16_tiles", "/uint16_odd", "/uint16_gzip_tiles"}) {
    SCOPED_TRACE(name);
    ScanOptions o;
    o.dataset = name;
    auto src = open_scan(file, o);
    EXPECT_TRUE(src->info().chunk_direct);
    Frame f;
    for (int k : {1, 0}) {
      src->read(k, f);
      ASSERT_TRUE(f.ok()) << f.error;
      EXPECT_EQ(std::memcmp(f.pixels.data(), truth.data() + static_cast<std::size_t>(k) * 21 * 27 * 2, 21 * 27 * 2), 0);
    }
  }
}

// ---- deflate: libdeflate and ISA-L against zlib, on the real Ge frame and simulated data ---------

constexpr Inflater kInflaters[] = {Inflater::fastest, Inflater::libdeflate, Inflater::isal,
                                       Inflater::zlib};

TEST(Deflate, EveryInflaterEqualsZlibOnTheRealGeChunks) {
  const std::string file = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/Ge_blanc_0000_as34ide.h5";
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle f = h5::open_read(file);
  h5::Handle ds = h5::open_dataset(f, "/entry1/data/data", file);
  Bytes stored, a(256 * 256 * 2), b(256 * 256 * 2);
  int chunks = 0;
  for (hsize_t y = 0; y < 2048; y += 256)
    for (hsize_t x = 0; x < 2048; x += 256) {
      hsize_t off[2] = {y, x}, size = 0;
      ASSERT_GE(H5Dget_chunk_storage_size(ds, off, &size), 0);
      stored.resize(size);
      std::uint32_t mask = 0;
      ASSERT_GE(H5Dread_chunk(ds, H5P_DEFAULT, off, &mask, stored.data()), 0);
      io::decode_zlib(stored.data(), size, b.data(), b.size(), Inflater::zlib);
      for (Inflater which : kInflaters) {
        std::fill(a.begin(), a.end(), std::uint8_t{0xA5});
        io::decode_zlib(stored.data(), size, a.data(), a.size(), which);
        ASSERT_EQ(a, b) << "inflater " << static_cast<int>(which);
      }
      const io::ZlibFrame z = io::parse_zlib_frame(stored.data(), size);
      EXPECT_EQ(z.adler32, io::adler32(1, a.data(), a.size()));
      EXPECT_EQ(io::adler32(1, a.data(), a.size()), ::adler32(1, a.data(), static_cast<uInt>(a.size())));
      ++chunks;
    }
  EXPECT_EQ(chunks, 64);
}

Bytes zlib_compress(const Bytes& in, int level) {
  uLongf size = compressBound(static_cast<uLong>(in.size()));
  Bytes out(size);
  EXPECT_EQ(compress2(out.data(), &size, in.data(), static_cast<uLong>(in.size()), level), Z_OK);
  out.resize(size);
  return out;
}

TEST(Deflate, WrongSizesAndChecksumsAreErrorsForEveryInflater) {
  const Bytes in = random_bytes(1000, 3);
  for (int level : {1, 4, 6, 9})
    for (Inflater which : kInflaters) {
      SCOPED_TRACE("level " + std::to_string(level) + ", inflater " + std::to_string(static_cast<int>(which)));
      const Bytes z = zlib_compress(in, level);
      Bytes out(1000);
      io::decode_zlib(z.data(), z.size(), out.data(), out.size(), which);
      EXPECT_EQ(out, in);
      Bytes small(999), big(1001);
      EXPECT_THROW(io::decode_zlib(z.data(), z.size(), small.data(), small.size(), which), DecodeError);
      EXPECT_THROW(io::decode_zlib(z.data(), z.size(), big.data(), big.size(), which), DecodeError);
      Bytes bad = z;
      bad[bad.size() - 1] ^= 1;  // Adler-32
      EXPECT_THROW(io::decode_zlib(bad.data(), bad.size(), out.data(), out.size(), which), DecodeError);
      bad = z;
      bad[1] ^= 0x20;  // a preset dictionary (and a broken header check)
      EXPECT_THROW(io::decode_zlib(bad.data(), bad.size(), out.data(), out.size(), which), DecodeError);
    }
}

TEST(Deflate, FastestPicksIsalForLevelsSixToNineOnly) {
  const Bytes in = random_bytes(100, 4);
  for (int level = 1; level <= 9; ++level) {
    const Bytes z = zlib_compress(in, level);
    const Inflater want = level >= 6 && io::have_isal() ? Inflater::isal : Inflater::libdeflate;
    EXPECT_EQ(io::resolve_inflater(Inflater::fastest, z.data()), want) << "level " << level;
    EXPECT_EQ(io::resolve_inflater(Inflater::zlib, z.data()), Inflater::zlib);
    EXPECT_EQ(io::resolve_inflater(Inflater::libdeflate, z.data()), Inflater::libdeflate);
  }
}

// ---- malformed input: an error, never a crash or a read past the buffer --------------------------

template <class Decode>
void every_truncation_and_flip(const Bytes& good, std::size_t out_size, Decode decode) {
  Bytes out(out_size);
  for (std::size_t n = 0; n < good.size(); ++n) {
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));  // exact-size heap copy
    EXPECT_THROW(decode(cut.data(), cut.size(), out.data(), out.size()), DecodeError) << "prefix " << n;
  }
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    Bytes bad = good;
    bad[rng() % bad.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    try {
      decode(bad.data(), bad.size(), out.data(), out.size());
    } catch (const DecodeError&) {
    }
  }
}

TEST(Malformed, TruncatedOrFlippedChunksThrowDecodeError) {
  Bytes frame(64 * 40 * 2);
  for (std::size_t i = 0; i < frame.size() / 2; ++i) {
    const auto v = static_cast<std::uint16_t>(100 + i % 37 + (i % 999 == 0 ? 30000 : 0));
    std::memcpy(frame.data() + 2 * i, &v, 2);
  }
  const Bytes bs = io::encode_bitshuffle_lz4(frame.data(), frame.size(), 2, 512);
  every_truncation_and_flip(bs, frame.size(), [](const std::uint8_t* p, std::size_t n, std::uint8_t* o, std::size_t m) {
    io::decode_bitshuffle_lz4(p, n, o, m, 2);
  });
  for (int level : {1, 6})
    for (Inflater which : kInflaters) {
      SCOPED_TRACE("level " + std::to_string(level) + ", inflater " + std::to_string(static_cast<int>(which)));
      every_truncation_and_flip(zlib_compress(frame, level), frame.size(),
                                [which](const std::uint8_t* p, std::size_t n, std::uint8_t* o, std::size_t m) {
                                  io::decode_zlib(p, n, o, m, which);
                                });
    }
  // A header announcing another size, a block size not a multiple of 8, a block longer than the rest.
  Bytes out(frame.size());
  Bytes wrong = bs;
  wrong[7] ^= 2;
  EXPECT_THROW(io::decode_bitshuffle_lz4(wrong.data(), wrong.size(), out.data(), out.size(), 2), DecodeError);
  wrong = bs;
  wrong[11] = 6;  // 512 + 6 bytes = 259 elements
  EXPECT_THROW(io::decode_bitshuffle_lz4(wrong.data(), wrong.size(), out.data(), out.size(), 2), DecodeError);
  wrong = bs;
  wrong[12] = 0x7F;
  EXPECT_THROW(io::decode_bitshuffle_lz4(wrong.data(), wrong.size(), out.data(), out.size(), 2), DecodeError);
  EXPECT_THROW(io::decode_bitshuffle_lz4(bs.data(), bs.size(), out.data(), out.size(), 0), DecodeError);
  EXPECT_THROW(io::bit_unshuffle_block(frame.data(), out.data(), 12, 2), DecodeError);
}

// ---- zstd (filter 32015): chunks written as the zstd plugin does, read chunk-direct -----------------

TEST(Zstd, ChunksWrittenDirectlyReadBack) {
  if (!io::have_zstd()) GTEST_SKIP() << "built without libzstd";
#ifdef LAUEPROC_TEST_HAVE_ZSTD
  TempDir dir;
  const int n = 3, ny = 24, nx = 40;
  auto data = test::pattern_stack(n, ny, nx);
  const std::string file = dir / "zstd.h5";
  {
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    h5::Handle f = h5::create(file);
    h5::make_groups(f, "/entry/data", file);
    hsize_t dims[3] = {n, ny, nx}, chunk[3] = {1, ny, nx};
    h5::Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(dcpl, 3, chunk);
    const unsigned level = 3;
    ASSERT_GE(H5Pset_filter(dcpl, io::kZstdFilter, H5Z_FLAG_OPTIONAL, 1, &level), 0);
    h5::Handle ds(H5Dcreate2(f, "/entry/data/data", H5T_NATIVE_UINT16, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
    ASSERT_TRUE(ds.valid()) << h5::last_error();
    for (int k = 0; k < n; ++k) {
      const std::size_t bytes = static_cast<std::size_t>(ny) * nx * 2;
      Bytes z(ZSTD_compressBound(bytes));
      const std::size_t size = ZSTD_compress(z.data(), z.size(), data.data() + static_cast<std::size_t>(k) * ny * nx, bytes, 3);
      ASSERT_FALSE(ZSTD_isError(size));
      hsize_t off[3] = {static_cast<hsize_t>(k), 0, 0};
      ASSERT_GE(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, size, z.data()), 0);
    }
  }
  auto src = open_scan(file);
  EXPECT_TRUE(src->info().chunk_direct);
  Frame f;
  for (int k = 0; k < n; ++k) {
    src->read(k, f);
    ASSERT_TRUE(f.ok()) << f.error;
    EXPECT_TRUE(std::equal(f.pixels.begin(), f.pixels.end(), data.begin() + static_cast<std::ptrdiff_t>(k) * ny * nx));
  }
#endif
}

}  // namespace
}  // namespace laueproc

namespace laueproc {
namespace {

// keep_encoded: one-chunk uint16 frames with bitshuffle/LZ4 or deflate arrive still compressed;
// decoding those bytes gives the frame; other layouts arrive as pixels.
TEST(KeepEncoded, FramesCarryTheirStoredChunk) {
  TempDir dir;
  const int n = 3, ny = 24, nx = 40;
  auto data = test::pattern_stack(n, ny, nx);
  const std::size_t bytes = static_cast<std::size_t>(ny) * nx * 2;
  ScanOptions o;
  o.keep_encoded = true;
  // deflate, one chunk per frame -> zlib; tiles -> pixels
  const std::string gz = dir / "gz.h5", tiles = dir / "tiles.h5";
  test::write_stack(gz, data, n, ny, nx, test::frame_chunks(ny, nx, 4));
  test::write_stack(tiles, data, n, ny, nx, [](hid_t dcpl) {
    hsize_t c[3] = {1, 8, 8};
    H5Pset_chunk(dcpl, 3, c);
    H5Pset_deflate(dcpl, 1);
  });
  Frame f;
  auto src = open_scan(gz, o);
  for (int k = 0; k < n; ++k) {
    src->read(k, f);
    ASSERT_TRUE(f.ok()) << f.error;
    ASSERT_EQ(f.encoded.codec, EncodedFrame::Codec::zlib);
    EXPECT_TRUE(f.pixels.empty());
    std::vector<std::uint16_t> px(static_cast<std::size_t>(ny) * nx);
    io::decode_zlib(f.encoded.bytes.data(), f.encoded.bytes.size(), reinterpret_cast<std::uint8_t*>(px.data()), bytes);
    EXPECT_TRUE(std::equal(px.begin(), px.end(), data.begin() + static_cast<std::ptrdiff_t>(k) * ny * nx));
  }
  auto tiled = open_scan(tiles, o);
  tiled->read(1, f);
  ASSERT_TRUE(f.ok()) << f.error;
  EXPECT_EQ(f.encoded.codec, EncodedFrame::Codec::none);
  EXPECT_TRUE(std::equal(f.pixels.begin(), f.pixels.end(), data.begin() + ny * nx));
  // bitshuffle/LZ4 from the h5py fixture: one-frame chunks
  ScanOptions b = o;
  b.dataset = "/uint16_frame";
  auto bs = open_scan(std::string(LAUEPROC_TEST_DATA_DIR) + "/io/bitshuffle_h5py.h5", b);
  bs->read(1, f);
  ASSERT_TRUE(f.ok()) << f.error;
  ASSERT_EQ(f.encoded.codec, EncodedFrame::Codec::bitshuffle_lz4);
  std::vector<std::uint8_t> px(21 * 27 * 2);
  io::decode_bitshuffle_lz4(f.encoded.bytes.data(), f.encoded.bytes.size(), px.data(), px.size(), 2);
  const Bytes truth = fixture_values(kTypes[1], 2, 21, 27);
  EXPECT_EQ(std::memcmp(px.data(), truth.data() + px.size(), px.size()), 0);
}

}  // namespace
}  // namespace laueproc
