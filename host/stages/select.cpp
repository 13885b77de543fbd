/// @file
/// @brief Radix selection of the k-th smallest float (see select.hpp).

#include "stages/select.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace laueproc::detail {
namespace {

// Unsigned key in the floats' order: negatives (sign bit set) flip all bits, the others flip the
// sign bit only. -0.0 would sort below +0.0 (nth_element treats them as equal): see select.hpp.
inline std::uint32_t float_key(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits ^ ((0u - (bits >> 31)) | 0x80000000u);
}

inline float key_float(std::uint32_t key) {
  const std::uint32_t bits = key ^ ((key >> 31) ? 0x80000000u : 0xFFFFFFFFu);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

constexpr int kLevels = 3;
constexpr int kShift[kLevels] = {21, 10, 0};  // digits of 11, 11 and 10 bits, most significant first
constexpr std::uint32_t kDigitMask[kLevels] = {0x7FF, 0x7FF, 0x3FF};
constexpr int kMaxBins = 2048;

// Bin of the rank k among counts[0..bins); k becomes the rank inside that bin.
int bin_of_rank(const std::uint32_t* counts, int bins, std::size_t& k) {
  int b = 0;
  for (; b < bins - 1 && counts[b] <= k; ++b) k -= counts[b];
  return b;
}

}  // namespace

float kth_smallest(const float* v, std::size_t n, std::size_t k) {
  thread_local std::vector<std::uint32_t> keys;
  // Interleaved count tables: concentrated data (noise samples fill a few top-digit bins) would
  // otherwise chain every increment on the previous one through memory. Four on the first level
  // (all n values), two on the later ones (few values: the tables' clearing would dominate).
  std::uint32_t counts[4][kMaxBins];
  keys.resize(n);
  std::uint32_t* const first = keys.data();
  std::size_t m = n;
  for (int level = 0; level < kLevels; ++level) {
    const int shift = kShift[level];
    const std::uint32_t digit_mask = kDigitMask[level];
    const int bins = static_cast<int>(digit_mask) + 1;
    std::size_t i = 0;
    if (level == 0) {  // straight from the floats
      std::memset(counts, 0, sizeof counts);
      for (; i + 4 <= m; i += 4) {
        ++counts[0][float_key(v[i]) >> shift];
        ++counts[1][float_key(v[i + 1]) >> shift];
        ++counts[2][float_key(v[i + 2]) >> shift];
        ++counts[3][float_key(v[i + 3]) >> shift];
      }
      for (; i < m; ++i) ++counts[0][float_key(v[i]) >> shift];
      for (int b = 0; b < bins; ++b) counts[0][b] += counts[2][b] + counts[3][b];
    } else {
      std::memset(counts, 0, 2 * sizeof counts[0]);
      for (; i + 2 <= m; i += 2) {
        ++counts[0][(first[i] >> shift) & digit_mask];
        ++counts[1][(first[i + 1] >> shift) & digit_mask];
      }
      if (i < m) ++counts[0][(first[i] >> shift) & digit_mask];
    }
    for (int b = 0; b < bins; ++b) counts[0][b] += counts[1][b];
    const auto digit = static_cast<std::uint32_t>(bin_of_rank(counts[0], bins, k));
    if (level == kLevels - 1) return key_float((first[0] & ~digit_mask) | digit);
    // Keep the keys with this digit (branch-free compaction: always store, advance on a match).
    std::uint32_t* out = first;
    if (level == 0) {
      for (i = 0; i < m; ++i) {
        const std::uint32_t key = float_key(v[i]);
        *out = key;
        out += (key >> shift) == digit;
      }
    } else {
      for (i = 0; i < m; ++i) {
        const std::uint32_t key = first[i];
        *out = key;
        out += ((key >> shift) & digit_mask) == digit;
      }
    }
    m = static_cast<std::size_t>(out - first);
  }
  return 0.0f;  // not reached: the last level returns
}

}  // namespace laueproc::detail
