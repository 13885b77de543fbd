#pragma once
/// @file
/// @brief A bounded pool of frame blocks (laueproc::FrameMemory): blocks given back are kept and
/// lent again, so a steady run allocates once. The CUDA backend builds one on pinned memory
/// (host/cuda/pinned_memory.cpp); make_host_frame_memory() is the same on ordinary page-aligned
/// memory (tests, and `bench` measuring the reader's share without a device).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "laueproc/frame.hpp"

namespace laueproc::io {

/// @brief How a pool gets and frees its memory.
struct BlockAllocator {
  std::function<void*(std::size_t)> allocate;  ///< null when it cannot (the pool then lends nothing)
  std::function<void(void*)> release;
  bool page_locked = false;                    ///< what FrameBlock::page_locked() reports
};

/// @brief What a pool did so far.
struct BlockPoolStats {
  std::uint64_t lent = 0;       ///< lend() calls answered with a block
  std::uint64_t allocated = 0;  ///< blocks allocated (the rest were reused)
  std::uint64_t refused = 0;    ///< lend() calls answered with null (budget used up)
  std::size_t held_bytes = 0;   ///< allocated now (lent or free)
  std::size_t lent_bytes = 0;   ///< lent now
  std::size_t max_held_bytes = 0;
};

/// @brief FrameMemory holding at most `max_bytes` of blocks (allocations are rounded up to 64
/// KiB). lend() takes the smallest free block that is big enough, else allocates while the budget
/// allows (first freeing free blocks too small to serve), else returns null.
class BlockPool final : public FrameMemory {
 public:
  BlockPool(std::size_t max_bytes, BlockAllocator allocator);
  ~BlockPool() override;
  std::unique_ptr<FrameBlock> lend(std::size_t bytes) override;
  BlockPoolStats stats() const;

 private:
  struct State;
  class Block;
  std::shared_ptr<State> state_;  // shared with the lent blocks, which may outlive the pool
};

/// @brief A BlockPool of ordinary page-aligned host memory (not page-locked).
std::shared_ptr<BlockPool> make_host_frame_memory(std::size_t max_bytes);

}  // namespace laueproc::io
