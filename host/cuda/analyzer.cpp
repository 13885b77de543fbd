/// @file
/// @brief The CUDA BatchAnalyzer. Per sub-batch of frames of one size:
/// 1. host: masks (CpuFrameAnalyzer::prepare_mask, the CPU code), frames + masks to pinned memory;
/// 2. GPU: block-percentile background pass 1 (kernels/background.cu); host: NaN cells filled
///    (fill_invalid_cells), residual tables of the pass-1 grid;
/// 3. GPU: pass 2; host: fill, median block sigma, then prepare_noise (sampled sigma, background
///    level, Gaussian grid when configured) and the residual tables of the final grid;
/// 4. GPU: residual, threshold, 8-connected labeling, seed/size/hot-pixel filter, and only the
///    kept components' patches (bounding box grown by grow_px + 1: residual + owner) come back;
/// 5. host: the CPU path's per-component code (measure_component: deblend, support, moments).
/// Equivalence holds by construction: the GPU's float arithmetic repeats the CPU's operation order
/// without FMA contraction, and the quantile selection is the same LAUEPROC_HD code.
///
/// Orchestration: frames are grouped by size; each group is cut into sub-batches of at most
/// ceil(batch / streams) frames that go round-robin over `streams` slots (stream + device arena +
/// pinned staging, sized once per frame size). Sub-batch k+1 is launched before sub-batch k is
/// finished, so its labeling kernels overlap the host's per-component work on k.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

#include "background.cuh"
#include "cuda/batch_arrays.hpp"
#include "cuda/cuda_util.hpp"
#include "cuda/grid_tables.hpp"
#include "cuda/patches.hpp"
#include "label.cuh"
#include "laueproc/cuda.hpp"
#include "laueproc/math/background.hpp"
#include "residual.cuh"

namespace laueproc::cuda {
namespace {

using kernels::BatchView;
using kernels::FrameParams;
using kernels::KeptComponent;
using kernels::PatchDesc;

// Kept components per frame the device lists hold; a frame with more is redone on the CPU.
constexpr int kKeptCap = 4096;

// One stream with its device arena and pinned staging for up to `capacity` frames of one size.
struct Slot : BatchArrays {
  Stream stream;
  Event listed;  // kept lists copied back
  int width = 0, height = 0, capacity = 0, coarse_stride = 0;
  DeviceBuffer<int> kidx_lists;
  DeviceBuffer<PatchDesc> patches;
  DeviceBuffer<float> patch_residual;
  DeviceBuffer<int> patch_owner;
  PinnedBuffer<std::uint16_t> h_raw;
  PinnedBuffer<std::uint8_t> h_mask;
  PinnedBuffer<float> h_coarse, h_col_w, h_patch_residual;
  PinnedBuffer<int> h_col_cell, h_kept_count, h_kidx_lists, h_patch_owner;
  PinnedBuffer<FrameParams> h_params;
  PinnedBuffer<KeptComponent> h_kept;
  PinnedBuffer<PatchDesc> h_patches;
  // Block passes of the background: cell values and sigmas out, the filled pass-1 grid in.
  int cells = 0;
  DeviceBuffer<float> values, sigmas, prev;
  PinnedBuffer<float> h_values, h_sigmas, h_prev;
  std::vector<BackgroundGrid> first, grids;  // per frame: pass-1 grid (filled), final block grid

  // Per frame of the sub-batch in flight.
  struct Item {
    std::size_t out_index = 0;  // position in analyze()'s output
    const Frame* frame = nullptr;
    bool has_mask = false;
    bool flat = false;  // pass 1 found no valid cell (all masked): the grid is flat zero
    double sigma = 0;
    math::NoiseModel noise;
  };
  std::vector<Item> items;

  BatchView view(int min_pixels) const {
    return BatchArrays::view(width, height, static_cast<int>(items.size()), coarse_stride, kKeptCap, min_pixels);
  }

  // Frees the arena (after an out-of-memory).
  void release() {
    width = height = capacity = coarse_stride = cells = 0;
    values.reset();
    sigmas.reset();
    prev.reset();
    h_values.reset();
    h_sigmas.reset();
    h_prev.reset();
    BatchArrays::release();
    h_raw.reset();
    h_mask.reset();
    h_coarse.reset();
    h_kept.reset();
  }

  // Sizes the arena for `cap` frames of w x h with coarse rows of `stride` floats.
  void ensure(int w, int h, int cap, int stride, int ncells) {
    if (w == width && h == height && cap <= capacity && stride <= coarse_stride && ncells <= cells) return;
    const std::size_t n = static_cast<std::size_t>(w) * h, fn = n * static_cast<std::size_t>(cap);
    width = height = capacity = coarse_stride = 0;  // stays unusable if an allocation throws
    BatchArrays::allocate(w, h, cap, stride, kKeptCap);
    const std::size_t cn = static_cast<std::size_t>(cap) * h * stride;
    h_raw.allocate(fn);
    h_mask.allocate(fn);
    h_coarse.allocate(cn);
    h_col_w.allocate(4 * static_cast<std::size_t>(w));
    h_col_cell.allocate(static_cast<std::size_t>(w));
    h_params.allocate(static_cast<std::size_t>(cap));
    h_kept.allocate(static_cast<std::size_t>(cap) * kKeptCap);
    h_kept_count.allocate(static_cast<std::size_t>(cap));
    const std::size_t gc = static_cast<std::size_t>(cap) * ncells;
    values.allocate(gc);
    sigmas.allocate(gc);
    prev.allocate(gc);
    h_values.allocate(gc);
    h_sigmas.allocate(gc);
    h_prev.allocate(gc);
    cells = ncells;
    width = w;
    height = h;
    capacity = cap;
    coarse_stride = stride;
  }
};

class CudaBatchAnalyzer final : public BatchAnalyzer {
 public:
  CudaBatchAnalyzer(const ProcessConfig& config, const BadPixelMask* mask, const CudaOptions& options)
      : config_(config), host_(config, mask), cpu_(config, mask), options_(options) {
    const int count = device_count();
    if (count == 0) throw Error("CUDA backend: no CUDA device (driver missing or no GPU)");
    if (options.device < 0 || options.device >= count)
      throw UsageError("CUDA backend: device " + std::to_string(options.device) + " does not exist (" +
                       std::to_string(count) + " found)");
    LAUEPROC_CUDA_CHECK(cudaSetDevice(options.device));
    cudaDeviceProp prop{};
    LAUEPROC_CUDA_CHECK(cudaGetDeviceProperties(&prop, options.device));
    name_ = "cuda:" + std::to_string(options.device) + " (" + prop.name + ")";
    batch_ = std::max<std::size_t>(1, options.batch);
    const int streams = std::max(1, options.streams);
    for (int s = 0; s < streams; ++s) slots_.push_back(std::make_unique<Slot>());
  }

  std::size_t preferred_batch() const override { return batch_; }
  std::string name() const override { return name_; }

  void analyze(const std::vector<const Frame*>& frames, std::vector<FrameAnalysis>& out) override {
    LAUEPROC_CUDA_CHECK(cudaSetDevice(options_.device));
    out.assign(frames.size(), FrameAnalysis{});
    // Stage 1 on the host; frames that are empty stop there. Group the others by size.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < frames.size(); ++i) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::make_pair(frames[a]->width, frames[a]->height) < std::make_pair(frames[b]->width, frames[b]->height);
    });
    std::deque<Slot*> in_flight;
    std::size_t next_slot = 0;
    std::size_t pos = 0;
    while (pos < order.size()) {
      const int w = frames[order[pos]]->width, h = frames[order[pos]]->height;
      std::size_t end = pos;
      while (end < order.size() && frames[order[end]]->width == w && frames[order[end]]->height == h) ++end;
      while (pos < end) {
        const std::size_t per_slot = (batch_ + slots_.size() - 1) / slots_.size();
        const std::size_t take = std::min(per_slot, end - pos);
        Slot& slot = *slots_[next_slot];
        next_slot = (next_slot + 1) % slots_.size();
        if (std::find(in_flight.begin(), in_flight.end(), &slot) != in_flight.end()) {
          while (!in_flight.empty()) {  // the slot is busy: finish up to and including it
            Slot* s = in_flight.front();
            in_flight.pop_front();
            finish(*s, frames, out);
            if (s == &slot) break;
          }
        }
        const std::size_t used = launch(slot, frames, order, pos, take, out);
        pos += used;
        in_flight.push_back(&slot);
        if (in_flight.size() > 1) {  // keep one sub-batch on the device while finishing the older
          Slot* s = in_flight.front();
          in_flight.pop_front();
          finish(*s, frames, out);
        }
      }
    }
    while (!in_flight.empty()) {
      Slot* s = in_flight.front();
      in_flight.pop_front();
      finish(*s, frames, out);
    }
  }

 private:
  // Prepares up to `take` frames from order[pos..] into `slot` and launches the GPU stages up to
  // the copy-back of the kept lists. Returns how many frames of `order` it consumed.
  std::size_t launch(Slot& slot, const std::vector<const Frame*>& frames, const std::vector<std::size_t>& order,
                     std::size_t pos, std::size_t take, std::vector<FrameAnalysis>& out) {
    const Frame& head = *frames[order[pos]];
    const int w = head.width, h = head.height;
    const std::size_t n = static_cast<std::size_t>(w) * h;
    BackgroundGrid shape;
    background_grid_shape(w, h, config_.background, shape);
    const int cells = shape.nx * shape.ny;
    int stride = shape.nx + 4;
    if (config_.background.method == BackgroundMethod::gaussian)
      stride = std::max(stride, (w + 3) / 4 + 4);  // background_gaussian's 4 px grid
    allocate(slot, w, h, stride, cells);
    const cudaStream_t s = slot.stream.get();

    // 1. Masks on the host (the CPU code), frames and masks staged in pinned memory.
    slot.items.clear();
    std::size_t used = 0;
    for (; used < take; ++used) {
      const std::size_t oi = order[pos + used];
      const Frame& frame = *frames[oi];
      if (!host_.prepare_mask(frame.view(), out[oi])) continue;  // empty frame: finished
      const std::size_t k = slot.items.size();
      if (k >= static_cast<std::size_t>(slot.capacity)) break;  // halved after an out-of-memory
      const FrameView view = frame.view();
      std::uint16_t* raw = slot.h_raw.get() + k * n;
      for (int y = 0; y < h; ++y)
        std::memcpy(raw + static_cast<std::size_t>(y) * w, view.data + y * view.stride, sizeof(std::uint16_t) * w);
      const std::uint8_t* m = host_.mask();
      if (m) std::memcpy(slot.h_mask.get() + k * n, m, n);
      FrameParams p;
      p.has_mask = m ? 1 : 0;
      slot.h_params[k] = p;
      slot.items.push_back(Slot::Item{oi, &frame, m != nullptr, false, 0.0, math::NoiseModel{}});
    }
    if (slot.items.empty()) return used;
    const std::size_t f = slot.items.size();
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.raw.get(), slot.h_raw.get(), f * n * sizeof(std::uint16_t),
                                        cudaMemcpyHostToDevice, s));
    for (std::size_t k = 0; k < f; ++k)  // masks only where the frame has one
      if (slot.items[k].has_mask)
        LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.mask.get() + k * n, slot.h_mask.get() + k * n, n,
                                            cudaMemcpyHostToDevice, s));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.params.get(), slot.h_params.get(), f * sizeof(FrameParams),
                                        cudaMemcpyHostToDevice, s));

    // 2. Background pass 1 on the device; NaN cells filled on the host (fill_invalid_cells).
    const double q = std::clamp(config_.background.percentile, 0.01, 0.99);
    kernels::BlockPassArgs a;
    a.width = w;
    a.height = h;
    a.frames = static_cast<int>(f);
    a.nx = shape.nx;
    a.ny = shape.ny;
    a.raw = slot.raw.get();
    a.mask = slot.mask.get();
    a.params = slot.params.get();
    a.q = q;
    a.zq = math::normal_quantile(q);
    a.zlo = math::normal_quantile(q / 3.0);
    a.values = slot.values.get();
    a.sigmas = slot.sigmas.get();
    kernels::launch_block_pass(s, a);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    download_cells(slot, f);
    slot.first.resize(f);
    slot.grids.resize(f);
    const std::size_t ncells = static_cast<std::size_t>(cells);
    for (std::size_t k = 0; k < f; ++k) {
      BackgroundGrid& g = slot.first[k];
      g = shape;
      const float* v = slot.h_values.get() + k * ncells;
      const float* sg = slot.h_sigmas.get() + k * ncells;
      slot.items[k].flat = std::all_of(sg, sg + ncells, [](float x) { return std::isnan(x); });
      if (!slot.items[k].flat) {
        std::copy(v, v + ncells, g.values.begin());
        fill_invalid_cells(g);
      }
      std::copy(g.values.begin(), g.values.end(), slot.h_prev.get() + k * ncells);
      coarse_rows(g, h, slot.coarse_stride, slot.h_coarse.get() + k * static_cast<std::size_t>(h) * slot.coarse_stride);
    }
    column_tables(shape, w, slot.h_col_cell.get(), slot.h_col_w.get());
    upload_tables(slot, f, w, h);
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.prev.get(), slot.h_prev.get(), f * ncells * sizeof(float),
                                        cudaMemcpyHostToDevice, s));

    // 3. Pass 2 on the residual of pass 1; the host fills, takes the median block sigma, then
    //    the noise (CpuFrameAnalyzer::prepare_noise: sampled sigma, Gaussian grid if configured).
    a.prev = slot.prev.get();
    a.coarse = slot.coarse.get();
    a.coarse_stride = slot.coarse_stride;
    a.col_cell = slot.col_cell.get();
    a.col_w = slot.col_w.get();
    kernels::launch_block_pass(s, a);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    download_cells(slot, f);
    double cell_x = 0;
    for (std::size_t k = 0; k < f; ++k) {
      Slot::Item& item = slot.items[k];
      BackgroundGrid& g = slot.grids[k];
      g = shape;
      g.block_sigma = 0;
      if (!item.flat) {
        const float* v = slot.h_values.get() + k * ncells;
        const float* sg = slot.h_sigmas.get() + k * ncells;
        sigma_list_.clear();
        for (std::size_t c = 0; c < ncells; ++c)
          if (!std::isnan(sg[c])) sigma_list_.push_back(sg[c]);
        if (sigma_list_.empty()) {
          g.values = slot.first[k].values;
        } else {
          auto mid = sigma_list_.begin() + static_cast<std::ptrdiff_t>(sigma_list_.size() / 2);
          std::nth_element(sigma_list_.begin(), mid, sigma_list_.end());
          g.block_sigma = *mid;
          std::copy(v, v + ncells, g.values.begin());
          fill_invalid_cells(g);
        }
      }
      const std::uint8_t* m = item.has_mask ? slot.h_mask.get() + k * n : nullptr;
      const BackgroundGrid* final_grid = host_.prepare_noise(item.frame->view(), m, g, out[item.out_index]);
      item.sigma = host_.sigma();
      item.noise = host_.noise();
      if (k == 0) {
        column_tables(*final_grid, w, slot.h_col_cell.get(), slot.h_col_w.get());
        cell_x = final_grid->cell_x;
      } else if (final_grid->cell_x != cell_x || final_grid->nx + 4 > slot.coarse_stride) {
        throw Error("CUDA backend: background grids of one frame size differ in shape");
      }
      coarse_rows(*final_grid, h, slot.coarse_stride,
                  slot.h_coarse.get() + k * static_cast<std::size_t>(h) * slot.coarse_stride);
      FrameParams& p = slot.h_params[k];
      p.low = math::sigma_threshold(item.noise, config_.threshold.k_low);
      p.high = math::sigma_threshold(item.noise, config_.threshold.k_high);
    }
    upload_tables(slot, f, w, h);
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.params.get(), slot.h_params.get(), f * sizeof(FrameParams),
                                        cudaMemcpyHostToDevice, s));

    // 4. Residual, threshold, labels, filter; the kept lists come back (finish() waits for them).
    LAUEPROC_CUDA_CHECK(cudaMemsetAsync(slot.kept_count.get(), 0, f * sizeof(int), s));
    const BatchView b = slot.view(config_.threshold.min_pixels);
    kernels::launch_residual_threshold(s, b);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    kernels::launch_label_merge(s, b);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    kernels::launch_label_flatten_stats(s, b);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    kernels::launch_filter(s, b);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_kept_count.get(), slot.kept_count.get(), f * sizeof(int),
                                        cudaMemcpyDeviceToHost, s));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_kept.get(), slot.kept.get(), f * kKeptCap * sizeof(KeptComponent),
                                        cudaMemcpyDeviceToHost, s));
    slot.listed.record(s);
    return used;
  }

  // Copies the block pass's cell values and sigmas back and waits for them.
  static void download_cells(Slot& slot, std::size_t f) {
    const std::size_t bytes = f * static_cast<std::size_t>(slot.cells) * sizeof(float);
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_values.get(), slot.values.get(), bytes, cudaMemcpyDeviceToHost,
                                        slot.stream.get()));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_sigmas.get(), slot.sigmas.get(), bytes, cudaMemcpyDeviceToHost,
                                        slot.stream.get()));
    slot.stream.synchronize();
  }

  // Uploads the residual tables staged for f frames (coarse rows, column tables).
  static void upload_tables(Slot& slot, std::size_t f, int w, int h) {
    const cudaStream_t s = slot.stream.get();
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.coarse.get(), slot.h_coarse.get(),
                                        f * h * static_cast<std::size_t>(slot.coarse_stride) * sizeof(float),
                                        cudaMemcpyHostToDevice, s));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.col_cell.get(), slot.h_col_cell.get(), w * sizeof(int),
                                        cudaMemcpyHostToDevice, s));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.col_w.get(), slot.h_col_w.get(), 4 * w * sizeof(float),
                                        cudaMemcpyHostToDevice, s));
  }

  // Allocates the slot's arena; on out-of-memory halves the batch (warning on stderr) and retries.
  void allocate(Slot& slot, int w, int h, int stride, int ncells) {
    for (;;) {
      const int cap = static_cast<int>((batch_ + slots_.size() - 1) / slots_.size());
      try {
        slot.ensure(w, h, cap, stride, ncells);
        return;
      } catch (const OutOfMemory& e) {
        if (batch_ <= 1) throw;
        batch_ = std::max<std::size_t>(1, batch_ / 2);
        std::fprintf(stderr, "laueproc: warning: %s; CUDA batch halved to %zu frames\n", e.what(), batch_);
        slot.release();  // other slots may hold work in flight: they keep their (larger) arenas
      }
    }
  }

  // Waits for the slot's kept lists, copies the patches back and measures the components.
  void finish(Slot& slot, const std::vector<const Frame*>& frames, std::vector<FrameAnalysis>& out) {
    (void)frames;
    if (slot.items.empty()) return;
    slot.listed.synchronize();
    const int w = slot.width, h = slot.height;
    const std::size_t n = static_cast<std::size_t>(w) * h;
    const int pad = std::max(0, config_.moments.grow_px) + 1;
    const std::size_t f = slot.items.size();
    // Sorted kept lists (root order = the CPU's component order) and their patches.
    std::vector<int> frame_of, root, index;
    patch_desc_.clear();
    overflow_.assign(f, false);
    long long total = 0;
    for (std::size_t k = 0; k < f; ++k) {
      const int count = slot.h_kept_count[k];
      if (count > kKeptCap) {
        overflow_[k] = true;
        continue;
      }
      KeptComponent* list = slot.h_kept.get() + k * kKeptCap;
      std::sort(list, list + count, [](const KeptComponent& a, const KeptComponent& b) { return a.root < b.root; });
      for (int c = 0; c < count; ++c) {
        const KeptComponent& kc = list[c];
        PatchDesc d = make_patch(kc, w, h, pad, static_cast<int>(k));
        d.offset = total;
        total += static_cast<long long>(d.w) * d.h;
        patch_desc_.push_back(d);
        frame_of.push_back(static_cast<int>(k));
        root.push_back(kc.root);
        index.push_back(c);
      }
    }
    const int np = static_cast<int>(patch_desc_.size());
    const cudaStream_t s = slot.stream.get();
    if (np > 0) {
      // Grown with headroom, so that a slightly busier batch does not reallocate.
      const std::size_t np_cap = static_cast<std::size_t>(np) * 3 / 2 + 64;
      const std::size_t px_cap = static_cast<std::size_t>(total) * 3 / 2 + 4096;
      if (slot.h_patches.size() < static_cast<std::size_t>(np)) {
        slot.h_patches.allocate(np_cap);
        slot.patches.allocate(np_cap);
        slot.h_kidx_lists.allocate(3 * np_cap);
        slot.kidx_lists.allocate(3 * np_cap);
      }
      if (slot.h_patch_residual.size() < static_cast<std::size_t>(total)) {
        slot.h_patch_residual.allocate(px_cap);
        slot.h_patch_owner.allocate(px_cap);
        slot.patch_residual.allocate(px_cap);
        slot.patch_owner.allocate(px_cap);
      }
      std::copy(patch_desc_.begin(), patch_desc_.end(), slot.h_patches.get());
      int* lists = slot.h_kidx_lists.get();
      std::copy(frame_of.begin(), frame_of.end(), lists);
      std::copy(root.begin(), root.end(), lists + np);
      std::copy(index.begin(), index.end(), lists + 2 * np);
      LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.patches.get(), slot.h_patches.get(), np * sizeof(PatchDesc),
                                          cudaMemcpyHostToDevice, s));
      LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.kidx_lists.get(), lists, 3 * np * sizeof(int),
                                          cudaMemcpyHostToDevice, s));
      const BatchView b = slot.view(config_.threshold.min_pixels);
      const int* d_lists = slot.kidx_lists.get();
      kernels::launch_assign_kept_index(s, b, d_lists, d_lists + np, d_lists + 2 * np, np);
      LAUEPROC_CUDA_CHECK(cudaGetLastError());
      kernels::launch_gather_patches(s, b, slot.patches.get(), np, slot.patch_residual.get(), slot.patch_owner.get());
      LAUEPROC_CUDA_CHECK(cudaGetLastError());
      LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_patch_residual.get(), slot.patch_residual.get(),
                                          static_cast<std::size_t>(total) * sizeof(float), cudaMemcpyDeviceToHost, s));
      LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_patch_owner.get(), slot.patch_owner.get(),
                                          static_cast<std::size_t>(total) * sizeof(int), cudaMemcpyDeviceToHost, s));
    }
    slot.stream.synchronize();
    int p = 0;
    for (std::size_t k = 0; k < f; ++k) {
      const Slot::Item& item = slot.items[k];
      FrameAnalysis& fa = out[item.out_index];
      const FrameView view = item.frame->view();
      if (overflow_[k]) {  // too many components for the device list: the CPU path, same answer
        fa = cpu_.analyze(view, item.frame->meta.index);
        continue;
      }
      const int first = p;
      while (p < np && patch_desc_[static_cast<std::size_t>(p)].frame == static_cast<int>(k)) ++p;
      const std::uint8_t* mask = item.has_mask ? slot.h_mask.get() + k * n : nullptr;
      assembler_.measure(view, patch_desc_.data() + first, p - first, slot.h_patch_residual.get(),
                         slot.h_patch_owner.get(), mask, item.noise, config_, item.frame->meta.index, fa.peaks);
    }
    slot.items.clear();
  }

  ProcessConfig config_;
  CpuFrameAnalyzer host_;  // stage 1 (prepare) of every frame
  CpuFrameAnalyzer cpu_;   // whole frames whose component list overflowed
  CudaOptions options_;
  std::string name_;
  std::size_t batch_ = 1;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<PatchDesc> patch_desc_;
  std::vector<bool> overflow_;
  PatchAssembler assembler_;
  std::vector<float> sigma_list_;
};

}  // namespace

std::unique_ptr<BatchAnalyzer> make_cuda_analyzer(const ProcessConfig& config, const BadPixelMask* mask,
                                                  const CudaOptions& options) {
  return std::make_unique<CudaBatchAnalyzer>(config, mask, options);
}

}  // namespace laueproc::cuda
