#pragma once
/// @file
/// @brief Checks the stored chunks of a frame before HDF5's own filter pipeline decodes them.
///
/// Why (found by tests/fuzz/fuzz_h5_file and fuzz_chunk_decoders): HDF5 1.10.8 trusts the size a
/// filter returns, so a chunk that decodes short is then read past its end; Debian's bitshuffle
/// and LZ4 filter plugins decode LZ4 with LZ4_decompress_fast, which trusts the stream and reads
/// and writes out of bounds on a damaged one, and allocate whatever size a chunk header claims.
/// A damaged file crashed laueproc there (a chunk stored short without any filter too). So,
/// before H5Dread reads a frame of a chunked dataset, every stored chunk it needs is checked: no
/// filter or byte shuffle: the stored size; gzip
/// (deflate): it inflates to exactly the chunk's size; bitshuffle + LZ4 (32008) and LZ4 (32004):
/// the header's size and every LZ4 block, decoded with the bounds-checked LZ4_decompress_safe.
/// Other filters (bzip2, zstd, blosc...) are passed on unchecked. laueproc's own whole-chunk
/// decoder (scan.cpp) checks as it decodes and needs none of this.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace laueproc::io {

/// One filter of a dataset's pipeline, as H5Pget_filter2 gives it.
struct FilterSpec {
  H5Z_filter_t id = 0;
  std::vector<unsigned> cd;  ///< client data (e.g. shuffle: element size; bitshuffle: version, element size, block, compression)
};

/// Scratch buffers reused between calls (a frame's chunk, a decoded block).
struct ChunkGuardScratch {
  std::vector<unsigned char> raw, out;
};

/// @brief Checks the chunks of `ds` (dims rank 2 or 3, chunk shape `chunk`, pipeline `filters`,
/// elements of `element_size` bytes) that hold frame `frame`. Returns "" when HDF5 may decode them,
/// else what is wrong with which chunk. Call with the HDF5 lock held.
std::string check_chunks_for_hdf5(hid_t ds, const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk,
                                  const std::vector<FilterSpec>& filters, std::size_t element_size, std::int64_t frame,
                                  ChunkGuardScratch& scratch);

}  // namespace laueproc::io
