#pragma once
/// @file
/// @brief The host half of device decoding (device_decode.hpp), kept free of CUDA calls so that CI
/// runs it on the CPU (tests/kernels/test_decode_plan.cpp executes a plan with liblz4, zlib and
/// the kernel bodies on the CPU grid executor, against the host decoders).
///
/// A plan says, for a batch of frames of one size (frame i decoded at i x frame_bytes of the
/// batch's frame buffer): which stored bytes go where in the device input buffer ("packed"), the
/// batched LZ4 blocks (into a "shuffled" buffer laid out like the frame buffer) and the
/// bit-unshuffle blocks that follow, the raw leftovers of bitshuffle chunks, the deflate streams
/// (inflated straight into the frame buffer) with their Adler-32, and the frames that the device
/// cannot take (decoded on the host) or that already carry pixels.
///
/// Alignment: nvCOMP wants each compressed input aligned (its GetRequiredAlignments). A deflate
/// stream starts 2 bytes into its zlib chunk, so the chunk is placed in "packed" such that the
/// stream is 8-byte aligned. LZ4 blocks follow 4-byte sizes inside the bitshuffle chunk: when
/// nvCOMP takes any alignment (nvCOMP 5-6 report 1) the chunk is uploaded whole and the blocks
/// are read in place; otherwise each block becomes its own aligned piece.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/decode.hpp"
#include "laueproc/error.hpp"
#include "laueproc/frame.hpp"
#include "unshuffle_body.cuh"

namespace laueproc::cuda {

struct DecodePlan {
  /// Bytes of frame `frame`'s stored chunk [src_offset, src_offset + size) to packed[packed_offset...].
  struct Piece {
    std::size_t frame, src_offset, size, packed_offset;
  };
  /// One LZ4 block: packed[in_offset, + in_size) inflates to shuffled[out_offset, + out_size).
  struct Lz4Block {
    std::size_t in_offset, in_size, out_offset, out_size, frame;
  };
  /// One deflate stream: packed[in_offset, + in_size) inflates to frames[out_offset, + frame_bytes).
  struct Inflate {
    std::size_t in_offset, in_size, out_offset, frame;
    std::uint32_t adler32;  ///< the zlib trailer's checksum of the inflated frame
  };
  /// Raw bytes (a bitshuffle chunk's last size % 8 elements): packed[from, + bytes) to frames[to, + bytes).
  struct Copy {
    std::size_t from, to, bytes;
  };
  std::size_t frame_bytes = 0;
  std::size_t out_bytes = 0;  ///< the frame buffer's extent used (the shuffled buffer's size)
  std::vector<Piece> pieces;
  std::size_t packed_bytes = 0;
  std::vector<Lz4Block> lz4;
  std::vector<kernels::UnshuffleBlock> unshuffle;  ///< shuffled[in_offset] -> frames[out_offset] (same offsets)
  std::vector<Copy> leftovers;
  std::vector<Inflate> inflate;
  std::vector<std::size_t> host_decode;  ///< encoded frames the device cannot take (unusual block size)
  std::vector<std::size_t> with_pixels;  ///< frames that carry pixels: uploaded as they are
  std::vector<std::size_t> out_offset;   ///< per frame: where it lands in the frame buffer (bytes)
  std::vector<std::string> errors;       ///< per frame: why it cannot be decoded (malformed chunk...), else empty
  bool bitshuffle = false;               ///< some LZ4 blocks: the shuffled buffer is needed
};

/// @brief Rounds `n` up to a multiple of `a` (a power of two, >= 1).
inline std::size_t align_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

/// @brief Plans the device decoding of `frames` (all of one size, frame_bytes = 2 x pixels):
/// frame i lands at byte out_offsets[i] of the frame buffer (empty: i x frame_bytes).
/// `lz4_alignment` / `deflate_alignment`: nvCOMP's input alignment for decompression (>= 1).
/// Frame-level problems (a malformed header, a frame of another size) land in `errors`, never
/// thrown: the caller fails that frame only.
inline DecodePlan plan_device_decode(const std::vector<const Frame*>& frames, std::size_t frame_bytes,
                                     const std::vector<std::size_t>& out_offsets, std::size_t lz4_alignment,
                                     std::size_t deflate_alignment) {
  constexpr std::size_t kPieceAlign = 8;  // every piece starts 8-byte aligned in packed
  DecodePlan plan;
  plan.frame_bytes = frame_bytes;
  plan.errors.assign(frames.size(), std::string());
  const std::size_t inflate_align = std::max<std::size_t>(kPieceAlign, deflate_alignment);
  const std::size_t lz4_align = std::max<std::size_t>(1, lz4_alignment);
  std::size_t end = 0;  // first free byte of packed
  auto place = [&](std::size_t frame, std::size_t src, std::size_t size, std::size_t payload, std::size_t align) {
    // packed_offset such that packed_offset + payload is a multiple of `align`
    const std::size_t at = align_up(end + payload, align) - payload;
    plan.pieces.push_back({frame, src, size, at});
    end = at + size;
    return at;
  };
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Frame& f = *frames[i];
    const std::size_t base = out_offsets.empty() ? i * frame_bytes : out_offsets.at(i);
    plan.out_bytes = std::max(plan.out_bytes, base + frame_bytes);
    plan.out_offset.push_back(base);
    try {
      if (f.pixel_count() * 2 != frame_bytes) throw Error("frames of one batch must share one size");
      const std::uint8_t* bytes = f.encoded_data();
      const std::size_t n = f.encoded_size();
      if (f.encoded.codec == EncodedFrame::Codec::bitshuffle_lz4) {
        const io::BitshuffleLayout L = io::parse_bitshuffle(bytes, n, 2, frame_bytes);
        bool fits = true;
        for (const auto& blk : L.blocks) fits = fits && blk.elems * 2 <= kernels::BitUnshuffleKernel::kMaxBlockBytes;
        if (!fits) {
          plan.host_decode.push_back(i);
          continue;
        }
        const bool in_place = lz4_align == 1;
        const std::size_t chunk_at = in_place ? place(i, 0, n, 0, kPieceAlign) : 0;
        for (const auto& blk : L.blocks) {
          const std::size_t in =
              in_place ? chunk_at + blk.in_offset : place(i, blk.in_offset, blk.in_size, 0, std::max(kPieceAlign, lz4_align));
          plan.lz4.push_back({in, blk.in_size, base + blk.out_offset, blk.elems * 2, i});
          plan.unshuffle.push_back(
              {base + blk.out_offset, base + blk.out_offset, static_cast<unsigned>(blk.elems), 2u});
        }
        if (L.leftover_bytes) {
          const std::size_t from = in_place ? chunk_at + L.leftover_in_offset
                                            : place(i, L.leftover_in_offset, L.leftover_bytes, 0, kPieceAlign);
          plan.leftovers.push_back({from, base + L.leftover_out_offset, L.leftover_bytes});
        }
        plan.bitshuffle = plan.bitshuffle || !L.blocks.empty();
      } else if (f.encoded.codec == EncodedFrame::Codec::zlib) {
        const io::ZlibFrame z = io::parse_zlib_frame(bytes, n);
        const std::size_t at = place(i, 0, n, z.deflate_offset, inflate_align);
        plan.inflate.push_back({at + z.deflate_offset, z.deflate_size, base, i, z.adler32});
      } else {
        if (!f.has_pixels()) throw Error("frame has neither pixels nor an encoded chunk");
        plan.with_pixels.push_back(i);
      }
    } catch (const Error& e) {  // DecodeError included: this frame fails, the batch goes on
      plan.errors[i] = e.what();  // thrown before any of its pieces or tasks were planned
    }
  }
  plan.packed_bytes = end;
  return plan;
}

}  // namespace laueproc::cuda
