// Device decoding of compressed frames (device_decode.hpp). Per batch: the host parses the
// chunk headers (io/decode.hpp), packs the compressed pieces at 8-byte-aligned offsets in pinned
// memory (nvCOMP wants aligned inputs; bitshuffle's LZ4 blocks follow 4-byte sizes), and builds
// the pointer tables; one upload; nvCOMP inflates every LZ4 block and every deflate stream of
// the batch in two batched calls; our kernels bit-unshuffle the blocks and checksum the inflated
// zlib chunks; statuses come back in one copy.
#include "cuda/device_decode.hpp"

#include <cstring>

#include "cuda/cuda_util.hpp"
#include "io/decode.hpp"
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

#ifndef LAUEPROC_HAVE_NVCOMP

struct DeviceDecoder::Impl {};
DeviceDecoder::DeviceDecoder() {
  throw Error("device decoding needs nvCOMP: rebuild with the nvCOMP wheel (scripts/setup.sh) and LAUEPROC_NVCOMP");
}
DeviceDecoder::~DeviceDecoder() = default;
std::vector<std::string> DeviceDecoder::decode(const std::vector<const Frame*>&, std::uint16_t*, cudaStream_t) {
  throw Error("device decoding needs nvCOMP");
}

#else

namespace {

constexpr std::size_t kAlign = 8;
std::size_t align_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

void check_nvcomp(nvcompStatus_t s, const char* what) {
  if (s != nvcompSuccess) throw Error(std::string("nvCOMP ") + what + " failed (status " + std::to_string(s) + ")");
}

// A device or pinned array that grows to the largest request and is then reused.
template <class Buffer>
void ensure(Buffer& b, std::size_t count) {
  if (b.size() < count) b = Buffer(count + count / 4);
}

}  // namespace

struct DeviceDecoder::Impl {
  // Host tables for one batch.
  std::vector<std::uint8_t> packed;                 // compressed pieces, 8-byte aligned
  std::vector<std::size_t> lz4_in, lz4_in_size, lz4_out, lz4_out_size;  // offsets into packed / shuffled
  std::vector<kernels::UnshuffleBlock> blocks;
  std::vector<std::size_t> lz4_frame;               // frame of each LZ4 block
  std::vector<std::size_t> zl_in, zl_in_size, zl_frame;
  std::vector<std::uint32_t> zl_adler;
  struct Leftover {
    std::size_t packed_offset, out_offset, bytes;
  };
  std::vector<Leftover> leftovers;
  std::vector<std::size_t> host_frames;             // frames copied as pixels (decoded on the host)

  PinnedBuffer<std::uint8_t> h_packed;
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

  std::size_t pack(const std::uint8_t* p, std::size_t n) {
    const std::size_t at = align_up(packed.size());
    packed.resize(at + n);
    if (n) std::memcpy(packed.data() + at, p, n);
    return at;
  }
};

DeviceDecoder::DeviceDecoder() : impl_(std::make_unique<Impl>()) {}
DeviceDecoder::~DeviceDecoder() = default;

std::vector<std::string> DeviceDecoder::decode(const std::vector<const Frame*>& frames, std::uint16_t* device_frames,
                                               cudaStream_t stream) {
  Impl& m = *impl_;
  std::vector<std::string> errors(frames.size());
  if (frames.empty()) return errors;
  const std::size_t pixels = static_cast<std::size_t>(frames[0]->width) * static_cast<std::size_t>(frames[0]->height);
  const std::size_t frame_bytes = pixels * 2;
  auto* out_bytes = reinterpret_cast<std::uint8_t*>(device_frames);
  m.packed.clear();
  m.lz4_in.clear(), m.lz4_in_size.clear(), m.lz4_out.clear(), m.lz4_out_size.clear(), m.lz4_frame.clear();
  m.blocks.clear(), m.leftovers.clear(), m.host_frames.clear();
  m.zl_in.clear(), m.zl_in_size.clear(), m.zl_frame.clear(), m.zl_adler.clear();

  // 1. Host: parse, pack, tables. A frame the device cannot take is decoded here and copied.
  std::vector<std::vector<std::uint16_t>> host_pixels(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Frame& f = *frames[i];
    const std::size_t base = i * frame_bytes;
    try {
      if (static_cast<std::size_t>(f.width) * static_cast<std::size_t>(f.height) != pixels)
        throw Error("frames of one batch must share one size");
      if (f.encoded.codec == EncodedFrame::Codec::bitshuffle_lz4) {
        const auto& b = f.encoded.bytes;
        const io::BitshuffleLayout L = io::parse_bitshuffle(b.data(), b.size(), 2, frame_bytes);
        bool fits = true;
        for (const auto& blk : L.blocks) fits &= blk.elems * 2 <= kernels::BitUnshuffleKernel::kMaxBlockBytes;
        if (!fits) {  // unusual block size: host decode
          host_pixels[i].resize(pixels);
          io::decode_bitshuffle_lz4(b.data(), b.size(), reinterpret_cast<std::uint8_t*>(host_pixels[i].data()),
                                    frame_bytes, 2);
          m.host_frames.push_back(i);
          continue;
        }
        for (const auto& blk : L.blocks) {
          m.lz4_in.push_back(m.pack(b.data() + blk.in_offset, blk.in_size));
          m.lz4_in_size.push_back(blk.in_size);
          m.lz4_out.push_back(base + blk.out_offset);
          m.lz4_out_size.push_back(blk.elems * 2);
          m.lz4_frame.push_back(i);
          m.blocks.push_back({base + blk.out_offset, base + blk.out_offset, static_cast<unsigned>(blk.elems), 2u});
        }
        if (L.leftover_bytes)
          m.leftovers.push_back({m.pack(b.data() + L.leftover_in_offset, L.leftover_bytes), base + L.leftover_out_offset,
                                 L.leftover_bytes});
      } else if (f.encoded.codec == EncodedFrame::Codec::zlib) {
        const auto& b = f.encoded.bytes;
        const io::ZlibFrame z = io::parse_zlib_frame(b.data(), b.size());
        m.zl_in.push_back(m.pack(b.data() + z.deflate_offset, z.deflate_size));
        m.zl_in_size.push_back(z.deflate_size);
        m.zl_frame.push_back(i);
        m.zl_adler.push_back(z.adler32);
      } else {
        if (f.pixels.size() != pixels) throw Error("frame has neither pixels nor an encoded chunk");
        m.host_frames.push_back(i);
      }
    } catch (const Error& e) {
      errors[i] = e.what();
    }
  }

  // 2. One upload of the packed compressed bytes.
  if (!m.packed.empty()) {
    ensure(m.h_packed, m.packed.size());
    ensure(m.d_packed, m.packed.size());
    std::memcpy(m.h_packed.get(), m.packed.data(), m.packed.size());
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_packed.get(), m.h_packed.get(), m.packed.size(), cudaMemcpyHostToDevice, stream));
  }
  const std::size_t nl = m.lz4_in.size(), nz = m.zl_in.size(), nt = nl + nz;
  // Pointer tables: [LZ4 in | zlib in | LZ4 out | zlib out], sizes [in | out-capacity | actual out].
  ensure(m.h_ptrs, 2 * nt + 1);
  ensure(m.d_ptrs, 2 * nt + 1);
  ensure(m.h_sizes, 3 * nt + 1);
  ensure(m.d_sizes, 3 * nt + 1);
  ensure(m.d_status, nt + 1);
  ensure(m.h_status, nt + 1);
  if (nl) ensure(m.d_shuffled, frames.size() * frame_bytes);
  for (std::size_t k = 0; k < nl; ++k) {
    m.h_ptrs.get()[k] = m.d_packed.get() + m.lz4_in[k];
    m.h_ptrs.get()[nt + k] = m.d_shuffled.get() + m.lz4_out[k];
    m.h_sizes.get()[k] = m.lz4_in_size[k];
    m.h_sizes.get()[nt + k] = m.lz4_out_size[k];
  }
  for (std::size_t k = 0; k < nz; ++k) {
    m.h_ptrs.get()[nl + k] = m.d_packed.get() + m.zl_in[k];
    m.h_ptrs.get()[nt + nl + k] = out_bytes + m.zl_frame[k] * frame_bytes;
    m.h_sizes.get()[nl + k] = m.zl_in_size[k];
    m.h_sizes.get()[nt + nl + k] = frame_bytes;
  }
  if (nt) {
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_ptrs.get(), m.h_ptrs.get(), 2 * nt * sizeof(void*), cudaMemcpyHostToDevice, stream));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_sizes.get(), m.h_sizes.get(), 2 * nt * sizeof(std::size_t),
                                        cudaMemcpyHostToDevice, stream));
  }
  void* const* d_in = m.d_ptrs.get();
  void* const* d_out = m.d_ptrs.get() + nt;
  const std::size_t* d_in_size = m.d_sizes.get();
  const std::size_t* d_out_cap = m.d_sizes.get() + nt;
  std::size_t* d_out_size = m.d_sizes.get() + 2 * nt;

  // 3. nvCOMP: every LZ4 block, then every deflate stream of the batch.
  if (nl) {
    std::size_t temp = 0;
    check_nvcomp(nvcompBatchedLZ4DecompressGetTempSize(nl, kernels::BitUnshuffleKernel::kMaxBlockBytes,
                                                       nvcompBatchedLZ4DecompressDefaultOpts, &temp,
                                                       frames.size() * frame_bytes, stream),
                 "LZ4 temp size");
    ensure(m.d_temp, temp + 1);
    check_nvcomp(nvcompBatchedLZ4DecompressAsync(d_in, d_in_size, d_out_cap, d_out_size, nl, m.d_temp.get(), temp,
                                                 d_out, nvcompBatchedLZ4DecompressDefaultOpts, m.d_status.get(), stream),
                 "batched LZ4 decompression");
    ensure(m.h_blocks, m.blocks.size());
    ensure(m.d_blocks, m.blocks.size());
    std::memcpy(m.h_blocks.get(), m.blocks.data(), m.blocks.size() * sizeof(kernels::UnshuffleBlock));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_blocks.get(), m.h_blocks.get(), m.blocks.size() * sizeof(kernels::UnshuffleBlock),
                                        cudaMemcpyHostToDevice, stream));
    kernels::launch_bit_unshuffle({m.d_shuffled.get(), out_bytes, m.d_blocks.get(), static_cast<unsigned>(m.blocks.size())},
                                  stream);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    for (const auto& l : m.leftovers)  // the last size % 8 elements, stored raw
      LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(out_bytes + l.out_offset, m.d_packed.get() + l.packed_offset, l.bytes,
                                          cudaMemcpyDeviceToDevice, stream));
  }
  if (nz) {
    std::size_t temp = 0;
    check_nvcomp(nvcompBatchedDeflateDecompressGetTempSize(nz, frame_bytes, nvcompBatchedDeflateDecompressDefaultOpts,
                                                           &temp, nz * frame_bytes, stream),
                 "Deflate temp size");
    ensure(m.d_temp, temp + 1);
    check_nvcomp(nvcompBatchedDeflateDecompressAsync(d_in + nl, d_in_size + nl, d_out_cap + nl, d_out_size + nl, nz,
                                                     m.d_temp.get(), temp, d_out + nl,
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
      m.h_adler_ptr.get()[k] = out_bytes + m.zl_frame[k] * frame_bytes;
      m.h_adler_size.get()[k] = frame_bytes;
    }
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_adler_ptr.get(), m.h_adler_ptr.get(), nz * sizeof(const std::uint8_t*),
                                        cudaMemcpyHostToDevice, stream));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.d_adler_size.get(), m.h_adler_size.get(), nz * sizeof(unsigned long long),
                                        cudaMemcpyHostToDevice, stream));
    kernels::launch_adler32({m.d_adler_ptr.get(), m.d_adler_size.get(), m.d_adler.get(), static_cast<unsigned>(nz)}, stream);
    LAUEPROC_CUDA_CHECK(cudaGetLastError());
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.h_adler.get(), m.d_adler.get(), nz * sizeof(std::uint32_t), cudaMemcpyDeviceToHost, stream));
  }
  // Frames that came as pixels (or were decoded on the host above).
  for (std::size_t i : m.host_frames) {
    const std::uint16_t* src = host_pixels[i].empty() ? frames[i]->pixels.data() : host_pixels[i].data();
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(out_bytes + i * frame_bytes, src, frame_bytes, cudaMemcpyHostToDevice, stream));
  }
  if (nt) {
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.h_status.get(), m.d_status.get(), nt * sizeof(nvcompStatus_t),
                                        cudaMemcpyDeviceToHost, stream));
    LAUEPROC_CUDA_CHECK(cudaMemcpyAsync(m.h_sizes.get() + 2 * nt, d_out_size, nt * sizeof(std::size_t),
                                        cudaMemcpyDeviceToHost, stream));
  }
  LAUEPROC_CUDA_CHECK(cudaStreamSynchronize(stream));  // host_pixels and the pinned tables are read until here

  // 4. Statuses: a block or stream that failed fails its frame.
  for (std::size_t k = 0; k < nt; ++k) {
    const std::size_t frame = k < nl ? m.lz4_frame[k] : m.zl_frame[k - nl];
    const std::size_t want = k < nl ? m.lz4_out_size[k] : frame_bytes;
    if (!errors[frame].empty()) continue;
    if (m.h_status.get()[k] != nvcompSuccess)
      errors[frame] = std::string(k < nl ? "corrupt LZ4 block" : "corrupt deflate stream") + " (nvCOMP status " +
                      std::to_string(m.h_status.get()[k]) + ")";
    else if (m.h_sizes.get()[2 * nt + k] != want)
      errors[frame] = "chunk decompresses to " + std::to_string(m.h_sizes.get()[2 * nt + k]) + " bytes on the device, expected " +
                      std::to_string(want);
    else if (k >= nl && m.h_adler.get()[k - nl] != m.zl_adler[k - nl])
      errors[frame] = "deflate chunk fails its Adler-32 check";
  }
  for (std::size_t i = 0; i < frames.size(); ++i)
    if (!errors[i].empty()) errors[i] = frames[i]->meta.source + ": frame " + std::to_string(frames[i]->meta.index) + ": " + errors[i];
  return errors;
}

#endif  // LAUEPROC_HAVE_NVCOMP

}  // namespace laueproc::cuda
