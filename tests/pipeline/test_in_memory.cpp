// analyze_frames (laueproc/analyze.hpp): frames in memory give the pipeline's rows, for any thread
// count and through the batch-backend path as through the in-place CPU path.
#include <gtest/gtest.h>

#include "laueproc/analyze.hpp"
#include "laueproc/sim.hpp"

namespace laueproc {
namespace {

std::vector<std::vector<std::uint16_t>> simulated_frames(int n, int size) {
  sim::SimConfig config;
  config.width = config.height = size;
  config.grid_nx = n;
  config.grid_ny = 1;
  config.seed = 4;
  sim::ScanSimulator simulator(config);
  std::vector<std::vector<std::uint16_t>> frames(n);
  for (int i = 0; i < n; ++i) simulator.render(i, frames[i], nullptr);
  return frames;
}

void expect_same(const FrameResult& a, const FrameResult& b) {
  ASSERT_EQ(a.peaks.size(), b.peaks.size());
  for (std::size_t k = 0; k < a.peaks.size(); ++k) {
    EXPECT_EQ(a.peaks[k].x, b.peaks[k].x);
    EXPECT_EQ(a.peaks[k].a, b.peaks[k].a);
    EXPECT_EQ(a.peaks[k].frame, b.peaks[k].frame);
  }
  EXPECT_EQ(a.summary.frame, b.summary.frame);
  EXPECT_EQ(a.summary.scenario, b.summary.scenario);
  EXPECT_EQ(a.summary.status, b.summary.status);
  if (a.summary.status == "ok") EXPECT_EQ(a.summary.se, b.summary.se);
}

TEST(AnalyzeFrames, SameRowsForAnyThreadCountAndBackendPath) {
  const int size = 192;
  auto pixels = simulated_frames(5, size);
  pixels.push_back(std::vector<std::uint16_t>(size * size, 0));  // an empty frame: a status, no crash
  std::vector<FrameView> views;
  for (const auto& p : pixels) views.push_back(FrameView{p.data(), size, size, size});
  const ProcessConfig config;

  // Reference: one analyzer, frame by frame, summarised as the pipeline does.
  CpuFrameAnalyzer analyzer(config);
  std::vector<FrameResult> reference;
  for (std::size_t i = 0; i < views.size(); ++i) {
    FrameMeta meta;
    meta.index = 10 + static_cast<std::int64_t>(i);
    reference.push_back(frame_result(meta, analyzer.analyze(views[i], meta.index), config.summary));
  }
  EXPECT_EQ(reference.back().summary.status, "empty frame");
  EXPECT_GT(reference.front().peaks.size(), 5u);

  for (int threads : {1, 2, 4}) {
    BatchOptions options;
    options.threads = threads;
    std::atomic<std::int64_t> done{0};
    options.done = &done;
    const auto results = analyze_frames(views, config, options, 10);
    ASSERT_EQ(results.size(), views.size());
    EXPECT_EQ(done.load(), static_cast<std::int64_t>(views.size()));
    for (std::size_t i = 0; i < views.size(); ++i) expect_same(results[i], reference[i]);
  }
  // The path other backends take (owned Frame copies, batches), with the CPU backend.
  BatchOptions backend;
  backend.make_analyzer = [&config] { return make_cpu_analyzer(config); };
  backend.workers = 2;
  const auto copied = analyze_frames(views, config, backend, 10);
  for (std::size_t i = 0; i < views.size(); ++i) expect_same(copied[i], reference[i]);
}

TEST(AnalyzeFrames, CancelledBeforeTheStartLeavesEveryFrameCancelled) {
  auto pixels = simulated_frames(2, 128);
  std::vector<FrameView> views;
  for (const auto& p : pixels) views.push_back(FrameView{p.data(), 128, 128, 128});
  std::atomic<bool> cancel{true};
  BatchOptions options;
  options.cancel = &cancel;
  const auto results = analyze_frames(views, ProcessConfig{}, options);
  for (const auto& r : results) EXPECT_EQ(r.summary.status, "cancelled");
  EXPECT_TRUE(analyze_frames({}, ProcessConfig{}).empty());
}

}  // namespace
}  // namespace laueproc
