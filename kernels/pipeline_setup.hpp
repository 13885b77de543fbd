#pragma once
/// @file
/// @brief Host side of a batch (no CUDA): its shape and settings from the frame size and the
/// ProcessConfig, computed with the CPU stages' own functions (grid shape, quantiles, Gaussian
/// taps), and the peaks of each frame from the device's records. Used by the CUDA analyzer and
/// by the CPU-executor tests alike.

#include <algorithm>
#include <vector>

#include "frame_batch.cuh"
#include "laueproc/math/background.hpp"
#include "laueproc/stages.hpp"
#include "noise_body.cuh"
#include "stages/grid_rows.hpp"

namespace laueproc::kernels {

/// @brief Shape and per-frame capacities of a batch of `frames` frames of width x height.
/// Capacities: root slots max(4096, n/16) (a frame over it is redone on the CPU), kept
/// components max(4096, n/256), peaks twice that, per-component scratch max(2^20, n) words
/// (a compact spot takes ~600 words, a 300 px streak ~10^4).
inline BatchShape make_batch_shape(int width, int height, int frames, const ProcessConfig& config) {
  BatchShape s;
  s.width = width;
  s.height = height;
  s.frames = frames;
  BackgroundGrid g;
  background_grid_shape(width, height, config.background, g);
  s.nx = g.nx;
  s.ny = g.ny;
  s.cell_x = g.cell_x;
  s.cell_y = g.cell_y;
  if (config.background.method == BackgroundMethod::gaussian) {
    s.dw = (width + 3) / 4;
    s.dh = (height + 3) / 4;
  }
  s.coarse_stride = std::max(s.nx, s.dw) + 4;
  s.sample_cap = sample_capacity(width, height);
  const long long n = 1ll * width * height;
  s.root_cap = static_cast<int>(std::max<long long>(4096, n / 16));
  s.kept_cap = static_cast<int>(std::max<long long>(4096, n / 256));
  s.peak_cap = 2 * s.kept_cap;
  s.pool_cap = std::max<long long>(1ll << 20, n);
  return s;
}

/// @brief The kernels' settings; `taps` receives the Gaussian taps (to upload) when the method
/// is gaussian.
inline PipelineConfig make_pipeline_config(const ProcessConfig& config, std::vector<float>& taps) {
  PipelineConfig c;
  c.detect_dead_lines = config.threshold.detect_dead_lines ? 1 : 0;
  c.zero_is_invalid = config.threshold.zero_is_invalid ? 1 : 0;
  c.margin_px = config.threshold.invalid_margin_px;
  c.gaussian = config.background.method == BackgroundMethod::gaussian ? 1 : 0;
  c.q = std::clamp(config.background.percentile, 0.01, 0.99);
  c.zq = math::normal_quantile(c.q);
  c.zlo = math::normal_quantile(c.q / 3.0);
  taps.clear();
  if (c.gaussian) c.gauss_radius = detail::gaussian_taps(config.background, taps);
  c.local_noise = config.threshold.local_noise ? 1 : 0;
  c.k_low = config.threshold.k_low;
  c.k_high = config.threshold.k_high;
  c.min_pixels = config.threshold.min_pixels;
  c.deblend = config.deblend;
  c.moments = config.moments;
  return c;
}

/// @brief The batch's peak records grouped by frame (counting sort): frame f's are
/// by_frame[begin[f] .. begin[f + 1]).
inline void group_records(const PeakRecord* records, int count, int frames, std::vector<int>& begin,
                          std::vector<const PeakRecord*>& by_frame) {
  begin.assign(static_cast<std::size_t>(frames) + 1, 0);
  for (int k = 0; k < count; ++k) ++begin[static_cast<std::size_t>(records[k].frame) + 1];
  for (int f = 0; f < frames; ++f) begin[f + 1] += begin[f];
  by_frame.resize(static_cast<std::size_t>(count));
  std::vector<int> fill(begin.begin(), begin.end() - 1);
  for (int k = 0; k < count; ++k) by_frame[static_cast<std::size_t>(fill[records[k].frame]++)] = &records[k];
}

/// @brief A frame's analysis from its state and its peak records: status, masked lines, noise,
/// background level, and the peaks in the CPU's order (records by (root, sub), then
/// sort_and_number). `frame_index` numbers the peaks; `first_value` is the frame's pixel (0, 0)
/// (the level of a constant frame). False when the frame overflowed a device list: the caller
/// redoes it on the CPU.
inline bool frame_analysis_from_device(const FrameState& st, const PeakRecord* const* records, int count,
                                       std::int64_t frame_index, double first_value, FrameAnalysis& out) {
  out = FrameAnalysis{};
  if (st.overflow) return false;
  if (st.constant) {
    out.status = "empty frame";
    out.background_level = first_value;
    return true;
  }
  out.masked_lines = st.masked_lines;
  out.noise_sigma = st.sigma;
  out.background_level = st.background_level;
  std::vector<const PeakRecord*> mine(records, records + count);
  std::sort(mine.begin(), mine.end(), [](const PeakRecord* a, const PeakRecord* b) {
    return a->root < b->root || (a->root == b->root && a->sub < b->sub);
  });
  out.peaks.reserve(mine.size());
  for (const PeakRecord* r : mine) {
    out.peaks.push_back(r->peak);
    out.peaks.back().frame = frame_index;
  }
  sort_and_number(out.peaks);
  return true;
}

}  // namespace laueproc::kernels
