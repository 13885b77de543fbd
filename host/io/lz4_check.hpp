#pragma once
/// @file
/// @brief Structure check of one LZ4 block, beside LZ4_decompress_safe: liblz4 1.9.4 (Debian
/// bookworm's) decodes a match of offset 0, which the LZ4 block format forbids, from bytes of the
/// output not written yet: the safe decoder returned zeros there, the filter plugin's
/// LZ4_decompress_fast whatever its buffer held (found by tests/fuzz/fuzz_chunk_decoders as two
/// decoders disagreeing on a damaged bitshuffle chunk). A damaged block must be an error.

#include <cstddef>
#include <cstdint>

namespace laueproc::io {

/// @brief True when every match of the LZ4 block `src` (n bytes) has an offset in [1, bytes
/// decoded so far] and the sequences end exactly at the end of the block.
inline bool lz4_offsets_valid(const std::uint8_t* src, std::size_t n) {
  std::size_t ip = 0, produced = 0;
  auto length = [&](std::size_t base, std::size_t& out) {
    out = base;
    if (base != 15) return true;
    for (;;) {
      if (ip >= n) return false;
      const std::uint8_t b = src[ip++];
      out += b;
      if (b != 255) return true;
    }
  };
  while (ip < n) {
    const std::uint8_t token = src[ip++];
    std::size_t literals = 0, match = 0;
    if (!length(token >> 4, literals) || literals > n - ip) return false;
    ip += literals;
    produced += literals;
    if (ip == n) return true;  // the last sequence holds literals only
    if (n - ip < 2) return false;
    const std::size_t offset = src[ip] | (static_cast<std::size_t>(src[ip + 1]) << 8);
    ip += 2;
    if (offset == 0 || offset > produced) return false;
    if (!length(token & 15u, match)) return false;
    produced += match + 4;
  }
  return n == 0;
}

}  // namespace laueproc::io
