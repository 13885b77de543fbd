// Fuzz target: the chunk decoders (gzip/deflate, byte shuffle, bitshuffle/LZ4 through HDF5's
// plugin, and no filter) on arbitrary stored chunks. The input chooses the filter pipeline, the
// element type and the frame size, and gives the stored bytes; they are written as frame 0 of a
// small, otherwise valid stack (H5Dwrite_chunk), which each decoder of decoders.hpp then reads.
// Every decoder must end in pixels or a laueproc::Error, never a crash; decoders that succeed
// must agree pixel for pixel (a differential check of laueproc's own decoder against HDF5's).
#include <hdf5.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common.hpp"
#include "decoders.hpp"
#include "io/chunk_reader.hpp"
#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "laueproc/io.hpp"

namespace laueproc::fuzz {

namespace {

constexpr unsigned kBitshuffle = 32008;

// Reads frame 0 through the scan reader with or without its own whole-chunk decoding.
bool read_with_reader(const ChunkCase& c, bool direct, std::vector<std::uint16_t>& pixels, std::string& error) {
  try {
    ScanOptions options;
    options.chunk_direct = direct;
    auto source = open_scan(c.file, options);
    Frame frame;
    source->read(0, frame);
    if (!frame.ok()) {
      error = frame.error;
      return false;
    }
    pixels = frame.pixels;
    return true;
  } catch (const Error& e) {
    error = e.what();
    return false;
  }
}

// Writes the case's file; false when HDF5 refuses the setup (not a finding).
bool write_case(const ChunkCase& c) {
  h5::init();
  hid_t type = H5T_NATIVE_UINT16;
  if (c.is_float) type = c.element_size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  else if (c.element_size == 1) type = H5T_NATIVE_UINT8;
  else if (c.element_size == 4) type = H5T_NATIVE_INT32;
  else if (c.element_size == 8) type = H5T_NATIVE_UINT64;
  h5::Handle file(H5Fcreate(c.file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) return false;
  h5::Handle group(H5Gcreate2(file, "/entry", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  h5::Handle data(H5Gcreate2(file, "/entry/data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  const hsize_t dims[3] = {2, static_cast<hsize_t>(c.ny), static_cast<hsize_t>(c.nx)};
  const hsize_t chunk[3] = {1, dims[1], dims[2]};
  h5::Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, 3, chunk);
  for (unsigned id : c.filters) {
    herr_t ok = 0;
    if (id == H5Z_FILTER_DEFLATE) ok = H5Pset_deflate(dcpl, 4);
    else if (id == H5Z_FILTER_SHUFFLE) ok = H5Pset_shuffle(dcpl);
    else if (id == kBitshuffle) {
      const unsigned cd[2] = {0, 2};  // automatic block size, LZ4
      ok = H5Pset_filter(dcpl, kBitshuffle, H5Z_FLAG_MANDATORY, 2, cd);
    }
    if (ok < 0) return false;
  }
  h5::Handle ds(H5Dcreate2(file, "/entry/data/data", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) return false;
  const hsize_t offset[3] = {0, 0, 0};
  if (!c.stored.empty() && H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset, c.stored.size(), c.stored.data()) < 0)
    return false;
  ds.reset();
  data.reset();
  group.reset();
  try {
    h5::close_file(file, c.file);
  } catch (const Error&) {
    return false;
  }
  return true;
}

// The decoders of io/decode.hpp called directly on the stored bytes (uint16 frames: the
// decoded bytes are the pixels).
bool decode_directly(const ChunkCase& c, std::vector<std::uint16_t>& pixels, std::string& error) {
  if (c.element_size != 2 || c.is_float) {
    error = "uint16 frames only";
    return false;
  }
  io::ChunkCodec codec;
  for (unsigned id : c.filters) {
    io::FilterSpec f{static_cast<H5Z_filter_t>(id), {}};
    if (id == kBitshuffle) f.cd = {0, 3, 2, 0, 2};  // version 0.3, 2-byte elements, default block, LZ4
    if (id == H5Z_FILTER_SHUFFLE) f.cd = {2};
    codec.filters.push_back(std::move(f));
  }
  codec.elem_size = 2;
  if (!codec.unsupported().empty()) {
    error = codec.unsupported();
    return false;
  }
  pixels.assign(static_cast<std::size_t>(c.ny) * static_cast<std::size_t>(c.nx), 0);
  std::vector<std::uint8_t> a, b;
  try {
    codec.decode(c.stored.data(), c.stored.size(), 0, reinterpret_cast<std::uint8_t*>(pixels.data()),
                 pixels.size() * 2, a, b);
  } catch (const Error& e) {
    error = e.what();
    return false;
  }
  return true;
}

}  // namespace

std::vector<Decoder> decoders() {
  return {
      {"laueproc chunk-direct reader",
       [](const ChunkCase& c, std::vector<std::uint16_t>& p, std::string& e) { return read_with_reader(c, true, p, e); }},
      {"HDF5 filter pipeline (H5Dread, after io/chunk_guard)",
       [](const ChunkCase& c, std::vector<std::uint16_t>& p, std::string& e) { return read_with_reader(c, false, p, e); }},
      {"io::ChunkCodec::decode on the stored bytes", decode_directly},
  };
}

}  // namespace laueproc::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace laueproc::fuzz;
  static const std::string path = [] {
    std::string p = temp_path("chunk.h5");
    remove_at_exit(p);
    return p;
  }();
  static const std::vector<Decoder> all = decoders();
  if (size < 4) return 0;
  static const std::vector<std::vector<unsigned>> pipelines = {
      {}, {H5Z_FILTER_DEFLATE}, {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE}, {H5Z_FILTER_SHUFFLE},
      {32008}, {H5Z_FILTER_DEFLATE, H5Z_FILTER_SHUFFLE}};
  struct Type {
    int size;
    bool is_float;
  };
  static const Type types[] = {{2, false}, {1, false}, {4, false}, {8, false}, {4, true}, {8, true}};
  ChunkCase c;
  c.filters = pipelines[data[0] % pipelines.size()];
  const Type t = types[data[1] % (sizeof types / sizeof types[0])];
  c.element_size = t.size;
  c.is_float = t.is_float;
  c.ny = data[2] % 32 + 1;
  c.nx = data[3] % 32 + 1;
  c.stored.assign(data + 4, data + size);
  c.file = path;
  if (!write_case(c)) return 0;

  std::vector<std::uint16_t> first;
  std::string first_name;
  for (const Decoder& d : all) {
    std::vector<std::uint16_t> pixels;
    std::string error;
    if (!d.decode(c, pixels, error)) continue;
    if (pixels.size() != static_cast<std::size_t>(c.ny) * static_cast<std::size_t>(c.nx)) {
      std::fprintf(stderr, "%s: %zu pixels for a %d x %d frame\n", d.name.c_str(), pixels.size(), c.ny, c.nx);
      std::abort();
    }
    if (first_name.empty()) {
      first = std::move(pixels);
      first_name = d.name;
    } else if (pixels != first) {
      std::size_t i = 0;
      while (pixels[i] == first[i]) ++i;
      std::fprintf(stderr, "decoders disagree: %s and %s differ first at pixel %zu (%u vs %u)\n", first_name.c_str(),
                   d.name.c_str(), i, static_cast<unsigned>(first[i]), static_cast<unsigned>(pixels[i]));
      std::abort();
    }
  }
  return 0;
}
