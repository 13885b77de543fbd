#pragma once
// The chunk decoders the chunk fuzz target compares. Each one gets the same stored chunk of one
// frame and either decodes it into uint16 pixels or reports an error; every decoder that
// succeeds must give the same pixels. To fuzz a new decoder (e.g. a bitshuffle/LZ4 decoder of
// its own, or a GPU one run on the CPU), add one entry to decoders().
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace laueproc::fuzz {

/// One stored chunk: a frame of ny x nx elements of `element_size` bytes (1, 2, 4 or 8; float
/// when `is_float`), written through `filters` (HDF5 ids, in pipeline order), and the HDF5 file
/// holding it as frame 0 of /entry/data/data (2 frames, one per chunk; frame 1 unwritten).
struct ChunkCase {
  int ny = 0, nx = 0;
  int element_size = 2;
  bool is_float = false;
  std::vector<unsigned> filters;
  std::vector<std::uint8_t> stored;
  std::string file;
};

struct Decoder {
  std::string name;
  /// True and `pixels` filled, or false and `error` set.
  std::function<bool(const ChunkCase&, std::vector<std::uint16_t>& pixels, std::string& error)> decode;
};

/// Decoders available in this build.
std::vector<Decoder> decoders();

}  // namespace laueproc::fuzz
