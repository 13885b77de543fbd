#pragma once
/// @file
/// @brief The device arrays the per-pixel kernels of one batch read and write, and the
/// kernels::BatchView over them: one definition for the CUDA analyzer, its tests and its benchmark.

#include <cstddef>
#include <cstdint>

#include "batch.cuh"
#include "cuda/cuda_util.hpp"

namespace laueproc::cuda {

struct BatchArrays {
  DeviceBuffer<std::uint16_t> raw;
  DeviceBuffer<std::uint8_t> mask;
  DeviceBuffer<float> residual, coarse, col_w;
  DeviceBuffer<int> label, npix, box, kidx, col_cell, kept_count;
  DeviceBuffer<unsigned long long> best;
  DeviceBuffer<kernels::FrameParams> params;
  DeviceBuffer<kernels::KeptComponent> kept;

  /// @brief Sizes every array for `frames` frames of width x height, coarse rows of
  /// `coarse_stride` floats and `kept_cap` kept components per frame (contents undefined).
  void allocate(int width, int height, int frames, int coarse_stride, int kept_cap) {
    const std::size_t fn = static_cast<std::size_t>(width) * height * static_cast<std::size_t>(frames);
    const std::size_t nf = static_cast<std::size_t>(frames);
    raw.allocate(fn);
    mask.allocate(fn);
    residual.allocate(fn);
    label.allocate(fn);
    npix.allocate(fn);
    best.allocate(fn);
    box.allocate(4 * fn);
    kidx.allocate(fn);
    coarse.allocate(nf * static_cast<std::size_t>(height) * coarse_stride);
    col_w.allocate(4 * static_cast<std::size_t>(width));
    col_cell.allocate(static_cast<std::size_t>(width));
    params.allocate(nf);
    kept.allocate(nf * static_cast<std::size_t>(kept_cap));
    kept_count.allocate(nf);
  }

  void release() {
    for (auto* b : {&residual, &coarse, &col_w}) b->reset();
    for (auto* b : {&label, &npix, &box, &kidx, &col_cell, &kept_count}) b->reset();
    raw.reset();
    mask.reset();
    best.reset();
    params.reset();
    kept.reset();
  }

  /// @brief The kernels' view of the first `frames` frames.
  kernels::BatchView view(int width, int height, int frames, int coarse_stride, int kept_cap, int min_pixels) const {
    kernels::BatchView b;
    b.width = width;
    b.height = height;
    b.frames = frames;
    b.raw = raw.get();
    b.mask = mask.get();
    b.residual = residual.get();
    b.label = label.get();
    b.npix = npix.get();
    b.best = best.get();
    b.box = box.get();
    b.kidx = kidx.get();
    b.coarse = coarse.get();
    b.coarse_stride = coarse_stride;
    b.col_cell = col_cell.get();
    b.col_w = col_w.get();
    b.params = params.get();
    b.kept = kept.get();
    b.kept_count = kept_count.get();
    b.kept_cap = kept_cap;
    b.min_pixels = min_pixels;
    return b;
  }
};

}  // namespace laueproc::cuda
