/// @file
/// @brief CpuFrameAnalyzer: every stage on one frame, with reusable scratch buffers.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "laueproc/error.hpp"
#include "laueproc/math/component.hpp"
#include "laueproc/stages.hpp"
#include "stages/clones.hpp"
#include "stages/grid_rows.hpp"
#include "stages/select.hpp"
#include "stages/window_centroid.hpp"

namespace laueproc {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point& t) {
  const auto now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - t).count();
  t = now;
  return ms;
}
// uint16 data are quantised to 1 count (sigma 0.29): a noise-free frame must not get sigma 0.
constexpr double kSigmaFloor = 0.5;

// Flags of the columns [x0, x1) of one row whose residual (raw - background) is above the low
// threshold at their background. The residual itself is not stored: it is needed only around
// the few components that can become peaks (render_residual). Restrict pointers: the loop
// vectorises without run-time overlap checks, which would cost as much as a 32-column segment.
LAUEPROC_INLINE void flag_segment(const detail::CubicSegment& bg, int x0, int x1, const std::uint16_t* __restrict raw,
                                  std::uint8_t* __restrict flags, float k2var0, float k2gain) {
  const float* __restrict w0 = bg.w0;
  const float* __restrict w1 = bg.w1;
  const float* __restrict w2 = bg.w2;
  const float* __restrict w3 = bg.w3;
  const float c0 = bg.c0, c1 = bg.c1, c2 = bg.c2, c3 = bg.c3;
  for (int x = x0; x < x1; ++x) {
    const float b = detail::CubicSegment::value(w0[x], w1[x], w2[x], w3[x], c0, c1, c2, c3);
    const float v = static_cast<float>(raw[x]) - b;
    flags[x] = detail::above(v, b, k2var0, k2gain);
  }
}

// Flags of row y's pixels above the low threshold and unmasked.
LAUEPROC_CLONES void flag_row(detail::RowRenderer& renderer, int y, int width, const std::uint16_t* raw,
                              const std::uint8_t* mask_row, std::uint8_t* flags, float k2var0, float k2gain) {
  renderer.for_each_segment(y, [&](int x0, int x1, const detail::CubicSegment& bg) {
    flag_segment(bg, x0, x1, raw, flags, k2var0, k2gain);
  });
  if (mask_row)
    for (int x = 0; x < width; ++x) flags[x] &= !mask_row[x];
}

// Most segments of a row hold no pixel above the low threshold, and that can be told from their
// largest raw value alone. The background of every column of a segment with coarse values
// c0..c3 lies in the convex hull of its Catmull-Rom curve's Bezier points c1, c1 + (c2 - c0) / 6,
// c2 - (c3 - c1) / 6, c2 (t in [0, 1)); its float evaluation (weights rounded to float, four
// roundings) is off that curve by < 1.25 x 5 float epsilons x max |c|. So b >= b_lo = min(hull) -
// 1e-6 (max |c| + 1). A pixel with raw - b_lo <= d has residual <= d, and when d^2 <= T(b_lo)
// (1 - 1e-5), T(b) = k2var0 + k2gain max(b, 0), its float residual |residual| is <= the float
// threshold at its background: above()'s operations are all monotone (k2var0, k2gain >= 0) and the
// margin covers their roundings. So its flag is 0, as the exact evaluation would find.
// segment_bounds stores b_lo and T(b_lo) (1 - 1e-5) for each window of four coarse values.
LAUEPROC_INLINE void segment_bounds(const float* coarse, int windows, double k2var0, double k2gain,
                                    double* __restrict b_lo, double* __restrict t_lo) {
  for (int k = 0; k < windows; ++k) {
    const double c0 = coarse[k], c1 = coarse[k + 1], c2 = coarse[k + 2], c3 = coarse[k + 3];
    const double p1 = c1 + (c2 - c0) / 6, p2 = c2 - (c3 - c1) / 6;
    const double lo = std::min(std::min(c1, c2), std::min(p1, p2));
    const double mag = std::max(std::max(std::fabs(c0), std::fabs(c1)), std::max(std::fabs(c2), std::fabs(c3)));
    const double b = lo - 1e-6 * (mag + 1);
    b_lo[k] = b;
    t_lo[k] = (k2var0 + k2gain * std::max(b, 0.0)) * (1 - 1e-5);
  }
}

// Largest of raw[x0..x1); segments of 32 columns (the cells of 32 px blocks) without a loop.
using U16x16 = std::uint16_t __attribute__((vector_size(32)));
using U16x8 = std::uint16_t __attribute__((vector_size(16)));
LAUEPROC_INLINE std::uint16_t segment_max(const std::uint16_t* __restrict raw, int x0, int x1) {
  if (x1 - x0 == 32) {
    U16x16 a, b;
    std::memcpy(&a, raw + x0, sizeof a);
    std::memcpy(&b, raw + x0 + 16, sizeof b);
    const U16x16 m16 = a > b ? a : b;
    U16x8 half[2];
    std::memcpy(half, &m16, sizeof m16);
    U16x8 m = half[0] > half[1] ? half[0] : half[1];
    U16x8 t = __builtin_shuffle(m, U16x8{4, 5, 6, 7, 0, 1, 2, 3});
    m = m > t ? m : t;
    t = __builtin_shuffle(m, U16x8{2, 3, 0, 1, 6, 7, 4, 5});
    m = m > t ? m : t;
    t = __builtin_shuffle(m, U16x8{1, 0, 3, 2, 5, 4, 7, 6});
    m = m > t ? m : t;
    return m[0];
  }
  std::uint16_t m = 0;
  for (int x = x0; x < x1; ++x) m = std::max(m, raw[x]);
  return m;
}

// flag_row, evaluating the background only in the segments whose largest raw value could pass the
// threshold (see segment_bounds; needs k2var0, k2gain >= 0 and a bounded renderer). Same flags
// where it writes them: it writes only the segments it evaluates, whose columns it returns as
// merged ranges [ranges[2i], ranges[2i + 1]), i < the count returned (flags elsewhere untouched).
LAUEPROC_CLONES int flag_row_sparse(detail::RowRenderer& renderer, int y, const std::uint16_t* raw,
                                    const std::uint8_t* mask_row, std::uint8_t* flags, float k2var0, float k2gain,
                                    double* b_lo, double* t_lo, int* ranges) {
  const float* coarse = renderer.coarse_row(y);
  segment_bounds(coarse, renderer.coarse_length() - 3, k2var0, k2gain, b_lo, t_lo);
  int n = 0;
  const int* const begins = renderer.segment_begins();
  const int* const cells = renderer.segment_cells();
  const int segments = renderer.segments();
  for (int s = 0; s < segments; ++s) {
    const int x0 = begins[s], x1 = begins[s + 1], k = cells[s] + 1;
    const double d = segment_max(raw, x0, x1) - b_lo[k];
    if (d <= 0 || d * d <= t_lo[k]) continue;
    flag_segment(renderer.segment(coarse, s), x0, x1, raw, flags, k2var0, k2gain);
    if (mask_row)
      for (int x = x0; x < x1; ++x) flags[x] &= !mask_row[x];
    if (n > 0 && ranges[2 * n - 1] == x0) {
      ranges[2 * n - 1] = x1;
    } else {
      ranges[2 * n] = x0;
      ranges[2 * n + 1] = x1;
      ++n;
    }
  }
  return n;
}

// residual[y][x] = raw - background for the columns [x0, x1] of row y (clamped to the frame),
// the same float expression as flag_segment's (renderer.at gives the segment's background).
void render_residual(const detail::RowRenderer& renderer, const FrameView& frame, int y, int x0, int x1,
                     float* residual) {
  x0 = std::max(x0, 0);
  x1 = std::min(x1, frame.width - 1);
  const std::uint16_t* raw = frame.data + static_cast<std::ptrdiff_t>(y) * frame.stride;
  float* out = residual + static_cast<std::size_t>(y) * frame.width;
  for (int x = x0; x <= x1; ++x) out[x] = static_cast<float>(raw[x]) - renderer.at(x, y);
}

// The residual where filter_components reads it: the pixels of the components of >= min_pixels
// pixels and their 8-neighbours.
void render_candidates(const detail::RowRenderer& renderer, const FrameView& frame, const ComponentSet& all,
                       int min_pixels, float* residual) {
  for (int c = 0; c < all.count(); ++c) {
    if (all.pixels(c) < min_pixels) continue;
    for (int k = all.begin[c]; k < all.begin[c + 1]; ++k) {
      const PixelRun& r = all.runs[k];
      for (int y = std::max(r.y - 1, 0); y <= std::min(r.y + 1, frame.height - 1); ++y)
        render_residual(renderer, frame, y, r.x0 - 1, r.x1 + 1, residual);
    }
  }
}

// The residual where measure_component reads it: each kept component's box grown by grow_px + 1.
void render_kept(const detail::RowRenderer& renderer, const FrameView& frame, const ComponentSet& kept, int grow_px,
                 float* residual) {
  const int g = std::max(0, grow_px) + 1;
  for (int c = 0; c < kept.count(); ++c) {
    int xmin = frame.width, xmax = -1, ymin = frame.height, ymax = -1;
    for (int k = kept.begin[c]; k < kept.begin[c + 1]; ++k) {
      const PixelRun& r = kept.runs[k];
      xmin = std::min(xmin, r.x0);
      xmax = std::max(xmax, r.x1);
      ymin = std::min(ymin, r.y);
      ymax = std::max(ymax, r.y);
    }
    for (int y = std::max(ymin - g, 0); y <= std::min(ymax + g, frame.height - 1); ++y)
      render_residual(renderer, frame, y, xmin - g, xmax + g, residual);
  }
}
}  // namespace

CpuFrameAnalyzer::CpuFrameAnalyzer(const ProcessConfig& config, const BadPixelMask* mask)
    : config_(config), static_mask_(mask && !mask->empty() ? mask : nullptr) {}

void CpuFrameAnalyzer::build_mask(const FrameView& frame, FrameAnalysis& out, bool& constant) {
  const std::size_t n = frame.pixel_count();
  const int w = frame.width, h = frame.height;
  if (static_mask_) {
    if (static_mask_->width() != frame.width || static_mask_->height() != frame.height)
      throw InputError("bad pixel mask", "shape " + std::to_string(static_mask_->width()) + "x" +
                                             std::to_string(static_mask_->height()) + " differs from the frame's " +
                                             std::to_string(frame.width) + "x" + std::to_string(frame.height));
    std::memcpy(mask_.data(), static_mask_->pixels().data(), n);
    if (static_rows_.size() != static_cast<std::size_t>(h)) {  // once: the static mask does not change
      static_rows_.assign(static_cast<std::size_t>(h), 0);
      const std::uint8_t* m = static_mask_->pixels().data();
      for (int y = 0; y < h; ++y)
        static_rows_[y] = std::any_of(m + static_cast<std::size_t>(y) * w, m + static_cast<std::size_t>(y + 1) * w,
                                      [](std::uint8_t v) { return v != 0; });
    }
    mask_rows_ = static_rows_;
  } else {
    // Only the rows the last frame marked hold masked pixels: clear those (not 4 MB per frame).
    for (int y = 0; y < h; ++y)
      if (mask_rows_[y]) std::memset(mask_.data() + static_cast<std::size_t>(y) * w, 0, static_cast<std::size_t>(w));
    std::fill(mask_rows_.begin(), mask_rows_.end(), std::uint8_t{0});
  }
  constant = false;
  if (config_.threshold.detect_dead_lines) {
    out.masked_lines = detect_dead_lines(frame, mask_.data(), &constant, &zero_rows_, mask_rows_.data());
  } else {
    std::uint16_t lo = 0xFFFF, hi = 0;
    for (int y = 0; y < frame.height; ++y)
      for (int x = 0; x < frame.width; ++x) {
        lo = std::min(lo, frame.at(x, y));
        hi = std::max(hi, frame.at(x, y));
      }
    constant = lo == hi;
  }
  std::size_t zeros = 0;
  if (config_.threshold.zero_is_invalid && !constant)
    zeros = mask_zero_pixels(frame, mask_.data(), config_.threshold.invalid_margin_px, zero_scratch_,
                             config_.threshold.detect_dead_lines ? zero_rows_.data() : nullptr, mask_rows_.data());
  any_masked_ = static_mask_ != nullptr || out.masked_lines > 0 || zeros > 0;
}

bool CpuFrameAnalyzer::prepare_mask(const FrameView& frame, FrameAnalysis& out) {
  clock_ = Clock::now();
  timings_ = Timings{};
  const int w = frame.width, h = frame.height;
  const std::size_t n = frame.pixel_count();
  if (n == 0) {
    out.status = "empty frame";
    return false;
  }
  if (w != width_ || h != height_) {
    width_ = w;
    height_ = h;
    mask_.assign(n, 0);
    mask_rows_.assign(static_cast<std::size_t>(h), 0);
    residual_.assign(n, 0.0f);
    owner_.assign(n, 0);
  }
  bool constant = false;
  build_mask(frame, out, constant);
  timings_.masks_ms = ms_since(clock_);
  if (constant) {
    out.status = "empty frame";
    out.background_level = frame.at(0, 0);
    return false;
  }
  return true;
}

const BackgroundGrid* CpuFrameAnalyzer::prepare_noise(const FrameView& frame, const std::uint8_t* mask,
                                                      const BackgroundGrid& blocks, FrameAnalysis& out) {
  math::NoiseModel* model = config_.threshold.local_noise ? &noise_ : nullptr;
  const std::uint8_t* rows = mask && mask == mask_.data() ? mask_rows_.data() : nullptr;
  double sigma = detail::sampled_sigma(frame, mask, blocks, samples_, &bg_samples_, model, rows);
  const BackgroundGrid* grid = &blocks;
  if (config_.background.method == BackgroundMethod::gaussian) {
    background_gaussian(frame, mask, config_.background, blocks, std::max(sigma, kSigmaFloor), gauss_grid_);
    grid = &gauss_grid_;
    timings_.background_ms += ms_since(clock_);
    sigma = detail::sampled_sigma(frame, mask, gauss_grid_, samples_, &bg_samples_, model, rows);
  }
  sigma_ = std::max(sigma, kSigmaFloor);
  if (!model) noise_ = math::NoiseModel{sigma_ * sigma_, 0.0};
  noise_.var0 = std::max(noise_.var0, kSigmaFloor * kSigmaFloor);
  out.noise_sigma = sigma_;
  if (!bg_samples_.empty())
    out.background_level = detail::kth_smallest(bg_samples_.data(), bg_samples_.size(), bg_samples_.size() / 2);
  timings_.sigma_ms = ms_since(clock_);
  return grid;
}

const BackgroundGrid* CpuFrameAnalyzer::prepare(const FrameView& frame, FrameAnalysis& out) {
  if (!prepare_mask(frame, out)) return nullptr;
  // 1. Background and noise.
  background_blocks(frame, mask(), config_.background, grid_, mask_rows_.data());
  timings_.background_ms = ms_since(clock_);
  return prepare_noise(frame, mask(), grid_, out);
}

FrameAnalysis CpuFrameAnalyzer::analyze(const FrameView& frame, std::int64_t frame_index) {
  FrameAnalysis out;
  const BackgroundGrid* grid = prepare(frame, out);
  if (!grid) return out;
  auto t = Clock::now();
  const int w = frame.width, h = frame.height;
  const std::uint8_t* mask = this->mask();

  // 2. One pass: the flags of the pixels whose residual (raw - background, evaluated in
  //    registers, cell by cell) is above the low threshold and unmasked; then the row's runs.
  thread_local detail::RowRenderer renderer;
  renderer.setup(*grid, w);
  renderer.keep_rows(h);  // for render_residual below
  flags_.assign(detail::flag_row_bytes(w), 0);
  runs_.clear();
  const math::SigmaThreshold low = math::sigma_threshold(noise_, config_.threshold.k_low);
  const float k2var0 = low.k2var0, k2gain = low.k2gain;
  std::uint8_t* const flags = flags_.data();
  const bool sparse = renderer.bounded() && k2var0 >= 0 && k2gain >= 0;
  thread_local std::vector<double> b_lo, t_lo;
  thread_local std::vector<int> ranges;
  b_lo.resize(static_cast<std::size_t>(renderer.coarse_length()));
  t_lo.resize(static_cast<std::size_t>(renderer.coarse_length()));
  ranges.resize(2 * static_cast<std::size_t>(renderer.segments()));
  for (int y = 0; y < h; ++y) {
    const std::uint16_t* raw = frame.data + y * frame.stride;
    const std::uint8_t* mask_row = mask && mask_rows_[y] ? mask + static_cast<std::size_t>(y) * w : nullptr;
    if (!sparse) {
      flag_row(renderer, y, w, raw, mask_row, flags, k2var0, k2gain);
      detail::append_flag_runs(flags, w, y, runs_);
      continue;
    }
    // The flag row is all zero outside the ranges written, and is cleared there after use.
    const int n = flag_row_sparse(renderer, y, raw, mask_row, flags, k2var0, k2gain, b_lo.data(), t_lo.data(),
                                  ranges.data());
    for (int r = 0; r < n; ++r) {
      const int x0 = ranges[2 * r], x1 = ranges[2 * r + 1];
      detail::append_flag_runs(flags, x0, x1, y, runs_);
      std::memset(flags + x0, 0, static_cast<std::size_t>(x1 - x0));
    }
  }
  timings_.residual_ms = ms_since(t);

  // 3. Components, hysteresis (seed, size, hot pixel). The residual is written (and valid) only
  //    where the filter and the measurement read it: a full-frame float pass would write 16 MB.
  label_runs(runs_, all_, parent_);
  render_candidates(renderer, frame, all_, config_.threshold.min_pixels, residual_.data());
  detail::filter_components(residual_.data(), &frame, w, h, all_,
                            math::sigma_threshold(noise_, config_.threshold.k_high), config_.threshold.min_pixels,
                            kept_);
  render_kept(renderer, frame, kept_, config_.moments.grow_px, residual_.data());
  timings_.label_ms = ms_since(t);

  // 4-5. Deblend and measure each kept component.
  for (int c = 0; c < kept_.count(); ++c)
    for (int k = kept_.begin[c]; k < kept_.begin[c + 1]; ++k) {
      const PixelRun& r = kept_.runs[k];
      std::fill(owner_.begin() + static_cast<std::ptrdiff_t>(r.y) * w + r.x0,
                owner_.begin() + static_cast<std::ptrdiff_t>(r.y) * w + r.x1 + 1, c + 1);
    }
  for (int c = 0; c < kept_.count(); ++c) process_component(frame, c, frame_index, out.peaks);
  for (const PixelRun& r : kept_.runs)  // sparse clear: owner_ stays all-zero between frames
    std::fill(owner_.begin() + static_cast<std::ptrdiff_t>(r.y) * w + r.x0,
              owner_.begin() + static_cast<std::ptrdiff_t>(r.y) * w + r.x1 + 1, 0);

  sort_and_number(out.peaks);
  timings_.peaks_ms = ms_since(t);
  return out;
}

void CpuFrameAnalyzer::process_component(const FrameView& frame, int c, std::int64_t frame_index,
                                         PeakList& peaks) {
  measure_component(frame, residual_.data(), any_masked_ ? mask_.data() : nullptr, owner_.data(), kept_, c, noise_,
                    config_, frame_index, scratch_, peaks);
}

void sort_and_number(PeakList& peaks) {
  std::sort(peaks.begin(), peaks.end(),
            [](const Peak& a, const Peak& b) { return a.y < b.y || (a.y == b.y && a.x < b.x); });
  for (std::size_t i = 0; i < peaks.size(); ++i) peaks[i].peak = static_cast<std::int32_t>(i);
}

void measure_component(const FrameView& frame, const float* residual, const std::uint8_t* mask,
                       const std::int32_t* owner, const ComponentSet& kept, int c, const math::NoiseModel& noise,
                       const ProcessConfig& config, std::int64_t frame_index, ComponentScratch& scratch,
                       PeakList& peaks) {
  const int w = frame.width, h = frame.height;
  // The component's pixels in raster order (its runs), and its bounding box.
  std::vector<int>& pixels = scratch.pixels;
  pixels.clear();
  int xmin = w, xmax = -1, ymin = h, ymax = -1;
  for (int k = kept.begin[c]; k < kept.begin[c + 1]; ++k) {
    const PixelRun& r = kept.runs[k];
    for (int x = r.x0; x <= r.x1; ++x) pixels.push_back(r.y * w + x);
    xmin = std::min(xmin, r.x0);
    xmax = std::max(xmax, r.x1);
    ymin = std::min(ymin, r.y);
    ymax = std::max(ymax, r.y);
  }
  const int n = static_cast<int>(pixels.size());
  const math::ComponentBox box = math::component_box(xmin, xmax, ymin, ymax, w, h, config.moments.grow_px);
  scratch.bytes.resize(math::component_scratch_bytes(n, box.box_area, box.grown_area));
  math::ComponentScratchView s = math::component_scratch(scratch.bytes.data(), n, box.box_area, box.grown_area);
  const math::FramePixels f{residual, frame.data, frame.stride, mask, w, h};
  // A pixel of another kept component: the grown support never takes it.
  const auto other = [owner, c](int i) { return owner[i] != 0 && owner[i] != c + 1; };
  math::measure_component_pixels(f, pixels.data(), n, box, noise, config.deblend, config.moments, other, s,
                                 [&](const Peak& peak, int) {
                                   peaks.push_back(peak);
                                   peaks.back().frame = frame_index;
                                 },
                                 detail::CpuWindow{});
}

}  // namespace laueproc
