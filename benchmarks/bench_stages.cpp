// CPU stage benchmarks on a synthetic 2048x2048 Laue frame (50 peaks, halo, gradient, noise,
// hot pixels, a dead row). Run: build/benchmarks/bench_stages --benchmark_format=json
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "laueproc/io.hpp"
#include "laueproc/stages.hpp"
#include "stages/grid_rows.hpp"

namespace {

using namespace laueproc;
constexpr int kSize = 2048;
constexpr double kBytesPerFrame = 2.0 * kSize * kSize;  // 8 MiB of uint16

struct Frame2k {
  std::vector<std::uint16_t> px;
  Frame2k() : px(static_cast<std::size_t>(kSize) * kSize) {
    std::uint64_t s = 12345;
    auto next = [&s] {  // SplitMix64
      std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    auto uni = [&] { return static_cast<double>(next() >> 11) / 9007199254740992.0; };
    auto normal = [&] { return std::sqrt(-2 * std::log(std::max(uni(), 1e-300))) * std::cos(6.283185307 * uni()); };
    std::vector<double> v(px.size());
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        const double rho = std::hypot(x - 1024.0, y + 600.0);
        v[static_cast<std::size_t>(y) * kSize + x] =
            150 + 0.03 * x + 0.02 * y + 250 * std::exp(-0.5 * std::pow((rho - 1700) / 200, 2));
      }
    for (int k = 0; k < 50; ++k) {
      const double cx = 20 + 2008 * uni(), cy = 20 + 2008 * uni(), sg = 1.2 + 2 * uni(), amp = 80 + 3000 * uni();
      for (int y = static_cast<int>(cy) - 15; y <= static_cast<int>(cy) + 15; ++y)
        for (int x = static_cast<int>(cx) - 15; x <= static_cast<int>(cx) + 15; ++x)
          v[static_cast<std::size_t>(y) * kSize + x] +=
              amp * std::exp(-0.5 * ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (sg * sg));
    }
    for (std::size_t i = 0; i < v.size(); ++i)
      px[i] = static_cast<std::uint16_t>(std::clamp(std::lround(v[i] + 8 * normal()), 0L, 65535L));
    for (int k = 0; k < 100; ++k) px[next() % px.size()] = 60000;  // hot pixels
    for (int x = 0; x < kSize; ++x) px[static_cast<std::size_t>(777) * kSize + x] = 0;  // dead row
  }
  FrameView view() const { return FrameView{px.data(), kSize, kSize, kSize}; }
};

const Frame2k& frame() {
  static const Frame2k f;
  return f;
}

void per_frame(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBytesPerFrame));
}

void BM_DeadLines(benchmark::State& state) {
  std::vector<std::uint8_t> mask(frame().px.size());
  for (auto _ : state) benchmark::DoNotOptimize(detect_dead_lines(frame().view(), mask.data()));
  per_frame(state);
}
BENCHMARK(BM_DeadLines)->Unit(benchmark::kMillisecond);

void BM_BackgroundBlocks(benchmark::State& state) {
  BackgroundGrid grid;
  for (auto _ : state) {
    background_blocks(frame().view(), nullptr, BackgroundConfig{}, grid);
    benchmark::DoNotOptimize(grid.values.data());
  }
  per_frame(state);
}
BENCHMARK(BM_BackgroundBlocks)->Unit(benchmark::kMillisecond);

void BM_BackgroundGaussian(benchmark::State& state) {
  BackgroundGrid blocks, grid;
  background_blocks(frame().view(), nullptr, BackgroundConfig{}, blocks);
  for (auto _ : state) {
    background_gaussian(frame().view(), nullptr, BackgroundConfig{}, blocks, 8.0, grid);
    benchmark::DoNotOptimize(grid.values.data());
  }
  per_frame(state);
}
BENCHMARK(BM_BackgroundGaussian)->Unit(benchmark::kMillisecond);

void BM_SampledSigma(benchmark::State& state) {
  BackgroundGrid grid;
  background_blocks(frame().view(), nullptr, BackgroundConfig{}, grid);
  std::vector<float> samples, bg;
  for (auto _ : state) benchmark::DoNotOptimize(detail::sampled_sigma(frame().view(), nullptr, grid, samples, &bg));
  per_frame(state);
}
BENCHMARK(BM_SampledSigma)->Unit(benchmark::kMillisecond);

void BM_ThresholdLabel(benchmark::State& state) {
  BackgroundGrid grid;
  background_blocks(frame().view(), nullptr, BackgroundConfig{}, grid);
  std::vector<float> bg;
  render_background(grid, kSize, kSize, bg);
  for (std::size_t i = 0; i < bg.size(); ++i) bg[i] = frame().px[i] - bg[i];
  ComponentSet set;
  for (auto _ : state) {
    hysteresis_threshold(bg.data(), nullptr, kSize, kSize, 24, 48, 4, set);
    benchmark::DoNotOptimize(set.runs.data());
  }
  state.counters["components"] = set.count();
  per_frame(state);
}
BENCHMARK(BM_ThresholdLabel)->Unit(benchmark::kMillisecond);

void analyze_bench(benchmark::State& state, BackgroundMethod method) {
  ProcessConfig cfg;
  cfg.background.method = method;
  CpuFrameAnalyzer analyzer(cfg);
  CpuFrameAnalyzer::Timings sum;
  std::size_t peaks = 0;
  for (auto _ : state) {
    const FrameAnalysis r = analyzer.analyze(frame().view(), 0);
    peaks = r.peaks.size();
    const auto& t = analyzer.timings();
    sum.masks_ms += t.masks_ms;
    sum.background_ms += t.background_ms;
    sum.sigma_ms += t.sigma_ms;
    sum.residual_ms += t.residual_ms;
    sum.label_ms += t.label_ms;
    sum.peaks_ms += t.peaks_ms;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["peaks"] = static_cast<double>(peaks);
  state.counters["masks_ms"] = sum.masks_ms / n;
  state.counters["background_ms"] = sum.background_ms / n;
  state.counters["sigma_ms"] = sum.sigma_ms / n;
  state.counters["residual_ms"] = sum.residual_ms / n;
  state.counters["label_ms"] = sum.label_ms / n;
  state.counters["peaks_ms"] = sum.peaks_ms / n;
  per_frame(state);
}
void BM_Analyze(benchmark::State& state) { analyze_bench(state, BackgroundMethod::block_percentile); }
void BM_AnalyzeGaussian(benchmark::State& state) { analyze_bench(state, BackgroundMethod::gaussian); }
BENCHMARK(BM_Analyze)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AnalyzeGaussian)->Unit(benchmark::kMillisecond);

// The real Ge frame (tests/data/laue), for the comparison with LaueGo's peaksearch (0.67 s
// on one core, docs/anchors.md): analysis only, the frame read once before timing.
void BM_AnalyzeRealGe(benchmark::State& state) {
  static const std::string path = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/Ge_blanc_0000_as34ide.h5";
  std::unique_ptr<FrameSource> source;
  try {
    source = open_scan(path);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  Frame f;
  source->read(0, f);
  CpuFrameAnalyzer analyzer{ProcessConfig{}};
  std::size_t peaks = 0;
  for (auto _ : state) peaks = analyzer.analyze(f.view(), 0).peaks.size();
  state.counters["peaks"] = static_cast<double>(peaks);
  per_frame(state);
}
BENCHMARK(BM_AnalyzeRealGe)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
