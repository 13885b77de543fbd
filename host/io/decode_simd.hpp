#pragma once
/// @file
/// @brief LAUEPROC_SIMD_CLONES: compile a hot decoding loop for AVX-512 and AVX2 as well as the
/// portable baseline; the loader picks the best the CPU has (GCC function multiversioning).

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LAUEPROC_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LAUEPROC_SIMD_CLONES
#endif
