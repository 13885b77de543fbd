#pragma once
/// @file
/// @brief Phased bodies of the Gaussian low-pass background (background_gaussian) as a
/// separable filter on the device, bit for bit the CPU's: every output sums its terms in the
/// CPU's order (a thread per output, no reassociation, no FMA contraction):
///   GaussDecimate  4x4 cell sums of the frame with bright pixels clipped to the block
///                  background (+ 3 sigma), masked pixels left out, and the cell counts;
///   GaussAlongX    the truncated Gaussian along x of sums and counts;
///   GaussAlongY    along y, then the normalised value (or the block grid where no pixel counted).
/// kernels/gaussian_fft.cu does the same convolution with cuFFT (within a stated tolerance).

#include "frame_batch.cuh"
#include "laueproc/math/background.hpp"

namespace laueproc::kernels {

constexpr int kGaussDecim = 4;          ///< background_gaussian's kDecim
constexpr unsigned kGaussThreads = 128;

/// @brief Grid (ceil(dw / kGaussThreads), dh, frames), block kGaussThreads. Reads the block
/// grid's coarse rows (v.coarse) and column tables (v.col_cell, v.col_w).
struct GaussDecimate : RowElementBody<GaussDecimate> {
  LAUEPROC_HD static int row_length(const BatchShape& sh) { return sh.dw; }
  LAUEPROC_HD static void element(const BatchView& v, int cx, int cy, int f) {
    const BatchShape& sh = v.shape;
    const FrameState& st = v.state[f];
    const std::uint16_t* raw = v.raw + frame_base(sh, f);
    const std::uint8_t* mask = st.has_mask ? v.mask + frame_base(sh, f) : nullptr;
    const float clip = static_cast<float>(3.0 * st.clip_sigma);
    float sum = 0.0f, cnt = 0.0f;
    const int y1 = kGaussDecim * cy + kGaussDecim < sh.height ? kGaussDecim * cy + kGaussDecim : sh.height;
    const int x1 = kGaussDecim * cx + kGaussDecim < sh.width ? kGaussDecim * cx + kGaussDecim : sh.width;
    for (int y = kGaussDecim * cy; y < y1; ++y) {
      const float* row = v.coarse + (1ll * f * sh.height + y) * sh.coarse_stride;
      for (int x = kGaussDecim * cx; x < x1; ++x) {
        const long long i = 1ll * y * sh.width + x;
        if (mask && mask[i]) continue;
        const float value = raw[i];
        const float b = render_at(row, v.col_cell, v.col_w, sh.width, x);
        sum += value > b + clip ? b : value;
        cnt += 1.0f;
      }
    }
    const long long o = 1ll * f * sh.gauss_cells() + 1ll * cy * sh.dw + cx;
    v.gsum[o] = sum;
    v.gcnt[o] = cnt;
  }
};

/// @brief Along x: tmp = sum_k kernel[k + r] * in[x + k], k in [max(-r, -x), min(r, dw - 1 - x)].
/// Grid (ceil(dw / kGaussThreads), dh, frames).
struct GaussAlongX : RowElementBody<GaussAlongX> {
  LAUEPROC_HD static int row_length(const BatchShape& sh) { return sh.dw; }
  LAUEPROC_HD static void element(const BatchView& v, int x, int y, int f) {
    const BatchShape& sh = v.shape;
    const int r = v.config.gauss_radius;
    const long long row = 1ll * f * sh.gauss_cells() + 1ll * y * sh.dw;
    const float* s = v.gsum + row;
    const float* c = v.gcnt + row;
    const int k0 = -r > -x ? -r : -x, k1 = r < sh.dw - 1 - x ? r : sh.dw - 1 - x;
    float as = 0, ac = 0;
    for (int k = k0; k <= k1; ++k) {
      as += v.gauss_kernel[k + r] * s[x + k];
      ac += v.gauss_kernel[k + r] * c[x + k];
    }
    v.gtmp_s[row + x] = as;
    v.gtmp_c[row + x] = ac;
  }
};

/// @brief background_gaussian's value of coarse cell (x, y) from its filtered sum and count:
/// sum / count where count > 1e-3, else the block grid's bicubic value at the cell centre.
LAUEPROC_HD inline float gauss_value(const BatchView& v, int f, int x, int y, float sum, float count) {
  if (count > 1e-3f) return sum / count;
  const BatchShape& sh = v.shape;
  const math::GridView rv{v.grid + 1ll * f * sh.cells(), sh.nx, sh.ny, sh.cell_x, sh.cell_y};
  return math::grid_value(rv, kGaussDecim * x + 1.5, kGaussDecim * y + 1.5);
}

/// @brief Along y, then gauss_value. Grid (ceil(dw / kGaussThreads), dh, frames). Writes v.ggrid.
struct GaussAlongY : RowElementBody<GaussAlongY> {
  LAUEPROC_HD static int row_length(const BatchShape& sh) { return sh.dw; }
  LAUEPROC_HD static void element(const BatchView& v, int x, int y, int f) {
    const BatchShape& sh = v.shape;
    const int r = v.config.gauss_radius;
    const long long base = 1ll * f * sh.gauss_cells();
    const int k0 = -r > -y ? -r : -y, k1 = r < sh.dh - 1 - y ? r : sh.dh - 1 - y;
    float os = 0.0f, oc = 0.0f;
    for (int k = k0; k <= k1; ++k) {
      const float g = v.gauss_kernel[k + r];
      os += g * v.gtmp_s[base + 1ll * (y + k) * sh.dw + x];
      oc += g * v.gtmp_c[base + 1ll * (y + k) * sh.dw + x];
    }
    v.ggrid[base + 1ll * y * sh.dw + x] = gauss_value(v, f, x, y, os, oc);
  }
};

// ---- the cuFFT variant (kernels/gaussian_fft.cu): pad, multiply by the kernel's spectrum, unpad

/// @brief Padded FFT layout: frame f's sums at real array 2f, counts at 2f + 1, each ny x nx
/// (nx >= dw + radius, ny >= dh + radius, so the circular convolution does not wrap into the
/// frame), spectra ny x (nx / 2 + 1) complex.
struct FftLayout {
  int nx, ny;
  float* real;            ///< [2 frames][ny][nx]
  float* spectrum;        ///< [2 frames][ny][nx / 2 + 1][2] (interleaved complex)
  const float* kernel;    ///< [ny][nx / 2 + 1]: the kernel's (real) spectrum / (nx ny)
};

/// @brief Sums and counts into the zero-padded arrays. Grid (ceil(nx / kGaussThreads), ny, frames).
struct GaussPad {
  struct Params {
    BatchView v;
    FftLayout fft;
  };
  struct Shared {};
  struct Local {};
  static constexpr int kPhases = 1;
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchShape& sh = P.v.shape;
    const int y = static_cast<int>(at.block.y), f = static_cast<int>(at.block.z);
    const long long xl = at.global_x();
    if (xl >= P.fft.nx) return;
    const int x = static_cast<int>(xl);
    const bool in = x < sh.dw && y < sh.dh && !P.v.state[f].constant;
    const long long cell = 1ll * f * sh.gauss_cells() + 1ll * y * sh.dw + x;
    const long long plane = 1ll * P.fft.nx * P.fft.ny, o = 1ll * y * P.fft.nx + x;
    P.fft.real[2 * f * plane + o] = in ? P.v.gsum[cell] : 0.0f;
    P.fft.real[(2 * f + 1) * plane + o] = in ? P.v.gcnt[cell] : 0.0f;
  }
};

/// @brief Spectra times the kernel's spectrum (real: the kernel is symmetric), scale included.
/// Grid (ceil((nx / 2 + 1) / kGaussThreads), ny, 2 frames).
struct GaussSpectrum {
  struct Params {
    FftLayout fft;
  };
  struct Shared {};
  struct Local {};
  static constexpr int kPhases = 1;
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const int half = P.fft.nx / 2 + 1;
    const long long u = at.global_x();
    if (u >= half) return;
    const long long o = 1ll * at.block.y * half + u;
    const float k = P.fft.kernel[o];
    float* c = P.fft.spectrum + 2 * (1ll * at.block.z * P.fft.ny * half + o);
    c[0] *= k;
    c[1] *= k;
  }
};

/// @brief Filtered sums and counts -> gauss_value -> v.ggrid. Grid (ceil(dw / kGaussThreads), dh, frames).
struct GaussUnpad {
  struct Params {
    BatchView v;
    FftLayout fft;
  };
  struct Shared {};
  struct Local {};
  static constexpr int kPhases = 1;
  LAUEPROC_HD static void phase(int, const grid::Index& at, Shared&, Local&, const Params& P) {
    const BatchShape& sh = P.v.shape;
    const int y = static_cast<int>(at.block.y), f = static_cast<int>(at.block.z);
    const long long xl = at.global_x();
    if (P.v.state[f].constant || xl >= sh.dw) return;
    const int x = static_cast<int>(xl);
    const long long plane = 1ll * P.fft.nx * P.fft.ny, o = 1ll * y * P.fft.nx + x;
    const float sum = P.fft.real[2 * f * plane + o], count = P.fft.real[(2 * f + 1) * plane + o];
    P.v.ggrid[1ll * f * sh.gauss_cells() + 1ll * y * sh.dw + x] = gauss_value(P.v, f, x, y, sum, count);
  }
};

}  // namespace laueproc::kernels
