#pragma once
/// @file
/// @brief Checks the stored chunks of a frame before HDF5's own filter pipeline decodes them.
///
/// Frames are read chunk-direct when they can be (io/chunk_reader.hpp: laueproc's own decoders,
/// which check everything); the rest goes through H5Dread (--no-chunk-direct, non-native byte
/// order, filters laueproc does not decode, unwritten chunks). Why a check there (found by
/// tests/fuzz): HDF5 1.10.8 trusts the size a filter returns, so a chunk that decodes short, or
/// that was stored short without any filter, is read past its end; Debian's bitshuffle and LZ4
/// filter plugins decode LZ4 with LZ4_decompress_fast, which trusts the stream and reads and
/// writes out of bounds on a damaged one, and allocate whatever size a chunk header claims. A
/// damaged file crashed laueproc there. So before H5Dread reads a frame of a chunked dataset,
/// every stored chunk it needs is checked: no filter or byte shuffle: the stored size; deflate,
/// bitshuffle (LZ4, zstd), zstd: a decode with laueproc's own decoders (io/decode.hpp) must give
/// exactly the chunk's size; the LZ4 filter (32004): its header and every LZ4 block
/// (LZ4_decompress_safe); bitshuffle's options: the element size (0 crashed the plugin). Other
/// filters (bzip2, blosc...) are passed on unchecked.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/chunk_reader.hpp"  // FilterSpec

namespace laueproc::io {

/// Scratch buffers reused between calls (a stored chunk, its decoded bytes).
struct ChunkGuardScratch {
  std::vector<std::uint8_t> raw, out;
};

/// @brief Checks the chunks of `ds` (dims rank 2 or 3, chunk shape `chunk`, pipeline `filters`,
/// elements of `element_size` bytes) that hold frame `frame`. Returns "" when HDF5 may decode
/// them, else what is wrong with which chunk. Call with the HDF5 lock held.
std::string check_chunks_for_hdf5(hid_t ds, const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk,
                                  const std::vector<FilterSpec>& filters, std::size_t element_size, std::int64_t frame,
                                  ChunkGuardScratch& scratch);

}  // namespace laueproc::io
