// The CPU grid executor itself: phases are barriers, locals persist, shared memory is per block.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu_grid.hpp"

namespace {

using laueproc::grid::Dim;
using laueproc::grid::Index;

// A block-wide tree sum into one output per block, then an atomic total: the pattern most
// reduction kernels use (shared array, halving loop split into phases).
struct BlockSum {
  static constexpr unsigned kThreads = 8;
  struct Params {
    const int* in;
    int n;
    int* per_block;
    int* total;
  };
  struct Shared {
    int partial[kThreads];
  };
  struct Local {
    int value;
  };
  static constexpr int kPhases = 5;  // load, 3 halvings (8 -> 1), write
  static void phase(int p, const Index& at, Shared& s, Local& l, const Params& P) {
    const unsigned t = at.thread_rank();
    if (p == 0) {
      const long long i = at.global_x();
      l.value = i < P.n ? P.in[i] : 0;
      s.partial[t] = l.value;
    } else if (p <= 3) {
      const unsigned half = kThreads >> p;
      if (t < half) s.partial[t] += s.partial[t + half];
    } else if (t == 0) {
      P.per_block[at.block.x] = s.partial[0];
      laueproc::grid::atomic_add(P.total, s.partial[0]);
    }
  }
};

TEST(CpuGrid, PhasedBlockSumMatchesSerialSumInBothOrders) {
  std::vector<int> in(37);
  for (int i = 0; i < 37; ++i) in[i] = i * i - 5;
  for (auto order : {laueproc::testing::GridOrder::forward, laueproc::testing::GridOrder::reverse}) {
    std::vector<int> per_block(5, -1);
    int total = 0;
    laueproc::testing::run_grid_on_cpu<BlockSum>(Dim{5, 1, 1}, Dim{BlockSum::kThreads, 1, 1},
                                                 {in.data(), 37, per_block.data(), &total}, order);
    int expect_total = 0;
    for (int b = 0; b < 5; ++b) {
      int expect = 0;
      for (int i = b * 8; i < b * 8 + 8 && i < 37; ++i) expect += in[i];
      EXPECT_EQ(per_block[b], expect) << "block " << b;
      expect_total += expect;
    }
    EXPECT_EQ(total, expect_total);
  }
}

// A body that reads shared memory it never wrote sees garbage, as on a GPU.
struct ReadsUnwrittenShared {
  struct Params {
    int* out;
  };
  struct Shared {
    int never_written;
  };
  struct Local {
    int unused;
  };
  static constexpr int kPhases = 1;
  static void phase(int, const Index&, Shared& s, Local&, const Params& P) { *P.out = s.never_written; }
};

TEST(CpuGrid, SharedMemoryStartsAsGarbage) {
  int out = 0;
  laueproc::testing::run_grid_on_cpu<ReadsUnwrittenShared>(Dim{}, Dim{}, {&out});
  EXPECT_NE(out, 0);
}

// A body that loops over phases (next_phase): halve every value until all are below a limit,
// then write how many rounds it took. The round count lives in shared memory, so every thread
// agrees on it.
struct HalveUntilSmall {
  static constexpr unsigned kThreads = 4;
  struct Params {
    int* values;
    int limit;
    int* rounds;
  };
  struct Shared {
    int big, rounds;
  };
  struct Local {
    int unused;
  };
  static constexpr int kPhases = 4;  // 0 start, 1 halve, 2 any left?, 3 write
  static int next_phase(int p, const Shared& s) { return p == 2 && s.big ? 1 : p + 1; }
  static void phase(int p, const Index& at, Shared& s, Local&, const Params& P) {
    const unsigned t = at.thread_rank();
    int& v = P.values[at.block.x * kThreads + t];
    if (p == 0) {
      if (t == 0) s.rounds = 0;
    } else if (p == 1) {
      if (t == 0) s.big = 0;
      if (v >= P.limit) v /= 2;
    } else if (p == 2) {
      if (v >= P.limit) laueproc::grid::atomic_or(&s.big, 1);
      if (t == 0) ++s.rounds;
    } else if (t == 0) {
      P.rounds[at.block.x] = s.rounds;
    }
  }
};

TEST(CpuGrid, NextPhaseLoopsLikeTheGpuLauncher) {
  for (auto order : {laueproc::testing::GridOrder::forward, laueproc::testing::GridOrder::reverse}) {
    std::vector<int> values{1000, 3, 5, 7, 1, 2, 3, 4};
    std::vector<int> rounds(2, -1);
    laueproc::testing::run_grid_on_cpu<HalveUntilSmall>(Dim{2, 1, 1}, Dim{HalveUntilSmall::kThreads, 1, 1},
                                                        {values.data(), 10, rounds.data()}, order);
    EXPECT_EQ(rounds[0], 7);  // 1000 -> 500 -> ... -> 7 in 7 halvings
    EXPECT_EQ(rounds[1], 1);  // already small: one round to find out
    for (int v : values) EXPECT_LT(v, 10);
  }
}

TEST(CpuGrid, IndexFlattensLikeCuda) {
  Index at;
  at.block_dim = {4, 3, 2};
  at.thread = {1, 2, 1};
  EXPECT_EQ(at.thread_rank(), (1u * 3 + 2) * 4 + 1);
  at.block = {3, 0, 0};
  EXPECT_EQ(at.global_x(), 3 * 4 + 1);
}

}  // namespace
