/// @file
/// @brief Labeling, filter and patch kernels (see label.cuh).

#include "label.cuh"

namespace laueproc::kernels {
namespace {

constexpr int kThreads = 256;

// Reads through L2 (__ldcg): parents change under concurrent unions, and an L1 copy could be
// stale for long. A stale parent is still an ancestor, so the union loop stays correct either way.
__device__ int find_root(const int* label, int i) {
  int next = __ldcg(label + i);
  while (next != i) {
    i = next;
    next = __ldcg(label + i);
  }
  return i;
}

// Playne & Hawick (2018) union: link the larger root under the smaller with atomicMin, retry when
// another thread re-linked it in between.
__device__ void unite(int* label, int a, int b) {
  bool done = false;
  while (!done) {
    a = find_root(label, a);
    b = find_root(label, b);
    if (a < b) {
      const int old = atomicMin(label + b, a);
      done = old == b;
      b = old;
    } else if (b < a) {
      const int old = atomicMin(label + a, b);
      done = old == a;
      a = old;
    } else {
      done = true;
    }
  }
}

// Float -> unsigned key with the same order (negative values too).
__device__ unsigned int ordered_bits(float v) {
  const unsigned int u = __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ float from_ordered_bits(unsigned int k) {
  const unsigned int u = (k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k;
  return __uint_as_float(u);
}

__global__ void merge_kernel(BatchView b) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y;
  if (x >= b.width) return;
  const long long n = static_cast<long long>(b.width) * b.height;
  int* label = b.label + blockIdx.z * n;
  const int i = y * b.width + x;
  if (label[i] < 0) return;
  if (x > 0 && label[i - 1] >= 0) unite(label, i, i - 1);
  if (y > 0) {
    const int up = i - b.width;
    if (x > 0 && label[up - 1] >= 0) unite(label, i, up - 1);
    if (label[up] >= 0) unite(label, i, up);
    if (x + 1 < b.width && label[up + 1] >= 0) unite(label, i, up + 1);
  }
}

__global__ void flatten_stats_kernel(BatchView b) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y;
  if (x >= b.width) return;
  const long long n = static_cast<long long>(b.width) * b.height;
  const long long base = blockIdx.z * n;
  int* label = b.label + base;
  const int i = y * b.width + x;
  if (label[i] < 0) return;
  const int root = find_root(label, i);
  label[i] = root;  // only ever replaced by an ancestor: concurrent finds stay correct
  atomicAdd(b.npix + base + root, 1);
  // Brightest pixel, ties to the first in raster order (the CPU's strict '>' in run order).
  const unsigned long long key = (static_cast<unsigned long long>(ordered_bits(b.residual[base + i])) << 32) |
                                 static_cast<unsigned long long>(0xFFFFFFFFu - static_cast<unsigned int>(i));
  atomicMax(b.best + base + root, key);
  int* box = b.box + 4 * (base + root);
  atomicMin(box + 0, x);
  atomicMin(box + 1, y);
  atomicMax(box + 2, x);
  atomicMax(box + 3, y);
}

__global__ void filter_kernel(BatchView b) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y;
  const int f = blockIdx.z;
  if (x >= b.width) return;
  const long long n = static_cast<long long>(b.width) * b.height;
  const long long base = f * n;
  const int i = y * b.width + x;
  if (b.label[base + i] != i) return;  // roots only
  const int npix = b.npix[base + i];
  const unsigned long long key = b.best[base + i];
  const float best = from_ordered_bits(static_cast<unsigned int>(key >> 32));
  const int bi = static_cast<int>(0xFFFFFFFFu - static_cast<unsigned int>(key & 0xFFFFFFFFull));
  const FrameParams p = b.params[f];
  // The background under the brightest pixel, raw - residual, as detail::filter_components.
  const float bg = static_cast<float>(b.raw[base + bi]) - best;
  if (npix < b.min_pixels || !math::above(best, bg, p.high)) return;
  if (npix <= 9) {
    const int bx = bi % b.width, by = bi / b.width;
    float second = -1e30f;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int xx = bx + dx, yy = by + dy;
        if ((dx || dy) && xx >= 0 && yy >= 0 && xx < b.width && yy < b.height)
          second = fmaxf(second, b.residual[base + yy * b.width + xx]);
      }
    if (best > 5.0f * fmaxf(second, 0.0f)) return;
  }
  const int slot = atomicAdd(b.kept_count + f, 1);
  if (slot >= b.kept_cap) return;  // overflow: the host redoes this frame on the CPU
  const int* box = b.box + 4 * (base + i);
  KeptComponent k;
  k.root = i;
  k.npix = npix;
  k.x0 = box[0];
  k.y0 = box[1];
  k.x1 = box[2];
  k.y1 = box[3];
  b.kept[static_cast<long long>(f) * b.kept_cap + slot] = k;
}

__global__ void assign_kept_index_kernel(BatchView b, const int* frame_of, const int* root, const int* index,
                                         int total) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= total) return;
  const long long n = static_cast<long long>(b.width) * b.height;
  b.kidx[frame_of[t] * n + root[t]] = index[t];
}

__global__ void gather_kernel(BatchView b, const PatchDesc* patches, float* out_residual, int* out_owner) {
  const PatchDesc d = patches[blockIdx.x];
  const long long n = static_cast<long long>(b.width) * b.height;
  const long long base = d.frame * n;
  const int count = d.w * d.h;
  for (int j = threadIdx.x; j < count; j += blockDim.x) {
    const int x = d.x0 + j % d.w, y = d.y0 + j / d.w;
    const long long gi = base + static_cast<long long>(y) * b.width + x;
    out_residual[d.offset + j] = b.residual[gi];
    const int l = b.label[gi];
    out_owner[d.offset + j] = l >= 0 ? b.kidx[base + l] : -1;
  }
}

dim3 pixel_grid(const BatchView& b) { return dim3((b.width + kThreads - 1) / kThreads, b.height, b.frames); }

}  // namespace

void launch_label_merge(cudaStream_t stream, const BatchView& batch) {
  if (batch.frames == 0 || batch.width == 0 || batch.height == 0) return;
  merge_kernel<<<pixel_grid(batch), kThreads, 0, stream>>>(batch);
}

void launch_label_flatten_stats(cudaStream_t stream, const BatchView& batch) {
  if (batch.frames == 0 || batch.width == 0 || batch.height == 0) return;
  flatten_stats_kernel<<<pixel_grid(batch), kThreads, 0, stream>>>(batch);
}

void launch_filter(cudaStream_t stream, const BatchView& batch) {
  if (batch.frames == 0 || batch.width == 0 || batch.height == 0) return;
  filter_kernel<<<pixel_grid(batch), kThreads, 0, stream>>>(batch);
}

void launch_assign_kept_index(cudaStream_t stream, const BatchView& batch, const int* frame_of, const int* root,
                              const int* index, int total) {
  if (total <= 0) return;
  assign_kept_index_kernel<<<(total + kThreads - 1) / kThreads, kThreads, 0, stream>>>(batch, frame_of, root, index,
                                                                                       total);
}

void launch_gather_patches(cudaStream_t stream, const BatchView& batch, const PatchDesc* patches, int count,
                           float* out_residual, int* out_owner) {
  if (count <= 0) return;
  gather_kernel<<<count, 128, 0, stream>>>(batch, patches, out_residual, out_owner);
}

}  // namespace laueproc::kernels
