// Splitting a scan over processes, without MPI: shard specs and blocks, the hand-out ledger of
// rank 0, frame ranges in messages, and the bytes ranks exchange (bit-exact round trips).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>
#include <thread>

#include "cluster/plan.hpp"
#include "cluster/wire.hpp"
#include "laueproc/error.hpp"

using namespace laueproc;
using namespace laueproc::cluster;

TEST(Shards, ParseAndRefuse) {
  const Shard s = parse_shard("3/8");
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 8);
  EXPECT_TRUE(s.active());
  EXPECT_FALSE(Shard{}.active());
  for (const char* bad : {"8/8", "1/0", "-1/4", "3", "a/b", "3/8/1", ""}) EXPECT_THROW(parse_shard(bad), UsageError) << bad;
}

// Blocks tile 0..n-1 without gaps or overlaps, sizes within one of each other.
TEST(Shards, BlocksTileTheScan) {
  for (std::int64_t n : {0, 1, 7, 24, 1000003}) {
    for (int count : {1, 2, 3, 8, 13}) {
      std::int64_t next = 0, smallest = n, largest = 0;
      for (int i = 0; i < count; ++i) {
        const auto [first, last] = block_range(n, i, count);
        EXPECT_EQ(first, next) << n << " " << count << " " << i;
        next = last;
        smallest = std::min(smallest, last - first);
        largest = std::max(largest, last - first);
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1);
    }
  }
  EXPECT_EQ(shard_results_name("/d/r.h5", Shard{2, 5}), "/d/r.h5.shard-2-of-5");
}

TEST(Shards, FramesAsRanges) {
  EXPECT_EQ(describe_frames({7, 3, 4, 5, 12, 20, 21}), "3-5, 7, 12, 20-21");
  EXPECT_EQ(describe_frames({}), "none");
  EXPECT_EQ(describe_frames({1, 3, 5, 7, 9}, 2), "1, 3, ... (3 more ranges)");
}

std::vector<std::int64_t> iota_frames(std::int64_t n, std::int64_t skip_every = 0) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < n; ++i)
    if (skip_every == 0 || i % skip_every != 0) v.push_back(i);
  return v;
}

// Dynamic: chunks of the whole list in order, to whoever asks; every frame once.
TEST(Dispatcher, DynamicHandsOutEveryFrameOnce) {
  const auto todo = iota_frames(100, 7);  // frames 0, 7, 14 ... were done before (resume)
  Dispatcher d(todo, 3, Distribution::dynamic);
  std::vector<std::int64_t> seen;
  for (int round = 0;; ++round) {
    const int rank = round % 3;
    auto chunk = d.hand_out(rank, 1 + round % 4);
    if (chunk.empty()) break;
    EXPECT_TRUE(std::is_sorted(chunk.begin(), chunk.end()));
    EXPECT_EQ(d.outstanding(rank).size() >= chunk.size(), true);
    seen.insert(seen.end(), chunk.begin(), chunk.end());
  }
  EXPECT_EQ(seen, todo) << "in order, each once";
}

// Static: rank r gets exactly block r of the frames to do, whatever the order of asking.
TEST(Dispatcher, StaticKeepsEachRankInItsBlock) {
  const auto todo = iota_frames(50);
  Dispatcher d(todo, 4, Distribution::static_blocks);
  for (int rank : {3, 0, 2, 1}) {
    std::vector<std::int64_t> got;
    for (auto c = d.hand_out(rank, 5); !c.empty(); c = d.hand_out(rank, 5)) got.insert(got.end(), c.begin(), c.end());
    const auto [first, last] = block_range(50, rank, 4);
    ASSERT_EQ(static_cast<std::int64_t>(got.size()), last - first) << rank;
    EXPECT_EQ(got.front(), first);
    EXPECT_EQ(got.back(), last - 1);
  }
}

// What a rank holds is what it got minus what came back; a closed ledger hands out nothing.
TEST(Dispatcher, TracksHoldingsAndCloses) {
  Dispatcher d(iota_frames(20), 2, Distribution::dynamic);
  auto a = d.hand_out(1, 4);
  d.returned(1, a[0]);
  d.returned(1, a[2]);
  EXPECT_EQ(d.outstanding(1), (std::vector<std::int64_t>{a[1], a[3]}));
  EXPECT_TRUE(d.outstanding(0).empty());
  d.close();
  EXPECT_TRUE(d.hand_out(0, 4).empty());
  EXPECT_EQ(d.outstanding(1).size(), 2u) << "closing forgets nothing";
}

// Rank 0's own workers and its message thread ask at the same time.
TEST(Dispatcher, ThreadSafe) {
  Dispatcher d(iota_frames(20000), 4, Distribution::dynamic);
  std::vector<std::vector<std::int64_t>> got(4);
  std::vector<std::thread> threads;
  for (int r = 0; r < 4; ++r)
    threads.emplace_back([&, r] {
      for (auto c = d.hand_out(r, 3); !c.empty(); c = d.hand_out(r, 3)) got[static_cast<std::size_t>(r)].insert(got[static_cast<std::size_t>(r)].end(), c.begin(), c.end());
    });
  for (auto& t : threads) t.join();
  std::set<std::int64_t> all;
  std::size_t total = 0;
  for (const auto& g : got) {
    all.insert(g.begin(), g.end());
    total += g.size();
  }
  EXPECT_EQ(total, 20000u);
  EXPECT_EQ(all.size(), 20000u);
}

TEST(Dispatcher, ParsesItsName) {
  EXPECT_EQ(parse_distribution("static"), Distribution::static_blocks);
  EXPECT_EQ(parse_distribution("dynamic"), Distribution::dynamic);
  EXPECT_THROW(parse_distribution("round-robin"), UsageError);
}

// A frame crosses between ranks as its bytes: every double comes back bit for bit (NaN, -0,
// denormals), the status whole.
TEST(Wire, ResultRoundTripIsBitExact) {
  FrameResult r;
  r.summary.frame = 123456789012;
  r.summary.ix = -1;
  r.summary.has_position = true;
  r.summary.x_um = -0.0;
  r.summary.y_um = 1e-310;
  r.summary.se = std::numeric_limits<double>::quiet_NaN();
  r.summary.scenario = Scenario::stacking;
  r.summary.noise = 0.1 + 0.2;
  r.summary.status = "read error: a \"quoted\", long, reason with , commas";
  for (int k = 0; k < 3; ++k) {
    Peak p;
    p.frame = r.summary.frame;
    p.peak = k;
    p.x = 1.0 / 3.0 + k;
    p.snr = std::nextafter(5.0, 6.0);
    p.saturated = k == 1;
    r.peaks.push_back(p);
  }
  std::string bytes;
  wire::put_result(bytes, r);
  wire::put_frames(bytes, {4, 5, 99});
  std::string_view in(bytes);
  FrameResult back;
  std::vector<std::int64_t> frames;
  ASSERT_TRUE(wire::get_result(in, back));
  ASSERT_TRUE(wire::get_frames(in, frames));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(frames, (std::vector<std::int64_t>{4, 5, 99}));
  EXPECT_EQ(back.summary.frame, r.summary.frame);
  EXPECT_EQ(back.summary.status, r.summary.status);
  EXPECT_EQ(back.summary.scenario, Scenario::stacking);
  EXPECT_TRUE(std::signbit(back.summary.x_um));
  EXPECT_EQ(back.summary.y_um, 1e-310);
  EXPECT_TRUE(std::isnan(back.summary.se));
  EXPECT_EQ(back.summary.noise, 0.1 + 0.2);
  ASSERT_EQ(back.peaks.size(), 3u);
  EXPECT_EQ(std::memcmp(back.peaks.data(), r.peaks.data(), 3 * sizeof(Peak)), 0);
  // Cut anywhere: refused, never read past the end.
  for (std::size_t cut = 0; cut + 1 < bytes.size(); cut += 7) {
    std::string_view part(bytes.data(), cut);
    FrameResult x;
    if (cut < bytes.size() - (8 + 3 * 8)) EXPECT_FALSE(wire::get_result(part, x)) << cut;
  }
}

TEST(Wire, ReportRoundTrip) {
  wire::RankReport r;
  r.frames = 40;
  r.failed = 2;
  r.peaks = 1234;
  r.seconds = 1.5;
  r.cpu_seconds = 2.25;
  r.interrupted = true;
  r.error_code = 2;
  r.error = "/data/x.h5: no such file";
  r.backend = "cuda:1 (H200)";
  r.host = "node17";
  r.failures = {"frame 3: empty", "frame 9: constant"};
  std::string bytes;
  wire::put_report(bytes, r);
  std::string_view in(bytes);
  wire::RankReport back;
  ASSERT_TRUE(wire::get_report(in, back));
  EXPECT_EQ(back.frames, 40);
  EXPECT_EQ(back.error, r.error);
  EXPECT_EQ(back.host, "node17");
  EXPECT_EQ(back.cpu_seconds, 2.25);
  EXPECT_EQ(back.failures, r.failures);
  EXPECT_TRUE(back.interrupted);
  std::string_view cut(bytes.data(), bytes.size() - 1);
  EXPECT_FALSE(wire::get_report(cut, back));
}
