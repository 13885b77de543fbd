// BlockPool: free blocks kept by size, lent blocks counted against the budget. The state is
// shared with every lent block, so a block given back after its pool is gone is still freed.
#include "io/frame_memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

namespace laueproc::io {

namespace {
constexpr std::size_t kGranule = std::size_t{64} << 10;
std::size_t round_up(std::size_t n) { return (std::max<std::size_t>(n, 1) + kGranule - 1) / kGranule * kGranule; }
}  // namespace

struct BlockPool::State {
  std::mutex m;
  std::size_t max_bytes;
  BlockAllocator allocator;
  std::multimap<std::size_t, void*> free;  // size -> block
  BlockPoolStats stats;

  ~State() {
    for (auto& [size, p] : free) allocator.release(p);
  }
  // With `m` held: frees every free block (to make room in the budget).
  void drop_free() {
    for (auto& [size, p] : free) {
      allocator.release(p);
      stats.held_bytes -= size;
    }
    free.clear();
  }
};

class BlockPool::Block final : public FrameBlock {
 public:
  Block(std::shared_ptr<State> state, void* p, std::size_t bytes)
      : FrameBlock(p, bytes, state->allocator.page_locked), state_(std::move(state)) {}
  ~Block() override {
    std::lock_guard<std::mutex> lock(state_->m);
    state_->free.emplace(bytes(), data());
    state_->stats.lent_bytes -= bytes();
  }

 private:
  std::shared_ptr<State> state_;
};

BlockPool::BlockPool(std::size_t max_bytes, BlockAllocator allocator) : state_(std::make_shared<State>()) {
  state_->max_bytes = max_bytes;
  state_->allocator = std::move(allocator);
}

BlockPool::~BlockPool() {
  std::lock_guard<std::mutex> lock(state_->m);
  state_->drop_free();  // lent blocks are freed when they come back (the state lives until then)
}

std::unique_ptr<FrameBlock> BlockPool::lend(std::size_t bytes) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.m);
  auto it = s.free.lower_bound(bytes);
  if (it != s.free.end()) {
    const std::size_t size = it->first;
    void* p = it->second;
    s.free.erase(it);
    ++s.stats.lent;
    s.stats.lent_bytes += size;
    return std::make_unique<Block>(state_, p, size);
  }
  const std::size_t size = round_up(bytes);
  if (s.stats.held_bytes + size > s.max_bytes) s.drop_free();  // blocks too small to serve: make room
  void* p = s.stats.held_bytes + size <= s.max_bytes ? s.allocator.allocate(size) : nullptr;
  if (!p) {
    ++s.stats.refused;
    return nullptr;
  }
  ++s.stats.lent;
  ++s.stats.allocated;
  s.stats.held_bytes += size;
  s.stats.lent_bytes += size;
  s.stats.max_held_bytes = std::max(s.stats.max_held_bytes, s.stats.held_bytes);
  return std::make_unique<Block>(state_, p, size);
}

BlockPoolStats BlockPool::stats() const {
  std::lock_guard<std::mutex> lock(state_->m);
  return state_->stats;
}

std::shared_ptr<BlockPool> make_host_frame_memory(std::size_t max_bytes) {
  BlockAllocator a;
  a.allocate = [](std::size_t n) -> void* { return std::aligned_alloc(4096, (n + 4095) / 4096 * 4096); };
  a.release = [](void* p) { std::free(p); };
  a.page_locked = false;
  return std::make_shared<BlockPool>(max_bytes, std::move(a));
}

}  // namespace laueproc::io
