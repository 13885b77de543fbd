// CUDA backend benchmarks, floors first. Run:
//   build/benchmarks/bench_cuda --benchmark_format=json --benchmark_out=bench_cuda.json
// 1. floors (cuda::measure_floors): pinned host-to-device bandwidth, device-to-device copy
//    bandwidth (read + write), the fastest of 5 copies each;
// 2. GPU-resident kernels (frames already on the device): frames/s of 2048^2 and the bytes the
//    kernels touch per frame over the measured copy bandwidth;
// 3. analyze() end to end from host memory (frames/s), and the CPU backend on the same frames.
// Without a device every benchmark reports "no CUDA device" and skips.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <vector>

#include "laueproc/backend.hpp"
#include "laueproc/sim.hpp"

#ifdef LAUEPROC_HAVE_CUDA
#include "cuda/batch_arrays.hpp"
#include "cuda/cuda_util.hpp"
#include "cuda/grid_tables.hpp"
#include "label.cuh"
#include "laueproc/cuda.hpp"
#include "residual.cuh"
#endif

namespace {

using namespace laueproc;
constexpr int kSize = 2048;
constexpr int kFrames = 8;

const std::vector<Frame>& frames2k() {
  static const std::vector<Frame> frames = [] {
    sim::SimConfig c;
    c.width = c.height = kSize;
    c.grid_nx = kFrames;
    c.grid_ny = 1;
    sim::ScanSimulator s(c);
    std::vector<Frame> out(kFrames);
    for (int i = 0; i < kFrames; ++i) {
      out[i].meta.index = i;
      out[i].width = out[i].height = kSize;
      s.render(i, out[i].pixels, nullptr);
    }
    return out;
  }();
  return frames;
}


#ifdef LAUEPROC_HAVE_CUDA

bool have_device(benchmark::State& state) {
  if (cuda::device_count() > 0) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

// Both floors in one call (cuda::measure_floors, the same numbers `laueproc bench` prints).
void BM_Floors(benchmark::State& state) {
  if (!have_device(state)) return;
  cuda::Floors f;
  for (auto _ : state) f = cuda::measure_floors(0);
  state.counters["h2d_pinned_GBps"] = f.h2d_pinned_gbps;
  state.counters["d2d_copy_GBps"] = f.d2d_copy_gbps;  // bytes read + written
}
BENCHMARK(BM_Floors)->Unit(benchmark::kMillisecond)->Iterations(1);

// The per-pixel kernels on frames already on the device (batch of kFrames 2048^2 frames).
void BM_GpuResidentKernels(benchmark::State& state) {
  if (!have_device(state)) return;
  const auto& frames = frames2k();
  const ProcessConfig config;
  const std::size_t n = static_cast<std::size_t>(kSize) * kSize, fn = n * kFrames;
  std::vector<std::uint16_t> raw(fn);
  std::vector<kernels::FrameParams> params(kFrames);
  std::vector<std::uint8_t> mask(fn, 0);
  int stride = 0;
  std::vector<float> coarse, col_w(4 * kSize);
  std::vector<int> col_cell(kSize);
  CpuFrameAnalyzer host(config);
  for (int f = 0; f < kFrames; ++f) {
    FrameAnalysis fa;
    const BackgroundGrid* grid = host.prepare(frames[f].view(), fa);
    if (!grid) {
      state.SkipWithError("empty frame");
      return;
    }
    if (f == 0) {
      stride = grid->nx + 4;
      coarse.resize(static_cast<std::size_t>(kFrames) * kSize * stride);
      cuda::column_tables(*grid, kSize, col_cell.data(), col_w.data());
    }
    cuda::coarse_rows(*grid, kSize, stride, coarse.data() + static_cast<std::size_t>(f) * kSize * stride);
    std::copy(frames[f].pixels.begin(), frames[f].pixels.end(), raw.begin() + static_cast<std::ptrdiff_t>(f * n));
    if (host.mask()) std::copy(host.mask(), host.mask() + n, mask.begin() + static_cast<std::ptrdiff_t>(f * n));
    params[f].low = math::sigma_threshold(host.noise(), config.threshold.k_low);
    params[f].high = math::sigma_threshold(host.noise(), config.threshold.k_high);
    params[f].has_mask = host.mask() ? 1 : 0;
  }
  cuda::BatchArrays d;
  d.allocate(kSize, kSize, kFrames, stride, 4096);
  LAUEPROC_CUDA_CHECK(cudaMemcpy(d.raw.get(), raw.data(), fn * 2, cudaMemcpyHostToDevice));
  LAUEPROC_CUDA_CHECK(cudaMemcpy(d.mask.get(), mask.data(), fn, cudaMemcpyHostToDevice));
  LAUEPROC_CUDA_CHECK(cudaMemcpy(d.coarse.get(), coarse.data(), coarse.size() * 4, cudaMemcpyHostToDevice));
  LAUEPROC_CUDA_CHECK(cudaMemcpy(d.col_w.get(), col_w.data(), col_w.size() * 4, cudaMemcpyHostToDevice));
  LAUEPROC_CUDA_CHECK(cudaMemcpy(d.col_cell.get(), col_cell.data(), col_cell.size() * 4, cudaMemcpyHostToDevice));
  LAUEPROC_CUDA_CHECK(cudaMemcpy(d.params.get(), params.data(), kFrames * sizeof(params[0]), cudaMemcpyHostToDevice));
  const kernels::BatchView b = d.view(kSize, kSize, kFrames, stride, 4096, config.threshold.min_pixels);
  cuda::Stream s;
  cuda::Event t0, t1;
  double ms_total = 0;
  for (auto _ : state) {
    t0.record(s.get());
    LAUEPROC_CUDA_CHECK(cudaMemsetAsync(d.kept_count.get(), 0, kFrames * sizeof(int), s.get()));
    kernels::launch_residual_threshold(s.get(), b);
    kernels::launch_label_merge(s.get(), b);
    kernels::launch_label_flatten_stats(s.get(), b);
    kernels::launch_filter(s.get(), b);
    t1.record(s.get());
    t1.synchronize();
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    const double ms = t1.since(t0);
    ms_total += ms;
    state.SetIterationTime(ms / 1e3);
  }
  // Bytes the kernels must touch per pixel: residual pass reads raw (2) + mask (1) and writes
  // residual, label, npix, kidx (4 each), best (8), box (16); merge/flatten/filter read label
  // three times and write it once (16), flatten reads residual (4): ~63 B/px.
  const double bytes_per_frame = 63.0 * n;
  const double done = static_cast<double>(state.iterations()) * kFrames;
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["frames_per_s"] = done / (ms_total / 1e3);
  state.counters["touched_GBps"] = done * bytes_per_frame / (ms_total / 1e3) / 1e9;
}
BENCHMARK(BM_GpuResidentKernels)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_CudaAnalyze(benchmark::State& state) {
  if (!have_device(state)) return;
  const auto& frames = frames2k();
  cuda::CudaOptions options;
  options.batch = static_cast<std::size_t>(state.range(0));
  auto gpu = cuda::make_cuda_analyzer(ProcessConfig{}, nullptr, options);
  std::vector<const Frame*> ptrs;
  for (int r = 0; r < 4; ++r)
    for (const auto& f : frames) ptrs.push_back(&f);
  std::vector<FrameAnalysis> out;
  gpu->analyze(ptrs, out);  // warm-up: arenas, module load
  for (auto _ : state) gpu->analyze(ptrs, out);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ptrs.size()));
  state.counters["frames_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * ptrs.size()),
                                                      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CudaAnalyze)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond)->MinTime(2.0);

#endif

void BM_CpuAnalyze(benchmark::State& state) {
  const auto& frames = frames2k();
  auto cpu = make_cpu_analyzer(ProcessConfig{});
  std::vector<const Frame*> ptrs;
  for (const auto& f : frames) ptrs.push_back(&f);
  std::vector<FrameAnalysis> out;
  for (auto _ : state) cpu->analyze(ptrs, out);
  state.SetItemsProcessed(state.iterations() * kFrames);
  state.counters["frames_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * kFrames),
                                                      benchmark::Counter::kIsRate);
}
// Last, one pass of the same frames: the baseline of the speed-up, in the same run.
BENCHMARK(BM_CpuAnalyze)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
