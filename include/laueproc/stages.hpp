#pragma once
/// @file
/// @brief The CPU reference path of peak finding, one frame at a time:
/// background -> residual and robust noise -> hysteresis threshold -> 8-connected components
/// -> deblend (prominence + watershed) -> intensity moments. The per-pixel and per-peak math is
/// in include/laueproc/math/ (shared with the CUDA path); these functions are the CPU executor
/// and the oracle the GPU is tested against.
///
/// Noise model: one robust sigma per frame (1.4826 * MAD of the residual). Poisson noise grows
/// with the background, so on a frame with a strong halo the thresholds are slightly loose on the
/// halo and slightly strict off it; good enough for peak finding, a per-block sigma map is the
/// planned refinement.

#include <cstdint>
#include <string>
#include <vector>

#include "laueproc/config.hpp"
#include "laueproc/frame.hpp"
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
int detect_dead_lines(const FrameView& frame, std::uint8_t* mask, bool* constant_frame = nullptr);

/// @brief A coarse background: cell (i, j) centred at ((i+0.5) cell_x - 0.5, (j+0.5) cell_y - 0.5),
/// interpolated bicubically (math::grid_value, Catmull-Rom) to full size.
struct BackgroundGrid {
  int nx = 0, ny = 0;
  double cell_x = 1, cell_y = 1;  ///< px
  std::vector<float> values;      ///< nx*ny, counts
  double block_sigma = 0;         ///< median over blocks of the per-block noise estimate (counts)
};

/// @brief Block-percentile grid: per block the `percentile` and percentile/3 quantiles of the
/// unmasked pixels (exact, two-level histogram), turned into an unbiased level
/// (math::level_from_quantiles), outlier blocks replaced by their 3x3 median.
/// `mask` may be null (no bad pixels).
void background_blocks(const FrameView& frame, const std::uint8_t* mask, const BackgroundConfig& config,
                       BackgroundGrid& grid);

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

/// @brief 1.4826 * median absolute deviation of `values` (reordered in place); 0 when empty.
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

 private:
  void build_mask(const FrameView& frame, FrameAnalysis& out, bool& constant);
  void process_component(const FrameView& frame, int c, std::int64_t frame_index, PeakList& peaks);

  ProcessConfig config_;
  const BadPixelMask* static_mask_;
  Timings timings_;
  int width_ = 0, height_ = 0;
  double sigma_ = 0;
  bool any_masked_ = false;
  std::vector<std::uint8_t> mask_;
  std::vector<float> residual_;
  std::vector<std::int32_t> owner_;  ///< component id + 1 of surviving components; cleared sparsely
  BackgroundGrid grid_, gauss_grid_;
  std::vector<float> samples_, bg_samples_, row_;
  std::vector<int> col_i0_;
  std::vector<float> col_t_;
  std::vector<PixelRun> runs_;
  std::vector<int> parent_;
  ComponentSet all_, kept_;
  DeblendResult deblend_;
  std::vector<int> box_, box_next_, core_, support_;
};

}  // namespace laueproc
