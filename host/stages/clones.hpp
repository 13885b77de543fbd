#pragma once
/// @file
/// @brief LAUEPROC_CLONES: the hot per-pixel loops of the CPU stages get an AVX2 clone beside
/// the portable (SSE2) one, picked once at load time by the loader (GCC function
/// multiversioning, ifunc), so a default build runs wider vectors where the CPU has them. The
/// clone performs the same IEEE operations in the same order on wider vectors, and AVX2 does not
/// enable FMA (nor does ISO C++ mode contract a * b + c), so results are bit-identical whichever
/// clone runs. Functions the clone calls must be inlined into it to profit (hence the
/// LAUEPROC_INLINE on their hot helpers). -DLAUEPROC_NO_CLONES builds the portable loops only
/// (to check them on a machine that has AVX2: scripts/check_identical.sh against such a build).

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(__AVX2__) && \
    !defined(LAUEPROC_NO_CLONES)
#define LAUEPROC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LAUEPROC_CLONES
#endif
#define LAUEPROC_INLINE inline __attribute__((always_inline))
