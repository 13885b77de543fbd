#pragma once
/// @file
/// @brief How a kernel body is written so that both the GPU and a CPU grid executor run it.
///
/// A kernel is a struct K with
///   - `using Params = ...;`   what the launch passes (plain data, device pointers on the GPU);
///   - `struct Shared {...};`  the block's shared memory (trivial type, never assumed zeroed);
///   - `struct Local {...};`   a thread's registers that live across phases (trivial type);
///   - `static constexpr int kPhases = N;`
///   - `LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local& l,
///                                    const Params& params);`
/// Phase p+1 of any thread starts after phase p of every thread of the block: on the GPU a
/// `__syncthreads()` separates them (kernels/phased.cuh), on the CPU the executor runs phase p
/// for all threads of a block before phase p+1 (tests/kernels/cpu_grid.hpp). Every thread runs
/// every phase (guard out-of-range work with `if`, never `return` early from the kernel).
/// Atomics go through the functions below, so the same body compiles for both.
///
/// Loops over phases (iterate until converged, a data-dependent number of sort stages): a body
/// may also define
///   - `LAUEPROC_HD static int next_phase(int p, const Shared& s);`
/// the phase to run after p (without it: p + 1; a value >= kPhases ends the kernel). It is read
/// by every thread after a barrier and before the next one, so it must depend on shared memory
/// only (then all threads agree); the launcher puts a second barrier after it, so the next phase
/// may overwrite what it read.

#include "laueproc/math/hd.hpp"

namespace laueproc::grid {

/// @brief CUDA's dim3 without CUDA headers.
struct Dim {
  unsigned x = 1, y = 1, z = 1;
  LAUEPROC_HD unsigned long long count() const { return 1ull * x * y * z; }
};

/// @brief What blockIdx, threadIdx, gridDim and blockDim say for one thread.
struct Index {
  Dim block, thread, grid_dim, block_dim;
  /// @brief threadIdx flattened (x fastest), as CUDA numbers the threads of a block.
  LAUEPROC_HD unsigned thread_rank() const {
    return (thread.z * block_dim.y + thread.y) * block_dim.x + thread.x;
  }
  LAUEPROC_HD unsigned block_threads() const { return block_dim.x * block_dim.y * block_dim.z; }
  /// @brief Global x index: blockIdx.x * blockDim.x + threadIdx.x.
  LAUEPROC_HD long long global_x() const { return 1ll * block.x * block_dim.x + thread.x; }
};

// The CPU executor runs one thread at a time, so plain read-modify-write is exact there.
#if defined(__CUDA_ARCH__)
template <class T>
__device__ inline T atomic_add(T* p, T v) { return atomicAdd(p, v); }
template <class T>
__device__ inline T atomic_min(T* p, T v) { return atomicMin(p, v); }
template <class T>
__device__ inline T atomic_max(T* p, T v) { return atomicMax(p, v); }
template <class T>
__device__ inline T atomic_cas(T* p, T expected, T desired) { return atomicCAS(p, expected, desired); }
template <class T>
__device__ inline T atomic_exch(T* p, T v) { return atomicExch(p, v); }
template <class T>
__device__ inline T atomic_or(T* p, T v) { return atomicOr(p, v); }
/// @brief A read another thread may be changing (through L2, never a stale L1 copy).
template <class T>
__device__ inline T load_volatile(const T* p) { return __ldcg(p); }
#else
template <class T>
inline T atomic_add(T* p, T v) { const T old = *p; *p = static_cast<T>(old + v); return old; }
template <class T>
inline T atomic_min(T* p, T v) { const T old = *p; if (v < old) *p = v; return old; }
template <class T>
inline T atomic_max(T* p, T v) { const T old = *p; if (old < v) *p = v; return old; }
template <class T>
inline T atomic_cas(T* p, T expected, T desired) { const T old = *p; if (old == expected) *p = desired; return old; }
template <class T>
inline T atomic_exch(T* p, T v) { const T old = *p; *p = v; return old; }
template <class T>
inline T atomic_or(T* p, T v) { const T old = *p; *p = static_cast<T>(old | v); return old; }
template <class T>
inline T load_volatile(const T* p) { return *p; }
#endif

/// @brief The phase after p: K::next_phase when K defines it, else p + 1.
template <class K, class = void>
struct PhaseOrder {
  LAUEPROC_HD static int next(int p, const typename K::Shared&) { return p + 1; }
  static constexpr bool kLoops = false;
};
template <class K>
struct PhaseOrder<K, decltype(void(K::next_phase(0, *static_cast<const typename K::Shared*>(nullptr))))> {
  LAUEPROC_HD static int next(int p, const typename K::Shared& s) { return K::next_phase(p, s); }
  static constexpr bool kLoops = true;
};

}  // namespace laueproc::grid
