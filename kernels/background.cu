/// @file
/// @brief Block-percentile background pass (see background.cuh). Control flow mirrors
/// block_pass() in host/stages/background.cpp line by line; counts are order-independent, so
/// the shared-memory atomics give the CPU's histograms exactly.

#include <cmath>

#include "background.cuh"
#include "laueproc/math/background.hpp"

namespace laueproc::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kOffset = 32768;
constexpr int kWindowBins = 1024;  // WindowSelector::kBins

// Value the CPU gathers for pixel (x, y) of frame f: raw (pass 1) or the offset, rounded
// residual of the pass-1 background (pass 2, RowRenderer arithmetic as in the residual kernel).
__device__ unsigned int pixel_value(const BlockPassArgs& a, int f, long long gi, int x, int y) {
  const unsigned int raw = a.raw[gi];
  if (!a.prev) return raw;
  const float* c = a.coarse + (static_cast<long long>(f) * a.height + y) * a.coarse_stride + (a.col_cell[x] + 1);
  const float* w = a.col_w;
  const float bg = w[x] * c[0] + w[a.width + x] * c[1] + w[2 * a.width + x] * c[2] + w[3 * a.width + x] * c[3];
  const float v = fminf(fmaxf(static_cast<float>(raw) - bg + (kOffset + 0.5f), 0.0f), 65535.0f);
  return static_cast<unsigned int>(static_cast<unsigned short>(v));
}

__global__ void block_pass_kernel(BlockPassArgs a) {
  __shared__ unsigned int hi[256], lo[256], win[kWindowBins];
  __shared__ int n, nhigh, lo_bin, status;
  __shared__ double k_sel, vq, vlo, level, sigma, high;
  __shared__ unsigned int below_sel;
  __shared__ int b_sel;
  const int cell = blockIdx.x, f = blockIdx.y;
  const int i = cell % a.nx, j = cell / a.nx;
  const int w = a.width, h = a.height;
  const int y0 = static_cast<int>(static_cast<long long>(j) * h / a.ny);
  const int y1 = static_cast<int>(static_cast<long long>(j + 1) * h / a.ny);
  const int x0 = static_cast<int>(static_cast<long long>(i) * w / a.nx);
  const int x1 = static_cast<int>(static_cast<long long>(i + 1) * w / a.nx);
  const int bw = x1 - x0, area = bw * (y1 - y0);
  const bool second = a.prev != nullptr;
  const int step = second ? 1 : 2;
  const long long base = static_cast<long long>(f) * w * h;
  const bool has_mask = a.params[f].has_mask != 0;
  const long long out = static_cast<long long>(f) * a.nx * a.ny + cell;

  for (int t = threadIdx.x; t < kWindowBins; t += blockDim.x) win[t] = 0;
  for (int t = threadIdx.x; t < 256; t += blockDim.x) hi[t] = 0;
  if (threadIdx.x == 0) {
    n = 0;
    nhigh = 0;
    lo_bin = -1;
    status = 0;
  }
  __syncthreads();
  // The gathered set, as block_pass on the CPU: every 2nd row of the block (y0, y0 + 2, ...);
  // pass 1 every 2nd pixel of those rows (x from x0 + (y & 1)), pass 2 every pixel; unmasked.
  // for_each visits it in any order (histograms and counts do not depend on it).
  auto visit = [&](auto&& fn) {
    for (int t = threadIdx.x; t < area; t += blockDim.x) {
      const int y = y0 + t / bw, x = x0 + t % bw;
      if ((y - y0) & 1) continue;
      if (!second) {
        const int dx = x - x0 - (y & 1);
        if (((y - y0) & 1) || dx < 0 || (dx & 1)) continue;
      }
      const long long gi = base + static_cast<long long>(y) * w + x;
      if (has_mask && a.mask[gi]) continue;
      fn(pixel_value(a, f, gi, x, y));
    }
  };
  visit([&](unsigned int v) {
    atomicAdd(&n, 1);
    atomicAdd(&hi[v >> 8], 1u);
    if (second) {
      int b = static_cast<int>(v) - (kOffset - kWindowBins / 4);
      b = b < 0 ? 0 : (b > kWindowBins - 1 ? kWindowBins - 1 : b);
      atomicAdd(&win[b], 1u);
    }
  });
  __syncthreads();
  const double qlo = a.q / 3.0;
  if (threadIdx.x == 0) {
    const int need = area / (4 * 2 * step);  // a quarter of the samples (rows step 2, columns step)
    if (n < (need > 8 ? need : 8)) {
      status = 1;  // too few good pixels: filled from the neighbours later
    } else if (second) {
      double v1, v2;
      if (math::select_window_value(win, kWindowBins, kOffset - kWindowBins / 4, a.q * n, v1) &&
          math::select_window_value(win, kWindowBins, kOffset - kWindowBins / 4, qlo * n, v2)) {
        vq = v1;
        vlo = v2;
        status = 2;  // done
      }
    }
  }
  __syncthreads();
  if (status == 1) {
    if (threadIdx.x == 0) {
      a.values[out] = nanf("");
      a.sigmas[out] = nanf("");
    }
    return;
  }
  if (status != 2) {  // the exact two-level selection (QuantileSelector), ranks q n then q/3 n
    for (int which = 0; which < 2; ++which) {
      if (threadIdx.x == 0) {
        k_sel = math::clamp_rank((which == 0 ? a.q : qlo) * n, n);
        unsigned int below;
        b_sel = math::select_high_bin(hi, k_sel, below);
        below_sel = below;
      }
      __syncthreads();
      if (b_sel != lo_bin) {
        for (int t = threadIdx.x; t < 256; t += blockDim.x) lo[t] = 0;
        __syncthreads();
        const int b = b_sel;
        visit([&](unsigned int v) {
          if (static_cast<int>(v >> 8) == b) atomicAdd(&lo[v & 0xFF], 1u);
        });
        __syncthreads();
        if (threadIdx.x == 0) lo_bin = b_sel;
      }
      if (threadIdx.x == 0) {
        const double v = math::select_low_value(lo, b_sel, k_sel, below_sel);
        if (which == 0) vq = v;
        else vlo = v;
      }
      __syncthreads();
    }
  }
  if (threadIdx.x == 0) {
    double lv, sg;
    math::level_from_quantiles(vq, vlo, a.zq, a.zlo, lv, sg);
    level = lv;
    sigma = sg;
    high = lv + 5.0 * (sg > 1.0 ? sg : 1.0);
  }
  __syncthreads();
  if (second) {
    // A block mostly covered by a peak (> 40 % of its pixels 5 sigma up) cannot show its background.
    const double hv = high;
    visit([&](unsigned int v) {
      if (v > hv) atomicAdd(&nhigh, 1);
    });
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (second && nhigh > 0.4 * n) {
      a.values[out] = nanf("");
      a.sigmas[out] = nanf("");
      return;
    }
    const double lv = second ? a.prev[out] + (level - kOffset) : level;
    a.values[out] = static_cast<float>(lv);
    a.sigmas[out] = static_cast<float>(sigma);
  }
}

}  // namespace

void launch_block_pass(cudaStream_t stream, const BlockPassArgs& args) {
  if (args.frames == 0 || args.nx == 0 || args.ny == 0) return;
  const dim3 grid(args.nx * args.ny, args.frames);
  block_pass_kernel<<<grid, kThreads, 0, stream>>>(args);
}

}  // namespace laueproc::kernels
