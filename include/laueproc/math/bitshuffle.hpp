#pragma once
/// @file
/// @brief The bit transpose at the heart of bitshuffle, shared by the host decoder
/// (host/io/decode_bitshuffle.cpp) and the device kernel (kernels/unshuffle_body.cuh).

#include <cstdint>

#include "laueproc/math/hd.hpp"

namespace laueproc::math {

/// @brief 8x8 bit transpose of a little-endian word: bit m of byte k <-> bit k of byte m (the
/// bitshuffle plugin's TRANS_BIT_8X8).
LAUEPROC_HD inline std::uint64_t transpose_bits8x8(std::uint64_t x) {
  std::uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x = x ^ t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x = x ^ t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  x = x ^ t ^ (t << 28);
  return x;
}

}  // namespace laueproc::math
