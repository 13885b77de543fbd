/// @file
/// @brief Residual and threshold kernel (see residual.cuh).

#include <climits>

#include "residual.cuh"

namespace laueproc::kernels {
namespace {

__global__ void residual_threshold_kernel(BatchView b) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y;
  const int f = blockIdx.z;
  if (x >= b.width) return;
  const long long n = static_cast<long long>(b.width) * b.height;
  const int i = y * b.width + x;
  const long long gi = f * n + i;
  // Same expression as detail::RowRenderer::row: ((w0 c0 + w1 c1) + w2 c2) + w3 c3 in float.
  const float* c = b.coarse + (static_cast<long long>(f) * b.height + y) * b.coarse_stride + (b.col_cell[x] + 1);
  const float* w = b.col_w;
  const float bg = w[x] * c[0] + w[b.width + x] * c[1] + w[2 * b.width + x] * c[2] + w[3 * b.width + x] * c[3];
  const float r = static_cast<float>(b.raw[gi]) - bg;
  b.residual[gi] = r;
  const FrameParams p = b.params[f];
  const bool fg = math::above(r, bg, p.low) && !(p.has_mask && b.mask[gi]);
  b.label[gi] = fg ? i : -1;
  b.npix[gi] = 0;
  b.best[gi] = 0ull;
  b.kidx[gi] = -1;
  int* box = b.box + 4 * gi;
  box[0] = INT_MAX;
  box[1] = INT_MAX;
  box[2] = -1;
  box[3] = -1;
}

}  // namespace

void launch_residual_threshold(cudaStream_t stream, const BatchView& batch) {
  if (batch.frames == 0 || batch.width == 0 || batch.height == 0) return;
  constexpr int kThreads = 256;
  const dim3 grid((batch.width + kThreads - 1) / kThreads, batch.height, batch.frames);
  residual_threshold_kernel<<<grid, kThreads, 0, stream>>>(batch);
}

}  // namespace laueproc::kernels
