#pragma once
/// @file
/// @brief Big-endian fields of compressed chunk headers (bitshuffle, zlib).

#include <cstdint>

namespace laueproc::io {

inline std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}
inline std::uint64_t read_be64(const std::uint8_t* p) {
  return (std::uint64_t{read_be32(p)} << 32) | read_be32(p + 4);
}
inline void write_be32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline void write_be64(std::uint8_t* p, std::uint64_t v) {
  write_be32(p, static_cast<std::uint32_t>(v >> 32));
  write_be32(p + 4, static_cast<std::uint32_t>(v));
}

}  // namespace laueproc::io
