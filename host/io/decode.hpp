#pragma once
/// @file
/// @brief Decoders for the stored bytes of an HDF5 chunk, usable without HDF5: zlib/deflate
/// (filter 1, through ISA-L or libdeflate), byte shuffle (filter 2), bitshuffle with or without LZ4
/// (filter 32008, the bitshuffle plugin's chunk format) and zstd (filter 32015).
///
/// Every decoder takes plain pointers and sizes, writes exactly `out_size` bytes or throws
/// DecodeError saying what is malformed, and never reads or writes outside the buffers it was
/// given, whatever the input holds (fuzz targets call them directly). They are thread-safe: any
/// state (a libdeflate decompressor, an ISA-L inflate state) is per thread.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "laueproc/error.hpp"
#include "laueproc/io.hpp"

namespace laueproc::io {

/// @brief Malformed or unexpected compressed data; what() says what (the caller adds the file).
class DecodeError : public Error {
 public:
  using Error::Error;
};

// ---- deflate (HDF5 "gzip", filter 1): a zlib stream -----------------------------------------

/// @brief Decodes a zlib stream (2-byte header, deflate data, Adler-32, all checked) of exactly
/// `out_size` bytes. Inflater::fastest picks by the compression level the header records: ISA-L
/// for levels 6-9 (FLEVEL 2-3), where it is 1.2-1.4x libdeflate on real and simulated frames,
/// libdeflate below, where neither wins on both (benchmarks/RESULTS.md, 2026-11-29 late).
void decode_zlib(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size,
                 Inflater inflater = Inflater::fastest);
/// @brief True when this build has ISA-L (else Inflater::isal falls back to libdeflate).
bool have_isal();
/// @brief The decoder decode_zlib runs for `requested` on a stream whose zlib header (2 bytes) is
/// `header`: `requested` itself unless Inflater::fastest or ISA-L is missing.
Inflater resolve_inflater(Inflater requested, const std::uint8_t* header);

/// @brief What a zlib stream's 2-byte header and 4-byte trailer say. The raw deflate data lies
/// at [deflate_offset, deflate_offset + deflate_size); a GPU inflates it and checks `adler32`.
struct ZlibFrame {
  std::size_t deflate_offset = 2;
  std::size_t deflate_size = 0;
  std::uint32_t adler32 = 0;  ///< of the uncompressed data, from the big-endian trailer
};
/// @brief Checks the header (method 8, window <= 32 KiB, FCHECK, no preset dictionary) and reads
/// the trailer; throws DecodeError otherwise.
ZlibFrame parse_zlib_frame(const std::uint8_t* in, std::size_t n);

/// @brief Adler-32 of `data` continuing from `adler` (1 for a fresh checksum), as zlib computes it.
std::uint32_t adler32(std::uint32_t adler, const std::uint8_t* data, std::size_t n);

// ---- zstd (filter 32015): one or more zstd frames ---------------------------------------------

/// @brief True when this build has libzstd.
bool have_zstd();
void decode_zstd(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size);

// ---- byte shuffle (HDF5 filter 2) --------------------------------------------------------------

/// @brief Inverse of HDF5's shuffle: byte b of every element is stored together. Bytes past the
/// last whole element stay as stored.
void byte_unshuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t nbytes, std::size_t elem_size);

// ---- bitshuffle (filter 32008) -------------------------------------------------------------------
//
// Bitshuffle splits a chunk of `size` elements into blocks of `block` elements (a multiple of 8;
// 0 in the header or filter options means the default, 8192 bytes' worth, at least 128). Within a
// block of n elements, the stored bytes are 8 x elem_size rows of n/8 bytes: row 8 j + k holds bit k
// of byte j of every element, element i at bit i % 8 of byte i / 8. Full blocks come first, then
// one block of the remaining elements rounded down to a multiple of 8, then the last size % 8
// elements copied raw.
//
// With LZ4 (filter option 4 = 2), the chunk starts with a 12-byte header: the uncompressed size
// (uint64, big-endian) and the block size in bytes (uint32, big-endian); each block is then a
// big-endian uint32 compressed size followed by that many bytes of one LZ4 block; the raw
// leftover bytes follow the last block.

constexpr std::uint32_t kBitshuffleFilter = 32008;
constexpr std::uint32_t kZstdFilter = 32015;
constexpr unsigned kBitshuffleNoCompression = 0;
constexpr unsigned kBitshuffleLz4 = 2;
constexpr unsigned kBitshuffleZstd = 3;

/// @brief The plugin's default block size, in elements, for elements of `elem_size` bytes.
std::size_t bitshuffle_default_block(std::size_t elem_size);

/// @brief Bit-unshuffles one block of `n_elems` elements (a multiple of 8); in and out must not
/// overlap. Vectorised by the compiler; bit-exact with the plugin.
void bit_unshuffle_block(const std::uint8_t* in, std::uint8_t* out, std::size_t n_elems, std::size_t elem_size);
/// @brief The forward transform of one block (the tests' and the writers' side).
void bit_shuffle_block(const std::uint8_t* in, std::uint8_t* out, std::size_t n_elems, std::size_t elem_size);

/// @brief Inverse of bitshuffle without compression over a whole chunk of `nbytes`.
void bit_unshuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t nbytes, std::size_t elem_size,
                   std::size_t block_elems);

/// @brief Where the pieces of a bitshuffle/LZ4 (or /zstd) chunk lie.
struct BitshuffleLayout {
  struct Block {
    std::size_t in_offset = 0;   ///< first byte of the compressed block (after its 4-byte size)
    std::size_t in_size = 0;     ///< compressed bytes
    std::size_t out_offset = 0;  ///< first byte of the block in the uncompressed chunk
    std::size_t elems = 0;       ///< elements in the block (a multiple of 8)
  };
  std::size_t elem_size = 0;
  std::size_t block_elems = 0;        ///< full block size, elements
  std::vector<Block> blocks;
  std::size_t leftover_in_offset = 0; ///< the raw trailing bytes
  std::size_t leftover_out_offset = 0;
  std::size_t leftover_bytes = 0;
};
/// @brief Reads the header and walks the block sizes of a compressed bitshuffle chunk that must
/// decompress to `out_size` bytes; throws DecodeError when anything does not fit.
BitshuffleLayout parse_bitshuffle(const std::uint8_t* in, std::size_t n, std::size_t elem_size, std::size_t out_size);

/// @brief Decodes a bitshuffle/LZ4 chunk (LZ4 blocks with liblz4, then bit_unshuffle_block).
void decode_bitshuffle_lz4(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size,
                           std::size_t elem_size);
/// @brief Decodes a bitshuffle/zstd chunk (needs have_zstd()).
void decode_bitshuffle_zstd(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size,
                            std::size_t elem_size);

/// @brief Encodes like the plugin with LZ4 (for tests and benchmarks; block 0 = default).
std::vector<std::uint8_t> encode_bitshuffle_lz4(const std::uint8_t* in, std::size_t nbytes, std::size_t elem_size,
                                                std::size_t block_elems = 0);

}  // namespace laueproc::io
