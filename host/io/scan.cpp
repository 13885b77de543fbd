// Frame sources: HDF5 stacks (NeXus style) and APS 34-ID-E per-frame files.
//
// Reading a frame: chunk-direct when the layout and filters allow it (io/chunk_reader.hpp: chunks
// located under the HDF5 lock, read with pread and decoded outside it, any chunk shape, deflate,
// shuffle, bitshuffle/LZ4, zstd); otherwise H5Dread reads a one-frame hyperslab (any filter HDF5
// can load). Non-uint16 data is converted with clipping.
//
// Threading: HDF5 1.10 (Debian serial build) is not thread-safe. Every HDF5 call here runs
// under h5::library_mutex(). read() may be called from several threads at once: each call takes
// a reader state (scratch buffers, the open per-frame file) from a pool.
#include <glob.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "io/chunk_guard.hpp"
#include "io/chunk_reader.hpp"
#include "io/decode.hpp"
#include "io/h5.hpp"
#include "io/scan.hpp"

namespace laueproc {
namespace io {
namespace {

namespace fs = std::filesystem;
using Lock = std::lock_guard<std::mutex>;

// ---- element types -----------------------------------------------------------------------

enum class Dtype { u8, i8, u16, i16, u32, i32, u64, i64, f32, f64 };

const char* dtype_name(Dtype t) {
  switch (t) {
    case Dtype::u8: return "uint8";
    case Dtype::i8: return "int8";
    case Dtype::u16: return "uint16";
    case Dtype::i16: return "int16";
    case Dtype::u32: return "uint32";
    case Dtype::i32: return "int32";
    case Dtype::u64: return "uint64";
    case Dtype::i64: return "int64";
    case Dtype::f32: return "float32";
    case Dtype::f64: return "float64";
  }
  return "?";
}

hid_t native_type(Dtype t) {
  switch (t) {
    case Dtype::u8: return H5T_NATIVE_UINT8;
    case Dtype::i8: return H5T_NATIVE_INT8;
    case Dtype::u16: return H5T_NATIVE_UINT16;
    case Dtype::i16: return H5T_NATIVE_INT16;
    case Dtype::u32: return H5T_NATIVE_UINT32;
    case Dtype::i32: return H5T_NATIVE_INT32;
    case Dtype::u64: return H5T_NATIVE_UINT64;
    case Dtype::i64: return H5T_NATIVE_INT64;
    case Dtype::f32: return H5T_NATIVE_FLOAT;
    case Dtype::f64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_UINT16;
}

std::size_t dtype_size(Dtype t) {
  switch (t) {
    case Dtype::u8: case Dtype::i8: return 1;
    case Dtype::u16: case Dtype::i16: return 2;
    case Dtype::u32: case Dtype::i32: case Dtype::f32: return 4;
    case Dtype::u64: case Dtype::i64: case Dtype::f64: return 8;
  }
  return 2;
}

std::string describe_type(hid_t type) {
  std::size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(8 * size);
    case H5T_FLOAT: return "float" + std::to_string(8 * size);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    case H5T_TIME: return "time";
    default: return "unknown";
  }
}

Dtype classify(hid_t type, const std::string& file, const std::string& path) {
  std::size_t size = H5Tget_size(type);
  H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_INTEGER) {
    bool is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
    switch (size) {
      case 1: return is_signed ? Dtype::i8 : Dtype::u8;
      case 2: return is_signed ? Dtype::i16 : Dtype::u16;
      case 4: return is_signed ? Dtype::i32 : Dtype::u32;
      case 8: return is_signed ? Dtype::i64 : Dtype::u64;
      default: break;
    }
  } else if (cls == H5T_FLOAT) {
    if (size == 4) return Dtype::f32;
    if (size == 8) return Dtype::f64;
  }
  throw InputError(file, "unsupported dtype " + describe_type(type) + " in " + path);
}

// Largest frame read: 2^28 pixels (16384 x 16384, 512 MiB as uint16, 2 GiB as float64).
constexpr hsize_t kMaxFramePixels = hsize_t{1} << 28;

struct Counters {
  std::atomic<std::uint64_t> clipped{0};  // values outside [0, 65535]
  std::atomic<std::uint64_t> nan{0};      // NaN set to 0
};

// Converts to uint16 with clipping to [0, 65535]; floats round half up, NaN -> 0.
template <typename T>
void to_u16(const T* in, std::size_t n, std::uint16_t* out, Counters& counters) {
  std::uint64_t clipped = 0, nan = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const T v = in[i];
    if constexpr (std::is_floating_point_v<T>) {
      if (v >= T(0) && v <= T(65535)) {
        out[i] = static_cast<std::uint16_t>(std::min(v + T(0.5), T(65535)));
      } else if (v > T(65535)) {
        out[i] = 65535;
        ++clipped;
      } else {
        out[i] = 0;
        if (std::isnan(v)) ++nan; else ++clipped;
      }
    } else {
      if constexpr (std::is_signed_v<T>) {
        if (v < 0) {
          out[i] = 0;
          ++clipped;
          continue;
        }
      }
      if (static_cast<std::uint64_t>(v) > 65535u) {
        out[i] = 65535;
        ++clipped;
      } else {
        out[i] = static_cast<std::uint16_t>(v);
      }
    }
  }
  if (clipped) counters.clipped += clipped;
  if (nan) counters.nan += nan;
}

void convert(Dtype t, const void* in, std::size_t n, std::uint16_t* out, Counters& c) {
  switch (t) {
    case Dtype::u8: to_u16(static_cast<const std::uint8_t*>(in), n, out, c); break;
    case Dtype::i8: to_u16(static_cast<const std::int8_t*>(in), n, out, c); break;
    case Dtype::u16: std::memcpy(out, in, n * 2); break;
    case Dtype::i16: to_u16(static_cast<const std::int16_t*>(in), n, out, c); break;
    case Dtype::u32: to_u16(static_cast<const std::uint32_t*>(in), n, out, c); break;
    case Dtype::i32: to_u16(static_cast<const std::int32_t*>(in), n, out, c); break;
    case Dtype::u64: to_u16(static_cast<const std::uint64_t*>(in), n, out, c); break;
    case Dtype::i64: to_u16(static_cast<const std::int64_t*>(in), n, out, c); break;
    case Dtype::f32: to_u16(static_cast<const float*>(in), n, out, c); break;
    case Dtype::f64: to_u16(static_cast<const double*>(in), n, out, c); break;
  }
}

// ---- one image dataset ---------------------------------------------------------------------

struct FrameDataset {
  std::string file;
  std::string path;
  h5::Handle ds;
  h5::Handle mem_space;           // ny x nx
  std::vector<hsize_t> dims;      // rank 2 (one image) or 3 (frames, ny, nx)
  Dtype dtype = Dtype::u16;
  std::int64_t frames = 0;
  int height = 0;
  int width = 0;
  std::vector<hsize_t> chunk;     // empty when not chunked
  std::vector<FilterSpec> filters;  // in pipeline (write) order
  std::shared_ptr<const ChunkReader> chunks;  // set when frames are read chunk-direct
  std::int64_t checked_chunks = -1;  // frame-axis chunk whose stored chunks chunk_guard passed (HDF5 lock)

  std::size_t pixels() const { return static_cast<std::size_t>(width) * static_cast<std::size_t>(height); }
  std::size_t frame_bytes() const { return pixels() * dtype_size(dtype); }
};

// Call with the HDF5 lock held.
FrameDataset open_frame_dataset(hid_t f, const std::string& file, const std::string& path, bool want_direct,
                                Inflater inflater = Inflater::fastest) {
  FrameDataset d;
  d.file = file;
  d.path = path;
  d.ds = h5::open_dataset(f, path, file);
  h5::Handle type = h5::wrap(H5Dget_type(d.ds), H5Tclose, file, "cannot read the type of " + path);
  d.dtype = classify(type, file, path);
  const bool native_order = dtype_size(d.dtype) == 1 || H5Tget_order(type) == H5Tget_order(native_type(d.dtype));
  d.dims = h5::shape(d.ds, file, path);
  if (d.dims.size() != 2 && d.dims.size() != 3)
    throw InputError(file, path + " has rank " + std::to_string(d.dims.size()) +
                               ", expected 2 (one image) or 3 (frames x rows x columns)");
  const std::size_t r = d.dims.size();
  const hsize_t ny = d.dims[r - 2], nx = d.dims[r - 1];
  if (ny == 0 || nx == 0 || ny > static_cast<hsize_t>(INT_MAX) || nx > static_cast<hsize_t>(INT_MAX))
    throw InputError(file, path + " has an unusable frame size " + std::to_string(ny) + " x " + std::to_string(nx));
  if (ny > kMaxFramePixels / nx)  // checked before any buffer is sized from a (maybe damaged) header
    throw InputError(file, path + " has frames of " + std::to_string(ny) + " x " + std::to_string(nx) +
                               " pixels, more than laueproc reads (" + std::to_string(kMaxFramePixels) + " pixels)");
  d.height = static_cast<int>(ny);
  d.width = static_cast<int>(nx);
  d.frames = r == 3 ? static_cast<std::int64_t>(d.dims[0]) : 1;
  if (d.frames == 0) throw InputError(file, path + " holds no frames");

  h5::Handle dcpl = h5::wrap(H5Dget_create_plist(d.ds), H5Pclose, file, "cannot read the layout of " + path);
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_COMPACT) {
    // HDF5 1.10.8 copies a compact dataset's shape's worth of bytes out of its stored data,
    // trusting the size the file records: a damaged (short) one is read past its end.
    hsize_t expect = H5Tget_size(type);
    for (const hsize_t n : d.dims) expect *= n;
    const hsize_t stored = H5Dget_storage_size(d.ds);
    if (stored != expect)
      throw InputError(file, path + " is a compact dataset of " + std::to_string(stored) + " stored bytes, but its shape needs " +
                                 std::to_string(expect) + " (damaged file)");
  }
  if (layout == H5D_CHUNKED) {
    d.chunk.resize(r);
    if (H5Pget_chunk(dcpl, static_cast<int>(r), d.chunk.data()) < 0)
      throw InputError(file, "cannot read the chunk shape of " + path + " (" + h5::last_error() + ")");
  }
  int nfilters = H5Pget_nfilters(dcpl);
  if (nfilters < 0) throw InputError(file, "cannot read the filters of " + path);
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t n = 16;
    std::vector<unsigned> cd(n);
    char name[64] = {};
    H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &n, cd.data(), sizeof name, name, &config);
    if (id < 0) throw InputError(file, "cannot read filter " + std::to_string(i) + " of " + path);
    cd.resize(std::min<std::size_t>(n, 16));
    d.filters.push_back(FilterSpec{id, std::move(cd)});
  }
  if (want_direct) {
    ChunkCodec codec;
    codec.filters = d.filters;
    codec.elem_size = dtype_size(d.dtype);
    codec.inflater = inflater;
    d.chunks = ChunkReader::plan(d.ds, file, path, d.dims, std::move(codec), native_order, nullptr);
  }
  hsize_t mdims[2] = {ny, nx};
  d.mem_space = h5::wrap(H5Screate_simple(2, mdims, nullptr), H5Sclose, file, "cannot create a dataspace");
  return d;
}

struct Scratch {
  std::vector<unsigned char> typed;  // frame as stored when it is not uint16
  ChunkScratch chunk;
  ChunkGuardScratch guard;
};

void read_frame_hyperslab(FrameDataset& d, std::int64_t k, std::uint16_t* out, Scratch& s, Counters& c) {
  const bool to_out = d.dtype == Dtype::u16;
  if (!to_out) s.typed.resize(d.frame_bytes());
  {
    Lock lock(h5::library_mutex());
    // Chunks HDF5's filters will decode are checked first (io/chunk_guard.hpp: a damaged one
    // crashed inside HDF5 or a filter plugin).
    const std::int64_t chunk_row = d.dims.size() == 3 && !d.chunk.empty() ? k / static_cast<std::int64_t>(d.chunk[0]) : 0;
    if (!d.chunk.empty() && chunk_row != d.checked_chunks) {
      std::string why = check_chunks_for_hdf5(d.ds, d.dims, d.chunk, d.filters, dtype_size(d.dtype), k, s.guard);
      if (!why.empty()) throw InputError(d.file, d.path + " frame " + std::to_string(k) + ": " + why);
      d.checked_chunks = chunk_row;
    }
    h5::Handle space = h5::wrap(H5Dget_space(d.ds), H5Sclose, d.file, "cannot read the dataspace of " + d.path);
    hsize_t start[3] = {0, 0, 0};
    hsize_t count[3] = {1, 1, 1};
    const std::size_t r = d.dims.size();
    if (r == 3) start[0] = static_cast<hsize_t>(k);
    count[r - 2] = static_cast<hsize_t>(d.height);
    count[r - 1] = static_cast<hsize_t>(d.width);
    h5::check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr), d.file,
              "cannot select frame " + std::to_string(k) + " of " + d.path);
    void* dst = to_out ? static_cast<void*>(out) : static_cast<void*>(s.typed.data());
    h5::check(H5Dread(d.ds, native_type(d.dtype), d.mem_space, space, H5P_DEFAULT, dst), d.file,
              "cannot read " + d.path + " frame " + std::to_string(k));
  }
  if (!to_out) convert(d.dtype, s.typed.data(), d.pixels(), out, c);
}

void read_frame(FrameDataset& d, std::int64_t k, std::uint16_t* out, Scratch& s, Counters& c) {
  if (d.chunks) {
    const bool to_out = d.dtype == Dtype::u16;  // decode straight into the frame buffer
    if (!to_out) s.typed.resize(d.frame_bytes());
    unsigned char* typed = to_out ? reinterpret_cast<unsigned char*>(out) : s.typed.data();
    if (d.chunks->read_frame(k, typed, s.chunk)) {
      if (!to_out) convert(d.dtype, typed, d.pixels(), out, c);
      return;
    }
  }
  read_frame_hyperslab(d, k, out, s, c);  // not chunk-direct, or a chunk never written (fill value)
}

// The codec a device decoder can take the frames' chunks in, or none (then they are decoded
// here); `why` says why not.
EncodedFrame::Codec device_codec(const FrameDataset& d, std::string* why = nullptr) {
  auto no = [why](const char* reason) {
    if (why) *why = reason;
    return EncodedFrame::Codec::none;
  };
  if (d.chunk.empty()) return no("not chunked");
  if (!d.chunks) return no("not read chunk-direct");
  if (d.dtype != Dtype::u16) return no("not uint16");
  if (!d.chunks->one_chunk_per_frame()) return no("not one chunk per frame");
  if (d.filters.size() != 1) return no(d.filters.empty() ? "not compressed" : "more than one filter");
  const FilterSpec& f = d.filters[0];
  if (f.id == H5Z_FILTER_DEFLATE) return EncodedFrame::Codec::zlib;
  if (f.id == kBitshuffleFilter && f.cd.size() > 4 && f.cd[4] == kBitshuffleLz4 && (f.cd[2] == 2 || f.cd[2] == 0))
    return EncodedFrame::Codec::bitshuffle_lz4;
  return no("filter other than deflate or bitshuffle/LZ4");
}

// Reads frame k: still compressed (the stored chunk) when `keep_encoded` and the device can
// decode it, else decoded into pixels; either lands in the frame's lent block when it has memory
// to borrow from (Frame::prepare_*), so a pinned destination needs no copy afterwards.
void read_frame_into(FrameDataset& d, std::int64_t k, Frame& out, bool keep_encoded, Scratch& s, Counters& c) {
  if (keep_encoded) {
    const EncodedFrame::Codec codec = device_codec(d);
    std::uint32_t mask = 0;
    if (codec != EncodedFrame::Codec::none &&
        d.chunks->read_stored_chunk(k, [&](std::size_t n) { return out.prepare_encoded(codec, n); }, mask) &&
        mask == 0)
      return;
  }
  read_frame(d, k, out.prepare_pixels(), s, c);
}

// Any numeric dataset (scalar or array) as doubles; empty when absent; at most `max_values`
// (checked before reading: the size comes from a maybe damaged header). Call with the lock held.
std::vector<double> read_numbers(hid_t f, const std::string& path, const std::string& file,
                                 hsize_t max_values = h5::kMaxVectorValues) {
  if (!h5::exists(f, path)) return {};
  h5::Handle ds = h5::open_dataset(f, path, file);
  h5::Handle type = h5::wrap(H5Dget_type(ds), H5Tclose, file, "cannot read the type of " + path);
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw InputError(file, path + " is not numeric");
  h5::Handle space = h5::wrap(H5Dget_space(ds), H5Sclose, file, "cannot read the dataspace of " + path);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) throw InputError(file, "cannot read the size of " + path);
  if (static_cast<hsize_t>(n) > max_values)
    throw InputError(file, path + " holds " + std::to_string(n) + " values, more than the " +
                               std::to_string(max_values) + " expected");
  std::vector<double> values(static_cast<std::size_t>(n));
  if (n > 0)
    h5::check(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), file, "cannot read " + path);
  return values;
}

void fill_info_from(ScanInfo& info, const FrameDataset& d) {
  info.dataset = d.path;
  info.height = d.height;
  info.width = d.width;
  info.dtype = dtype_name(d.dtype);
  info.chunk.assign(d.chunk.begin(), d.chunk.end());
  info.filters.clear();
  for (const auto& f : d.filters) info.filters.push_back(filter_label(f.id));
  info.chunk_direct = d.chunks != nullptr;
  std::string why;
  switch (device_codec(d, &why)) {
    case EncodedFrame::Codec::zlib: info.device_decodable = "deflate"; break;
    case EncodedFrame::Codec::bitshuffle_lz4: info.device_decodable = "bitshuffle/LZ4"; break;
    case EncodedFrame::Codec::none: info.device_decodable.clear(); break;
  }
  info.device_decode_note = info.device_decodable.empty() ? why : "";
  info.stored_bytes = H5Dget_storage_size(d.ds);
}

std::vector<std::string> conversion_warnings(const ScanInfo& info, const Counters& c) {
  std::vector<std::string> out;
  std::uint64_t clipped = c.clipped.load(), nan = c.nan.load();
  if (clipped || nan) {
    std::string what = info.files.empty() ? std::string("scan") : info.files.front();
    if (info.files.size() > 1) what += " (and the other files of the scan)";
    out.push_back(what + ": converting " + info.dtype + " to uint16 clipped " + std::to_string(clipped) +
                  " pixels to [0, 65535] and set " + std::to_string(nan) + " NaN pixels to 0");
  }
  return out;
}

// Per-frame scans: files converted to uint16, grouped by their dtype, for the notes (a float32
// file in a uint16 scan is named, with its own dtype and counts).
class FileConversions {
 public:
  void note(std::int64_t file_index, const std::string& file, Dtype dtype, std::uint64_t clipped, std::uint64_t nan) {
    std::lock_guard<std::mutex> lock(m_);
    Group& g = groups_[dtype_name(dtype)];
    if (g.files.empty()) g.first_file = file;
    g.files.insert(file_index);
    g.clipped += clipped;
    g.nan += nan;
  }
  std::vector<std::string> notes(const ScanInfo& info) const {
    std::lock_guard<std::mutex> lock(m_);
    std::vector<std::string> out;
    for (const auto& [dtype, g] : groups_) {
      const bool foreign = dtype != info.dtype;
      if (!foreign && g.clipped == 0 && g.nan == 0) continue;
      std::string what = g.first_file;
      if (g.files.size() > 1) what += " (and " + std::to_string(g.files.size() - 1) + " other files)";
      std::string text = what + ": ";
      if (foreign) text += "holds " + dtype + " (the scan's frames are " + info.dtype + "); ";
      text += "converting " + dtype + " to uint16 clipped " + std::to_string(g.clipped) +
              " pixels to [0, 65535] and set " + std::to_string(g.nan) + " NaN pixels to 0";
      out.push_back(std::move(text));
    }
    return out;
  }

 private:
  struct Group {
    std::string first_file;
    std::set<std::int64_t> files;
    std::uint64_t clipped = 0, nan = 0;
  };
  mutable std::mutex m_;
  std::map<std::string, Group> groups_;
};

// A position that is not a finite number (NaN written for a failed encoder read) is no position.
void set_position(FrameMeta& meta, double x, double y) {
  meta.has_position = std::isfinite(x) && std::isfinite(y);
  meta.x_um = meta.has_position ? x : std::numeric_limits<double>::quiet_NaN();
  meta.y_um = meta.has_position ? y : std::numeric_limits<double>::quiet_NaN();
}

void start_frame(Frame& out, std::int64_t index, const std::string& source, std::int64_t in_file, int w, int h) {
  out.meta = FrameMeta{};
  out.meta.index = index;
  out.meta.source = source;
  out.meta.index_in_file = in_file;
  out.error.clear();
  out.width = w;
  out.height = h;  // the pixels (or the chunk) get their room when read: read_frame_into
}

void fail_frame(Frame& out, const std::string& why) {
  out.error = why;
  out.drop_data();
}

void check_index(std::int64_t index, std::int64_t n) {
  if (index < 0 || index >= n)
    throw std::out_of_range("frame index " + std::to_string(index) + " outside [0, " + std::to_string(n) + ")");
}

// Reader states (scratch buffers, an open per-frame file) lent to concurrent read() calls: a
// call takes a free one or makes one, and gives it back, so N reader threads use N states.
template <class State>
class StatePool {
 public:
  class Lease {
   public:
    Lease(StatePool& pool, std::unique_ptr<State> s) : pool_(pool), s_(std::move(s)) {}
    ~Lease() { pool_.give_back(std::move(s_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    State& operator*() const { return *s_; }
    State* operator->() const { return s_.get(); }

   private:
    StatePool& pool_;
    std::unique_ptr<State> s_;
  };

  Lease take() {
    std::lock_guard<std::mutex> lock(m_);
    if (free_.empty()) return Lease(*this, std::make_unique<State>());
    auto s = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(s));
  }
  void give_back(std::unique_ptr<State> s) {
    std::lock_guard<std::mutex> lock(m_);
    free_.push_back(std::move(s));
  }
  /// Drops every state (all leases must have ended).
  void clear() {
    std::lock_guard<std::mutex> lock(m_);
    free_.clear();
  }

 private:
  std::mutex m_;
  std::vector<std::unique_ptr<State>> free_;
};

// ---- stack ---------------------------------------------------------------------------------

class StackSource final : public FrameSource {
 public:
  StackSource(h5::Handle file, FrameDataset d, std::vector<double> x, std::vector<double> y, ScanInfo info,
              bool keep_encoded)
      : file_(std::move(file)), d_(std::move(d)), x_(std::move(x)), y_(std::move(y)), info_(std::move(info)),
        keep_encoded_(keep_encoded) {}
  ~StackSource() override {
    Lock lock(h5::library_mutex());
    d_ = FrameDataset{};
    file_.reset();
  }

  const ScanInfo& info() const override { return info_; }
  std::vector<std::string> warnings() const override { return conversion_warnings(info_, counters_); }
  bool concurrent_reads() const override { return true; }
  std::int64_t frames_per_read() const override { return d_.chunks ? std::min<std::int64_t>(d_.chunks->frames_per_chunk(), 16) : 1; }

  void read(std::int64_t index, Frame& out) override {
    check_index(index, info_.n_frames);
    start_frame(out, index, info_.files.front(), index, d_.width, d_.height);
    if (!x_.empty()) set_position(out.meta, x_[static_cast<std::size_t>(index)], y_[static_cast<std::size_t>(index)]);
    auto scratch = pool_.take();
    try {
      read_frame_into(d_, index, out, keep_encoded_, *scratch, counters_);
    } catch (const Error& e) {
      fail_frame(out, e.what());
    }
  }

 private:
  h5::Handle file_;
  FrameDataset d_;
  std::vector<double> x_, y_;  // micrometres, empty when absent
  ScanInfo info_;
  bool keep_encoded_;
  StatePool<Scratch> pool_;
  Counters counters_;
};

// ---- per-frame files -------------------------------------------------------------------------

class PerFrameSource final : public FrameSource {
 public:
  PerFrameSource(ScanInfo info, std::int64_t per_file, std::string x_path, std::string y_path, bool want_direct,
                 Inflater inflater, bool keep_encoded)
      : info_(std::move(info)), per_file_(per_file), x_path_(std::move(x_path)), y_path_(std::move(y_path)),
        want_direct_(want_direct), inflater_(inflater), keep_encoded_(keep_encoded) {}
  ~PerFrameSource() override {
    Lock lock(h5::library_mutex());  // the states close their HDF5 files
    pool_.clear();
  }

  struct Open {
    std::int64_t index = -1;
    h5::Handle file;
    FrameDataset d;
    std::vector<double> x, y;  // scalar, or one per frame of the file
  };
  struct State {
    Open cur;
    Scratch scratch;
  };
  // Adopts the first file, validated by open_scan (lock held there).
  void adopt(Open first) {
    auto state = std::make_unique<State>();
    state->cur = std::move(first);
    pool_.give_back(std::move(state));
  }

  const ScanInfo& info() const override { return info_; }
  std::vector<std::string> warnings() const override { return conversions_.notes(info_); }
  bool concurrent_reads() const override { return true; }

  void read(std::int64_t index, Frame& out) override {
    check_index(index, info_.n_frames);
    const std::int64_t fi = index / per_file_, k = index % per_file_;
    const std::string& name = info_.files[static_cast<std::size_t>(fi)];
    start_frame(out, index, name, k, info_.width, info_.height);
    auto state = pool_.take();
    Open& cur = state->cur;
    try {
      if (cur.index != fi) switch_to(fi, cur);
      auto pick = [&](const std::vector<double>& v, double& dst) {
        if (v.size() == 1) dst = v[0];
        else if (static_cast<std::int64_t>(v.size()) == per_file_) dst = v[static_cast<std::size_t>(k)];
        else return false;
        return true;
      };
      // A scan whose reference file has no positions has none (frames placed in frame order);
      // otherwise a file without one, or with NaN, gives a frame without a position.
      double x = 0, y = 0;
      if (info_.has_positions && pick(cur.x, x) && pick(cur.y, y)) set_position(out.meta, x, y);
      else set_position(out.meta, std::numeric_limits<double>::quiet_NaN(), 0.0);
      Counters counters;  // this read's own (reads run concurrently): the note names its file
      read_frame_into(cur.d, k, out, keep_encoded_, state->scratch, counters);
      if (cur.d.dtype != Dtype::u16)
        conversions_.note(fi, name, cur.d.dtype, counters.clipped.load(), counters.nan.load());
    } catch (const Error& e) {
      fail_frame(out, e.what());
    }
  }

 private:
  // Opens file fi in `cur` (metadata under the HDF5 lock; its pixels are read outside it).
  void switch_to(std::int64_t fi, Open& cur) {
    Lock lock(h5::library_mutex());
    cur = Open{};  // close the previous file first
    const std::string& name = info_.files[static_cast<std::size_t>(fi)];
    Open o;
    o.file = h5::open_read(name);
    o.d = open_frame_dataset(o.file, name, info_.dataset, want_direct_, inflater_);
    if (o.d.height != info_.height || o.d.width != info_.width || o.d.frames != per_file_)
      throw InputError(name, "frame size " + std::to_string(o.d.frames) + " x " + std::to_string(o.d.height) + " x " +
                                 std::to_string(o.d.width) + " differs from the scan's " + std::to_string(per_file_) +
                                 " x " + std::to_string(info_.height) + " x " + std::to_string(info_.width));
    o.x = read_numbers(o.file, x_path_, name, static_cast<hsize_t>(o.d.frames));
    o.y = read_numbers(o.file, y_path_, name, static_cast<hsize_t>(o.d.frames));
    o.index = fi;
    cur = std::move(o);
  }

  ScanInfo info_;
  std::int64_t per_file_;
  std::string x_path_, y_path_;
  bool want_direct_;
  Inflater inflater_;
  bool keep_encoded_;
  StatePool<State> pool_;
  FileConversions conversions_;
};

// ---- scan path expansion -----------------------------------------------------------------------

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool is_h5_name(const fs::path& p) {
  std::string ext = lower(p.extension().string());
  return ext == ".h5" || ext == ".hdf5";
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// The last run of digits in the file name (extension excluded: "h5" has a digit), without
// leading zeros; `found` false when none.
std::string last_number(const std::string& path, bool& found) {
  std::string name = fs::path(path).stem().string();
  std::size_t end = name.size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>(name[end - 1]))) --end;
  found = end > 0;
  std::size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(name[begin - 1]))) --begin;
  while (begin + 1 < end && name[begin] == '0') ++begin;
  return name.substr(begin, end - begin);
}

bool looks_like_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[4096];
  in.read(buf, sizeof buf);
  std::streamsize n = in.gcount();
  return n > 0 && std::find(buf, buf + n, '\0') == buf + n;
}

std::vector<std::string> read_list(const std::string& list) {
  std::ifstream in(list);
  if (!in) throw InputError(list, "cannot read this file list");
  fs::path folder = fs::path(list).parent_path();
  std::vector<std::string> files;
  std::string line;
  while (std::getline(in, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    auto b = line.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) continue;
    auto e = line.find_last_not_of(" \t\r\n");
    fs::path p = line.substr(b, e - b + 1);
    if (p.is_relative()) p = folder / p;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) throw InputError(p.string(), "no such file (listed in " + list + ")");
    files.push_back(p.string());
  }
  if (files.empty()) throw InputError(list, "lists no frame files");
  return files;
}

std::unique_ptr<FrameSource> open_per_frame(std::vector<std::string> files, const ScanOptions& options, h5::Handle first) {
  ScanInfo info;
  info.layout = ScanLayout::per_frame_files;
  info.files = std::move(files);
  std::string dataset = options.dataset.empty() ? kPerFrameDataset : options.dataset;
  std::string xp = options.x_path.empty() ? kPerFrameX : options.x_path;
  std::string yp = options.y_path.empty() ? kPerFrameY : options.y_path;
  // The scan's frame size (and dtype, layout, positions) is the one most of up to 5 evenly
  // spaced files agree on (ties: the earliest), so one odd or damaged file, even the first,
  // fails only its own frames. A single file is its own reference.
  const std::int64_t n_files = static_cast<std::int64_t>(info.files.size());
  const std::int64_t n_sample = std::min<std::int64_t>(n_files, 5);
  std::vector<PerFrameSource::Open> sampled;
  std::exception_ptr first_error;
  for (std::int64_t j = 0; j < n_sample; ++j) {
    const std::int64_t fi = n_sample == 1 ? 0 : j * (n_files - 1) / (n_sample - 1);
    const std::string& name = info.files[static_cast<std::size_t>(fi)];
    try {
      PerFrameSource::Open o;
      o.file = fi == 0 && first.valid() ? std::move(first) : h5::open_read(name);
      o.d = open_frame_dataset(o.file, name, dataset, options.chunk_direct, options.inflater);
      o.x = read_numbers(o.file, xp, name, static_cast<hsize_t>(o.d.frames));
      o.y = read_numbers(o.file, yp, name, static_cast<hsize_t>(o.d.frames));
      o.index = fi;
      sampled.push_back(std::move(o));
    } catch (const InputError&) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (sampled.empty()) std::rethrow_exception(first_error);
  auto same_size = [](const PerFrameSource::Open& a, const PerFrameSource::Open& b) {
    return a.d.frames == b.d.frames && a.d.height == b.d.height && a.d.width == b.d.width;
  };
  std::size_t best = 0, best_votes = 0;
  for (std::size_t a = 0; a < sampled.size(); ++a) {
    std::size_t votes = 0;
    for (const auto& b : sampled) votes += same_size(sampled[a], b);
    if (votes > best_votes) best = a, best_votes = votes;
  }
  PerFrameSource::Open o = std::move(sampled[best]);
  sampled.clear();  // closes the other sampled files
  fill_info_from(info, o.d);
  const std::int64_t per_file = o.d.frames;
  info.n_frames = per_file * static_cast<std::int64_t>(info.files.size());
  info.has_positions = !o.x.empty() && !o.y.empty();
  auto src = std::make_unique<PerFrameSource>(std::move(info), per_file, xp, yp, options.chunk_direct,
                                              options.inflater, options.keep_encoded);
  src->adopt(std::move(o));
  return src;
}

std::unique_ptr<FrameSource> open_stack(const std::string& path, const ScanOptions& options, h5::Handle f) {
  std::string dataset = options.dataset;
  if (dataset.empty()) {
    for (const char* p : kStackDatasets)
      if (h5::exists(f, p)) {
        dataset = p;
        break;
      }
    if (dataset.empty())
      throw InputError(path, std::string("no dataset at ") + kStackDatasets[0] + " (nor at " + kStackDatasets[1] +
                                 " or " + kStackDatasets[2] + "; give --dataset)");
  }
  FrameDataset d = open_frame_dataset(f, path, dataset, options.chunk_direct, options.inflater);
  ScanInfo info;
  info.layout = ScanLayout::stack;
  info.files = {path};
  info.n_frames = d.frames;
  fill_info_from(info, d);

  const bool explicit_pos = !options.x_path.empty() || !options.y_path.empty();
  std::string xp = options.x_path.empty() ? kStackX : options.x_path;
  std::string yp = options.y_path.empty() ? kStackY : options.y_path;
  const bool hx = h5::exists(f, xp), hy = h5::exists(f, yp);
  std::vector<double> x, y;
  if (explicit_pos && (!hx || !hy)) throw InputError(path, "no position dataset at " + (hx ? yp : xp));
  if (hx != hy) throw InputError(path, "has " + (hx ? xp : yp) + " but not " + (hx ? yp : xp));
  if (hx) {
    x = h5::read_vector(f, xp, path, static_cast<hsize_t>(d.frames));
    y = h5::read_vector(f, yp, path, static_cast<hsize_t>(d.frames));
    for (const auto* v : {&x, &y})
      if (static_cast<std::int64_t>(v->size()) != d.frames)
        throw InputError(path, (v == &x ? xp : yp) + " has " + std::to_string(v->size()) + " values, the scan has " +
                                   std::to_string(d.frames) + " frames");
    info.has_positions = true;
  }
  return std::make_unique<StackSource>(std::move(f), std::move(d), std::move(x), std::move(y), std::move(info),
                                       options.keep_encoded);
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
  bool fa = false, fb = false;
  std::string na = last_number(a, fa), nb = last_number(b, fb);
  if (fa != fb) return !fa;  // names without a number first
  if (fa && na != nb) {
    if (na.size() != nb.size()) return na.size() < nb.size();
    return na < nb;
  }
  return a < b;
}

std::vector<std::string> expand_frame_files(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec))
      if (entry.is_regular_file(ec) && is_h5_name(entry.path())) files.push_back(entry.path().string());
    if (ec) throw InputError(path, "cannot list this directory (" + ec.message() + ")");
    if (files.empty()) throw InputError(path, "empty scan: no .h5/.hdf5 files in this directory");
  } else if (!fs::exists(path, ec) && has_glob_chars(path)) {
    glob_t g{};
    int rc = glob(path.c_str(), 0, nullptr, &g);
    if (rc == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i)
        if (fs::is_regular_file(g.gl_pathv[i], ec)) files.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    if (rc != 0 && rc != GLOB_NOMATCH) throw InputError(path, "cannot expand this pattern");
    if (files.empty()) throw InputError(path, "empty scan: no files match this pattern");
  } else if (fs::is_regular_file(path, ec)) {
    files = read_list(path);
  } else {
    throw InputError(path, "no such file");
  }
  std::stable_sort(files.begin(), files.end(), natural_less);
  return files;
}

PositionRange position_range(const ScanInfo& info, const ScanOptions& options, std::int64_t max_files) {
  PositionRange r;
  std::vector<double> xs, ys;
  Lock lock(h5::library_mutex());
  if (info.layout == ScanLayout::stack) {
    if (!info.has_positions) return r;
    h5::Handle f = h5::open_read(info.files.front());
    const auto n = static_cast<hsize_t>(info.n_frames);
    xs = read_numbers(f, options.x_path.empty() ? kStackX : options.x_path, info.files.front(), n);
    ys = read_numbers(f, options.y_path.empty() ? kStackY : options.y_path, info.files.front(), n);
    r.sampled = static_cast<std::int64_t>(xs.size());
  } else {
    const std::int64_t n = static_cast<std::int64_t>(info.files.size());
    const std::int64_t m = std::max<std::int64_t>(1, std::min(n, max_files));
    for (std::int64_t i = 0; i < m; ++i) {
      std::int64_t fi = m == 1 ? 0 : i * (n - 1) / (m - 1);
      const std::string& name = info.files[static_cast<std::size_t>(fi)];
      try {
        h5::Handle f = h5::open_read(name);
        auto x = read_numbers(f, options.x_path.empty() ? kPerFrameX : options.x_path, name);
        auto y = read_numbers(f, options.y_path.empty() ? kPerFrameY : options.y_path, name);
        xs.insert(xs.end(), x.begin(), x.end());
        ys.insert(ys.end(), y.begin(), y.end());
        ++r.sampled;
      } catch (const InputError&) {
        // a damaged file is reported when its frame is read; skip it here
      }
    }
  }
  if (xs.empty() || ys.empty()) return r;
  r.present = true;
  auto [x0, x1] = std::minmax_element(xs.begin(), xs.end());
  auto [y0, y1] = std::minmax_element(ys.begin(), ys.end());
  r.x_min = *x0;
  r.x_max = *x1;
  r.y_min = *y0;
  r.y_max = *y1;
  return r;
}

}  // namespace io

std::unique_ptr<FrameSource> open_scan(const std::string& path, const ScanOptions& options) {
  namespace fs = std::filesystem;
  h5::init();
  std::error_code ec;
  const bool is_file = fs::is_regular_file(path, ec);
  if (is_file) h5::check_readable(path);  // "Permission denied", not "not an HDF5 file"
  if (is_file && !h5::looks_like_hdf5(path)) {
    std::string ext = io::lower(fs::path(path).extension().string());
    bool h5_ext = ext == ".h5" || ext == ".hdf5" || ext == ".hdf" || ext == ".nxs" || ext == ".nx5";
    if (h5_ext || !io::looks_like_text(path)) throw InputError(path, "not an HDF5 file");
  }
  if (!is_file || !h5::looks_like_hdf5(path)) {
    if (!is_file && !fs::is_directory(path, ec) && !io::has_glob_chars(path)) throw InputError(path, "no such file");
    std::vector<std::string> files = io::expand_frame_files(path);  // checks every file exists
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    return io::open_per_frame(std::move(files), options, h5::Handle{});
  }
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle f = h5::open_read(path);
  if (options.dataset.empty() && h5::exists(f, io::kPerFrameDataset)) {
    h5::Handle ds = h5::open_dataset(f, io::kPerFrameDataset, path);
    if (h5::shape(ds, path, io::kPerFrameDataset).size() == 2) {
      ds.reset();
      return io::open_per_frame({path}, options, std::move(f));
    }
  }
  return io::open_stack(path, options, std::move(f));
}

PixelConversion convert_to_uint16(const std::string& dtype, const void* in, std::size_t n, std::uint16_t* out) {
  using io::Dtype;
  for (Dtype t : {Dtype::u8, Dtype::i8, Dtype::u16, Dtype::i16, Dtype::u32, Dtype::i32, Dtype::u64, Dtype::i64,
                  Dtype::f32, Dtype::f64}) {
    if (dtype != io::dtype_name(t)) continue;
    io::Counters counters;
    io::convert(t, in, n, out, counters);
    return PixelConversion{counters.clipped.load(), counters.nan.load()};
  }
  throw UsageError("pixels of type " + dtype + " cannot be converted to uint16 (integers or floats only)");
}

}  // namespace laueproc
