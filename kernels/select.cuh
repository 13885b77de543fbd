#pragma once
/// @file
/// @brief Exact k-th smallest of a multiset of 32-bit keys by radix selection (8 bits per pass,
/// 4 passes), for block-level phased bodies: std::nth_element's answer (the element at rank k
/// of the sorted order) without sorting, independent of the order threads count in. Floats are
/// compared through kernels::ordered_bits, so the selected float is the CPU's exactly.
///
/// A body selects M values at once with M RadixSelect states and M x 256 counters in shared
/// memory, over kSelectPhases phases starting at phase p0:
///   p0          radix_begin (thread 0), zero the counters of buffer 0 (all threads)
///   p0 + 1 + 2d every thread counts its candidates' digits of pass d into buffer d & 1
///   p0 + 2 + 2d thread 0: radix_choose for pass d (buffer d & 1); the others zero buffer (d+1) & 1
/// after which RadixSelect::prefix holds the selected key.

#include "laueproc/math/hd.hpp"

namespace laueproc::kernels {

constexpr int kSelectPhases = 9;

struct RadixSelect {
  unsigned int prefix;      ///< digits chosen so far
  unsigned int mask;        ///< bits of the chosen digits
  unsigned long long k;     ///< rank still to find among the candidates
  unsigned long long n;     ///< size of the multiset (k < n required)
};

/// @brief Starts a selection of rank k (0-based) among n keys.
LAUEPROC_HD inline void radix_begin(RadixSelect& r, unsigned long long k, unsigned long long n) {
  r.prefix = 0;
  r.mask = 0;
  r.k = k;
  r.n = n;
}

/// @brief Which pass phase p (relative to p0) is: -1 the start, 2d+1 count pass d, 2d+2 choose pass d.
LAUEPROC_HD inline int radix_pass(int rel) { return rel <= 0 ? -1 : (rel - 1) / 2; }

/// @brief True when `key` still matches the digits chosen before pass d.
LAUEPROC_HD inline bool radix_candidate(const RadixSelect& r, unsigned int key) { return (key & r.mask) == r.prefix; }

/// @brief Digit of `key` counted in pass d (d = 0: the high byte).
LAUEPROC_HD inline unsigned int radix_digit(int d, unsigned int key) { return (key >> (24 - 8 * d)) & 255u; }

/// @brief Chooses pass d's digit from its 256 counters.
LAUEPROC_HD inline void radix_choose(RadixSelect& r, int d, const unsigned int* hist) {
  if (r.n == 0) return;
  unsigned long long below = 0;
  int b = 0;
  for (; b < 255; ++b) {
    if (below + hist[b] > r.k) break;
    below += hist[b];
  }
  r.k -= below;
  const int shift = 24 - 8 * d;
  r.prefix |= static_cast<unsigned int>(b) << shift;
  r.mask |= 255u << shift;
}

}  // namespace laueproc::kernels
