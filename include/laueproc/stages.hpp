#pragma once
/// @file
/// @brief The CPU reference path of peak finding, one frame at a time:
/// background -> residual and robust noise -> hysteresis threshold -> 8-connected components
/// -> deblend (prominence + watershed) -> intensity moments. The per-pixel and per-peak math is
/// in include/laueproc/math/ (shared with the CUDA path); these functions are the CPU executor
/// and the oracle the GPU is tested against.
///
/// Noise model: variance = var0 + gain x background (math/noise.hpp), fitted per frame to robust
/// (MAD) variances of the residual in background bins, so thresholds, SNR and prominences follow
/// the shot noise where the background is high; `threshold.local_noise = false` (or a frame whose
/// background is too flat to fit a slope) gives one robust sigma per frame.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "laueproc/config.hpp"
#include "laueproc/frame.hpp"
#include "laueproc/math/noise.hpp"
#include "laueproc/peak.hpp"

namespace laueproc {

/// @brief Everything the CPU path measures on one frame.
struct FrameAnalysis {
  PeakList peaks;               ///< sorted by centroid (y, then x), Peak::peak = 0..n-1
  double background_level = 0;  ///< median of the background image (counts)
  double noise_sigma = 0;       ///< robust sigma of the residual, 1.4826 * MAD (counts)
  int masked_lines = 0;         ///< dead rows + columns detected and masked in this frame
  std::string status = "ok";    ///< "ok" or "empty frame" (constant or all-zero frame)
};

/// @brief Static bad-pixel mask, row-major, 1 = bad. The stages library does not link HDF5, so
/// load() reads PGM files (binary "P5" or text "P2", 8-bit, nonzero = bad); the io layer may
/// read an HDF5 "/mask" dataset and build the mask with the (width, height, pixels) constructor.
class BadPixelMask {
 public:
  BadPixelMask() = default;
  /// @brief Takes `bad` (width*height values, nonzero = bad; stored as 0/1). Throws UsageError on a size mismatch.
  BadPixelMask(int width, int height, std::vector<std::uint8_t> bad);
  /// @brief Reads a PGM mask file; throws InputError(path, problem).
  static BadPixelMask load(const std::string& path);

  int width() const { return width_; }
  int height() const { return height_; }
  bool empty() const { return pixels_.empty(); }
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }
  std::size_t bad_count() const;

 private:
  int width_ = 0;
  int height_ = 0;
  std::vector<std::uint8_t> pixels_;
};

// ---- stage 1: masks and background ---------------------------------------------------------

/// @brief Marks dead lines (a row or column whose pixels are all equal, e.g. all 0) in `mask`
/// (width*height, row-major, 1 = bad; other entries untouched). Returns the number of lines
/// marked. `constant_frame` (optional) is set when the whole frame holds one value.
/// `masked_rows` (optional, one byte per row): set to 1 for every row it marks a pixel in.
int detect_dead_lines(const FrameView& frame, std::uint8_t* mask, bool* constant_frame = nullptr,
                      std::vector<std::uint8_t>* rows_with_zero = nullptr, std::uint8_t* masked_rows = nullptr);

/// @brief A coarse background: cell (i, j) centred at ((i+0.5) cell_x - 0.5, (j+0.5) cell_y - 0.5),
/// interpolated bicubically (math::grid_value, Catmull-Rom) to full size.
/// @brief Masks the pixels that read exactly 0 (no data on offset detectors: outside a
/// disc-shaped active area, dead pixels) and every pixel within `margin_px` of them (Chebyshev
/// distance), skipping pixels that are masked already (dead lines keep no margin). Returns the
/// number of zero pixels found. One pass over the rows (zero runs grown into spans), then the
/// spans of the rows within `margin_px` are ORed into each row; `scratch` is reused.
/// `candidate_rows` (optional: detect_dead_lines' rows_with_zero) limits the search to those rows.
/// `masked_rows` (optional, one byte per row): set to 1 for every row it marks a pixel in.
std::size_t mask_zero_pixels(const FrameView& frame, std::uint8_t* mask, int margin_px,
                             std::vector<std::uint8_t>& scratch, const std::uint8_t* candidate_rows = nullptr,
                             std::uint8_t* masked_rows = nullptr);

struct BackgroundGrid {
  int nx = 0, ny = 0;
  double cell_x = 1, cell_y = 1;  ///< px
  std::vector<float> values;      ///< nx*ny, counts
  double block_sigma = 0;         ///< median over blocks of the per-block noise estimate (counts)
};

/// @brief Block-percentile grid: per block the `percentile` and percentile/3 quantiles of the
/// unmasked pixels (exact selection), turned into an unbiased level
/// (math::level_from_quantiles). Two passes: pass 1 on every 4th pixel of the raw frame, pass 2
/// on all pixels of the residual of pass 1 (so a steep halo flank does not widen the block's
/// distribution). Blocks mostly masked, or > 40 % covered by a peak, are filled from their
/// neighbours. No smoothing (it would flatten the halo's crest). `mask` may be null;
/// `masked_rows` (optional, one byte per row): 0 = no pixel of that row is masked, so its mask
/// row is not read.
void background_blocks(const FrameView& frame, const std::uint8_t* mask, const BackgroundConfig& config,
                       BackgroundGrid& grid, const std::uint8_t* masked_rows = nullptr);

/// @brief Shape of the block grid of a width x height frame (nx, ny, cell sizes; values zeroed).
void background_grid_shape(int width, int height, const BackgroundConfig& config, BackgroundGrid& grid);

/// @brief Fills NaN cells with the mean of their valid 8-neighbours, growing inward (the step of
/// background_blocks after each pass; the CUDA path runs it on grids computed on the device).
void fill_invalid_cells(BackgroundGrid& grid);

/// @brief Gaussian low-pass background: pixels above `clip_ref` + 3 sigma (peaks, hot pixels) and
/// masked pixels are replaced by `clip_ref`, the frame is averaged over 4x4 cells and filtered
/// with an exact separable Gaussian of sigma gaussian_sigma_px/4 cells (normalised convolution,
/// so frame edges and masked cells are not pulled toward zero). Result on a 4 px grid.
void background_gaussian(const FrameView& frame, const std::uint8_t* mask, const BackgroundConfig& config,
                         const BackgroundGrid& clip_ref, double sigma, BackgroundGrid& grid);

/// @brief Evaluates `grid` on every pixel (width*height floats) into `out`.
void render_background(const BackgroundGrid& grid, int width, int height, std::vector<float>& out);

/// @brief Full-size background image by `config.method` (for tests and comparisons; the
/// analyzer never stores it, it interpolates the grid inside the residual pass).
void estimate_background(const FrameView& frame, const std::uint8_t* mask, const BackgroundConfig& config,
                         std::vector<float>& background);

/// @brief 1.4826 * median absolute deviation of `values` (overwritten); 0 when empty.
double robust_sigma(std::vector<float>& values);

// ---- stage 2-3: threshold and connected components ----------------------------------------

/// @brief A horizontal run of pixels in row y, columns x0..x1 inclusive.
struct PixelRun {
  int y = 0;
  int x0 = 0;
  int x1 = 0;
};

/// @brief Connected components as runs: component c holds runs[begin[c] .. begin[c+1]), each
/// in raster order; components are numbered in raster order of their first pixel.
struct ComponentSet {
  std::vector<PixelRun> runs;
  std::vector<int> begin;  ///< size count()+1
  int count() const { return begin.empty() ? 0 : static_cast<int>(begin.size()) - 1; }
  /// @brief Pixels of component c.
  int pixels(int c) const {
    int n = 0;
    for (int k = begin[c]; k < begin[c + 1]; ++k) n += runs[k].x1 - runs[k].x0 + 1;
    return n;
  }
};

/// @brief Labels 8-connected runs (runs given in raster order): run-based two-pass labeling,
/// Rosenfeld & Pfaltz (1966) as adapted to runs by He, Chao & Suzuki (2008), with a union-find
/// whose root is the smallest run index (path compression), so the numbering is deterministic.
/// `parent` is scratch.
void label_runs(const std::vector<PixelRun>& runs, ComponentSet& out, std::vector<int>& parent);

/// @brief Labels the nonzero pixels of a binary image (8-connectivity): labels[i] = 1..n, 0 for
/// background. Returns n.
int label_components(const std::uint8_t* binary, int width, int height, std::vector<std::int32_t>& labels);

/// @brief Hysteresis threshold: components of {residual > low, unmasked} (8-connected) that hold
/// a seed (> high), have >= min_pixels pixels and are not a lone hot pixel (max > 5x its
/// highest neighbour while npix <= 9). `mask` may be null.
void hysteresis_threshold(const float* residual, const std::uint8_t* mask, int width, int height,
                          double low, double high, int min_pixels, ComponentSet& out);

// ---- stage 4-5: deblend and moments ----------------------------------------------------------

/// @brief How one component splits: peak_of[k] = peak (0..n_peaks-1) of the k-th pixel of the
/// component (pixels in the component's run order); n_maxima per peak.
struct DeblendResult {
  int n_peaks = 1;
  std::vector<int> peak_of;
  std::vector<int> n_maxima;
};

/// @brief Deblends component `c` of `set`: maxima with prominence >= prominence_sigma * sigma
/// (0-dim persistence: height above the saddle to a higher maximum) are grouped by single
/// linkage at min_separation_px; several groups (and config.split) -> a priority-flood
/// watershed (Meyer 1994) from the groups' maxima over the component's pixels.
void deblend(const float* residual, int width, int height, const ComponentSet& set, int c, double sigma,
             const DeblendConfig& config, DeblendResult& out);

/// @brief Intensity moments of one pixel set. `pixels` are frame indices (y*width + x);
/// `core` (npix pixels above the low threshold) sets npix, peak_value and edge; `support`
/// (core grown) gives intensity, centroid and moments. Weights are the raw residual, negatives
/// included (unbiased for faint peaks); clip_negative = true clips them to 0 (biased, kept for
/// comparison). frame/peak numbers are left 0.
Peak measure_moments(const float* residual, const FrameView& frame, const std::uint8_t* mask,
                     const std::vector<int>& core, const std::vector<int>& support, double sigma,
                     const MomentConfig& config, bool clip_negative = false);

// ---- one kept component: stages 4-5, shared by the CPU and CUDA paths ----------------------

/// @brief Scratch buffers of measure_component (reused between calls, no per-call allocation):
/// the component's pixels and the bytes math::component_scratch carves.
struct ComponentScratch {
  std::vector<int> pixels;
  std::vector<unsigned char> bytes;
};

/// @brief Deblends kept component `c` of `kept` and measures each of its peaks into `peaks`
/// (Peak::frame = frame_index, n_maxima set, peaks not yet numbered). Reads `residual` only on
/// the component's bounding box grown by grow_px + 1, `mask` (null = nothing masked) and
/// `owner` (component id + 1 of every kept component's pixels, 0 elsewhere) on the same box,
/// and the raw frame on the grown support: the CUDA path fills just those patches.
void measure_component(const FrameView& frame, const float* residual, const std::uint8_t* mask,
                       const std::int32_t* owner, const ComponentSet& kept, int c, const math::NoiseModel& noise,
                       const ProcessConfig& config, std::int64_t frame_index, ComponentScratch& scratch,
                       PeakList& peaks);

/// @brief Sorts peaks by centroid (y, then x) and numbers them 0..n-1 (Peak::peak).
void sort_and_number(PeakList& peaks);

// ---- static hot-pixel map, learned from a scan ----------------------------------------------

/// @brief Settings of HotPixelFinder (see docs/masks.md for the rule and why it keeps sharp spots).
struct HotPixelConfig {
  double k = 8.0;               ///< outlier threshold, noise sigmas (Poisson: sqrt(level + read_floor^2))
  double read_floor = 3.0;      ///< read-noise floor added in quadrature, counts
  double abs_floor = 20.0;      ///< smallest excess over the neighbours that counts as an outlier, counts
  double spike_fraction = 0.02; ///< a real spot's 2nd-lowest 4-neighbour rises >= this fraction of its
                                ///< peak above the local background (sigma 0.5 px: >= 0.048); a hot pixel's does not
  bool flag_stuck = false;      ///< also flag nonzero pixels that read the same value in every frame
};

/// @brief Learns a static hot-pixel map from the frames of one scan (streaming, O(pixels) per
/// frame, one uint16 counter per pixel). Per frame a pixel is flagged when it is
/// (1) an outlier: raw - n2 > max(k sqrt(n2 + read_floor^2), abs_floor), n2 = second-lowest of
/// its 4-neighbours (robust to up to two hot 4-neighbours: pairs, L-shapes, 2x2 blocks), and
/// (2) a spike: n2 - b < spike_fraction (raw - b), b = median of the 16 pixels at Chebyshev
/// distance 2 (the local background). Pixels with a 0 among their 8 neighbours (no-data rim,
/// dead lines) are skipped. result() keeps the pixels flagged in >= min_fraction of the frames.
class HotPixelFinder {
 public:
  /// @brief Throws UsageError on a non-positive k or negative floors/fraction.
  explicit HotPixelFinder(const HotPixelConfig& config = {});
  /// @brief Adds one frame. The first frame sets the size; a frame of another size throws
  /// InputError("hot pixel map", ...). Frames past the 65535th are ignored (returns false).
  bool add(const FrameView& frame);
  /// @brief Per-pixel flag counts of the current frame only (1 = flagged), for tests: runs the
  /// per-frame rule on `frame` into `flags` (width*height) without accumulating.
  static void flag_frame(const FrameView& frame, const HotPixelConfig& config, std::vector<std::uint8_t>& flags);

  std::int64_t frames() const { return frames_; }
  int width() const { return width_; }
  int height() const { return height_; }
  /// @brief Frames in which each pixel was flagged (width*height, row-major).
  const std::vector<std::uint16_t>& counts() const { return counts_; }
  /// @brief Mean excess of pixel `index` over its local background in the frames where it was
  /// flagged (counts; 0 if never flagged).
  double mean_excess(std::size_t index) const;
  /// @brief Pixels flagged in >= min_fraction of the frames seen (and, with flag_stuck, the stuck
  /// ones). min_fraction in (0, 1], else UsageError. An empty mask of the frame size when no frame was added.
  BadPixelMask result(double min_fraction = 0.9) const;
  /// @brief Stuck pixels found by the last result() call (0 unless flag_stuck).
  std::size_t stuck_count() const { return stuck_; }

 private:
  HotPixelConfig config_;
  int width_ = 0, height_ = 0;
  std::int64_t frames_ = 0;
  std::vector<std::uint16_t> counts_;
  std::vector<float> excess_sum_;      ///< counts, summed over the frames where flagged
  std::vector<std::uint16_t> min_, max_;  ///< per-pixel range over frames (flag_stuck only)
  std::vector<std::uint8_t> flags_;    ///< scratch: this frame's flags
  mutable std::size_t stuck_ = 0;
};

/// @brief Writes `mask` as a binary PGM (P5, 8-bit, 255 = bad, 0 = good), the format
/// BadPixelMask::load reads. Throws InputError(path, problem) when it cannot be written.
void save_mask_pgm(const BadPixelMask& mask, const std::string& path);

// ---- the whole frame -------------------------------------------------------------------------

/// @brief Runs every stage on one frame. One per thread: it owns the scratch buffers, so after
/// the first frame of a given size no allocation happens per frame (only the output list).
class CpuFrameAnalyzer {
 public:
  explicit CpuFrameAnalyzer(const ProcessConfig& config, const BadPixelMask* mask = nullptr);
  /// @brief Analyses one frame. Throws InputError when the bad-pixel mask's shape differs.
  FrameAnalysis analyze(const FrameView& frame, std::int64_t frame_index);

  /// @brief Per-stage wall time of the last analyze() call (ms), for benchmarks.
  struct Timings {
    double masks_ms = 0, background_ms = 0, sigma_ms = 0, residual_ms = 0, label_ms = 0, peaks_ms = 0;
  };
  const Timings& timings() const { return timings_; }

  /// @brief Stage 1 of analyze() alone (masks, background grid, noise): fills out.status,
  /// background_level, noise_sigma and masked_lines. Returns the grid to subtract, or null for an
  /// empty (zero-size or constant) frame. mask() and sigma() then describe this frame until the
  /// next call. The CUDA backend runs this and does the per-pixel rest on the GPU.
  const BackgroundGrid* prepare(const FrameView& frame, FrameAnalysis& out);
  /// @brief The first half of prepare(): masks only. False for an empty frame (out filled).
  bool prepare_mask(const FrameView& frame, FrameAnalysis& out);
  /// @brief The second half of prepare(), given the frame's mask (as prepare_mask left it in
  /// mask(); null = nothing masked) and block grid (background_blocks, e.g. computed on a GPU):
  /// noise sigma (then sigma()), background level, and the Gaussian grid when configured.
  /// Returns the grid to subtract (`blocks` or an internal one, valid until the next call).
  const BackgroundGrid* prepare_noise(const FrameView& frame, const std::uint8_t* mask, const BackgroundGrid& blocks,
                                      FrameAnalysis& out);
  /// @brief Mask of the last prepared frame (width*height, 1 = bad), null when nothing is masked.
  const std::uint8_t* mask() const { return any_masked_ ? mask_.data() : nullptr; }
  /// @brief Noise sigma of the last prepared frame (counts, floored at 0.5).
  double sigma() const { return sigma_; }
  /// @brief Noise model of the last prepared frame (thresholds, SNR and prominences use it).
  const math::NoiseModel& noise() const { return noise_; }

 private:
  void build_mask(const FrameView& frame, FrameAnalysis& out, bool& constant);
  void process_component(const FrameView& frame, int c, std::int64_t frame_index, PeakList& peaks);

  ProcessConfig config_;
  const BadPixelMask* static_mask_;
  Timings timings_;
  std::chrono::steady_clock::time_point clock_;  ///< stage timer of prepare*()
  int width_ = 0, height_ = 0;
  double sigma_ = 0;
  bool any_masked_ = false;
  std::vector<std::uint8_t> mask_;
  /// per row: 1 when mask_ may hold a masked pixel there. Rows at 0 are all zero in mask_, also
  /// between frames (only the marked rows are cleared), and their mask rows are not read.
  std::vector<std::uint8_t> mask_rows_;
  std::vector<std::uint8_t> static_rows_;  ///< mask_rows_ of the static mask alone
  std::vector<std::uint8_t> zero_scratch_, zero_rows_;
  math::NoiseModel noise_;
  std::vector<float> residual_;
  std::vector<std::int32_t> owner_;  ///< component id + 1 of surviving components; cleared sparsely
  BackgroundGrid grid_, gauss_grid_;
  std::vector<float> samples_, bg_samples_;
  std::vector<std::uint8_t> flags_;  ///< one row: above the low threshold and unmasked
  std::vector<PixelRun> runs_;
  std::vector<int> parent_;
  ComponentSet all_, kept_;
  ComponentScratch scratch_;
};

}  // namespace laueproc
