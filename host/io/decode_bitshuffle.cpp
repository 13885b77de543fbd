// Bitshuffle (HDF5 filter 32008) without the plugin: the chunk format of
// kiyo-masui/bitshuffle (src/bshuf_h5filter.c, src/bitshuffle.c, bshuf_blocked_wrap_fun in
// src/bitshuffle_core.c), LZ4 blocks through liblz4, and our own bit transpose.
//
// The transpose works on 64 elements at a time per byte plane: the 8 bit rows of byte j give
// eight 64-bit words (one per bit, one bit per element); an 8x8 byte transpose of those words
// followed by an 8x8 bit transpose of each word gives byte j of the 64 elements in order. Only
// 64-bit shifts, ands and xors on independent words: the compiler vectorises the loop over
// groups. Bytes are then interleaved from the planes into elements.
#include <lz4.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>

#include "io/decode.hpp"
#include "io/lz4_check.hpp"
#include "io/decode_simd.hpp"
#include "io/decode_util.hpp"
#include "laueproc/math/bitshuffle.hpp"

#ifdef LAUEPROC_HAVE_ZSTD
#include <zstd.h>
#endif

namespace laueproc::io {
namespace {

static_assert(sizeof(std::uint64_t) == 8);

inline std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // little-endian host (x86-64, aarch64): byte b of the word is p[b]
}
inline void store64(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, 8); }

using math::transpose_bits8x8;

// 8x8 byte transpose of eight words: byte b of w[k] <-> byte k of w[b].
inline void transpose_bytes8x8(std::uint64_t w[8]) {
  for (int k = 0; k < 4; ++k) {
    const std::uint64_t t = ((w[k] >> 32) ^ w[k + 4]) & 0x00000000FFFFFFFFull;
    w[k + 4] ^= t;
    w[k] ^= t << 32;
  }
  for (int k : {0, 1, 4, 5}) {
    const std::uint64_t t = ((w[k] >> 16) ^ w[k + 2]) & 0x0000FFFF0000FFFFull;
    w[k + 2] ^= t;
    w[k] ^= t << 16;
  }
  for (int k : {0, 2, 4, 6}) {
    const std::uint64_t t = ((w[k] >> 8) ^ w[k + 1]) & 0x00FF00FF00FF00FFull;
    w[k + 1] ^= t;
    w[k] ^= t << 8;
  }
}

// 8x8 bit transpose inside every byte column of eight words at once: bit m of byte b of w[k]
// <-> bit k of byte b of w[m] (three swap stages across word pairs).
inline void transpose_bits_across8(std::uint64_t w[8]) {
  for (int k : {0, 1, 2, 3}) {
    const std::uint64_t t = ((w[k] >> 4) ^ w[k + 4]) & 0x0F0F0F0F0F0F0F0Full;
    w[k + 4] ^= t;
    w[k] ^= t << 4;
  }
  for (int k : {0, 1, 4, 5}) {
    const std::uint64_t t = ((w[k] >> 2) ^ w[k + 2]) & 0x3333333333333333ull;
    w[k + 2] ^= t;
    w[k] ^= t << 2;
  }
  for (int k : {0, 2, 4, 6}) {
    const std::uint64_t t = ((w[k] >> 1) ^ w[k + 1]) & 0x5555555555555555ull;
    w[k + 1] ^= t;
    w[k] ^= t << 1;
  }
}

// Bit rows 8j..8j+7 (each n8 bytes, row k at rows + k * n8) -> byte plane j (8 * n8 bytes). Per 64
// elements: row words w[k] (bit e = element e); the bit transpose makes byte b of w[k] element
// 8b+k, the byte transpose puts elements 8b..8b+7 in word b. Compiled for AVX2 and AVX-512 too
// (chosen at run time), so the loop over groups runs 4 or 8 groups per instruction.
LAUEPROC_SIMD_CLONES
void rows_to_plane(const std::uint8_t* rows, std::size_t n8, std::uint8_t* plane) {
  const std::size_t groups = n8 / 8;
  for (std::size_t g = 0; g < groups; ++g) {
    std::uint64_t w[8];
    for (int k = 0; k < 8; ++k) w[k] = load64(rows + k * n8 + 8 * g);
    transpose_bits_across8(w);
    transpose_bytes8x8(w);
    for (int b = 0; b < 8; ++b) store64(plane + 64 * g + 8 * b, w[b]);
  }
  for (std::size_t i8 = groups * 8; i8 < n8; ++i8) {  // fewer than 64 elements left
    std::uint64_t x = 0;
    for (int k = 0; k < 8; ++k) x |= static_cast<std::uint64_t>(rows[k * n8 + i8]) << (8 * k);
    store64(plane + 8 * i8, transpose_bits8x8(x));
  }
}

// The inverse: byte plane j -> its 8 bit rows (both transposes are their own inverse).
void plane_to_rows(const std::uint8_t* plane, std::size_t n8, std::uint8_t* rows) {
  const std::size_t groups = n8 / 8;
  for (std::size_t g = 0; g < groups; ++g) {
    std::uint64_t w[8];
    for (int b = 0; b < 8; ++b) w[b] = load64(plane + 64 * g + 8 * b);
    transpose_bytes8x8(w);
    transpose_bits_across8(w);
    for (int k = 0; k < 8; ++k) store64(rows + k * n8 + 8 * g, w[k]);
  }
  for (std::size_t i8 = groups * 8; i8 < n8; ++i8) {
    std::uint64_t x = transpose_bits8x8(load64(plane + 8 * i8));
    for (int k = 0; k < 8; ++k) rows[k * n8 + i8] = static_cast<std::uint8_t>(x >> (8 * k));
  }
}

// A block's worth of scratch per thread: blocks are small (8 KiB by default), so it stays in L1.
std::uint8_t* block_scratch(std::size_t bytes, int which) {
  thread_local std::vector<std::uint8_t> buffers[2];
  auto& b = buffers[which];
  if (b.size() < bytes) b.resize(bytes);
  return b.data();
}

void check_block_args(std::size_t n_elems, std::size_t elem_size) {
  if (n_elems % 8 != 0) throw DecodeError("bitshuffle block of " + std::to_string(n_elems) + " elements (not a multiple of 8)");
  if (elem_size == 0) throw DecodeError("bitshuffle element size 0");
}

// Walks full blocks, then the last block rounded down to 8 elements, then the raw leftover:
// calls block(out_offset, elems) in stream order, returns the leftover bytes.
template <class Block>
std::size_t for_each_block(std::size_t size, std::size_t block_elems, Block&& block) {
  std::size_t out = 0;
  for (std::size_t b = 0; b < size / block_elems; ++b) {
    block(out, block_elems);
    out += block_elems;
  }
  const std::size_t last = size % block_elems - size % block_elems % 8;
  if (last) block(out, last);
  return size % 8;
}

}  // namespace

std::size_t bitshuffle_default_block(std::size_t elem_size) {
  // Must match bshuf_default_block_size exactly: data written with block 0 depends on it.
  std::size_t block = 8192 / std::max<std::size_t>(elem_size, 1);
  block = block / 8 * 8;
  return std::max<std::size_t>(block, 128);
}

void bit_unshuffle_block(const std::uint8_t* in, std::uint8_t* out, std::size_t n_elems, std::size_t elem_size) {
  check_block_args(n_elems, elem_size);
  const std::size_t n8 = n_elems / 8;
  if (elem_size == 1) {
    rows_to_plane(in, n8, out);
    return;
  }
  std::uint8_t* planes = block_scratch(n_elems * elem_size, 0);
  for (std::size_t j = 0; j < elem_size; ++j) rows_to_plane(in + 8 * j * n8, n8, planes + j * n_elems);
  byte_unshuffle(planes, out, n_elems * elem_size, elem_size);  // planes -> elements
}

void bit_shuffle_block(const std::uint8_t* in, std::uint8_t* out, std::size_t n_elems, std::size_t elem_size) {
  check_block_args(n_elems, elem_size);
  const std::size_t n8 = n_elems / 8;
  std::uint8_t* planes = block_scratch(n_elems * elem_size, 0);
  for (std::size_t j = 0; j < elem_size; ++j)
    for (std::size_t i = 0; i < n_elems; ++i) planes[j * n_elems + i] = in[i * elem_size + j];
  for (std::size_t j = 0; j < elem_size; ++j) plane_to_rows(planes + j * n_elems, n8, out + 8 * j * n8);
}

void bit_unshuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t nbytes, std::size_t elem_size,
                   std::size_t block_elems) {
  if (elem_size == 0) throw DecodeError("bitshuffle element size 0");
  if (nbytes % elem_size) throw DecodeError("bitshuffle chunk of " + std::to_string(nbytes) +
                                            " bytes is not a whole number of " + std::to_string(elem_size) +
                                            "-byte elements");
  if (block_elems == 0) block_elems = bitshuffle_default_block(elem_size);
  if (block_elems % 8) throw DecodeError("bitshuffle block size " + std::to_string(block_elems) + " is not a multiple of 8");
  const std::size_t left = for_each_block(nbytes / elem_size, block_elems, [&](std::size_t at, std::size_t elems) {
    bit_unshuffle_block(in + at * elem_size, out + at * elem_size, elems, elem_size);
  });
  std::memcpy(out + nbytes - left * elem_size, in + nbytes - left * elem_size, left * elem_size);
}

BitshuffleLayout parse_bitshuffle(const std::uint8_t* in, std::size_t n, std::size_t elem_size, std::size_t out_size) {
  if (elem_size == 0) throw DecodeError("bitshuffle element size 0");
  if (n < 12) throw DecodeError("bitshuffle chunk of " + std::to_string(n) + " bytes is shorter than its 12-byte header");
  const std::uint64_t total = read_be64(in);
  if (total != out_size)
    throw DecodeError("bitshuffle chunk header says " + std::to_string(total) + " bytes, the chunk holds " +
                      std::to_string(out_size));
  if (out_size % elem_size)
    throw DecodeError("bitshuffle chunk of " + std::to_string(out_size) + " bytes is not a whole number of " +
                      std::to_string(elem_size) + "-byte elements");
  BitshuffleLayout L;
  L.elem_size = elem_size;
  L.block_elems = read_be32(in + 8) / elem_size;  // as the plugin: bytes in the header, elements here
  if (L.block_elems == 0) L.block_elems = bitshuffle_default_block(elem_size);
  if (L.block_elems % 8)
    throw DecodeError("bitshuffle block size " + std::to_string(L.block_elems) + " elements is not a multiple of 8");
  std::size_t pos = 12;
  const std::size_t size = out_size / elem_size;
  L.blocks.reserve(size / L.block_elems + 1);
  const std::size_t left = for_each_block(size, L.block_elems, [&](std::size_t at, std::size_t elems) {
    if (n - pos < 4)
      throw DecodeError("bitshuffle chunk truncated: block " + std::to_string(L.blocks.size()) + " has no size");
    const std::uint32_t cs = read_be32(in + pos);
    pos += 4;
    if (cs > n - pos)
      throw DecodeError("bitshuffle chunk truncated: block " + std::to_string(L.blocks.size()) + " needs " +
                        std::to_string(cs) + " bytes, " + std::to_string(n - pos) + " left");
    L.blocks.push_back({pos, cs, at * elem_size, elems});
    pos += cs;
  });
  L.leftover_bytes = left * elem_size;
  L.leftover_out_offset = out_size - L.leftover_bytes;
  if (n - pos < L.leftover_bytes)
    throw DecodeError("bitshuffle chunk truncated: " + std::to_string(L.leftover_bytes) + " trailing raw bytes missing");
  L.leftover_in_offset = pos;
  return L;
}

namespace {
template <class Inflate>
void decode_bitshuffle_with(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size,
                            std::size_t elem_size, const char* codec, Inflate&& inflate) {
  const BitshuffleLayout L = parse_bitshuffle(in, n, elem_size, out_size);
  const std::size_t max_block = std::min(L.block_elems, out_size / elem_size) * elem_size;
  std::uint8_t* tmp = block_scratch(std::max<std::size_t>(max_block, 8), 1);
  for (std::size_t b = 0; b < L.blocks.size(); ++b) {
    const auto& blk = L.blocks[b];
    const std::size_t bytes = blk.elems * elem_size;
    const std::size_t got = inflate(in + blk.in_offset, blk.in_size, tmp, bytes);
    if (got != bytes)
      throw DecodeError(std::string("bitshuffle/") + codec + " block " + std::to_string(b) + " decompresses to " +
                        std::to_string(got) + " bytes, expected " + std::to_string(bytes));
    bit_unshuffle_block(tmp, out + blk.out_offset, blk.elems, elem_size);
  }
  std::memcpy(out + L.leftover_out_offset, in + L.leftover_in_offset, L.leftover_bytes);
}
}  // namespace

void decode_bitshuffle_lz4(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size,
                           std::size_t elem_size) {
  decode_bitshuffle_with(in, n, out, out_size, elem_size, "LZ4",
                         [](const std::uint8_t* src, std::size_t src_n, std::uint8_t* dst, std::size_t dst_n) {
                           if (src_n > INT_MAX || dst_n > INT_MAX) throw DecodeError("bitshuffle/LZ4 block over 2 GiB");
                           const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(src),
                                                             reinterpret_cast<char*>(dst), static_cast<int>(src_n),
                                                             static_cast<int>(dst_n));
                           if (r < 0 || !lz4_offsets_valid(src, src_n))  // io/lz4_check.hpp: offset 0
                             throw DecodeError("corrupt LZ4 block in a bitshuffle chunk");
                           return static_cast<std::size_t>(r);
                         });
}

void decode_bitshuffle_zstd(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size,
                            std::size_t elem_size) {
#ifdef LAUEPROC_HAVE_ZSTD
  decode_bitshuffle_with(in, n, out, out_size, elem_size, "zstd",
                         [](const std::uint8_t* src, std::size_t src_n, std::uint8_t* dst, std::size_t dst_n) {
                           const std::size_t r = ZSTD_decompress(dst, dst_n, src, src_n);
                           if (ZSTD_isError(r))
                             throw DecodeError(std::string("corrupt zstd block in a bitshuffle chunk (") +
                                               ZSTD_getErrorName(r) + ")");
                           return r;
                         });
#else
  (void)in, (void)n, (void)out, (void)out_size, (void)elem_size;
  throw DecodeError("bitshuffle/zstd chunk: this laueproc was built without libzstd");
#endif
}

std::vector<std::uint8_t> encode_bitshuffle_lz4(const std::uint8_t* in, std::size_t nbytes, std::size_t elem_size,
                                                std::size_t block_elems) {
  if (elem_size == 0 || nbytes % elem_size) throw DecodeError("encode_bitshuffle_lz4: not a whole number of elements");
  if (block_elems == 0) block_elems = bitshuffle_default_block(elem_size);
  if (block_elems % 8) throw DecodeError("encode_bitshuffle_lz4: block size not a multiple of 8");
  std::vector<std::uint8_t> out(12);
  write_be64(out.data(), nbytes);
  write_be32(out.data() + 8, static_cast<std::uint32_t>(block_elems * elem_size));
  std::vector<std::uint8_t> shuffled, packed;
  const std::size_t left = for_each_block(nbytes / elem_size, block_elems, [&](std::size_t at, std::size_t elems) {
    const std::size_t bytes = elems * elem_size;
    shuffled.resize(bytes);
    bit_shuffle_block(in + at * elem_size, shuffled.data(), elems, elem_size);
    packed.resize(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(bytes))));
    const int cs = LZ4_compress_default(reinterpret_cast<const char*>(shuffled.data()),
                                        reinterpret_cast<char*>(packed.data()), static_cast<int>(bytes),
                                        static_cast<int>(packed.size()));
    if (cs <= 0) throw DecodeError("LZ4 compression failed");
    const std::size_t pos = out.size();
    out.resize(pos + 4 + static_cast<std::size_t>(cs));
    write_be32(out.data() + pos, static_cast<std::uint32_t>(cs));
    std::memcpy(out.data() + pos + 4, packed.data(), static_cast<std::size_t>(cs));
  });
  out.insert(out.end(), in + nbytes - left * elem_size, in + nbytes);
  return out;
}

}  // namespace laueproc::io
