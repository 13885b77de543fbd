#pragma once
/// @file
/// @brief The device-side data of one batch of frames (all of one size) for the whole-frame
/// pipeline (kernels/frame_pipeline.cuh): per-frame scalars, per-pixel arrays, grids, lists,
/// and where each lives in one arena. Plain data, no CUDA syntax: g++ compiles it for the CPU
/// grid executor tests, nvcc for the kernels. Frame f's slice of a per-pixel array starts at
/// f * width * height; of every other array at f * (its per-frame capacity).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "laueproc/config.hpp"
#include "laueproc/math/grid.hpp"
#include "laueproc/math/noise.hpp"
#include "laueproc/peak.hpp"

namespace laueproc::kernels {

/// @brief Overflow bits of FrameState::overflow: a device list was too small for this frame,
/// whose results are then worthless; the host redoes the frame on the CPU (same answer).
enum Overflow : int {
  kRootsOverflow = 1,    ///< more components than root slots
  kKeptOverflow = 2,     ///< more kept components than the kept list holds
  kPeaksOverflow = 4,    ///< more peaks than the peak list holds
  kScratchOverflow = 8,  ///< the per-component scratch pool ran out
};

/// @brief Everything the pipeline decides about one frame (device memory; copied back at the end).
struct FrameState {
  // Masks (CpuFrameAnalyzer::prepare_mask).
  unsigned int gmin, gmax;  ///< frame minimum and maximum (atomics)
  int constant;             ///< 1: one value everywhere: "empty frame", nothing else runs
  int dead_rows, dead_cols; ///< lines detect_dead_lines masks
  int line_pass;            ///< which extra detect_dead_lines passes run: 2 columns again, 3 rows again
  int masked_lines;         ///< dead_rows + dead_cols
  unsigned int zeros;       ///< zero pixels off the static mask and dead lines (mask_zero_pixels)
  int has_mask;             ///< any pixel masked (static mask, lines, zeros)
  // Background (background_blocks, background_gaussian).
  int valid_cells;          ///< cells of the last block pass that got a value
  int flat;                 ///< pass 1 found no valid cell: the grid is flat zero
  int fill_source;          ///< pass 2 had no valid cell: the final grid is the filled pass-1 grid
  float block_sigma;        ///< median block sigma of pass 2 (0 when none)
  // Noise (sampled_sigma, fit_noise_model, prepare_noise).
  int n_samples;            ///< unmasked samples
  double sample_sigma;      ///< robust sigma of the last sampling
  double clip_sigma;        ///< max(sigma of the block grid, 0.5): background_gaussian's clip
  double sigma;             ///< the frame's sigma (floored at 0.5): FrameAnalysis::noise_sigma
  double background_level;  ///< median background at the samples
  math::NoiseModel noise;   ///< the frame's noise model (var0 floored)
  math::SigmaThreshold low, high;
  // Components and peaks.
  int roots;                ///< components (slots taken; may exceed the capacity)
  int kept;                 ///< kept components (may exceed the capacity)
  int peaks;                ///< peak records (may exceed the capacity)
  int overflow;             ///< Overflow bits
  unsigned long long pool_used;  ///< scratch pool words taken
};

/// @brief Statistics of one component, at its root's slot.
struct RootStats {
  int root;                  ///< frame-local index of its first pixel in raster order
  int npix;
  int x0, y0, x1, y1;        ///< bounding box, inclusive
  int kept;                  ///< 1 when the filter keeps it
  int pad_;
  unsigned long long best;   ///< (ordered residual bits << 32) | ~index: brightest, first in raster order
};

/// @brief A kept component (unordered list; the root gives the CPU's order).
struct KeptComponent {
  int root;
  int npix;
  int x0, y0, x1, y1;
};

/// @brief One measured peak and where it came from: the host groups records by frame and
/// orders them by (root, sub), the CPU's order, before sort_and_number.
struct PeakRecord {
  Peak peak;
  int frame;  ///< frame of the batch
  int root;   ///< its component's root (first pixel in raster order)
  int sub;    ///< peak number inside the component (deblending)
  int pad_;
};

/// @brief Settings the kernels read (from ProcessConfig, plus derived constants the host
/// computes once with the CPU's own functions).
struct PipelineConfig {
  // Masks.
  int detect_dead_lines = 1;
  int zero_is_invalid = 1;
  int margin_px = 3;
  // Background.
  int gaussian = 0;          ///< BackgroundMethod::gaussian
  double q = 0.3, zq = 0, zlo = 0;  ///< quantile, normal_quantile(q), normal_quantile(q / 3)
  int gauss_radius = 0;      ///< taps each side (background_gaussian)
  // Threshold, filter.
  int local_noise = 1;
  double k_low = 3, k_high = 6;
  int min_pixels = 4;
  // Per peak.
  DeblendConfig deblend;
  MomentConfig moments;
};

/// @brief Sizes of one batch: the frame, its grids and the per-frame list capacities.
struct BatchShape {
  int width = 0, height = 0, frames = 0;
  int nx = 0, ny = 0;           ///< block grid
  double cell_x = 1, cell_y = 1;
  int dw = 0, dh = 0;           ///< Gaussian grid (4 px cells), 0 when the method is blocks
  int coarse_stride = 0;        ///< floats per coarse row: max(nx, dw) + 4
  int sample_cap = 0;           ///< samples per frame (sampled_sigma's grid)
  int root_cap = 0, kept_cap = 0, peak_cap = 0;
  long long pool_cap = 0;       ///< scratch words per frame for the per-component code

  LAUEPROC_HD long long pixels() const { return 1ll * width * height; }
  LAUEPROC_HD int cells() const { return nx * ny; }
  LAUEPROC_HD int gauss_cells() const { return dw * dh; }
};

/// @brief Pointers of one batch (device memory on the GPU, host memory in the executor tests).
/// Per frame: see the comments for the size of each slice.
struct BatchView {
  BatchShape shape;
  PipelineConfig config;
  FrameState* state = nullptr;        ///< [frames]
  // Inputs.
  const std::uint16_t* raw = nullptr; ///< [pixels]
  const std::uint8_t* static_mask = nullptr;  ///< [pixels] of one frame, shared by all; null = none
  // Masks.
  unsigned int* col_min = nullptr;    ///< [width]
  unsigned int* col_max = nullptr;    ///< [width]
  std::uint8_t* dead_row = nullptr;   ///< [height]
  std::uint8_t* dead_col = nullptr;   ///< [width]
  std::uint8_t* zero_near = nullptr;  ///< [pixels]: within margin columns of a zero pixel of the row
  std::uint8_t* mask = nullptr;       ///< [pixels]: the frame's mask, 1 = bad
  // Background grids and their residual tables.
  float* values = nullptr;            ///< [cells]: block pass output, then filled
  float* sigmas = nullptr;            ///< [cells]
  float* first = nullptr;             ///< [cells]: filled pass-1 grid
  float* fill_tmp = nullptr;          ///< [cells]: fill iteration copy
  float* grid = nullptr;              ///< [cells]: the block grid (background_blocks)
  float* ggrid = nullptr;             ///< [gauss_cells]: the Gaussian grid (background_gaussian)
  float* coarse = nullptr;            ///< [height * coarse_stride]: padded coarse rows (RowRenderer)
  int* col_cell = nullptr;            ///< [width] block grid columns (shared by all frames)
  float* col_w = nullptr;             ///< [4 * width]: weights w0 | w1 | w2 | w3
  int* gcol_cell = nullptr;           ///< [width] Gaussian grid columns
  float* gcol_w = nullptr;            ///< [4 * width]
  // Gaussian background.
  float* gsum = nullptr;              ///< [gauss_cells]
  float* gcnt = nullptr;              ///< [gauss_cells]
  float* gtmp_s = nullptr;            ///< [gauss_cells]
  float* gtmp_c = nullptr;            ///< [gauss_cells]
  const float* gauss_kernel = nullptr;///< [2 * radius + 1], shared
  // Noise samples.
  float* sample_res = nullptr;        ///< [sample_cap]
  float* sample_bg = nullptr;         ///< [sample_cap]
  float* bin_res = nullptr;           ///< [sample_cap / 2 + 1]: fit_noise_model's samples by bin
  float* bin_bg = nullptr;            ///< [sample_cap / 2 + 1]
  // Residual and components.
  float* residual = nullptr;          ///< [pixels]
  int* label = nullptr;               ///< [pixels]: -1 background, else parent / root
  int* root_slot = nullptr;           ///< [pixels], at roots only: slot in `roots`
  RootStats* roots = nullptr;         ///< [root_cap]
  KeptComponent* kept = nullptr;      ///< [kept_cap]
  PeakRecord* peaks = nullptr;        ///< [frames * peak_cap] for the whole batch (not per frame), filled in any order
  int* peak_total = nullptr;          ///< [1]: records in `peaks`
  int* pool = nullptr;                ///< [pool_cap]: per-component scratch
};

/// @brief Hands out aligned pieces of one arena; with a null base it only counts the bytes.
class ArenaCarver {
 public:
  explicit ArenaCarver(unsigned char* base) : base_(base) {}
  template <class T>
  T* take(unsigned long long count) {
    offset_ = (offset_ + 255) & ~255ull;
    T* p = base_ ? reinterpret_cast<T*>(base_ + offset_) : nullptr;
    offset_ += count * sizeof(T);
    return p;
  }
  unsigned long long bytes() const { return (offset_ + 255) & ~255ull; }

 private:
  unsigned char* base_;
  unsigned long long offset_ = 0;
};

/// @brief Points every array of `view` (shape set) into the arena at `base`; returns its size in
/// bytes (base = null: just the size). The static mask, raw frames and Gaussian taps are not
/// part of it (they are uploaded separately).
inline unsigned long long carve_batch(BatchView& v, unsigned char* base) {
  const BatchShape& s = v.shape;
  const unsigned long long f = static_cast<unsigned long long>(s.frames);
  const unsigned long long n = static_cast<unsigned long long>(s.pixels()) * f;
  const unsigned long long cells = static_cast<unsigned long long>(s.cells()) * f;
  const unsigned long long gcells = static_cast<unsigned long long>(s.gauss_cells()) * f;
  ArenaCarver a(base);
  v.state = a.take<FrameState>(f);
  v.col_min = a.take<unsigned int>(f * s.width);
  v.col_max = a.take<unsigned int>(f * s.width);
  v.dead_row = a.take<std::uint8_t>(f * s.height);
  v.dead_col = a.take<std::uint8_t>(f * s.width);
  v.zero_near = a.take<std::uint8_t>(n);
  v.mask = a.take<std::uint8_t>(n);
  v.values = a.take<float>(cells);
  v.sigmas = a.take<float>(cells);
  v.first = a.take<float>(cells);
  v.fill_tmp = a.take<float>(cells);
  v.grid = a.take<float>(cells);
  v.ggrid = a.take<float>(gcells);
  v.coarse = a.take<float>(f * s.height * static_cast<unsigned long long>(s.coarse_stride));
  v.col_cell = a.take<int>(s.width);
  v.col_w = a.take<float>(4ull * s.width);
  v.gcol_cell = a.take<int>(s.width);
  v.gcol_w = a.take<float>(4ull * s.width);
  v.gsum = a.take<float>(gcells);
  v.gcnt = a.take<float>(gcells);
  v.gtmp_s = a.take<float>(gcells);
  v.gtmp_c = a.take<float>(gcells);
  v.sample_res = a.take<float>(f * s.sample_cap);
  v.sample_bg = a.take<float>(f * s.sample_cap);
  v.bin_res = a.take<float>(f * (s.sample_cap / 2 + 1));
  v.bin_bg = a.take<float>(f * (s.sample_cap / 2 + 1));
  v.residual = a.take<float>(n);
  v.label = a.take<int>(n);
  v.root_slot = a.take<int>(n);
  v.roots = a.take<RootStats>(f * s.root_cap);
  v.kept = a.take<KeptComponent>(f * s.kept_cap);
  v.peaks = a.take<PeakRecord>(f * s.peak_cap);
  v.peak_total = a.take<int>(1);
  v.pool = a.take<int>(f * static_cast<unsigned long long>(s.pool_cap));
  return a.bytes();
}

// ---- small helpers of the bodies ----------------------------------------------------------

/// @brief Float -> unsigned key with the same order (negatives too; NaN above +inf).
LAUEPROC_HD inline unsigned int float_bits(float v) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(v);
#else
  unsigned int u;
  std::memcpy(&u, &v, sizeof u);
  return u;
#endif
}
LAUEPROC_HD inline float bits_float(unsigned int u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
#endif
}
LAUEPROC_HD inline unsigned int ordered_bits(float v) {
  const unsigned int u = float_bits(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
LAUEPROC_HD inline float from_ordered_bits(unsigned int k) {
  return bits_float((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}

/// @brief std::numeric_limits<float>::quiet_NaN(), in both compilers.
LAUEPROC_HD inline float quiet_nan() { return bits_float(0x7FC00000u); }

/// @brief Per-frame pixel offset of frame f.
LAUEPROC_HD inline long long frame_base(const BatchShape& s, int f) { return 1ll * f * s.width * s.height; }

/// @brief The RowRenderer expression for pixel x of a row whose padded coarse row is `c`:
/// ((w0 c0 + w1 c1) + w2 c2) + w3 c3 in float, c = coarse + col_cell[x] + 1.
LAUEPROC_HD inline float render_at(const float* coarse_row, const int* col_cell, const float* col_w, int width, int x) {
  const float* c = coarse_row + (col_cell[x] + 1);
  return col_w[x] * c[0] + col_w[width + x] * c[1] + col_w[2 * width + x] * c[2] + col_w[3 * width + x] * c[3];
}

/// @brief A one-phase body with one thread per element of a row of a frame: x = the global x
/// index, y = blockIdx.y, frame = blockIdx.z; constant frames and x past Derived::row_length(shape)
/// do nothing. Derived defines `static void element(const BatchView&, int x, int y, int frame)`.
/// @brief What a one-phase body over a batch has: the view as Params, no shared memory, no locals.
struct BatchBody {
  struct Params {
    BatchView v;
  };
  struct Shared {};
  struct Local {};
  static constexpr int kPhases = 1;
};

template <class Derived>
struct RowElementBody : BatchBody {
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const int y = static_cast<int>(at.block.y), f = static_cast<int>(at.block.z);
    const long long x = at.global_x();
    if (P.v.state[f].constant || x >= Derived::row_length(P.v.shape)) return;
    Derived::element(P.v, static_cast<int>(x), y, f);
  }
};

}  // namespace laueproc::kernels
