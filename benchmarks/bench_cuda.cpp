// CUDA backend benchmarks, floors first. Run:
//   build/benchmarks/bench_cuda --benchmark_format=json --benchmark_out=bench_cuda.json
// 1. floors (cuda::measure_floors): pinned host-to-device bandwidth, device-to-device copy
//    bandwidth (read + write), the fastest of 5 copies each;
// 2. GPU-resident pipeline (frames already on the device, kernels/frame_pipeline.cuh): frames/s
//    of 2048^2, block background (arg 0), Gaussian by the separable filter (1) or by cuFFT (2);
// 3. the Gaussian background alone (front end with Gaussian minus front end without), separable
//    vs cuFFT: which one the backend should use;
// 4. analyze() end to end from host memory (frames/s, and host CPU ms per frame from getrusage:
//    the budget is 1 ms), and the CPU backend on the same frames last.
// Without a device every CUDA benchmark reports "no CUDA device" (or the driver problem) and skips.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdio>
#include <vector>

#include "laueproc/backend.hpp"
#include "laueproc/sim.hpp"

#ifdef LAUEPROC_HAVE_CUDA
#include "cuda/cuda_util.hpp"
#include "laueproc/cuda.hpp"
#include "pipeline.cuh"
#include "pipeline_setup.hpp"
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

// User + system CPU seconds of every thread of this process so far.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

bool have_device(benchmark::State& state) {
  const cuda::DeviceProbe p = cuda::probe_devices();
  if (!p.problem.empty()) {
    state.SkipWithError(("CUDA driver unusable: " + p.problem).c_str());
    return false;
  }
  if (p.count > 0) return true;
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

// A batch of the kFrames frames resident on the device, ready for the pipeline.
struct DeviceBatch {
  kernels::BatchView v;
  cuda::DeviceBuffer<unsigned char> arena;
  cuda::DeviceBuffer<std::uint16_t> raw;
  cuda::DeviceBuffer<float> taps;
  explicit DeviceBatch(const ProcessConfig& config) {
    std::vector<float> host_taps;
    v.shape = kernels::make_batch_shape(kSize, kSize, kFrames, config);
    v.config = kernels::make_pipeline_config(config, host_taps);
    arena.allocate(kernels::carve_batch(v, nullptr));
    kernels::carve_batch(v, arena.get());
    const std::size_t n = static_cast<std::size_t>(kSize) * kSize;
    raw.allocate(n * kFrames);
    for (int f = 0; f < kFrames; ++f)
      LAUEPROC_CUDA_CHECK(cudaMemcpy(raw.get() + f * n, frames2k()[f].pixels.data(), n * 2, cudaMemcpyHostToDevice));
    v.raw = raw.get();
    if (!host_taps.empty()) {
      taps.allocate(host_taps.size());
      LAUEPROC_CUDA_CHECK(cudaMemcpy(taps.get(), host_taps.data(), host_taps.size() * 4, cudaMemcpyHostToDevice));
      v.gauss_kernel = taps.get();
    }
  }
};

// Times `launch` (on stream s) per iteration with events; frames/s and bytes of raw per second.
template <class Launch>
void time_batches(benchmark::State& state, cuda::Stream& s, Launch&& launch) {
  cuda::Event t0, t1;
  launch();  // warm-up: module load, plans
  s.synchronize();
  double ms_total = 0;
  for (auto _ : state) {
    t0.record(s.get());
    launch();
    t1.record(s.get());
    t1.synchronize();
    const double ms = t1.since(t0);
    ms_total += ms;
    state.SetIterationTime(ms / 1e3);
  }
  const double done = static_cast<double>(state.iterations()) * kFrames;
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["frames_per_s"] = done / (ms_total / 1e3);
  state.counters["raw_GBps"] = done * 2.0 * kSize * kSize / (ms_total / 1e3) / 1e9;
}

// Frames already on the device, arg: 0 block background, 1 Gaussian (separable), 2 Gaussian
// (cuFFT); the whole pipeline, or the front end alone (masks .. noise: with the Gaussian method
// minus without is the Gaussian background's own cost).
void gpu_resident(benchmark::State& state, bool front_only) {
  if (!have_device(state)) return;
  ProcessConfig config;
  if (state.range(0) > 0) config.background.method = BackgroundMethod::gaussian;
  if (state.range(0) == 2 && !kernels::GaussianFft::unavailable().empty()) {
    state.SkipWithError(kernels::GaussianFft::unavailable().c_str());
    return;
  }
  DeviceBatch b(config);
  kernels::GaussianFft fft;
  kernels::GaussianFft* use_fft = state.range(0) == 2 ? &fft : nullptr;
  cuda::Stream s;
  time_batches(state, s, [&] {
    if (front_only) kernels::launch_front_end(s.get(), b.v, use_fft);
    else kernels::launch_batch(s.get(), b.v, use_fft);
  });
  state.SetLabel(state.range(0) == 0 ? "block background" : state.range(0) == 1 ? "gaussian separable" : "gaussian cuFFT");
}
void BM_GpuResidentPipeline(benchmark::State& state) { gpu_resident(state, false); }
void BM_GpuFrontEnd(benchmark::State& state) { gpu_resident(state, true); }
BENCHMARK(BM_GpuResidentPipeline)->Arg(0)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_GpuFrontEnd)->Arg(0)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);

// analyze() from host memory: frames/s and host CPU ms per frame (getrusage over the timed part).
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
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) gpu->analyze(ptrs, out);
  const double done = static_cast<double>(state.iterations() * ptrs.size());
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["frames_per_s"] = benchmark::Counter(done, benchmark::Counter::kIsRate);
  state.counters["host_cpu_ms_per_frame"] = (process_cpu_seconds() - cpu0) * 1e3 / done;
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
