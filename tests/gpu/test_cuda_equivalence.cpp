// CUDA backend against the CPU reference (the oracle). Every test skips without a device.
// Tolerances (issue text): same peak count per frame, centroids within 1e-3 px, a/b within 1e-3
// relative, theta within 0.05 deg, identical n_maxima/saturated/edge and frame summaries.
// The design makes most of these bit-identical; the tolerances are the contract.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>

#include "background.cuh"
#include "cuda/batch_arrays.hpp"
#include "cuda/cuda_util.hpp"
#include "cuda/grid_tables.hpp"
#include "label.cuh"
#include "laueproc/backend.hpp"
#include "laueproc/cuda.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/stages.hpp"
#include "stages/grid_rows.hpp"
#include "laueproc/summary.hpp"
#include "residual.cuh"

namespace laueproc {
namespace {

#define REQUIRE_DEVICE()                                             \
  do {                                                               \
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

Frame sim_frame(int w, int h, std::int64_t index, std::uint64_t seed = 7, int max_refl = 60, double sep = 25.0) {
  sim::SimConfig c;
  c.width = w;
  c.height = h;
  c.grid_nx = 4;
  c.grid_ny = 4;
  c.seed = seed;
  c.max_reflections = max_refl;
  c.min_reflections = std::min(c.min_reflections, max_refl);
  c.min_separation_px = sep;
  if (std::min(w, h) < 200) c.edge_margin_px = 8;
  sim::ScanSimulator s(c);
  Frame f;
  f.meta.index = index;
  f.width = w;
  f.height = h;
  s.render(index % s.n_frames(), f.pixels, nullptr);
  return f;
}

Frame flat_frame(int w, int h, std::uint16_t v, std::int64_t index) {
  Frame f;
  f.meta.index = index;
  f.width = w;
  f.height = h;
  f.pixels.assign(static_cast<std::size_t>(w) * h, v);
  return f;
}

// Saturated spots: bright Gaussians clipped at 65535 on a noisy flat background.
Frame saturated_frame(int w, int h, std::int64_t index) {
  Frame f = flat_frame(w, h, 0, index);
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(200.0, 10.0);
  std::vector<double> img(f.pixels.size());
  for (auto& v : img) v = noise(rng);
  for (int s = 0; s < 12; ++s) {
    const double cx = 30 + (s % 4) * 60 + 0.3 * s, cy = 40 + (s / 4) * 70 + 0.17 * s;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        if (r2 < 150) img[static_cast<std::size_t>(y) * w + x] += 200000.0 * std::exp(-r2 / (2 * 2.0 * 2.0));
      }
  }
  for (std::size_t i = 0; i < img.size(); ++i) f.pixels[i] = static_cast<std::uint16_t>(std::clamp(std::lround(img[i]), 0L, 65535L));
  return f;
}

void expect_same(const FrameAnalysis& cpu, const FrameAnalysis& gpu, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(cpu.status, gpu.status);
  EXPECT_EQ(cpu.masked_lines, gpu.masked_lines);
  EXPECT_DOUBLE_EQ(cpu.noise_sigma, gpu.noise_sigma);
  EXPECT_DOUBLE_EQ(cpu.background_level, gpu.background_level);
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
    if (a.a - a.b > 1e-3 * a.a) {  // theta is undefined for a round peak
      EXPECT_NEAR(a.theta_deg, b.theta_deg, 0.05);
    }
    EXPECT_EQ(a.npix, b.npix);
    EXPECT_EQ(a.n_maxima, b.n_maxima);
    EXPECT_EQ(a.saturated, b.saturated);
    EXPECT_EQ(a.edge, b.edge);
    EXPECT_NEAR(a.intensity, b.intensity, 1e-6 * std::max(1.0, std::fabs(a.intensity)));
  }
}

void compare_backends(const std::vector<Frame>& frames, const cuda::CudaOptions& options = {}) {
  ProcessConfig config;
  auto cpu = make_cpu_analyzer(config);
  auto gpu = cuda::make_cuda_analyzer(config, nullptr, options);
  std::vector<const Frame*> ptrs;
  for (const Frame& f : frames) ptrs.push_back(&f);
  std::vector<FrameAnalysis> a, b;
  cpu->analyze(ptrs, a);
  gpu->analyze(ptrs, b);
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

TEST(CudaDevice, ProbeNeverThrows) {
  const int n = cuda::device_count();
  EXPECT_GE(n, 0);
  if (n == 0) {
    EXPECT_TRUE(cuda::describe_devices().empty());
    EXPECT_THROW(cuda::make_cuda_analyzer(ProcessConfig{}, nullptr, cuda::CudaOptions{}), Error);
    GTEST_SKIP() << "no CUDA device";
  }
  EXPECT_FALSE(cuda::describe_devices().empty());
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

// Kernel against its CPU twin: residual bit-identical, foreground partition identical, kept
// components (filter) identical in number and first pixel.
TEST(CudaKernels, ResidualLabelsAndFilterMatchCpu) {
  REQUIRE_DEVICE();
  for (auto [w, h] : {std::pair{256, 256}, std::pair{1000, 777}}) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    const Frame frame = sim_frame(w, h, 3);
    ProcessConfig config;
    CpuFrameAnalyzer host(config);
    FrameAnalysis fa;
    const BackgroundGrid* grid = host.prepare(frame.view(), fa);
    ASSERT_NE(grid, nullptr);
    const std::size_t n = static_cast<std::size_t>(w) * h;
    const double sigma = host.sigma();
    const std::uint8_t* mask = host.mask();
    // CPU twin.
    std::vector<float> bg, res(n);
    render_background(*grid, w, h, bg);
    for (std::size_t i = 0; i < n; ++i) res[i] = static_cast<float>(frame.pixels[i]) - bg[i];
    (void)sigma;
    const math::SigmaThreshold low = math::sigma_threshold(host.noise(), config.threshold.k_low);
    const math::SigmaThreshold high = math::sigma_threshold(host.noise(), config.threshold.k_high);
    std::vector<std::uint8_t> fg(n);
    for (std::size_t i = 0; i < n; ++i) fg[i] = math::above(res[i], bg[i], low) && !(mask && mask[i]);
    std::vector<std::int32_t> cpu_labels;
    label_components(fg.data(), w, h, cpu_labels);
    std::vector<PixelRun> runs;
    detail::find_runs(res.data(), bg.data(), mask, w, h, low, runs);
    ComponentSet all, kept;
    std::vector<int> parent;
    label_runs(runs, all, parent);
    const FrameView fv = frame.view();
    detail::filter_components(res.data(), &fv, w, h, all, high, config.threshold.min_pixels, kept);
    // GPU.
    const int stride = grid->nx + 4;
    std::vector<int> col_cell(static_cast<std::size_t>(w));
    std::vector<float> col_w(4 * static_cast<std::size_t>(w)), coarse(static_cast<std::size_t>(h) * stride);
    cuda::column_tables(*grid, w, col_cell.data(), col_w.data());
    cuda::coarse_rows(*grid, h, stride, coarse.data());
    cuda::BatchArrays d;
    d.allocate(w, h, 1, stride, 4096);
    kernels::FrameParams p;
    p.low = low;
    p.high = high;
    p.has_mask = mask ? 1 : 0;
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d.raw.get(), frame.pixels.data(), n * 2, cudaMemcpyHostToDevice));
    if (mask) LAUEPROC_CUDA_CHECK(cudaMemcpy(d.mask.get(), mask, n, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d.coarse.get(), coarse.data(), coarse.size() * 4, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d.col_w.get(), col_w.data(), col_w.size() * 4, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d.col_cell.get(), col_cell.data(), col_cell.size() * 4, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d.params.get(), &p, sizeof p, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemset(d.kept_count.get(), 0, sizeof(int)));
    const kernels::BatchView b = d.view(w, h, 1, stride, 4096, config.threshold.min_pixels);
    kernels::launch_residual_threshold(nullptr, b);
    kernels::launch_label_merge(nullptr, b);
    kernels::launch_label_flatten_stats(nullptr, b);
    kernels::launch_filter(nullptr, b);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    LAUEPROC_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> gres(n);
    std::vector<int> glab(n), count(1);
    LAUEPROC_CUDA_CHECK(cudaMemcpy(gres.data(), d.residual.get(), n * 4, cudaMemcpyDeviceToHost));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(glab.data(), d.label.get(), n * 4, cudaMemcpyDeviceToHost));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(count.data(), d.kept_count.get(), 4, cudaMemcpyDeviceToHost));
    std::size_t res_diff = 0, fg_diff = 0;
    for (std::size_t i = 0; i < n; ++i) {
      res_diff += gres[i] != res[i];
      fg_diff += (glab[i] >= 0) != (cpu_labels[i] > 0);
    }
    EXPECT_EQ(res_diff, 0u) << "residual pixels differing from the CPU (bit-exact expected)";
    EXPECT_EQ(fg_diff, 0u) << "foreground pixels differing";
    // Same partition: the CPU label <-> GPU root map is a bijection.
    std::map<int, int> c2g, g2c;
    std::size_t partition_diff = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (cpu_labels[i] == 0 || glab[i] < 0) continue;
      auto [it1, new1] = c2g.emplace(cpu_labels[i], glab[i]);
      auto [it2, new2] = g2c.emplace(glab[i], cpu_labels[i]);
      partition_diff += it1->second != glab[i] || it2->second != cpu_labels[i];
    }
    EXPECT_EQ(partition_diff, 0u);
    // Roots are the first pixel in raster order of each component.
    for (std::size_t i = 0; i < n; ++i)
      if (glab[i] >= 0) {
        ASSERT_LE(glab[i], static_cast<int>(i));
      }
    ASSERT_EQ(count[0], kept.count()) << "kept components";
    std::vector<kernels::KeptComponent> gk(static_cast<std::size_t>(count[0]));
    if (count[0] > 0)
      LAUEPROC_CUDA_CHECK(cudaMemcpy(gk.data(), d.kept.get(), gk.size() * sizeof(gk[0]), cudaMemcpyDeviceToHost));
    std::sort(gk.begin(), gk.end(), [](auto& x, auto& y) { return x.root < y.root; });
    for (int c = 0; c < kept.count(); ++c) {
      const PixelRun& r0 = kept.runs[static_cast<std::size_t>(kept.begin[c])];
      EXPECT_EQ(gk[static_cast<std::size_t>(c)].root, r0.y * w + r0.x0) << "component " << c;
    }
  }
}

// The two block passes on the device + the host's fill and median = background_blocks, bit for
// bit (grid values and block sigma), on frames with a dead row, hot pixels, zero regions.
TEST(CudaKernels, BlockPassesMatchBackgroundBlocks) {
  REQUIRE_DEVICE();
  for (auto [w, h] : {std::pair{256, 256}, std::pair{1000, 777}}) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    Frame frame = sim_frame(w, h, 2);
    for (int y = 0; y < 40; ++y)  // a zero corner: masked with a margin, some cells all masked
      for (int x = 0; x < 70; ++x) frame.pixels[static_cast<std::size_t>(y) * w + x] = 0;
    ProcessConfig config;
    CpuFrameAnalyzer host(config);
    FrameAnalysis fa;
    ASSERT_TRUE(host.prepare_mask(frame.view(), fa));
    const std::uint8_t* mask = host.mask();
    const std::size_t n = static_cast<std::size_t>(w) * h;
    BackgroundGrid ref;
    background_blocks(frame.view(), mask, config.background, ref);
    BackgroundGrid shape;
    background_grid_shape(w, h, config.background, shape);
    const std::size_t cells = static_cast<std::size_t>(shape.nx) * shape.ny;
    cuda::DeviceBuffer<std::uint16_t> d_raw(n);
    cuda::DeviceBuffer<std::uint8_t> d_mask(n);
    cuda::DeviceBuffer<kernels::FrameParams> d_params(1);
    cuda::DeviceBuffer<float> d_values(cells), d_sigmas(cells), d_prev(cells);
    kernels::FrameParams p;
    p.has_mask = mask ? 1 : 0;
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d_raw.get(), frame.pixels.data(), n * 2, cudaMemcpyHostToDevice));
    if (mask) LAUEPROC_CUDA_CHECK(cudaMemcpy(d_mask.get(), mask, n, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d_params.get(), &p, sizeof p, cudaMemcpyHostToDevice));
    const double q = config.background.percentile;
    kernels::BlockPassArgs a;
    a.width = w;
    a.height = h;
    a.frames = 1;
    a.nx = shape.nx;
    a.ny = shape.ny;
    a.raw = d_raw.get();
    a.mask = d_mask.get();
    a.params = d_params.get();
    a.q = q;
    a.zq = math::normal_quantile(q);
    a.zlo = math::normal_quantile(q / 3.0);
    a.values = d_values.get();
    a.sigmas = d_sigmas.get();
    kernels::launch_block_pass(nullptr, a);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    BackgroundGrid first = shape;
    std::vector<float> sig(cells);
    LAUEPROC_CUDA_CHECK(cudaMemcpy(first.values.data(), d_values.get(), cells * 4, cudaMemcpyDeviceToHost));
    fill_invalid_cells(first);
    const int stride = shape.nx + 4;
    std::vector<int> col_cell(static_cast<std::size_t>(w));
    std::vector<float> col_w(4 * static_cast<std::size_t>(w)), coarse(static_cast<std::size_t>(h) * stride);
    cuda::column_tables(first, w, col_cell.data(), col_w.data());
    cuda::coarse_rows(first, h, stride, coarse.data());
    cuda::DeviceBuffer<float> d_coarse(coarse.size()), d_colw(col_w.size());
    cuda::DeviceBuffer<int> d_cell(col_cell.size());
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d_coarse.get(), coarse.data(), coarse.size() * 4, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d_colw.get(), col_w.data(), col_w.size() * 4, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d_cell.get(), col_cell.data(), col_cell.size() * 4, cudaMemcpyHostToDevice));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(d_prev.get(), first.values.data(), cells * 4, cudaMemcpyHostToDevice));
    a.prev = d_prev.get();
    a.coarse = d_coarse.get();
    a.coarse_stride = stride;
    a.col_cell = d_cell.get();
    a.col_w = d_colw.get();
    kernels::launch_block_pass(nullptr, a);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    BackgroundGrid got = shape;
    LAUEPROC_CUDA_CHECK(cudaMemcpy(got.values.data(), d_values.get(), cells * 4, cudaMemcpyDeviceToHost));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(sig.data(), d_sigmas.get(), cells * 4, cudaMemcpyDeviceToHost));
    std::vector<float> valid;
    for (float v : sig)
      if (!std::isnan(v)) valid.push_back(v);
    ASSERT_FALSE(valid.empty());
    std::nth_element(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(valid.size() / 2), valid.end());
    got.block_sigma = valid[valid.size() / 2];
    fill_invalid_cells(got);
    std::size_t diff = 0;
    for (std::size_t c = 0; c < cells; ++c) diff += got.values[c] != ref.values[c];
    EXPECT_EQ(diff, 0u) << "grid cells differing from background_blocks (of " << cells << ")";
    EXPECT_EQ(got.block_sigma, ref.block_sigma);
  }
}

TEST(CudaEquivalence, SimulatedFramesOfSeveralSizes) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 4; ++i) frames.push_back(sim_frame(256, 256, i));
  for (int i = 0; i < 3; ++i) frames.push_back(sim_frame(1000, 777, i));  // not a multiple of the tile
  frames.push_back(sim_frame(256, 256, 9));                               // sizes interleaved
  compare_backends(frames);
}

TEST(CudaEquivalence, LargeFrames2048) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 2; ++i) frames.push_back(sim_frame(2048, 2048, i));
  compare_backends(frames);
}

TEST(CudaEquivalence, EmptyConstantCrowdedAndSaturatedFrames) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  frames.push_back(flat_frame(256, 256, 0, 0));        // all zero
  frames.push_back(flat_frame(256, 256, 1234, 1));     // constant
  frames.push_back(sim_frame(512, 512, 2, 11, 400, 12.0));  // full of peaks
  frames.push_back(saturated_frame(256, 256, 3));
  frames.push_back(sim_frame(256, 256, 4));
  compare_backends(frames);
}

TEST(CudaEquivalence, BatchSplitAndSmallBatches) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 9; ++i) frames.push_back(sim_frame(256, 256, i, 3));
  cuda::CudaOptions options;
  options.batch = 4;  // sub-batches of 2 over 3 streams, several rounds
  options.streams = 3;
  compare_backends(frames, options);
  options.batch = 1;
  options.streams = 1;
  compare_backends(frames, options);
}

TEST(CudaEquivalence, RepeatedCallsAreDeterministic) {
  REQUIRE_DEVICE();
  std::vector<Frame> frames;
  for (int i = 0; i < 3; ++i) frames.push_back(sim_frame(512, 512, i, 21, 200, 12.0));
  std::vector<const Frame*> ptrs;
  for (const Frame& f : frames) ptrs.push_back(&f);
  auto gpu = cuda::make_cuda_analyzer(ProcessConfig{}, nullptr, cuda::CudaOptions{});
  std::vector<FrameAnalysis> a, b;
  gpu->analyze(ptrs, a);
  gpu->analyze(ptrs, b);
  for (std::size_t i = 0; i < a.size(); ++i) expect_same(a[i], b[i], "repeat " + std::to_string(i));
}

TEST(CudaEquivalence, StaticMaskAndGaussianBackground) {
  REQUIRE_DEVICE();
  const Frame frame = sim_frame(256, 256, 1);
  std::vector<std::uint8_t> bad(static_cast<std::size_t>(256) * 256, 0);
  for (int y = 100; y < 120; ++y)
    for (int x = 50; x < 90; ++x) bad[static_cast<std::size_t>(y) * 256 + x] = 1;
  const BadPixelMask mask(256, 256, bad);
  ProcessConfig config;
  config.background.method = BackgroundMethod::gaussian;
  auto cpu = make_cpu_analyzer(config, &mask);
  auto gpu = cuda::make_cuda_analyzer(config, &mask, cuda::CudaOptions{});
  std::vector<const Frame*> ptrs{&frame};
  std::vector<FrameAnalysis> a, b;
  cpu->analyze(ptrs, a);
  gpu->analyze(ptrs, b);
  expect_same(a[0], b[0], "masked, gaussian background");
}

}  // namespace
}  // namespace laueproc
