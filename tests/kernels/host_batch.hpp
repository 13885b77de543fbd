#pragma once
/// @file
/// @brief A batch of frames in host memory, laid out exactly as on the device (carve_batch), and
/// a Launcher that runs the pipeline's phased bodies on the CPU grid executor: the CUDA
/// backend's whole pipeline (kernels/frame_pipeline.cuh) run in CI without a GPU.

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "frame_pipeline.cuh"
#include "kernels/cpu_grid.hpp"
#include "laueproc/frame.hpp"
#include "laueproc/stages.hpp"
#include "pipeline_setup.hpp"

namespace laueproc::testing {

/// @brief Pointers to the frames, as BatchAnalyzer::analyze takes them.
inline std::vector<const Frame*> ptrs(const std::vector<Frame>& frames) {
  std::vector<const Frame*> p;
  for (const Frame& f : frames) p.push_back(&f);
  return p;
}

/// @brief Runs every launch on the CPU grid executor (blocks and threads forward or reverse).
struct CpuLauncher {
  GridOrder order = GridOrder::forward;
  template <class K>
  void run(grid::Dim grid_dim, grid::Dim block_dim, const typename K::Params& params) {
    run_grid_on_cpu<K>(grid_dim, block_dim, params, order);
  }
  bool gaussian_convolution(const kernels::BatchView&) { return false; }  // the separable filter
};

/// @brief Frames of one size, their device layout in a host arena (filled with garbage first,
/// as device memory would be), the static mask and the Gaussian taps.
class HostBatch {
 public:
  /// `adjust` may change the shape (capacities) before the arena is laid out.
  HostBatch(const std::vector<const Frame*>& frames, const ProcessConfig& config, const BadPixelMask* mask = nullptr,
            const std::function<void(kernels::BatchShape&)>& adjust = {}) {
    const int w = frames.at(0)->width, h = frames.at(0)->height;
    v.shape = kernels::make_batch_shape(w, h, static_cast<int>(frames.size()), config);
    if (adjust) adjust(v.shape);
    v.config = kernels::make_pipeline_config(config, taps_);
    const std::size_t n = static_cast<std::size_t>(w) * h;
    raw_.resize(n * frames.size());
    for (std::size_t f = 0; f < frames.size(); ++f) {
      const FrameView view = frames[f]->view();
      for (int y = 0; y < h; ++y)
        std::memcpy(raw_.data() + f * n + static_cast<std::size_t>(y) * w, view.data + y * view.stride, 2u * w);
    }
    v.raw = raw_.data();
    if (mask && !mask->empty()) v.static_mask = mask->pixels().data();
    v.gauss_kernel = taps_.empty() ? nullptr : taps_.data();
    const unsigned long long bytes = kernels::carve_batch(v, nullptr);
    arena_.reset(new unsigned char[bytes + 256]);
    std::memset(arena_.get(), 0xA5, bytes + 256);
    unsigned char* base = arena_.get();
    base += (256 - reinterpret_cast<std::uintptr_t>(base) % 256) % 256;
    kernels::carve_batch(v, base);
  }

  /// @brief Runs the whole pipeline (or the front end only).
  void run(GridOrder order = GridOrder::forward, bool front_only = false) {
    CpuLauncher L{order};
    if (front_only) {
      kernels::launch_front_end(L, v);
    } else {
      kernels::launch_frame_pipeline(L, v);
    }
  }

  /// @brief Frame f's FrameAnalysis as the CUDA analyzer assembles it; false on overflow.
  bool analysis(int f, std::int64_t frame_index, double first_value, FrameAnalysis& out) const {
    std::vector<int> begin;
    std::vector<const kernels::PeakRecord*> by_frame;
    kernels::group_records(v.peaks, *v.peak_total, v.shape.frames, begin, by_frame);
    return kernels::frame_analysis_from_device(v.state[f], by_frame.data() + begin[f], begin[f + 1] - begin[f],
                                               frame_index, first_value, out);
  }

  const float* frame_array(const float* a, long long per_frame, int f) const { return a + per_frame * f; }

  kernels::BatchView v;

 private:
  std::vector<std::uint16_t> raw_;
  std::vector<float> taps_;
  std::unique_ptr<unsigned char[]> arena_;
};

}  // namespace laueproc::testing
