/// @file
/// @brief The CUDA BatchAnalyzer: the whole frame on the GPU. Per sub-batch of frames of one
/// size, the host queues the upload of each frame (straight from its pinned block when the reader
/// put it in one, see frame_memory(); else through a pinned staging copy), or of its compressed
/// chunk followed by the device decoding (DeviceDecoder), launches the pipeline
/// (kernels/frame_pipeline.cuh: masks, background, noise, threshold, labels, filter, deblending
/// and moments, all on the device), and queues the copy-back of the frame states and peak
/// records; that is all. No per-pixel loop runs on the host, and nothing waits until a slot is
/// needed again: with S streams, S sub-batches are in flight. Waits sleep (blocking events).
///
/// A frame that overflows a device list (more components, kept components, peaks or scratch than
/// its capacity) is redone by the CPU analyzer: the same answer, slower. A frame whose chunk the
/// device could not decode is reported failed with the reason.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

#include "cuda/cuda_util.hpp"
#include "cuda/device_decode.hpp"
#include "io/decode.hpp"
#include "laueproc/cuda.hpp"
#include "laueproc/error.hpp"
#include "pipeline.cuh"
#include "pipeline_setup.hpp"

namespace laueproc::cuda {
namespace {

using kernels::BatchShape;
using kernels::BatchView;
using kernels::FrameState;
using kernels::PeakRecord;

// Peak records per frame copied back with the frame states; a busier sub-batch takes a second copy.
constexpr int kRecordsFetchedPerFrame = 256;

// The frame's pixels on the host, for the CPU analyzer's rare turns (a device list overflowed, a
// mask of the wrong shape): its own, or its chunk decoded here (the device decoded the same bytes).
FrameView host_pixels(const Frame& f, std::vector<std::uint16_t>& scratch) {
  if (!f.is_encoded()) return f.view();
  scratch.resize(f.pixel_count());
  auto* out = reinterpret_cast<std::uint8_t*>(scratch.data());
  if (f.encoded.codec == EncodedFrame::Codec::bitshuffle_lz4)
    io::decode_bitshuffle_lz4(f.encoded_data(), f.encoded_size(), out, scratch.size() * 2, 2);
  else
    io::decode_zlib(f.encoded_data(), f.encoded_size(), out, scratch.size() * 2);
  return FrameView{scratch.data(), f.width, f.height, f.width};
}

// One stream with its device arena and pinned staging for up to `capacity` frames of one size.
struct Slot {
  Stream stream;
  Event done{Event::kBlocking};
  int width = 0, height = 0, capacity = 0;
  DeviceBuffer<unsigned char> arena;
  DeviceBuffer<std::uint16_t> raw;
  PinnedBuffer<std::uint16_t> h_raw;  // staging for frames in ordinary memory (allocated when one comes)
  std::unique_ptr<DeviceDecoder> decoder;  // compressed frames of the sub-batch (made when one comes)
  PinnedBuffer<FrameState> h_state;
  PinnedBuffer<int> h_total;
  PinnedBuffer<PeakRecord> h_records;
  std::unique_ptr<kernels::GaussianFft> fft;
  struct Item {
    std::size_t out_index = 0;
    const Frame* frame = nullptr;
  };
  std::vector<Item> items;  // the sub-batch in flight
  bool decoding = false;    // the decoder has work of this sub-batch (finish() reads its statuses)
  BatchView view;

  void release() {
    width = height = capacity = 0;
    arena.reset();
    raw.reset();
    h_raw.reset();
    h_state.reset();
    h_records.reset();
  }
};

class CudaBatchAnalyzer final : public BatchAnalyzer {
 public:
  CudaBatchAnalyzer(const ProcessConfig& config, const BadPixelMask* mask, const CudaOptions& options)
      : config_(config), mask_(mask && !mask->empty() ? mask : nullptr), cpu_(config, mask), options_(options) {
    const DeviceProbe probe = probe_devices();
    if (!probe.problem.empty()) throw Error("CUDA backend: " + probe.problem);
    if (probe.count == 0) throw Error("CUDA backend: no CUDA device (no NVIDIA driver or no GPU)");
    if (options.device < 0 || options.device >= probe.count)
      throw UsageError("CUDA backend: device " + std::to_string(options.device) + " does not exist (" +
                       std::to_string(probe.count) + " found)");
    // Waits sleep rather than spin (the events are blocking too; an already initialised device
    // keeps its flags, which is fine).
    if (cudaInitDevice(options.device, cudaDeviceScheduleBlockingSync, 0) != cudaSuccess) cudaGetLastError();
    LAUEPROC_CUDA_CHECK(cudaSetDevice(options.device));
    cudaDeviceProp prop{};
    LAUEPROC_CUDA_CHECK(cudaGetDeviceProperties(&prop, options.device));
    name_ = "cuda:" + std::to_string(options.device) + " (" + prop.name + ")";
    std::size_t free_bytes = 0, total_bytes = 0;
    LAUEPROC_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    budget_ = static_cast<double>(free_bytes) * std::clamp(options.memory_share, 0.01, 0.95);
    batch_ = std::max<std::size_t>(1, options.batch);
    const int streams = std::max(1, options.streams);
    for (int s = 0; s < streams; ++s) slots_.push_back(std::make_unique<Slot>());
    pipeline_ = kernels::make_pipeline_config(config, taps_);
    if (!taps_.empty()) {
      d_taps_.allocate(taps_.size());
      LAUEPROC_CUDA_CHECK(cudaMemcpy(d_taps_.get(), taps_.data(), taps_.size() * sizeof(float), cudaMemcpyHostToDevice));
    }
    if (mask_) {  // the static mask: uploaded once
      d_mask_.allocate(mask_->pixels().size());
      LAUEPROC_CUDA_CHECK(cudaMemcpy(d_mask_.get(), mask_->pixels().data(), mask_->pixels().size(), cudaMemcpyHostToDevice));
    }
    if (options.device_decode && !DeviceDecoder::available())
      throw UsageError("CUDA backend: device decoding asked for, but this laueproc was built without nvCOMP");
    memory_ = options.frame_memory;
    if (!memory_ && options.pinned_bytes > 0) memory_ = make_pinned_frame_memory(options.pinned_bytes, options.device);
  }

  std::size_t preferred_batch() const override { return batch_; }
  std::string name() const override { return name_; }
  std::shared_ptr<FrameMemory> frame_memory() const override { return memory_; }
  bool accepts_encoded() const override { return options_.device_decode; }

  void analyze(const std::vector<const Frame*>& frames, std::vector<FrameAnalysis>& out) override {
    try {
      analyze_batch(frames, out);
    } catch (...) {
      // Queued copies may still read the caller's frames: wait for them before the frames go back
      // to the reader, and leave every slot idle for the next call.
      for (auto& slot : slots_) {
        log_cuda_error(cudaStreamSynchronize(slot->stream.get()), "cudaStreamSynchronize");
        slot->items.clear();
        slot->decoding = false;
      }
      throw;
    }
  }

 private:
  void analyze_batch(const std::vector<const Frame*>& frames, std::vector<FrameAnalysis>& out) {
    LAUEPROC_CUDA_CHECK(cudaSetDevice(options_.device));
    out.assign(frames.size(), FrameAnalysis{});
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const Frame& f = *frames[i];
      if (f.width <= 0 || f.height <= 0) {
        out[i].status = "empty frame";
        continue;
      }
      if (f.is_encoded() ? !options_.device_decode : !f.has_pixels())
        throw Error("CUDA backend: frame " + std::to_string(f.meta.index) +
                    (f.is_encoded() ? " is still compressed, but this analyzer was made without device decoding"
                                    : " carries no pixels") +
                    ": internal error");
      if (mask_ && (mask_->width() != f.width || mask_->height() != f.height)) {
        out[i] = cpu_.analyze(host_pixels(f, scratch_), f.meta.index);  // throws the CPU's InputError about the mask's shape
        continue;
      }
      order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::make_pair(frames[a]->width, frames[a]->height) < std::make_pair(frames[b]->width, frames[b]->height);
    });
    std::deque<Slot*> in_flight;  // launch order
    std::size_t pos = 0;
    while (pos < order.size()) {
      const int w = frames[order[pos]]->width, h = frames[order[pos]]->height;
      std::size_t end = pos;
      while (end < order.size() && frames[order[end]]->width == w && frames[order[end]]->height == h) ++end;
      while (pos < end) {
        Slot& slot = *slots_[next_slot_];
        next_slot_ = (next_slot_ + 1) % slots_.size();
        while (!slot.items.empty()) {  // busy: finish the oldest sub-batches up to it
          Slot* s = in_flight.front();
          in_flight.pop_front();
          finish(*s, out);
        }
        allocate(slot, w, h);
        const std::size_t take = std::min<std::size_t>(static_cast<std::size_t>(slot.capacity), end - pos);
        launch(slot, frames, order, pos, take);
        pos += take;
        in_flight.push_back(&slot);
      }
    }
    while (!in_flight.empty()) {
      Slot* s = in_flight.front();
      in_flight.pop_front();
      finish(*s, out);
    }
  }

  // Frames a slot may hold for w x h: the wanted share of the batch, cut to the memory budget.
  int capacity_for(int w, int h) const {
    const std::size_t want = (batch_ + slots_.size() - 1) / slots_.size();
    BatchView probe;
    probe.shape = kernels::make_batch_shape(w, h, 1, config_);
    probe.config = pipeline_;
    const double one = static_cast<double>(kernels::carve_batch(probe, nullptr));
    probe.shape.frames = 2;
    // Per frame: its arena share, the raw frame, and with device decoding its compressed bytes
    // and the LZ4 output (each at most about a frame).
    const double per_frame = static_cast<double>(kernels::carve_batch(probe, nullptr)) - one +
                             (options_.device_decode ? 6.0 : 2.0) * w * h;
    const double fixed = one + 2.0 * w * h - per_frame;
    const double per_slot = budget_ / static_cast<double>(slots_.size());
    const double fit = std::floor((per_slot - fixed) / per_frame);
    return static_cast<int>(std::max(1.0, std::min(static_cast<double>(want), fit)));
  }

  // Sizes the slot for w x h frames; on out-of-memory halves the batch (warning on stderr) and retries.
  void allocate(Slot& slot, int w, int h) {
    for (;;) {
      const int cap = capacity_for(w, h);
      if (slot.width == w && slot.height == h && slot.capacity == cap) return;
      try {
        slot.release();
        BatchView layout;
        layout.shape = kernels::make_batch_shape(w, h, cap, config_);
        layout.config = pipeline_;
        const std::size_t n = static_cast<std::size_t>(w) * h;
        slot.arena.allocate(kernels::carve_batch(layout, nullptr));
        slot.raw.allocate(n * static_cast<std::size_t>(cap));
        slot.h_state.allocate(static_cast<std::size_t>(cap));
        slot.h_total.allocate(1);
        slot.h_records.allocate(static_cast<std::size_t>(cap) * kRecordsFetchedPerFrame);
        if (options_.gaussian_fft && pipeline_.gaussian && !slot.fft) slot.fft = std::make_unique<kernels::GaussianFft>();
        slot.width = w;
        slot.height = h;
        slot.capacity = cap;
        return;
      } catch (const OutOfMemory& e) {
        slot.release();
        if (batch_ <= 1) throw;
        batch_ = std::max<std::size_t>(1, batch_ / 2);
        std::fprintf(stderr, "laueproc: warning: %s; CUDA batch halved to %zu frames\n", e.what(), batch_);
      }
    }
  }

  // Queues the upload (or device decoding) of `take` frames of order[pos..], the whole pipeline
  // and the copy-back. A frame in a pinned block goes up from there; a frame in ordinary memory
  // is first copied into the slot's pinned staging (the only per-pixel host work left, and only
  // for frames the reader could not put in pinned memory); a compressed frame goes to the
  // decoder, which uploads its chunk and decodes it into place.
  void launch(Slot& slot, const std::vector<const Frame*>& frames, const std::vector<std::size_t>& order,
              std::size_t pos, std::size_t take) {
    const int w = slot.width, h = slot.height;
    const std::size_t n = static_cast<std::size_t>(w) * h;
    const cudaStream_t s = slot.stream.get();
    slot.items.clear();
    encoded_.clear();
    encoded_at_.clear();
    for (std::size_t k = 0; k < take; ++k) {
      const Frame& frame = *frames[order[pos + k]];
      slot.items.push_back(Slot::Item{order[pos + k], &frame});
      std::uint16_t* dst = slot.raw.get() + k * n;
      if (frame.is_encoded()) {
        encoded_.push_back(&frame);
        encoded_at_.push_back(k * n * sizeof(std::uint16_t));
      } else if (frame.block && frame.block->page_locked()) {
        LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(dst, frame.pixel_data(), n * sizeof(std::uint16_t), cudaMemcpyHostToDevice, s));
      } else {
        if (slot.h_raw.size() < n * static_cast<std::size_t>(slot.capacity))
          slot.h_raw.allocate(n * static_cast<std::size_t>(slot.capacity));
        std::uint16_t* staged = slot.h_raw.get() + k * n;
        std::memcpy(staged, frame.pixel_data(), n * sizeof(std::uint16_t));
        LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(dst, staged, n * sizeof(std::uint16_t), cudaMemcpyHostToDevice, s));
      }
    }
    slot.decoding = !encoded_.empty();
    if (slot.decoding) {
      if (!slot.decoder) slot.decoder = std::make_unique<DeviceDecoder>();
      slot.decoder->enqueue(encoded_, encoded_at_, slot.raw.get(), s);
    }
    BatchView& v = slot.view;
    v = BatchView{};
    v.shape = kernels::make_batch_shape(w, h, static_cast<int>(take), config_);
    v.config = pipeline_;
    kernels::carve_batch(v, slot.arena.get());
    v.raw = slot.raw.get();
    v.static_mask = mask_ ? d_mask_.get() : nullptr;
    v.gauss_kernel = d_taps_.get();
    kernels::launch_batch(s, v, slot.fft.get());
    LAUEPROC_CUDA_CHECK(
        cudaMemcpyAsync(slot.h_state.get(), v.state, take * sizeof(FrameState), cudaMemcpyDeviceToHost, s));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_total.get(), v.peak_total, sizeof(int), cudaMemcpyDeviceToHost, s));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(slot.h_records.get(), v.peaks, take * kRecordsFetchedPerFrame * sizeof(PeakRecord),
                                        cudaMemcpyDeviceToHost, s));
    slot.done.record(s);
  }

  // Waits for the slot's copy-back (sleeping), then turns states and records into analyses.
  void finish(Slot& slot, std::vector<FrameAnalysis>& out) {
    if (slot.items.empty()) return;
    slot.done.synchronize();
    const int frames = static_cast<int>(slot.items.size());
    const int total = *slot.h_total.get();
    const PeakRecord* records = slot.h_records.get();
    const std::size_t fetched = static_cast<std::size_t>(frames) * kRecordsFetchedPerFrame;
    if (static_cast<std::size_t>(total) > fetched) {  // a busy sub-batch: the rest of its records
      extra_records_.reserve(static_cast<std::size_t>(total));
      LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(extra_records_.get(), slot.view.peaks, total * sizeof(PeakRecord),
                                          cudaMemcpyDeviceToHost, slot.stream.get()));
      slot.done.record(slot.stream.get());
      slot.done.synchronize();
      records = extra_records_.get();
    }
    kernels::group_records(records, total, frames, begin_, by_frame_);
    std::vector<std::string> decode_errors;
    if (slot.decoding) decode_errors = slot.decoder->finish();  // per compressed frame, in launch order
    std::size_t encoded_seen = 0;
    for (int f = 0; f < frames; ++f) {
      const Slot::Item& item = slot.items[static_cast<std::size_t>(f)];
      const Frame& frame = *item.frame;
      FrameAnalysis& fa = out[item.out_index];
      if (frame.is_encoded()) {
        const std::string& why = decode_errors.at(encoded_seen++);
        if (!why.empty()) {  // the chunk could not be decoded: the frame fails, the run goes on
          fa = FrameAnalysis{};
          fa.status = why;
          continue;
        }
      }
      const FrameState& state = slot.h_state[static_cast<std::size_t>(f)];
      std::uint16_t first = 0;  // a constant frame's background level is its value
      if (state.constant) {
        if (frame.is_encoded()) {  // decoded on the device only: one value back, on this slot's (idle) stream,
                                   // so the other slots in flight are not waited for as the default stream would
          LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(&first,
                                              slot.raw.get() + static_cast<std::size_t>(f) * slot.width * slot.height,
                                              sizeof first, cudaMemcpyDeviceToHost, slot.stream.get()));
          LAUEPROC_CUDA_CHECK(cudaStreamSynchronize(slot.stream.get()));
        } else
          first = frame.pixel_data()[0];
      }
      if (!kernels::frame_analysis_from_device(state, by_frame_.data() + begin_[f], begin_[f + 1] - begin_[f],
                                               frame.meta.index, first, fa))
        fa = cpu_.analyze(host_pixels(frame, scratch_), frame.meta.index);  // a device list overflowed: same answer
    }
    slot.items.clear();
    slot.decoding = false;
  }

  ProcessConfig config_;
  const BadPixelMask* mask_;
  CpuFrameAnalyzer cpu_;  // frames whose device lists overflowed
  CudaOptions options_;
  std::string name_;
  std::size_t batch_ = 1;
  double budget_ = 0;  // device bytes this analyzer may hold
  std::size_t next_slot_ = 0;
  std::vector<std::unique_ptr<Slot>> slots_;
  kernels::PipelineConfig pipeline_;
  std::vector<float> taps_;
  DeviceBuffer<float> d_taps_;
  DeviceBuffer<std::uint8_t> d_mask_;
  PinnedBuffer<PeakRecord> extra_records_;
  std::vector<int> begin_;
  std::vector<const PeakRecord*> by_frame_;
  std::shared_ptr<FrameMemory> memory_;    // pinned blocks the reader puts our frames in
  std::vector<const Frame*> encoded_;      // compressed frames of the sub-batch being launched
  std::vector<std::size_t> encoded_at_;    // where each goes in the slot's raw buffer (bytes)
  std::vector<std::uint16_t> scratch_;     // host pixels of a compressed frame the CPU must redo
};

}  // namespace

std::unique_ptr<BatchAnalyzer> make_cuda_analyzer(const ProcessConfig& config, const BadPixelMask* mask,
                                                  const CudaOptions& options) {
  return std::make_unique<CudaBatchAnalyzer>(config, mask, options);
}

}  // namespace laueproc::cuda
