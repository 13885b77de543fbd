#pragma once
/// @file
/// @brief A CPU grid executor for phased kernel bodies (laueproc/math/grid.hpp): runs every
/// block, and in each block phase p of every thread before phase p+1, as __syncthreads() does.
/// Shared memory and per-thread locals start as garbage (0xA5 bytes), as on a GPU, so a body
/// that reads what it never wrote fails here too. Blocks and threads may run in reverse order,
/// to catch a body that depends on the order the hardware happens to use. A body with
/// next_phase loops over phases as the GPU launcher does.

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "laueproc/math/grid.hpp"

namespace laueproc::testing {

enum class GridOrder { forward, reverse };

/// A looping body (next_phase) that never ends would hang the test: stop it instead.
constexpr long long kMaxPhasesPerBlock = 10'000'000;

template <class K>
void run_grid_on_cpu(grid::Dim grid_dim, grid::Dim block_dim, const typename K::Params& params,
                     GridOrder order = GridOrder::forward) {
  using Shared = typename K::Shared;
  using Local = typename K::Local;
  static_assert(std::is_trivially_copyable_v<Shared> && std::is_trivially_copyable_v<Local>,
                "Shared and Local must be plain data, as GPU shared memory and registers are");
  const unsigned long long blocks = grid_dim.count();
  const unsigned threads = static_cast<unsigned>(block_dim.count());
  auto shared_bytes = std::make_unique<unsigned char[]>(sizeof(Shared) + alignof(std::max_align_t));
  std::vector<Local> locals(threads);
  std::vector<unsigned> thread_order(threads);
  std::iota(thread_order.begin(), thread_order.end(), 0u);
  if (order == GridOrder::reverse) std::reverse(thread_order.begin(), thread_order.end());
  for (unsigned long long bb = 0; bb < blocks; ++bb) {
    const unsigned long long b = order == GridOrder::reverse ? blocks - 1 - bb : bb;
    std::memset(shared_bytes.get(), 0xA5, sizeof(Shared) + alignof(std::max_align_t));
    std::memset(static_cast<void*>(locals.data()), 0xA5, sizeof(Local) * locals.size());
    void* raw = shared_bytes.get();
    std::size_t space = sizeof(Shared) + alignof(std::max_align_t);
    auto* shared = static_cast<Shared*>(std::align(alignof(Shared), sizeof(Shared), raw, space));
    grid::Index at;
    at.grid_dim = grid_dim;
    at.block_dim = block_dim;
    at.block = {static_cast<unsigned>(b % grid_dim.x), static_cast<unsigned>(b / grid_dim.x % grid_dim.y),
                static_cast<unsigned>(b / grid_dim.x / grid_dim.y)};
    long long ran = 0;
    for (int p = 0; p < K::kPhases; p = grid::PhaseOrder<K>::next(p, *shared)) {
      for (unsigned t : thread_order) {
        at.thread = {t % block_dim.x, t / block_dim.x % block_dim.y, t / block_dim.x / block_dim.y};
        K::phase(p, at, *shared, locals[t], params);
      }
      if (++ran > kMaxPhasesPerBlock) throw std::runtime_error("run_grid_on_cpu: a block ran over 1e7 phases");
    }
  }
}

}  // namespace laueproc::testing
