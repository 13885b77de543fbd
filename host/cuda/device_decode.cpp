// Device decoding of compressed frames (device_decode.hpp). Per batch: the host plans it
// (decode_plan.hpp: chunk headers parsed, pieces placed in the device input buffer with the
// alignment nvCOMP asks for), uploads each chunk straight from its page-locked block (or through
// a pinned staging copy), then nvCOMP inflates every LZ4 block and every deflate stream of the
// batch in two batched calls, our kernels bit-unshuffle the blocks and checksum the inflated zlib
// chunks, and the statuses come back in one copy. Nothing waits: finish() reads the statuses once
// the caller has seen the stream pass.
#include "cuda/device_decode.hpp"

#include <algorithm>
#include <cstring>

#include "cuda/cuda_util.hpp"
#include "cuda/decode_plan.hpp"
#include "io/decode.hpp"
#include "laueproc/cuda.hpp"
#include "laueproc/error.hpp"
#include "unshuffle.cuh"

#ifdef LAUEPROC_HAVE_NVCOMP
#include <nvcomp/deflate.h>
#include <nvcomp/lz4.h>
#endif

namespace laueproc::cuda {

bool DeviceDecoder::available() {
#ifdef LAUEPROC_HAVE_NVCOMP
  return true;
#else
  return false;
#endif
}

bool device_decode_available() { return DeviceDecoder::available(); }

std::vector<std::string> DeviceDecoder::decode(const std::vector<const Frame*>& frames, std::uint16_t* device_frames,
                                               cudaStream_t stream) {
  enqueue(frames, {}, device_frames, stream);
  LAUEPROC_CUDA_CHECK(cudaStreamSynchronize(stream));
  return finish();
}

#ifndef LAUEPROC_HAVE_NVCOMP

struct DeviceDecoder::Impl {};
DeviceDecoder::DeviceDecoder() {
  throw Error("device decoding needs nvCOMP: rebuild with the nvCOMP wheel (scripts/setup.sh) and LAUEPROC_NVCOMP");
}
DeviceDecoder::~DeviceDecoder() = default;
void DeviceDecoder::enqueue(const std::vector<const Frame*>&, const std::vector<std::size_t>&, std::uint16_t*,
                            cudaStream_t) {
  throw Error("device decoding needs nvCOMP");
}
std::vector<std::string> DeviceDecoder::finish() { throw Error("device decoding needs nvCOMP"); }

#else

namespace {

void check_nvcomp(nvcompStatus_t s, const char* what) {
  if (s != nvcompSuccess) throw Error(std::string("nvCOMP ") + what + " failed (status " + std::to_string(s) + ")");
}

// A device or pinned array that grows to the largest request and is then reused. Only called
// when no queued work of this decoder still reads the old buffer (the caller's contract).
template <class Buffer>
void ensure(Buffer& b, std::size_t count) {
  if (b.size() < count) b = Buffer(count + count / 4);
}

bool in_page_locked_block(const Frame& f) { return f.block && f.block->page_locked(); }

}  // namespace

struct DeviceDecoder::Impl {
  std::size_t lz4_alignment = 1, deflate_alignment = 8;  // nvCOMP's input alignment for decompression
  DecodePlan plan;                                        // of the last enqueue(), for finish()
  std::vector<std::string> names;                         // "file: frame N" per frame of it

  PinnedBuffer<std::uint8_t> h_packed, h_host;  // staging: chunks in ordinary memory; host-decoded frames
  DeviceBuffer<std::uint8_t> d_packed, d_shuffled, d_temp;
  PinnedBuffer<void*> h_ptrs;
  PinnedBuffer<std::size_t> h_sizes;
  DeviceBuffer<void*> d_ptrs;
  DeviceBuffer<std::size_t> d_sizes;
  DeviceBuffer<nvcompStatus_t> d_status;
  PinnedBuffer<nvcompStatus_t> h_status;
  DeviceBuffer<kernels::UnshuffleBlock> d_blocks;
  PinnedBuffer<kernels::UnshuffleBlock> h_blocks;
  DeviceBuffer<std::uint32_t> d_adler;
  PinnedBuffer<std::uint32_t> h_adler;
  DeviceBuffer<unsigned long long> d_adler_size;
  PinnedBuffer<unsigned long long> h_adler_size;
  DeviceBuffer<const std::uint8_t*> d_adler_ptr;
  PinnedBuffer<const std::uint8_t*> h_adler_ptr;
};

DeviceDecoder::DeviceDecoder() : impl_(std::make_unique<Impl>()) {
  nvcompAlignmentRequirements_t a{};
  check_nvcomp(nvcompBatchedLZ4DecompressGetRequiredAlignments(nvcompBatchedLZ4DecompressDefaultOpts, &a),
               "LZ4 alignment query");
  impl_->lz4_alignment = std::max<std::size_t>(1, a.input);
  check_nvcomp(nvcompBatchedDeflateDecompressGetRequiredAlignments(nvcompBatchedDeflateDecompressDefaultOpts, &a),
               "Deflate alignment query");
  impl_->deflate_alignment = std::max<std::size_t>(8, a.input);
}
DeviceDecoder::~DeviceDecoder() = default;

void DeviceDecoder::enqueue(const std::vector<const Frame*>& frames, const std::vector<std::size_t>& out_offsets,
                            std::uint16_t* device_frames, cudaStream_t stream) {
  Impl& m = *impl_;
  m.plan = DecodePlan{};
  m.names.clear();
  if (frames.empty()) return;
  for (const Frame* f : frames) m.names.push_back(f->meta.source + ": frame " + std::to_string(f->meta.index));
  const std::size_t frame_bytes = frames[0]->pixel_count() * 2;
  m.plan = plan_device_decode(frames, frame_bytes, out_offsets, m.lz4_alignment, m.deflate_alignment);
  DecodePlan& P = m.plan;
  auto* out_bytes = reinterpret_cast<std::uint8_t*>(device_frames);

  // 1. The compressed bytes: a chunk in a page-locked block goes up from there (one copy, no host
  //    work); the rest is staged in pinned memory and uploaded in runs of neighbouring pieces.
  if (P.packed_bytes) {
    ensure(m.d_packed, P.packed_bytes);
    bool staged = false;
    for (const auto& piece : P.pieces) staged = staged || !(in_page_locked_block(*frames[piece.frame]) &&
                                                            piece.src_offset == 0 &&
                                                            piece.size == frames[piece.frame]->encoded_size());
    if (staged) ensure(m.h_packed, P.packed_bytes);
    std::size_t run_begin = 0, run_end = 0;  // staged bytes [run_begin, run_end) of packed not yet uploaded
    auto flush = [&] {
      if (run_end > run_begin)
        LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_packed.get() + run_begin, m.h_packed.get() + run_begin,
                                            run_end - run_begin, cudaMemcpyHostToDevice, stream));
      run_begin = run_end = 0;
    };
    for (const auto& piece : P.pieces) {
      const Frame& f = *frames[piece.frame];
      const std::uint8_t* src = f.encoded_data() + piece.src_offset;
      if (in_page_locked_block(f) && piece.src_offset == 0 && piece.size == f.encoded_size()) {
        flush();
        LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_packed.get() + piece.packed_offset, src, piece.size,
                                            cudaMemcpyHostToDevice, stream));
        continue;
      }
      std::memcpy(m.h_packed.get() + piece.packed_offset, src, piece.size);
      if (run_end == run_begin) run_begin = piece.packed_offset;
      run_end = piece.packed_offset + piece.size;  // the alignment gaps in between go up too: harmless
    }
    flush();
  }

  // 2. Frames the device cannot take are decoded here (into pinned staging); frames with pixels as they are.
  if (!P.host_decode.empty()) ensure(m.h_host, P.host_decode.size() * frame_bytes);
  for (std::size_t h = 0; h < P.host_decode.size(); ++h) {
    const std::size_t i = P.host_decode[h];
    std::uint8_t* staging = m.h_host.get() + h * frame_bytes;
    try {
      io::decode_bitshuffle_lz4(frames[i]->encoded_data(), frames[i]->encoded_size(), staging, frame_bytes, 2);
      LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(out_bytes + P.out_offset[i], staging, frame_bytes, cudaMemcpyHostToDevice, stream));
    } catch (const io::DecodeError& e) {
      P.errors[i] = e.what();
    }
  }
  for (std::size_t i : P.with_pixels)
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(out_bytes + P.out_offset[i], frames[i]->pixel_data(), frame_bytes,
                                        cudaMemcpyHostToDevice, stream));

  // 3. Pointer tables: [LZ4 in | deflate in | LZ4 out | deflate out], sizes [in | out capacity | actual out].
  const std::size_t nl = P.lz4.size(), nz = P.inflate.size(), nt = nl + nz;
  if (nt == 0) return;
  ensure(m.h_ptrs, 2 * nt);
  ensure(m.d_ptrs, 2 * nt);
  ensure(m.h_sizes, 3 * nt);
  ensure(m.d_sizes, 3 * nt);
  ensure(m.d_status, nt);
  ensure(m.h_status, nt);
  if (nl) ensure(m.d_shuffled, P.out_bytes);
  for (std::size_t k = 0; k < nl; ++k) {
    m.h_ptrs[k] = m.d_packed.get() + P.lz4[k].in_offset;
    m.h_ptrs[nt + k] = m.d_shuffled.get() + P.lz4[k].out_offset;
    m.h_sizes[k] = P.lz4[k].in_size;
    m.h_sizes[nt + k] = P.lz4[k].out_size;
  }
  for (std::size_t k = 0; k < nz; ++k) {
    m.h_ptrs[nl + k] = m.d_packed.get() + P.inflate[k].in_offset;
    m.h_ptrs[nt + nl + k] = out_bytes + P.inflate[k].out_offset;
    m.h_sizes[nl + k] = P.inflate[k].in_size;
    m.h_sizes[nt + nl + k] = frame_bytes;
  }
  LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_ptrs.get(), m.h_ptrs.get(), 2 * nt * sizeof(void*), cudaMemcpyHostToDevice, stream));
  LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_sizes.get(), m.h_sizes.get(), 2 * nt * sizeof(std::size_t),
                                      cudaMemcpyHostToDevice, stream));
  void* const* d_in = m.d_ptrs.get();
  void* const* d_out = m.d_ptrs.get() + nt;
  const std::size_t* d_in_size = m.d_sizes.get();
  const std::size_t* d_out_cap = m.d_sizes.get() + nt;
  std::size_t* d_out_size = m.d_sizes.get() + 2 * nt;

  // 4. nvCOMP's scratch for both calls, sized before either is queued (growing it later would
  //    free memory a queued call still uses).
  std::size_t temp_lz4 = 0, temp_deflate = 0;
  if (nl)
    check_nvcomp(nvcompBatchedLZ4DecompressGetTempSize(nl, kernels::BitUnshuffleKernel::kMaxBlockBytes,
                                                       nvcompBatchedLZ4DecompressDefaultOpts, &temp_lz4, P.out_bytes,
                                                       stream),
                 "LZ4 temp size");
  if (nz)
    check_nvcomp(nvcompBatchedDeflateDecompressGetTempSize(nz, frame_bytes, nvcompBatchedDeflateDecompressDefaultOpts,
                                                           &temp_deflate, nz * frame_bytes, stream),
                 "Deflate temp size");
  ensure(m.d_temp, std::max(temp_lz4, temp_deflate) + 1);

  // 5. Every LZ4 block of the batch, the bit-unshuffle, the raw leftovers.
  if (nl) {
    check_nvcomp(nvcompBatchedLZ4DecompressAsync(d_in, d_in_size, d_out_cap, d_out_size, nl, m.d_temp.get(), temp_lz4,
                                                 d_out, nvcompBatchedLZ4DecompressDefaultOpts, m.d_status.get(), stream),
                 "batched LZ4 decompression");
    ensure(m.h_blocks, P.unshuffle.size());
    ensure(m.d_blocks, P.unshuffle.size());
    std::memcpy(m.h_blocks.get(), P.unshuffle.data(), P.unshuffle.size() * sizeof(kernels::UnshuffleBlock));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_blocks.get(), m.h_blocks.get(),
                                        P.unshuffle.size() * sizeof(kernels::UnshuffleBlock), cudaMemcpyHostToDevice, stream));
    kernels::launch_bit_unshuffle(
        {m.d_shuffled.get(), out_bytes, m.d_blocks.get(), static_cast<unsigned>(P.unshuffle.size())}, stream);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
  }
  for (const auto& l : P.leftovers)  // the last size % 8 elements of a bitshuffle chunk, stored raw
    LAUEPROC_CUDA_CHECK(
        cudaMemcpyAsync(out_bytes + l.to, m.d_packed.get() + l.from, l.bytes, cudaMemcpyDeviceToDevice, stream));

  // 6. Every deflate stream of the batch, then its Adler-32.
  if (nz) {
    check_nvcomp(nvcompBatchedDeflateDecompressAsync(d_in + nl, d_in_size + nl, d_out_cap + nl, d_out_size + nl, nz,
                                                     m.d_temp.get(), temp_deflate, d_out + nl,
                                                     nvcompBatchedDeflateDecompressDefaultOpts, m.d_status.get() + nl,
                                                     stream),
                 "batched Deflate decompression");
    ensure(m.h_adler_ptr, nz);
    ensure(m.d_adler_ptr, nz);
    ensure(m.h_adler_size, nz);
    ensure(m.d_adler_size, nz);
    ensure(m.h_adler, nz);
    ensure(m.d_adler, nz);
    for (std::size_t k = 0; k < nz; ++k) {
      m.h_adler_ptr[k] = out_bytes + P.inflate[k].out_offset;
      m.h_adler_size[k] = frame_bytes;
    }
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_adler_ptr.get(), m.h_adler_ptr.get(), nz * sizeof(const std::uint8_t*),
                                        cudaMemcpyHostToDevice, stream));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_adler_size.get(), m.h_adler_size.get(), nz * sizeof(unsigned long long),
                                        cudaMemcpyHostToDevice, stream));
    kernels::launch_adler32({m.d_adler_ptr.get(), m.d_adler_size.get(), m.d_adler.get(), static_cast<unsigned>(nz)}, stream);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.h_adler.get(), m.d_adler.get(), nz * sizeof(std::uint32_t), cudaMemcpyDeviceToHost, stream));
  }
  // 7. Statuses and inflated sizes come back with the rest of the stream's copies.
  LAUEPROC_CUDA_CHECK(
      cudaMemcpyAsync(m.h_status.get(), m.d_status.get(), nt * sizeof(nvcompStatus_t), cudaMemcpyDeviceToHost, stream));
  LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.h_sizes.get() + 2 * nt, d_out_size, nt * sizeof(std::size_t),
                                      cudaMemcpyDeviceToHost, stream));
}

std::vector<std::string> DeviceDecoder::finish() {
  Impl& m = *impl_;
  const DecodePlan& P = m.plan;
  std::vector<std::string> errors = P.errors;
  const std::size_t nl = P.lz4.size(), nz = P.inflate.size(), nt = nl + nz;
  // A block or stream that failed fails its frame.
  for (std::size_t k = 0; k < nt; ++k) {
    const std::size_t frame = k < nl ? P.lz4[k].frame : P.inflate[k - nl].frame;
    const std::size_t want = k < nl ? P.lz4[k].out_size : P.frame_bytes;
    if (!errors[frame].empty()) continue;
    if (m.h_status[k] != nvcompSuccess)
      errors[frame] = std::string(k < nl ? "corrupt LZ4 block" : "corrupt deflate stream") + " (nvCOMP status " +
                      std::to_string(m.h_status[k]) + ")";
    else if (m.h_sizes[2 * nt + k] != want)
      errors[frame] = "chunk decompresses to " + std::to_string(m.h_sizes[2 * nt + k]) +
                      " bytes on the device, expected " + std::to_string(want);
    else if (k >= nl && m.h_adler[k - nl] != P.inflate[k - nl].adler32)
      errors[frame] = "deflate chunk fails its Adler-32 check";
  }
  for (std::size_t i = 0; i < errors.size(); ++i)
    if (!errors[i].empty()) errors[i] = m.names[i] + ": " + errors[i];
  return errors;
}

#endif  // LAUEPROC_HAVE_NVCOMP

}  // namespace laueproc::cuda
