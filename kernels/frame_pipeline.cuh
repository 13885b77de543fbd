#pragma once
/// @file
/// @brief The whole-frame pipeline of one batch, as a sequence of phased kernel launches:
/// masks -> block background (2 passes + fills) -> [Gaussian background] -> noise -> residual,
/// threshold, labels -> filter -> per-component measurement. Generic over a Launcher:
///   struct Launcher {
///     template <class K> void run(grid::Dim grid, grid::Dim block, const typename K::Params&);
///     bool gaussian_convolution(const BatchView&);  // true: done another way (cuFFT), else the separable filter
///   };
/// On the GPU (kernels/pipeline.cu) every run() is an asynchronous launch on one stream: the
/// host only uploads the frames, launches, and copies back the frame states and peak records.
/// In CI (tests/kernels) the same sequence runs on the CPU grid executor, so the order of the
/// kernels and their parameters are tested as well as each body.

#include "background_body.cuh"
#include "frame_batch.cuh"
#include "gaussian_body.cuh"
#include "label_body.cuh"
#include "mask_body.cuh"
#include "measure_body.cuh"
#include "noise_body.cuh"

namespace laueproc::kernels {

LAUEPROC_HD inline unsigned blocks_for(long long items, unsigned per_block) {
  return static_cast<unsigned>((items + per_block - 1) / per_block);
}

/// @brief Everything up to the frame's grid, noise model and thresholds (FrameState), with the
/// grid to subtract in v.coarse. v.peak_total must be zero before.
template <class Launcher>
void launch_front_end(Launcher& L, const BatchView& v) {
  const BatchShape& s = v.shape;
  const unsigned F = static_cast<unsigned>(s.frames), W = static_cast<unsigned>(s.width),
                 H = static_cast<unsigned>(s.height);
  if (F == 0 || W == 0 || H == 0) return;
  const grid::Dim pixel_grid{blocks_for(W, kPixelThreads), H, F};
  // Masks (prepare_mask).
  L.template run<FrameInit>({F}, {kMaskThreads}, {v});
  L.template run<GridColumns>({blocks_for(W, 256)}, {256}, {s.width, s.cell_x, v.col_cell, v.col_w});
  if (v.config.gaussian)
    L.template run<GridColumns>({blocks_for(W, 256)}, {256}, {s.width, double(kGaussDecim), v.gcol_cell, v.gcol_w});
  L.template run<LineRows>({H, F}, {kMaskThreads}, {v, 1});
  L.template run<LineCols>({blocks_for(W, kMaskThreads), blocks_for(H, kColumnRowsPerBlock), F}, {kMaskThreads},
                           {v, 1});
  L.template run<LineDecide>({F}, {kMaskThreads}, {v, 0});
  L.template run<LineCols>({blocks_for(W, kMaskThreads), blocks_for(H, kColumnRowsPerBlock), F}, {kMaskThreads},
                           {v, 2});
  L.template run<LineDecide>({F}, {kMaskThreads}, {v, 1});
  L.template run<LineRows>({H, F}, {kMaskThreads}, {v, 3});
  L.template run<LineDecide>({F}, {kMaskThreads}, {v, 2});
  L.template run<ZeroRows>(pixel_grid, {kPixelThreads}, {v});
  L.template run<MaskFinal>(pixel_grid, {kPixelThreads}, {v});
  // Block-percentile background (background_blocks): pass 1, fill, pass 2 on its residual, fill.
  const unsigned cells = static_cast<unsigned>(s.cells());
  L.template run<BlockPass>({cells, F}, {kBlockPassThreads}, {v, 0});
  L.template run<FillCells>({F}, {256}, {v, 1});
  L.template run<CoarseRows>({H, F}, {64}, {v, v.first, s.cells(), s.nx, s.ny, s.cell_x, s.cell_y});
  L.template run<BlockPass>({cells, F}, {kBlockPassThreads}, {v, 1});
  L.template run<FillCells>({F}, {256}, {v, 2});
  L.template run<CoarseRows>({H, F}, {64}, {v, v.grid, s.cells(), s.nx, s.ny, s.cell_x, s.cell_y});
  L.template run<Samples>({F}, {kNoiseThreads}, {v, v.col_cell, v.col_w});
  if (v.config.gaussian) {  // background_gaussian, clipped at the block grid + 3 sigma
    L.template run<NoiseFit>({F}, {kNoiseThreads}, {v, 0});
    const grid::Dim gauss_grid{blocks_for(s.dw, kGaussThreads), static_cast<unsigned>(s.dh), F};
    L.template run<GaussDecimate>(gauss_grid, {kGaussThreads}, {v});
    if (!L.gaussian_convolution(v)) {
      L.template run<GaussAlongX>(gauss_grid, {kGaussThreads}, {v});
      L.template run<GaussAlongY>(gauss_grid, {kGaussThreads}, {v});
    }
    L.template run<CoarseRows>({H, F}, {64},
                               {v, v.ggrid, s.gauss_cells(), s.dw, s.dh, double(kGaussDecim), double(kGaussDecim)});
    L.template run<Samples>({F}, {kNoiseThreads}, {v, v.gcol_cell, v.gcol_w});
  }
  L.template run<NoiseFit>({F}, {kNoiseThreads}, {v, 1});
}

/// @brief Residual, threshold, labels, filter and the per-component measurement (after
/// launch_front_end): peak records in v.peaks, counts and overflow bits in FrameState.
template <class Launcher>
void launch_back_end(Launcher& L, const BatchView& v) {
  const BatchShape& s = v.shape;
  const unsigned F = static_cast<unsigned>(s.frames), W = static_cast<unsigned>(s.width),
                 H = static_cast<unsigned>(s.height);
  if (F == 0 || W == 0 || H == 0) return;
  const grid::Dim tiles{blocks_for(W, kTileW), blocks_for(H, kTileH), F};
  const int* col_cell = v.config.gaussian ? v.gcol_cell : v.col_cell;
  const float* col_w = v.config.gaussian ? v.gcol_w : v.col_w;
  L.template run<ResidualTile>(tiles, {kTileW, kTileH}, {v, col_cell, col_w});
  L.template run<BorderMerge>(tiles, {kTileW, kTileH}, {v});
  const grid::Dim pixel_grid{blocks_for(W, kPixelThreads), H, F};
  L.template run<Flatten>(pixel_grid, {kPixelThreads}, {v});
  L.template run<RootStatsAdd>(pixel_grid, {kPixelThreads}, {v});
  L.template run<Filter>({blocks_for(s.root_cap, kPixelThreads), F}, {kPixelThreads}, {v});
  L.template run<Measure>({blocks_for(s.kept_cap, kMeasureThreads), F}, {kMeasureThreads}, {v});
}

/// @brief The whole pipeline of one batch.
template <class Launcher>
void launch_frame_pipeline(Launcher& L, const BatchView& v) {
  launch_front_end(L, v);
  launch_back_end(L, v);
}

}  // namespace laueproc::kernels
