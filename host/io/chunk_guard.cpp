#include "io/chunk_guard.hpp"

#include <lz4.h>

#include <algorithm>
#include <climits>

#include "io/decode.hpp"
#include "io/lz4_check.hpp"

namespace laueproc::io {

namespace {

constexpr H5Z_filter_t kLz4 = 32004;

std::uint64_t be64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// One LZ4 block of `stored` bytes at `in` that must decode to exactly `size` bytes.
bool lz4_block_ok(const unsigned char* in, std::size_t stored, std::size_t size, std::vector<std::uint8_t>& out) {
  if (stored > INT_MAX || size > INT_MAX) return false;
  out.resize(std::max<std::size_t>(size, 1));
  const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in), reinterpret_cast<char*>(out.data()),
                                    static_cast<int>(stored), static_cast<int>(size));
  return n >= 0 && static_cast<std::size_t>(n) == size && lz4_offsets_valid(in, stored);
}

// The HDF5 LZ4 filter (32004, H5Zlz4.c): 8-byte big-endian decoded size, 4-byte block size, then
// per block a 4-byte compressed size and the LZ4 block, or the block as is when the sizes match.
std::string check_lz4(const unsigned char* c, std::size_t n, std::size_t expected, std::vector<std::uint8_t>& out) {
  if (n < 12) return "LZ4 chunk of " + std::to_string(n) + " bytes, shorter than its header";
  const std::uint64_t total = be64(c);
  if (total != expected)
    return "LZ4 chunk says it holds " + std::to_string(total) + " bytes, the chunk has " + std::to_string(expected);
  std::size_t block = be32(c + 8);
  if (block == 0) return "LZ4 chunk with blocks of 0 bytes";
  std::size_t pos = 12, done = 0;
  while (done < expected) {
    const std::size_t size = std::min(block, expected - done);
    if (n - pos < 4) return "LZ4 chunk cut short";
    const std::size_t stored = be32(c + pos);
    pos += 4;
    if (stored > n - pos) return "LZ4 block of " + std::to_string(stored) + " bytes runs past the chunk";
    if (stored != size && !lz4_block_ok(c + pos, stored, size, out)) return "damaged LZ4 block";
    pos += stored;
    done += size;
  }
  return {};
}

// Filters whose output has the size of their input: byte shuffle, bitshuffle without compression.
bool size_preserving(const FilterSpec& f) {
  return f.id == H5Z_FILTER_SHUFFLE ||
         (f.id == kBitshuffleFilter && (f.cd.size() <= 4 || f.cd[4] == kBitshuffleNoCompression));
}

// Decodes a chunk whose outermost filter is `outer` with laueproc's own decoders: they never
// read or write outside their buffers and throw unless the result has exactly `expected` bytes.
std::string decodes_to_size(const FilterSpec& outer, const std::uint8_t* c, std::size_t n, std::size_t expected,
                            std::size_t element_size, ChunkGuardScratch& s) {
  s.out.resize(std::max<std::size_t>(expected, 1));
  try {
    if (outer.id == H5Z_FILTER_DEFLATE) {
      decode_zlib(c, n, s.out.data(), expected);
    } else if (outer.id == kZstdFilter) {
      if (!have_zstd()) return {};
      decode_zstd(c, n, s.out.data(), expected);
    } else {  // bitshuffle with LZ4 or zstd
      const std::size_t elem = outer.cd.size() > 2 && outer.cd[2] > 0 ? outer.cd[2] : element_size;
      if (outer.cd[4] == kBitshuffleLz4) decode_bitshuffle_lz4(c, n, s.out.data(), expected, elem);
      else if (have_zstd()) decode_bitshuffle_zstd(c, n, s.out.data(), expected, elem);
    }
  } catch (const DecodeError& e) {
    return e.what();
  }
  return {};
}

// Checks one stored chunk against the filters active on it (`mask` bit i set: filter i skipped).
std::string check_chunk(hid_t ds, const hsize_t* offset, std::size_t expected, const std::vector<FilterSpec>& filters,
                        std::size_t element_size, ChunkGuardScratch& s) {
  unsigned mask = 0;
  haddr_t address = 0;
  hsize_t stored = 0;
  if (H5Dget_chunk_info_by_coord(ds, offset, &mask, &address, &stored) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return {};  // not allocated (read as fill values) or not locatable: HDF5 reports the latter itself
  }
  if (stored == 0 || address == HADDR_UNDEF) return {};
  std::vector<const FilterSpec*> active;
  for (std::size_t i = 0; i < filters.size(); ++i)
    if (!(mask & (1u << i))) active.push_back(&filters[i]);
  // The filter applied last on writing is undone first: all the others must keep the size.
  const bool inner_keep_size =
      active.empty() || std::all_of(active.begin(), active.end() - 1, [](const FilterSpec* f) { return size_preserving(*f); });
  if (!inner_keep_size) return {};
  if (active.empty() || size_preserving(*active.back())) {
    if (stored != expected)
      return "stored chunk of " + std::to_string(stored) + " bytes, expected " + std::to_string(expected);
    return {};
  }
  const FilterSpec& outer = *active.back();
  const bool bitshuffle_packed = outer.id == kBitshuffleFilter && outer.cd.size() > 4 &&
                                 (outer.cd[4] == kBitshuffleLz4 || outer.cd[4] == kBitshuffleZstd);
  if (outer.id != H5Z_FILTER_DEFLATE && outer.id != kZstdFilter && outer.id != kLz4 && !bitshuffle_packed) return {};
  if (stored > expected + expected / 8 + (1u << 16))
    return "stored chunk of " + std::to_string(stored) + " bytes, more than its " + std::to_string(expected) +
           " decoded bytes can take";
  s.raw.resize(stored);
  std::uint32_t read_mask = 0;
  if (H5Dread_chunk(ds, H5P_DEFAULT, offset, &read_mask, s.raw.data()) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return "cannot read a stored chunk";
  }
  if (outer.id == kLz4) return check_lz4(s.raw.data(), stored, expected, s.out);
  return decodes_to_size(outer, s.raw.data(), stored, expected, element_size, s);
}

}  // namespace

std::string check_chunks_for_hdf5(hid_t ds, const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk,
                                  const std::vector<FilterSpec>& filters, std::size_t element_size, std::int64_t frame,
                                  ChunkGuardScratch& scratch) {
  const std::size_t r = dims.size();
  if (chunk.size() != r || (r != 2 && r != 3)) return {};
  // The bitshuffle plugin divides by the element size its options hold: 0 in a damaged file
  // was a SIGFPE inside it (fuzz_h5_file); another size than the data's decodes nonsense.
  for (const FilterSpec& f : filters)
    if (f.id == kBitshuffleFilter && (f.cd.size() < 3 || f.cd[2] != element_size))
      return "bitshuffle filter options give " +
             (f.cd.size() < 3 ? std::string("no element size") : std::to_string(f.cd[2]) + "-byte elements") +
             ", the data has " + std::to_string(element_size) + "-byte elements (damaged filter options)";
  std::size_t expected = element_size;
  for (hsize_t c : chunk) {
    if (c == 0) return "chunk with a zero extent";
    expected *= c;
  }
  hsize_t offset[3] = {0, 0, 0};
  if (r == 3) offset[0] = static_cast<hsize_t>(frame) / chunk[0] * chunk[0];
  for (hsize_t y = 0; y < dims[r - 2]; y += chunk[r - 2])
    for (hsize_t x = 0; x < dims[r - 1]; x += chunk[r - 1]) {
      offset[r - 2] = y;
      offset[r - 1] = x;
      std::string why = check_chunk(ds, offset, expected, filters, element_size, scratch);
      if (!why.empty()) {
        std::string at;
        for (std::size_t i = 0; i < r; ++i) at += (i ? "," : "") + std::to_string(offset[i]);
        return why + " (chunk at " + at + ")";
      }
    }
  return {};
}

}  // namespace laueproc::io
