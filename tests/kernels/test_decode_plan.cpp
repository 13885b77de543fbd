// The host half of device decoding (host/cuda/decode_plan.hpp) without a device. Ground truth
// from known data: frames we make, encoded by the bitshuffle/LZ4 encoder and zlib; the LZ4 block
// offsets and sizes are checked against the chunk format itself (the big-endian size before each
// block, each block inflating by liblz4 to the bit-shuffled bytes of its part of the frame). A
// plan is then executed as DeviceDecoder does, with CPU stand-ins for the device: liblz4 for
// nvCOMP's batched LZ4, zlib's raw inflate for its batched Deflate, and our bit-unshuffle and
// Adler-32 kernel bodies on the CPU grid executor; every frame must come out bit for bit.
#include <gtest/gtest.h>
#include <lz4.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/decode_plan.hpp"
#include "io/decode.hpp"
#include "io/frame_memory.hpp"
#include "kernels/cpu_grid.hpp"
#include "unshuffle_body.cuh"

namespace laueproc {
namespace {

using cuda::DecodePlan;
using grid::Dim;
using kernels::Adler32Kernel;
using kernels::BitUnshuffleKernel;
using testing::run_grid_on_cpu;
using Bytes = std::vector<std::uint8_t>;

std::vector<std::uint16_t> laue_like_pixels(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::poisson_distribution<int> noise(150);
  std::vector<std::uint16_t> v(n);
  for (auto& p : v) p = static_cast<std::uint16_t>(noise(rng));
  for (std::size_t i = 0; i < n; i += 211) v[i] = static_cast<std::uint16_t>(rng());  // spots
  return v;
}

const std::uint8_t* bytes_of(const std::vector<std::uint16_t>& v) { return reinterpret_cast<const std::uint8_t*>(v.data()); }

Bytes zlib_compress(const std::vector<std::uint16_t>& pixels, int level) {
  uLongf size = compressBound(static_cast<uLong>(pixels.size() * 2));
  Bytes out(size);
  EXPECT_EQ(compress2(out.data(), &size, bytes_of(pixels), static_cast<uLong>(pixels.size() * 2), level), Z_OK);
  out.resize(size);
  return out;
}

Frame encoded_frame(int w, int h, EncodedFrame::Codec codec, Bytes bytes, std::int64_t index) {
  Frame f;
  f.width = w;
  f.height = h;
  f.meta.index = index;
  f.encoded.codec = codec;
  f.encoded.bytes = std::move(bytes);
  return f;
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// DeviceDecoder::enqueue with CPU stand-ins. Returns the frame buffer; `adler` gets the checksum
// the Adler-32 kernel computes for each inflated frame.
Bytes execute(const DecodePlan& P, const std::vector<const Frame*>& frames, std::vector<std::uint32_t>& adler) {
  Bytes packed(P.packed_bytes, 0xCD), shuffled(P.out_bytes, 0xAB), out(P.out_bytes, 0xEE);
  for (const auto& piece : P.pieces) {
    EXPECT_LE(piece.packed_offset + piece.size, P.packed_bytes);
    std::memcpy(packed.data() + piece.packed_offset, frames[piece.frame]->encoded_data() + piece.src_offset, piece.size);
  }
  for (const auto& b : P.lz4) {
    const int got = LZ4_decompress_safe(reinterpret_cast<const char*>(packed.data() + b.in_offset),
                                        reinterpret_cast<char*>(shuffled.data() + b.out_offset),
                                        static_cast<int>(b.in_size), static_cast<int>(b.out_size));
    EXPECT_EQ(got, static_cast<int>(b.out_size)) << "LZ4 block of frame " << b.frame;
  }
  if (!P.unshuffle.empty())
    run_grid_on_cpu<BitUnshuffleKernel>(Dim{static_cast<unsigned>(P.unshuffle.size())}, Dim{96},
                                        {shuffled.data(), out.data(), P.unshuffle.data(),
                                         static_cast<unsigned>(P.unshuffle.size())});
  for (const auto& c : P.leftovers) std::memcpy(out.data() + c.to, packed.data() + c.from, c.bytes);
  std::vector<const std::uint8_t*> inflated;
  std::vector<unsigned long long> sizes;
  for (const auto& z : P.inflate) {
    z_stream s{};
    EXPECT_EQ(inflateInit2(&s, -15), Z_OK);  // raw deflate: what nvCOMP's Deflate takes
    s.next_in = packed.data() + z.in_offset;
    s.avail_in = static_cast<uInt>(z.in_size);
    s.next_out = out.data() + z.out_offset;
    s.avail_out = static_cast<uInt>(P.frame_bytes);
    EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END) << "deflate stream of frame " << z.frame;
    EXPECT_EQ(s.total_out, P.frame_bytes);
    inflateEnd(&s);
    inflated.push_back(out.data() + z.out_offset);
    sizes.push_back(P.frame_bytes);
  }
  adler.assign(P.inflate.size(), 0);
  if (!P.inflate.empty())
    run_grid_on_cpu<Adler32Kernel>(Dim{static_cast<unsigned>(P.inflate.size())}, Dim{128},
                                   {inflated.data(), sizes.data(), adler.data(), static_cast<unsigned>(P.inflate.size())});
  for (std::size_t i : P.host_decode)
    io::decode_bitshuffle_lz4(frames[i]->encoded_data(), frames[i]->encoded_size(), out.data() + P.out_offset[i],
                              P.frame_bytes, 2);
  for (std::size_t i : P.with_pixels) std::memcpy(out.data() + P.out_offset[i], frames[i]->pixel_data(), P.frame_bytes);
  return out;
}

bool frame_equals(const Bytes& out, std::size_t at, const std::vector<std::uint16_t>& truth) {
  return at + truth.size() * 2 <= out.size() && std::memcmp(out.data() + at, truth.data(), truth.size() * 2) == 0;
}

// 59 x 17 = 1003 pixels in blocks of 64: 15 full blocks, one of 40, 3 pixels stored raw.
TEST(DecodePlan, BitshuffleBlocksWhereTheChunkFormatPutsThem) {
  const int w = 59, h = 17;
  const auto truth = laue_like_pixels(1003, 1);
  const Bytes chunk = io::encode_bitshuffle_lz4(bytes_of(truth), truth.size() * 2, 2, 64);
  const Frame f = encoded_frame(w, h, EncodedFrame::Codec::bitshuffle_lz4, chunk, 0);
  for (std::size_t alignment : {std::size_t{1}, std::size_t{16}}) {
    SCOPED_TRACE("nvCOMP input alignment " + std::to_string(alignment));
    const DecodePlan P = cuda::plan_device_decode({&f}, 2006, {}, alignment, 8);
    EXPECT_EQ(P.errors, std::vector<std::string>{""});
    ASSERT_EQ(P.lz4.size(), 16u);
    ASSERT_EQ(P.unshuffle.size(), 16u);
    Bytes packed(P.packed_bytes);
    for (const auto& piece : P.pieces) std::memcpy(packed.data() + piece.packed_offset, chunk.data() + piece.src_offset, piece.size);
    std::size_t cursor = 12;  // the 12-byte header: uncompressed size, block size
    for (std::size_t b = 0; b < 16; ++b) {
      const auto& blk = P.lz4[b];
      const std::size_t elems = b < 15 ? 64 : 40;
      EXPECT_EQ(blk.out_offset, b * 128);
      EXPECT_EQ(blk.out_size, elems * 2);
      EXPECT_EQ(P.unshuffle[b].elems, elems);
      EXPECT_EQ(P.unshuffle[b].in_offset, b * 128);
      EXPECT_EQ(P.unshuffle[b].out_offset, b * 128);
      // Its compressed size is the big-endian uint32 before it in the chunk.
      EXPECT_EQ(blk.in_size, big_endian_u32(chunk.data() + cursor)) << "block " << b;
      if (alignment > 1) EXPECT_EQ(blk.in_offset % alignment, 0u) << "block " << b;
      // And the bytes there inflate to the bit-shuffled pixels of that block.
      Bytes shuffled(elems * 2), want(elems * 2);
      io::bit_shuffle_block(bytes_of(truth) + b * 128, want.data(), elems, 2);
      ASSERT_EQ(LZ4_decompress_safe(reinterpret_cast<const char*>(packed.data() + blk.in_offset),
                                    reinterpret_cast<char*>(shuffled.data()), static_cast<int>(blk.in_size),
                                    static_cast<int>(shuffled.size())),
                static_cast<int>(shuffled.size()));
      EXPECT_EQ(shuffled, want) << "block " << b;
      cursor += 4 + blk.in_size;
    }
    ASSERT_EQ(P.leftovers.size(), 1u);
    EXPECT_EQ(P.leftovers[0].to, 2000u);
    EXPECT_EQ(P.leftovers[0].bytes, 6u);
    EXPECT_EQ(cursor + 6, chunk.size());  // the raw tail is all that follows the last block
    EXPECT_EQ(std::memcmp(packed.data() + P.leftovers[0].from, bytes_of(truth) + 2000, 6), 0);
    std::vector<std::uint32_t> adler;
    EXPECT_TRUE(frame_equals(execute(P, {&f}, adler), 0, truth));
  }
}

TEST(DecodePlan, ZlibHeaderStrippedStreamAlignedAdlerFromTheTrailer) {
  const auto truth = laue_like_pixels(64 * 48, 2);
  for (int level : {1, 9}) {
    const Bytes chunk = zlib_compress(truth, level);
    const Frame f = encoded_frame(64, 48, EncodedFrame::Codec::zlib, chunk, 0);
    for (std::size_t alignment : {std::size_t{8}, std::size_t{64}}) {
      const DecodePlan P = cuda::plan_device_decode({&f}, truth.size() * 2, {}, 1, alignment);
      ASSERT_EQ(P.inflate.size(), 1u);
      const auto& z = P.inflate[0];
      EXPECT_EQ(z.in_size, chunk.size() - 2 - 4);  // no 2-byte header, no 4-byte Adler-32 trailer
      EXPECT_EQ(z.in_offset % alignment, 0u);
      EXPECT_EQ(z.adler32, ::adler32(1, bytes_of(truth), static_cast<uInt>(truth.size() * 2)));
      EXPECT_EQ(z.adler32, big_endian_u32(chunk.data() + chunk.size() - 4));
      std::vector<std::uint32_t> adler;
      const Bytes out = execute(P, {&f}, adler);
      EXPECT_TRUE(frame_equals(out, 0, truth));
      EXPECT_EQ(adler, std::vector<std::uint32_t>{z.adler32});  // the kernel agrees with the trailer
    }
  }
}

// A batch as the CUDA analyzer hands it: mixed codecs, a frame in a lent block, frames that
// carry pixels, placed at the analyzer's offsets; bad chunks fail their frame only.
TEST(DecodePlan, MixedBatchPlacedAtGivenOffsetsBadChunksFailTheirFrameOnly) {
  const int w = 128, h = 80;  // 10240 pixels: one block of 16384 would hold all of them, 20 KiB
  const std::size_t n = static_cast<std::size_t>(w) * h, bytes = 2 * n;
  std::vector<std::vector<std::uint16_t>> truth;
  for (std::uint32_t i = 0; i < 8; ++i) truth.push_back(laue_like_pixels(n, 10 + i));
  std::vector<Frame> frames;
  frames.push_back(encoded_frame(w, h, EncodedFrame::Codec::bitshuffle_lz4,
                                 io::encode_bitshuffle_lz4(bytes_of(truth[0]), bytes, 2), 0));
  frames.push_back(encoded_frame(w, h, EncodedFrame::Codec::zlib, zlib_compress(truth[1], 4), 1));
  {
    Frame f;  // pixels, as a frame the device cannot decode arrives
    f.width = w;
    f.height = h;
    f.pixels = truth[2];
    frames.push_back(std::move(f));
  }
  // Blocks of 16384 pixels (32 KiB, more than the kernel's shared block): decoded on the host.
  frames.push_back(encoded_frame(w, h, EncodedFrame::Codec::bitshuffle_lz4,
                                 io::encode_bitshuffle_lz4(bytes_of(truth[3]), bytes, 2, 16384), 3));
  Bytes bad_header = zlib_compress(truth[4], 1);
  bad_header[1] ^= 1;  // FCHECK no longer divides the header
  frames.push_back(encoded_frame(w, h, EncodedFrame::Codec::zlib, bad_header, 4));
  frames.push_back(encoded_frame(w + 1, h, EncodedFrame::Codec::zlib, zlib_compress(truth[5], 1), 5));  // other size
  Bytes bad_trailer = zlib_compress(truth[6], 1);
  bad_trailer.back() ^= 1;  // inflates fine, its Adler-32 does not match
  frames.push_back(encoded_frame(w, h, EncodedFrame::Codec::zlib, bad_trailer, 6));
  {
    // A chunk the reader put in a lent block (as in pinned memory).
    auto memory = io::make_host_frame_memory(std::size_t{1} << 20);
    Frame f;
    f.width = w;
    f.height = h;
    f.memory = memory;
    const Bytes chunk = io::encode_bitshuffle_lz4(bytes_of(truth[7]), bytes, 2, 512);
    std::memcpy(f.prepare_encoded(EncodedFrame::Codec::bitshuffle_lz4, chunk.size()), chunk.data(), chunk.size());
    ASSERT_TRUE(f.block);
    frames.push_back(std::move(f));
  }
  std::vector<const Frame*> ptrs;
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    ptrs.push_back(&frames[i]);
    offsets.push_back((frames.size() - 1 - i) * bytes);  // reversed: the plan must honour them
  }
  const DecodePlan P = cuda::plan_device_decode(ptrs, bytes, offsets, 1, 8);
  EXPECT_EQ(P.out_offset, offsets);
  EXPECT_EQ(P.host_decode, std::vector<std::size_t>{3});
  EXPECT_EQ(P.with_pixels, std::vector<std::size_t>{2});
  for (std::size_t i : {0u, 1u, 2u, 3u, 6u, 7u}) EXPECT_EQ(P.errors[i], "") << i;
  EXPECT_NE(P.errors[4].find("header"), std::string::npos) << P.errors[4];
  EXPECT_NE(P.errors[5].find("one size"), std::string::npos) << P.errors[5];
  for (const auto& piece : P.pieces) EXPECT_TRUE(piece.frame != 4 && piece.frame != 5);  // nothing planned for them
  // Pieces never overlap in the device input buffer.
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (const auto& piece : P.pieces) spans.emplace_back(piece.packed_offset, piece.packed_offset + piece.size);
  std::sort(spans.begin(), spans.end());
  for (std::size_t k = 1; k < spans.size(); ++k) EXPECT_LE(spans[k - 1].second, spans[k].first);
  ASSERT_EQ(P.inflate.size(), 2u);  // frames 1 and 6

  std::vector<std::uint32_t> adler;
  const Bytes out = execute(P, ptrs, adler);
  for (std::size_t i : {0u, 1u, 2u, 3u, 6u, 7u})
    EXPECT_TRUE(frame_equals(out, offsets[i], truth[i])) << "frame " << i;  // 6 inflates right...
  EXPECT_EQ(adler[0], P.inflate[0].adler32);
  EXPECT_NE(adler[1], P.inflate[1].adler32);  // ...but its trailer disagrees: DeviceDecoder fails it
}

TEST(DecodePlan, MalformedBitshuffleChunkIsAFrameError) {
  const auto truth = laue_like_pixels(32 * 32, 3);
  Bytes chunk = io::encode_bitshuffle_lz4(bytes_of(truth), truth.size() * 2, 2, 128);
  chunk[15] = 0xFF;  // the first block's size now runs past the chunk
  const Frame f = encoded_frame(32, 32, EncodedFrame::Codec::bitshuffle_lz4, chunk, 0);
  Bytes short_chunk(chunk.begin(), chunk.begin() + 8);  // not even a header
  const Frame g = encoded_frame(32, 32, EncodedFrame::Codec::bitshuffle_lz4, short_chunk, 1);
  const DecodePlan P = cuda::plan_device_decode({&f, &g}, truth.size() * 2, {}, 1, 8);
  EXPECT_FALSE(P.errors[0].empty());
  EXPECT_FALSE(P.errors[1].empty());
  EXPECT_TRUE(P.lz4.empty());
  EXPECT_TRUE(P.pieces.empty());
}

}  // namespace
}  // namespace laueproc
