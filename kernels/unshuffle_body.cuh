#pragma once
/// @file
/// @brief Phased kernel bodies (laueproc/math/grid.hpp) for decoding chunks on the device after
/// nvCOMP has inflated them: the bitshuffle bit-unshuffle of LZ4-decoded blocks, and the Adler-32
/// check of inflated zlib chunks. No CUDA syntax: g++ runs them on the CPU grid executor in CI
/// (tests/kernels/test_unshuffle.cpp), bit for bit against the host decoders (host/io/decode.hpp).

#include <cstdint>

#include "laueproc/math/bitshuffle.hpp"
#include "laueproc/math/grid.hpp"

namespace laueproc::kernels {

/// @brief One bitshuffle block: its shuffled bytes (LZ4 output) and where its elements go.
struct UnshuffleBlock {
  unsigned long long in_offset;   ///< into Params::in
  unsigned long long out_offset;  ///< into Params::out
  unsigned elems;                 ///< a multiple of 8; elems * elem_size <= kMaxBlockBytes
  unsigned elem_size;             ///< 1..8 bytes
};

using math::transpose_bits8x8;

/// @brief One CUDA block per bitshuffle block (blockIdx.x). Phase 0 stages the block's bytes in
/// shared memory (coalesced reads); phase 1 gives each thread groups of 8 elements: for each byte
/// j it gathers the 8 row bytes of bit rows 8j..8j+7, transposes them and writes the 8 elements'
/// bytes (8 x elem_size contiguous bytes per thread).
struct BitUnshuffleKernel {
  static constexpr unsigned kMaxBlockBytes = 16384;  ///< bitshuffle's default is 8192
  struct Params {
    const std::uint8_t* in;
    std::uint8_t* out;
    const UnshuffleBlock* blocks;
    unsigned n_blocks;
  };
  struct Shared {
    std::uint8_t bytes[kMaxBlockBytes];
  };
  struct Local {
    int unused;
  };
  static constexpr int kPhases = 2;

  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    if (at.block.x >= P.n_blocks) return;  // same for every thread of the block: no barrier skipped
    const UnshuffleBlock b = P.blocks[at.block.x];
    const unsigned bytes = b.elems * b.elem_size;
    if (bytes > kMaxBlockBytes || b.elems % 8 != 0 || b.elem_size == 0 || b.elem_size > 8) return;
    const unsigned tid = at.thread_rank(), nt = at.block_threads();
    if (p == 0) {
      const std::uint8_t* in = P.in + b.in_offset;
      for (unsigned i = tid; i < bytes; i += nt) s.bytes[i] = in[i];
      return;
    }
    const unsigned n8 = b.elems / 8, es = b.elem_size;
    std::uint8_t* out = P.out + b.out_offset;
    for (unsigned i8 = tid; i8 < n8; i8 += nt) {
      std::uint64_t x[8];
      for (unsigned j = 0; j < es; ++j) {
        std::uint64_t w = 0;
        for (unsigned k = 0; k < 8; ++k) w |= static_cast<std::uint64_t>(s.bytes[(8 * j + k) * n8 + i8]) << (8 * k);
        x[j] = transpose_bits8x8(w);  // byte m = byte j of element 8 i8 + m
      }
      std::uint8_t* dst = out + static_cast<unsigned long long>(8 * i8) * es;
      for (unsigned m = 0; m < 8; ++m)
        for (unsigned j = 0; j < es; ++j) dst[m * es + j] = static_cast<std::uint8_t>(x[j] >> (8 * m));
    }
  }
};

/// @brief Adler-32 of each inflated chunk (one CUDA block per chunk, blockIdx.x), as zlib
/// computes it: a = 1 + sum d_i, b = n + sum (n - i) d_i, both mod 65521. Phase 0: each thread
/// sums one contiguous segment; phase 1: thread 0 combines the segments in order and writes
/// the checksum. Segment weights are relative to the segment's end, so no sum overflows 64 bits
/// for chunks up to 4 GiB.
struct Adler32Kernel {
  static constexpr unsigned kMaxThreads = 256;
  static constexpr std::uint64_t kMod = 65521;
  struct Params {
    const std::uint8_t* const* data;  ///< per chunk
    const unsigned long long* size;   ///< per chunk
    std::uint32_t* adler;             ///< per chunk, out
    unsigned n_chunks;
  };
  struct Shared {
    std::uint64_t a[kMaxThreads], b[kMaxThreads], end[kMaxThreads];
  };
  struct Local {
    int unused;
  };
  static constexpr int kPhases = 2;

  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local&, const Params& P) {
    if (at.block.x >= P.n_chunks) return;
    const unsigned tid = at.thread_rank(), nt = at.block_threads();
    if (nt > kMaxThreads) return;
    const unsigned long long n = P.size[at.block.x];
    if (p == 0) {
      const unsigned long long per = (n + nt - 1) / nt;
      const unsigned long long lo = per * tid < n ? per * tid : n, hi = lo + per < n ? lo + per : n;
      const std::uint8_t* d = P.data[at.block.x];
      std::uint64_t a = 0, b = 0;
      // 5552 bytes keep b below 2^64 between reductions (zlib's NMAX for 32 bits is smaller).
      for (unsigned long long i = lo; i < hi;) {
        const unsigned long long stop = hi - i > 5552 ? i + 5552 : hi;
        for (; i < stop; ++i) {
          a += d[i];
          b += a;  // running sums: b = sum (i_end - i + 1) d_i over the segment so far
        }
        a %= kMod;
        b %= kMod;
      }
      s.a[tid] = a;
      s.b[tid] = b;
      s.end[tid] = hi;
      return;
    }
    if (tid != 0) return;
    // Segment t covers [start_t, end_t): its b holds sum (end_t - i) d_i. Over the whole chunk
    // B = n + sum_t [b_t + (n - end_t) a_t], A = 1 + sum_t a_t.
    std::uint64_t A = 1, B = n % kMod;
    for (unsigned t = 0; t < nt; ++t) {
      A = (A + s.a[t]) % kMod;
      B = (B + s.b[t] + ((n - s.end[t]) % kMod) * s.a[t]) % kMod;
    }
    P.adler[at.block.x] = static_cast<std::uint32_t>((B << 16) | A);
  }
};

}  // namespace laueproc::kernels
