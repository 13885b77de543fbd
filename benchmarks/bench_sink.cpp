// The one writer of an MPI run: how many frames per second can rank 0's ResultSink take (journal
// + results HDF5 + peaks.csv on one core), in frame order and in the order MPI ranks deliver
// them, and what shipping a result between ranks costs. This is the ceiling of the rank-0
// gather design (docs/cluster.md): beyond it rank 0 writes slower than the ranks compute.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/wire.hpp"
#include "laueproc/output.hpp"
#include "laueproc/pipeline.hpp"

namespace fs = std::filesystem;
using namespace laueproc;

namespace {

// Peaks with full-precision values (like measured ones: they compress as poorly).
FrameResult make_result(std::int64_t frame, int n_peaks, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  FrameResult r;
  r.summary.frame = frame;
  r.summary.has_position = true;
  r.summary.x_um = static_cast<double>(frame % 100) * 0.5;
  r.summary.y_um = static_cast<double>(frame / 100) * 0.5;
  r.summary.n_peaks = n_peaks;
  r.summary.n_used = n_peaks / 2;
  r.summary.se = 1 + u(rng);
  r.summary.se_median = 1 + u(rng);
  r.summary.background = 100 * u(rng);
  r.summary.noise = 3 + u(rng);
  for (int k = 0; k < n_peaks; ++k) {
    Peak p;
    p.frame = frame;
    p.peak = k;
    p.x = 2048 * u(rng);
    p.y = 2048 * u(rng);
    p.intensity = 1e5 * u(rng);
    p.peak_value = 1e3 * u(rng);
    p.npix = 10 + static_cast<int>(100 * u(rng));
    p.mxx = 3 * u(rng);
    p.myy = 3 * u(rng);
    p.mxy = u(rng) - 0.5;
    p.a = 2 + u(rng);
    p.b = 1 + u(rng);
    p.theta_deg = 180 * u(rng) - 90;
    p.snr = 100 * u(rng);
    r.peaks.push_back(p);
  }
  return r;
}

RunInfo bench_info() {
  RunInfo info;
  info.program_version = "bench";
  info.command_line = "bench_sink";
  info.backend = "cpu";
  info.input_files = {"/data/scan.h5"};
  info.settings = {{"threshold.k_high", "6"}};
  return info;
}

// Frames in the order ranks deliver them under dynamic hand-out: chunks of `chunk` frames go to
// `ranks` ranks in turn, each chunk arrives whole, chunks of one round in a shuffled order.
std::vector<std::int64_t> delivery_order(std::int64_t n, int ranks, int chunk, std::mt19937_64& rng) {
  std::vector<std::int64_t> order;
  const std::int64_t round = static_cast<std::int64_t>(ranks) * chunk;
  for (std::int64_t start = 0; start < n; start += round) {
    std::vector<std::int64_t> chunks;
    for (std::int64_t c = start; c < std::min(n, start + round); c += chunk) chunks.push_back(c);
    std::shuffle(chunks.begin(), chunks.end(), rng);
    for (std::int64_t c : chunks)
      for (std::int64_t f = c; f < std::min(n, c + chunk); ++f) order.push_back(f);
  }
  return order;
}

// args: peaks per frame, ranks (0 = frame order), held bytes (MB; 0 = every waiting frame read back)
void BM_SinkAdd(benchmark::State& state) {
  const int n_peaks = static_cast<int>(state.range(0));
  const int ranks = static_cast<int>(state.range(1));
  const std::size_t held = static_cast<std::size_t>(state.range(2)) << 20;
  constexpr std::int64_t kFrames = 2000;
  std::mt19937_64 rng(7);
  std::vector<FrameResult> results;
  for (std::int64_t f = 0; f < kFrames; ++f) results.push_back(make_result(f, n_peaks, rng));
  std::vector<std::int64_t> order(kFrames);
  for (std::int64_t f = 0; f < kFrames; ++f) order[static_cast<std::size_t>(f)] = f;
  if (ranks > 0) order = delivery_order(kFrames, ranks, 8, rng);
  const fs::path dir = fs::temp_directory_path() / ("laueproc_bench_sink_" + std::to_string(::getpid()));
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir);
    state.ResumeTiming();
    SinkOptions o;
    o.results_h5 = (dir / "results.h5").string();
    o.csv_dir = (dir / "csv").string();
    o.frames_total = kFrames;
    o.held_bytes = held;
    ResultSink sink(o, bench_info());
    for (std::int64_t f : order) {
      const FrameResult& r = results[static_cast<std::size_t>(f)];
      sink.add(r.summary, r.peaks);
    }
    std::vector<FrameSummary> frames = sink.frames();
    finish_results(sink, frames, GridSpec{});
  }
  fs::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * kFrames);
  state.counters["peaks_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kFrames * n_peaks), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SinkAdd)
    ->ArgNames({"peaks", "ranks", "held_MB"})
    ->Args({60, 0, 64})
    ->Args({60, 4, 64})
    ->Args({60, 4, 0})
    ->Args({150, 0, 64})
    ->Unit(benchmark::kMillisecond);  // CPU time of the writing thread: its ceiling, whatever else runs
// The same with the CPU of every thread (the chunk compressor's too): what the writer costs its node.
BENCHMARK(BM_SinkAdd)
    ->Name("BM_SinkAdd_AllThreads")
    ->ArgNames({"peaks", "ranks", "held_MB"})
    ->Args({60, 0, 64})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

// One result through the wire format and back (what each rank does per frame, and rank 0).
void BM_WireResult(benchmark::State& state) {
  std::mt19937_64 rng(3);
  const FrameResult r = make_result(42, static_cast<int>(state.range(0)), rng);
  std::string bytes;
  FrameResult back;
  for (auto _ : state) {
    bytes.clear();
    cluster::wire::put_result(bytes, r);
    std::string_view in(bytes);
    cluster::wire::get_result(in, back);
    benchmark::DoNotOptimize(back.peaks.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
  state.counters["bytes_per_frame"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_WireResult)->Arg(60)->Arg(150);

}  // namespace

BENCHMARK_MAIN();
