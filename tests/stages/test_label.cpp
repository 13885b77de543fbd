// Connected-component labeling against a brute-force flood fill.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "laueproc/stages.hpp"
#include "stages/synth.hpp"

using namespace laueproc;

namespace {
int flood_labels(const std::vector<std::uint8_t>& b, int w, int h, std::vector<int>& lab) {
  lab.assign(b.size(), 0);
  int n = 0;
  std::vector<int> stack;
  for (int i = 0; i < w * h; ++i) {
    if (!b[i] || lab[i]) continue;
    lab[i] = ++n;
    stack.push_back(i);
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int x = p % w + dx, y = p / w + dy;
          if (x < 0 || y < 0 || x >= w || y >= h) continue;
          const int q = y * w + x;
          if (b[q] && !lab[q]) {
            lab[q] = n;
            stack.push_back(q);
          }
        }
    }
  }
  return n;
}
}  // namespace

TEST(Label, SamePartitionAsFloodFill) {
  test::Rng rng(7);
  for (double density : {0.02, 0.1, 0.3, 0.45, 0.6, 0.8, 1.0}) {
    for (int rep = 0; rep < 4; ++rep) {
      const int w = 37 + rep * 13, h = 29 + rep * 7;
      std::vector<std::uint8_t> b(static_cast<std::size_t>(w) * h);
      for (auto& v : b) v = rng.uniform() < density;
      std::vector<int> ref;
      const int nref = flood_labels(b, w, h, ref);
      std::vector<std::int32_t> got;
      const int n = label_components(b.data(), w, h, got);
      ASSERT_EQ(n, nref) << "density " << density;
      // Same partition: the label maps are a bijection on foreground pixels.
      std::map<int, int> fwd, bwd;
      for (std::size_t i = 0; i < b.size(); ++i) {
        ASSERT_EQ(b[i] != 0, got[i] != 0);
        if (!b[i]) continue;
        auto f = fwd.emplace(ref[i], got[i]).first;
        auto g = bwd.emplace(got[i], ref[i]).first;
        ASSERT_EQ(f->second, got[i]);
        ASSERT_EQ(g->second, ref[i]);
      }
      // Raster-order numbering: labels equal the flood fill's (it also starts in raster order).
      for (std::size_t i = 0; i < b.size(); ++i) ASSERT_EQ(got[i], ref[i]);
    }
  }
}

TEST(Label, DiagonalPixelsAreConnected) {
  const std::uint8_t b[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::vector<std::int32_t> lab;
  EXPECT_EQ(label_components(b, 3, 3, lab), 1);
  const std::uint8_t c[12] = {1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1};
  EXPECT_EQ(label_components(c, 4, 3, lab), 4);
}
