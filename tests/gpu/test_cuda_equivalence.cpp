// The CUDA backend on a device. Every kernel body is tested in CI on the CPU grid executor
// (tests/kernels); these tests add what only a GPU can show: that the kernels give the
// executor's results on real hardware (every array of the batch compared bit for bit, so a race
// shows up as a difference), that the launch path, streams and copies work, and that analyze()
// gives the CPU backend's peaks.
//
// Without a device the tests skip; with a driver that is present but unusable (older than the
// runtime) they FAIL: a GPU machine with a stale driver must not look like a machine without a GPU.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cuda/cuda_util.hpp"
#include "kernels/frames.hpp"
#include "kernels/host_batch.hpp"
#include "laueproc/backend.hpp"
#include "laueproc/cuda.hpp"
#include "laueproc/summary.hpp"
#include "pipeline.cuh"

namespace laueproc {
namespace {

using testing::HostBatch;
using testing::ptrs;

#define REQUIRE_DEVICE()                                                                      \
  do {                                                                                        \
    const cuda::DeviceProbe probe_ = cuda::probe_devices();                                   \
    if (!probe_.problem.empty()) FAIL() << "CUDA driver present but unusable: " << probe_.problem; \
    if (probe_.count == 0) GTEST_SKIP() << "no CUDA device (no driver or no GPU)";            \
  } while (0)

TEST(CudaDevice, ProbeReportsDriverProblemsLoudly) {
  const cuda::DeviceProbe p = cuda::probe_devices();
  EXPECT_GT(p.runtime_version, 0);
  if (!p.problem.empty()) FAIL() << "CUDA driver present but unusable: " << p.problem;
  if (p.count == 0) {
    EXPECT_EQ(p.driver_version, 0) << "a driver is installed, yet no device and no problem reported";
    EXPECT_TRUE(cuda::describe_devices().empty());
    EXPECT_THROW(cuda::make_cuda_analyzer(ProcessConfig{}, nullptr, cuda::CudaOptions{}), Error);
    GTEST_SKIP() << "no CUDA device";
  }
  EXPECT_GE(p.driver_version, p.runtime_version);
  EXPECT_FALSE(cuda::describe_devices().empty());
}

// The probe's rules (runs without a device): no driver and no GPU are not problems; a driver
// older than the runtime, or any other refusal of a driver that is there, is.
TEST(CudaDevice, ProbeRulesTellAStaleDriverFromNoDriver) {
  const cuda::DeviceProbe none = cuda::probe_from(cudaErrorInsufficientDriver, 0, 0, 13000);  // no libcuda at all
  EXPECT_EQ(none.count, 0);
  EXPECT_TRUE(none.problem.empty()) << none.problem;
  EXPECT_TRUE(cuda::probe_from(cudaErrorNoDevice, 0, 13000, 13000).problem.empty());
  const cuda::DeviceProbe stale = cuda::probe_from(cudaErrorInsufficientDriver, 0, 12080, 13000);
  EXPECT_EQ(stale.count, 0);
  EXPECT_NE(stale.problem.find("12.8"), std::string::npos) << stale.problem;
  EXPECT_NE(stale.problem.find("13.0"), std::string::npos) << stale.problem;
  EXPECT_NE(stale.problem.find("cudaErrorInsufficientDriver"), std::string::npos) << stale.problem;
  const cuda::DeviceProbe broken = cuda::probe_from(cudaErrorSystemDriverMismatch, 0, 13000, 13000);
  EXPECT_NE(broken.problem.find("cudaErrorSystemDriverMismatch"), std::string::npos) << broken.problem;
  const cuda::DeviceProbe ok = cuda::probe_from(cudaSuccess, 2, 13000, 13000);
  EXPECT_EQ(ok.count, 2);
  EXPECT_TRUE(ok.problem.empty());
}

TEST(CudaCheck, MacroThrowsWithExpressionAndName) {
  REQUIRE_DEVICE();
  try {
    LAUEPROC_CUDA_CHECK(cudaSetDevice(1 << 20));
    FAIL() << "no throw";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cudaSetDevice"), std::string::npos) << m;
    EXPECT_NE(m.find("cudaErrorInvalidDevice"), std::string::npos) << m;
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // sticky state cleared
}

// The batch on the device and the same batch on the CPU executor: every array equal bit for bit.
void expect_device_equals_executor(const std::vector<Frame>& frames, const ProcessConfig& config,
                                   const BadPixelMask* mask = nullptr) {
  HostBatch host(ptrs(frames), config, mask);
  host.run();
  const kernels::BatchView& hv = host.v;
  // The same layout in device memory.
  kernels::BatchView dv;
  dv.shape = hv.shape;
  dv.config = hv.config;
  const unsigned long long bytes = kernels::carve_batch(dv, nullptr);
  cuda::DeviceBuffer<unsigned char> arena(bytes);
  LAUEPROC_CUDA_CHECK(cudaMemset(arena.get(), 0xA5, bytes));
  kernels::carve_batch(dv, arena.get());
  const std::size_t n = static_cast<std::size_t>(hv.shape.pixels()) * frames.size();
  cuda::DeviceBuffer<std::uint16_t> raw(n);
  LAUEPROC_CUDA_CHECK(cudaMemcpy(raw.get(), hv.raw, n * 2, cudaMemcpyHostToDevice));
  dv.raw = raw.get();
  cuda::DeviceBuffer<std::uint8_t> smask;
  if (hv.static_mask) {
    smask.allocate(static_cast<std::size_t>(hv.shape.pixels()));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(smask.get(), hv.static_mask, smask.size(), cudaMemcpyHostToDevice));
    dv.static_mask = smask.get();
  }
  cuda::DeviceBuffer<float> taps;
  if (hv.gauss_kernel) {
    taps.allocate(static_cast<std::size_t>(2 * hv.config.gauss_radius + 1));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(taps.get(), hv.gauss_kernel, taps.size() * 4, cudaMemcpyHostToDevice));
    dv.gauss_kernel = taps.get();
  }
  kernels::launch_batch(nullptr, dv);
  LAUEPROC_CUDA_CHECK(cudaDeviceSynchronize());
  auto fetch = [](const auto* d, std::size_t count) {
    std::vector<std::remove_cv_t<std::remove_pointer_t<decltype(d)>>> h(count);
    LAUEPROC_CUDA_CHECK(cudaMemcpy(h.data(), d, count * sizeof(h[0]), cudaMemcpyDeviceToHost));
    return h;
  };
  auto differing = [](const void* a, const void* b, std::size_t count, std::size_t size) {
    std::size_t d = 0;
    for (std::size_t i = 0; i < count; ++i)
      d += std::memcmp(static_cast<const char*>(a) + i * size, static_cast<const char*>(b) + i * size, size) != 0;
    return d;
  };
  const int F = hv.shape.frames;
  const auto states = fetch(dv.state, static_cast<std::size_t>(F));
  for (int f = 0; f < F; ++f) {
    SCOPED_TRACE("frame " + std::to_string(f));
    const kernels::FrameState& a = hv.state[f];
    const kernels::FrameState& b = states[static_cast<std::size_t>(f)];
    EXPECT_EQ(a.constant, b.constant);
    EXPECT_EQ(a.masked_lines, b.masked_lines);
    EXPECT_EQ(a.zeros, b.zeros);
    EXPECT_EQ(a.has_mask, b.has_mask);
    EXPECT_EQ(a.block_sigma, b.block_sigma);
    EXPECT_EQ(a.n_samples, b.n_samples);
    EXPECT_EQ(a.sigma, b.sigma);
    EXPECT_EQ(a.noise.var0, b.noise.var0);
    EXPECT_EQ(a.noise.gain, b.noise.gain);
    EXPECT_EQ(a.background_level, b.background_level);
    EXPECT_EQ(a.roots, b.roots);
    EXPECT_EQ(a.kept, b.kept);
    EXPECT_EQ(a.peaks, b.peaks);
    EXPECT_EQ(a.overflow, b.overflow);
  }
  const std::size_t cells = static_cast<std::size_t>(hv.shape.cells()) * F;
  EXPECT_EQ(differing(hv.mask, fetch(dv.mask, n).data(), n, 1), 0u) << "mask";
  EXPECT_EQ(differing(hv.grid, fetch(dv.grid, cells).data(), cells, 4), 0u) << "block grid";
  if (hv.config.gaussian) {
    const std::size_t gc = static_cast<std::size_t>(hv.shape.gauss_cells()) * F;
    EXPECT_EQ(differing(hv.ggrid, fetch(dv.ggrid, gc).data(), gc, 4), 0u) << "Gaussian grid";
  }
  // Residual and labels where the frame is not constant (constant frames leave them unwritten).
  const auto res = fetch(dv.residual, n);
  const auto lab = fetch(dv.label, n);
  std::size_t rdiff = 0, ldiff = 0;
  for (int f = 0; f < F; ++f) {
    if (hv.state[f].constant) continue;
    const std::size_t o = static_cast<std::size_t>(f) * hv.shape.pixels(), m = static_cast<std::size_t>(hv.shape.pixels());
    rdiff += differing(hv.residual + o, res.data() + o, m, 4);
    ldiff += differing(hv.label + o, lab.data() + o, m, 4);
  }
  EXPECT_EQ(rdiff, 0u) << "residual";
  EXPECT_EQ(ldiff, 0u) << "labels (roots)";
  // Peaks, each frame in the CPU's order.
  const int total = fetch(dv.peak_total, 1)[0];
  ASSERT_EQ(total, *hv.peak_total);
  const auto records = fetch(dv.peaks, static_cast<std::size_t>(total));
  std::vector<int> b1, b2;
  std::vector<const kernels::PeakRecord*> r1, r2;
  kernels::group_records(hv.peaks, total, F, b1, r1);
  kernels::group_records(records.data(), total, F, b2, r2);
  for (int f = 0; f < F; ++f) {
    FrameAnalysis a, b;
    const bool ok1 = kernels::frame_analysis_from_device(hv.state[f], r1.data() + b1[f], b1[f + 1] - b1[f], f, 0, a);
    const bool ok2 = kernels::frame_analysis_from_device(states[static_cast<std::size_t>(f)], r2.data() + b2[f],
                                                         b2[f + 1] - b2[f], f, 0, b);
    ASSERT_EQ(ok1, ok2);
    ASSERT_EQ(a.peaks.size(), b.peaks.size()) << "frame " << f;
    EXPECT_EQ(differing(a.peaks.data(), b.peaks.data(), a.peaks.size(), sizeof(Peak)), 0u)
        << "frame " << f << ": peaks differing bit for bit (exp/log/atan2/hypot of the device may differ by an ulp)";
  }
}

TEST(CudaKernels, DeviceEqualsExecutorOnEveryArray) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames{testing::sim_frame(256, 256, 0), testing::sim_frame(256, 256, 1, 7, 200, 12.0),
                            testing::blobs_and_streaks(256, 256), testing::flat_frame(256, 256, 1234)};
  expect_device_equals_executor(frames, ProcessConfig{});
  std::vector<Frame> odd{testing::sim_frame(601, 433, 2), testing::sim_frame(601, 433, 3)};  // partial tiles and cells
  ProcessConfig gauss;
  gauss.background.method = BackgroundMethod::gaussian;
  expect_device_equals_executor(odd, gauss);
}

// Small enough for compute-sanitizer (memcheck, racecheck, synccheck slow kernels 10-100x):
// gpu-check.sh runs its sanitizers on CudaSanitize.* only. Two 128 x 96 frames, both background
// methods, the executor comparison and analyze().
TEST(CudaSanitize, SmallBatchEveryKernel) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames{testing::sim_frame(128, 96, 0), testing::blobs_and_streaks(128, 96, 1)};
  expect_device_equals_executor(frames, ProcessConfig{});
  ProcessConfig gauss;
  gauss.background.method = BackgroundMethod::gaussian;
  expect_device_equals_executor(frames, gauss);
  auto gpu = cuda::make_cuda_analyzer(ProcessConfig{}, nullptr, cuda::CudaOptions{});
  std::vector<FrameAnalysis> out;
  gpu->analyze(ptrs(frames), out);
  EXPECT_EQ(out.size(), frames.size());
}

// analyze() against the CPU backend. Tolerances of the issue (centroids 1e-3 px, a/b 1e-3
// relative, theta 0.05 deg); by construction all but the last bits of transcendental functions agree.
void expect_same(const FrameAnalysis& cpu, const FrameAnalysis& gpu, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(cpu.status, gpu.status);
  EXPECT_EQ(cpu.masked_lines, gpu.masked_lines);
  EXPECT_EQ(cpu.noise_sigma, gpu.noise_sigma);
  EXPECT_EQ(cpu.background_level, gpu.background_level);
  ASSERT_EQ(cpu.peaks.size(), gpu.peaks.size());
  for (std::size_t i = 0; i < cpu.peaks.size(); ++i) {
    const Peak& a = cpu.peaks[i];
    const Peak& b = gpu.peaks[i];
    SCOPED_TRACE("peak " + std::to_string(i));
    EXPECT_EQ(a.frame, b.frame);
    EXPECT_EQ(a.peak, b.peak);
    EXPECT_NEAR(a.x, b.x, 1e-3);
    EXPECT_NEAR(a.y, b.y, 1e-3);
    EXPECT_NEAR(a.a, b.a, 1e-3 * std::max(1.0, std::fabs(a.a)));
    EXPECT_NEAR(a.b, b.b, 1e-3 * std::max(1.0, std::fabs(a.b)));
    if (a.a - a.b > 1e-3 * a.a) EXPECT_NEAR(a.theta_deg, b.theta_deg, 0.05);
    EXPECT_EQ(a.npix, b.npix);
    EXPECT_EQ(a.n_maxima, b.n_maxima);
    EXPECT_EQ(a.saturated, b.saturated);
    EXPECT_EQ(a.edge, b.edge);
    EXPECT_NEAR(a.intensity, b.intensity, 1e-6 * std::max(1.0, std::fabs(a.intensity)));
  }
}

void compare_backends(const std::vector<Frame>& frames, const cuda::CudaOptions& options = {},
                      const ProcessConfig& config = {}, const BadPixelMask* mask = nullptr) {
  auto cpu = make_cpu_analyzer(config, mask);
  auto gpu = cuda::make_cuda_analyzer(config, mask, options);
  std::vector<FrameAnalysis> a, b;
  cpu->analyze(ptrs(frames), a);
  gpu->analyze(ptrs(frames), b);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string what = "frame " + std::to_string(i) + " (" + std::to_string(frames[i].width) + "x" +
                             std::to_string(frames[i].height) + ")";
    expect_same(a[i], b[i], what);
    const FrameSummary sa = summarize_frame(frames[i].meta.index, a[i].peaks, config.summary);
    const FrameSummary sb = summarize_frame(frames[i].meta.index, b[i].peaks, config.summary);
    EXPECT_EQ(sa.scenario, sb.scenario) << what;
    EXPECT_EQ(sa.n_used, sb.n_used) << what;
  }
}

TEST(CudaEquivalence, SimulatedFramesOfSeveralSizes) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 4; ++i) frames.push_back(testing::sim_frame(256, 256, i));
  for (int i = 0; i < 3; ++i) frames.push_back(testing::sim_frame(1000, 777, i));
  frames.push_back(testing::sim_frame(256, 256, 9));  // sizes interleaved
  compare_backends(frames);
}

TEST(CudaEquivalence, LargeFrames2048) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 2; ++i) frames.push_back(testing::sim_frame(2048, 2048, i));
  compare_backends(frames);
}

TEST(CudaEquivalence, EmptyConstantCrowdedSaturatedAndStreaks) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  frames.push_back(testing::flat_frame(512, 512, 0, 0));
  frames.push_back(testing::flat_frame(512, 512, 1234, 1));
  frames.push_back(testing::sim_frame(512, 512, 2, 11, 400, 12.0));
  frames.push_back(testing::blobs_and_streaks(512, 512, 3));
  frames.push_back(testing::sim_frame(512, 512, 4));
  compare_backends(frames);
}

// A frame with more peaks than the device's kept list: redone on the CPU, same answer.
TEST(CudaEquivalence, MoreThan4096PeaksFallBackToTheCpu) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames{testing::spot_lattice(1024, 1024, 14), testing::sim_frame(1024, 1024, 1)};
  compare_backends(frames);
}

TEST(CudaEquivalence, BatchSplitAndSmallBatches) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 9; ++i) frames.push_back(testing::sim_frame(256, 256, i, 3));
  cuda::CudaOptions options;
  options.batch = 4;  // sub-batches of 2 over 3 streams, several rounds
  options.streams = 3;
  compare_backends(frames, options);
  options.batch = 1;
  options.streams = 1;
  compare_backends(frames, options);
  options.memory_share = 1e-6;  // a budget below one frame: one frame per sub-batch
  options.batch = 16;
  compare_backends(frames, options);
}

TEST(CudaEquivalence, RepeatedCallsAreDeterministic) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 3; ++i) frames.push_back(testing::sim_frame(512, 512, i, 21, 200, 12.0));
  auto gpu = cuda::make_cuda_analyzer(ProcessConfig{}, nullptr, cuda::CudaOptions{});
  std::vector<FrameAnalysis> a, b;
  gpu->analyze(ptrs(frames), a);
  gpu->analyze(ptrs(frames), b);
  for (std::size_t i = 0; i < a.size(); ++i) expect_same(a[i], b[i], "repeat " + std::to_string(i));
}

TEST(CudaEquivalence, StaticMaskAndGaussianBackground) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames{testing::sim_frame(256, 256, 1)};
  std::vector<std::uint8_t> bad(static_cast<std::size_t>(256) * 256, 0);
  for (int y = 100; y < 120; ++y)
    for (int x = 50; x < 90; ++x) bad[static_cast<std::size_t>(y) * 256 + x] = 1;
  const BadPixelMask mask(256, 256, bad);
  ProcessConfig config;
  config.background.method = BackgroundMethod::gaussian;
  compare_backends(frames, cuda::CudaOptions{}, config, &mask);
}

// The cuFFT convolution against the separable filter (= the CPU's background_gaussian): every
// Gaussian grid cell within 1e-4 relative (float FFT round-off ~1e-6 log n).
TEST(CudaGaussianFft, WithinToleranceOfTheSeparableFilter) {
  REQUIRE_DEVICE();
  const std::string missing = kernels::GaussianFft::unavailable();
  if (!missing.empty()) GTEST_SKIP() << missing;
  std::vector<Frame> frames{testing::sim_frame(640, 512, 0), testing::blobs_and_streaks(640, 512)};
  ProcessConfig config;
  config.background.method = BackgroundMethod::gaussian;
  HostBatch host(ptrs(frames), config);
  host.run(testing::GridOrder::forward, true);
  kernels::BatchView dv;
  dv.shape = host.v.shape;
  dv.config = host.v.config;
  cuda::DeviceBuffer<unsigned char> arena(kernels::carve_batch(dv, nullptr));
  kernels::carve_batch(dv, arena.get());
  const std::size_t n = static_cast<std::size_t>(dv.shape.pixels()) * frames.size();
  cuda::DeviceBuffer<std::uint16_t> raw(n);
  LAUEPROC_CUDA_CHECK(cudaMemcpy(raw.get(), host.v.raw, n * 2, cudaMemcpyHostToDevice));
  dv.raw = raw.get();
  cuda::DeviceBuffer<float> taps(static_cast<std::size_t>(2 * dv.config.gauss_radius + 1));
  LAUEPROC_CUDA_CHECK(cudaMemcpy(taps.get(), host.v.gauss_kernel, taps.size() * 4, cudaMemcpyHostToDevice));
  dv.gauss_kernel = taps.get();
  kernels::GaussianFft fft;
  kernels::launch_front_end(nullptr, dv, &fft);
  LAUEPROC_CUDA_CHECK(cudaDeviceSynchronize());
  const std::size_t gc = static_cast<std::size_t>(dv.shape.gauss_cells()) * frames.size();
  std::vector<float> got(gc);
  LAUEPROC_CUDA_CHECK(cudaMemcpy(got.data(), dv.ggrid, gc * 4, cudaMemcpyDeviceToHost));
  double worst = 0;
  std::size_t over = 0;
  for (std::size_t i = 0; i < gc; ++i) {
    const double want = host.v.ggrid[i], rel = std::fabs(got[i] - want) / std::max(1.0, std::fabs(want));
    worst = std::max(worst, rel);
    over += rel > 1e-4;
  }
  EXPECT_EQ(over, 0u) << "cells over 1e-4 relative; worst " << worst;
  RecordProperty("worst_relative_difference", std::to_string(worst));
  std::printf("cuFFT vs separable Gaussian background: worst relative difference %.3g over %zu cells\n", worst, gc);
}

}  // namespace
}  // namespace laueproc
