// Chunk-direct reading (see chunk_reader.hpp). HDF5 gives each chunk's file address and stored
// size (H5Dget_chunk_info_by_coord; H5Dget_offset for contiguous data): both are absolute
// offsets in the file, user block included. The bytes are then read with pread() on our own
// descriptor, so neither the read nor the decoding holds the HDF5 lock.
#include "io/chunk_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "io/decode.hpp"
#include "io/h5.hpp"

namespace laueproc::io {
namespace {

using Lock = std::lock_guard<std::mutex>;

bool size_preserving(const FilterSpec& f) {
  if (f.id == H5Z_FILTER_SHUFFLE) return true;
  if (f.id == kBitshuffleFilter) return f.cd.size() <= 4 || f.cd[4] == kBitshuffleNoCompression;
  return false;
}

std::size_t bitshuffle_elem_size(const FilterSpec& f, std::size_t fallback) {
  return f.cd.size() > 2 && f.cd[2] > 0 ? f.cd[2] : fallback;
}

}  // namespace

std::string filter_label(H5Z_filter_t id) {
  const char* name = "filter";
  switch (id) {
    case H5Z_FILTER_DEFLATE: name = "deflate"; break;
    case H5Z_FILTER_SHUFFLE: name = "shuffle"; break;
    case H5Z_FILTER_FLETCHER32: name = "fletcher32"; break;
    case H5Z_FILTER_SZIP: name = "szip"; break;
    case H5Z_FILTER_NBIT: name = "nbit"; break;
    case H5Z_FILTER_SCALEOFFSET: name = "scaleoffset"; break;
    case 307: name = "bzip2"; break;
    case 32001: name = "blosc"; break;
    case 32004: name = "lz4"; break;
    case kBitshuffleFilter: name = "bitshuffle"; break;
    case kZstdFilter: name = "zstd"; break;
    default: break;
  }
  return std::string(name) + "(" + std::to_string(id) + ")";
}

// ---- ChunkCodec ------------------------------------------------------------------------------

std::string ChunkCodec::unsupported() const {
  for (std::size_t i = 0; i < filters.size(); ++i) {
    const FilterSpec& f = filters[i];
    bool known = f.id == H5Z_FILTER_DEFLATE || f.id == H5Z_FILTER_SHUFFLE || (f.id == kZstdFilter && have_zstd());
    if (f.id == kBitshuffleFilter) {
      const unsigned c = f.cd.size() > 4 ? f.cd[4] : kBitshuffleNoCompression;
      known = c == kBitshuffleNoCompression || c == kBitshuffleLz4 || (c == kBitshuffleZstd && have_zstd());
    }
    if (!known) return "filter " + filter_label(f.id) + " is decoded by HDF5";
    // Only the last filter may change the size: the input size of the others is then known.
    if (i + 1 < filters.size() && !size_preserving(f))
      return "filter " + filter_label(f.id) + " is followed by another filter";
  }
  return {};
}

void ChunkCodec::decode(const std::uint8_t* in, std::size_t n, std::uint32_t mask, std::uint8_t* out,
                        std::size_t out_size, std::vector<std::uint8_t>& a, std::vector<std::uint8_t>& b) const {
  std::vector<const FilterSpec*> active;
  for (std::size_t i = 0; i < filters.size(); ++i)
    if (i >= 32 || !(mask & (1u << i))) active.push_back(&filters[i]);
  if (active.empty()) {
    if (n != out_size)
      throw DecodeError("unfiltered chunk holds " + std::to_string(n) + " bytes, expected " + std::to_string(out_size));
    std::memcpy(out, in, out_size);
    return;
  }
  const std::uint8_t* cur = in;
  std::size_t cur_n = n;
  for (std::size_t j = active.size(); j-- > 0;) {  // undo the pipeline in reverse order
    std::uint8_t* dst = out;
    if (j > 0) {
      std::vector<std::uint8_t>& next = cur == a.data() ? b : a;
      next.resize(out_size);
      dst = next.data();
    }
    const FilterSpec& f = *active[j];
    if (j + 1 < active.size() && cur_n != out_size)
      throw DecodeError("chunk of " + std::to_string(cur_n) + " bytes before " + filter_label(f.id));
    switch (f.id) {
      case H5Z_FILTER_DEFLATE:
        decode_zlib(cur, cur_n, dst, out_size, inflater);
        break;
      case kZstdFilter: decode_zstd(cur, cur_n, dst, out_size); break;
      case H5Z_FILTER_SHUFFLE: {
        if (cur_n != out_size)
          throw DecodeError("shuffled chunk holds " + std::to_string(cur_n) + " bytes, expected " +
                            std::to_string(out_size));
        const std::size_t es = f.cd.empty() || f.cd[0] == 0 ? elem_size : f.cd[0];
        byte_unshuffle(cur, dst, out_size, es);
        break;
      }
      case kBitshuffleFilter: {
        const std::size_t es = bitshuffle_elem_size(f, elem_size);
        const unsigned c = f.cd.size() > 4 ? f.cd[4] : kBitshuffleNoCompression;
        if (c == kBitshuffleLz4) {
          decode_bitshuffle_lz4(cur, cur_n, dst, out_size, es);
        } else if (c == kBitshuffleZstd) {
          decode_bitshuffle_zstd(cur, cur_n, dst, out_size, es);
        } else {
          if (cur_n != out_size)
            throw DecodeError("bitshuffled chunk holds " + std::to_string(cur_n) + " bytes, expected " +
                              std::to_string(out_size));
          bit_unshuffle(cur, dst, out_size, es, f.cd.size() > 3 ? f.cd[3] : 0);
        }
        break;
      }
      default: throw DecodeError("filter " + filter_label(f.id) + " cannot be decoded here");
    }
    cur = dst;
    cur_n = out_size;
  }
}

// ---- ChunkReader -------------------------------------------------------------------------------

std::unique_ptr<ChunkReader> ChunkReader::plan(hid_t ds, const std::string& file, const std::string& path,
                                               const std::vector<hsize_t>& dims, ChunkCodec codec,
                                               bool native_order, std::string* why) {
  auto fail = [why](const std::string& reason) {
    if (why) *why = reason;
    return std::unique_ptr<ChunkReader>();
  };
  if (!native_order) return fail("byte order differs from this machine's");
  if (dims.size() != 2 && dims.size() != 3) return fail("rank " + std::to_string(dims.size()));
  std::unique_ptr<ChunkReader> r(new ChunkReader());
  static std::atomic<std::uint64_t> next_id{1};
  r->id_ = next_id++;
  r->ds_ = ds;
  r->file_ = file;
  r->path_ = path;
  r->dims_ = dims;
  r->elem_size_ = codec.elem_size;
  r->codec_ = std::move(codec);
  const std::size_t elem_size = r->elem_size_;
  const std::vector<FilterSpec>& filters = r->codec_.filters;

  h5::Handle dcpl = h5::wrap(H5Dget_create_plist(ds), H5Pclose, file, "cannot read the layout of " + path);
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_CHUNKED) {
    r->chunk_.resize(dims.size());
    if (H5Pget_chunk(dcpl, static_cast<int>(dims.size()), r->chunk_.data()) < 0) {
      h5::last_error();
      return fail("cannot read the chunk shape");
    }
    for (hsize_t c : r->chunk_)
      if (c == 0) return fail("chunk dimension 0");
    r->chunk_bytes_ = elem_size;
    for (hsize_t c : r->chunk_) r->chunk_bytes_ *= c;
    if (r->chunk_bytes_ > (std::size_t{1} << 32)) return fail("chunks larger than 4 GiB");
    if (dims.size() == 3) r->frames_per_chunk_ = static_cast<std::int64_t>(r->chunk_[0]);
    std::string reason = r->codec_.unsupported();
    if (!reason.empty()) return fail(reason);
  } else if (layout == H5D_CONTIGUOUS) {
    if (!filters.empty()) return fail("filters on contiguous data");
    if (H5Pget_external_count(dcpl) > 0) return fail("external storage");
    r->contiguous_addr_ = H5Dget_offset(ds);
    if (r->contiguous_addr_ == HADDR_UNDEF) {
      h5::last_error();
      return fail("no data written yet (fill value)");
    }
  } else {
    return fail("compact or virtual layout");
  }
  r->fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) return fail(std::string("cannot open for direct reads: ") + std::strerror(errno));
  return r;
}

ChunkReader::~ChunkReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool ChunkReader::one_chunk_per_frame() const {
  const std::size_t r = dims_.size();
  return !chunk_.empty() && chunk_[r - 2] == dims_[r - 2] && chunk_[r - 1] == dims_[r - 1] &&
         (r == 2 || chunk_[0] == 1);
}

std::string ChunkReader::where(std::int64_t k) const { return path_ + " frame " + std::to_string(k); }

bool ChunkReader::locate(const std::vector<std::vector<hsize_t>>& offsets, std::vector<Stored>& at) const {
  at.assign(offsets.size(), Stored{});
  Lock lock(h5::library_mutex());
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    if (H5Dget_chunk_info_by_coord(ds_, offsets[i].data(), &at[i].mask, &at[i].addr, &at[i].size) < 0)
      throw InputError(file_, "cannot locate a chunk of " + path_ + " (" + h5::last_error() + ")");
    if (at[i].addr == HADDR_UNDEF || at[i].size == 0) return false;
    // No encoding of a chunk is more than twice its size: a larger figure is a damaged index,
    // refused before any buffer is sized from it.
    if (at[i].size > 2 * chunk_bytes_ + 4096)
      throw InputError(file_, "a chunk of " + path_ + " claims " + std::to_string(at[i].size) +
                                  " stored bytes, more than any encoding of its " + std::to_string(chunk_bytes_) +
                                  " bytes (damaged file)");
  }
  return true;
}

void ChunkReader::fetch(const Stored& at, std::uint8_t* dst, const std::string& what) const {
  std::size_t done = 0;
  while (done < at.size) {
    const ssize_t got = ::pread(fd_, dst + done, at.size - done, static_cast<off_t>(at.addr + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw InputError(file_, "cannot read " + what + " (" + std::strerror(errno) + ")");
    if (got == 0) throw InputError(file_, what + " lies past the end of the file (truncated file)");
    done += static_cast<std::size_t>(got);
  }
}

bool ChunkReader::read_frame(std::int64_t k, std::uint8_t* out, ChunkScratch& s) const {
  const std::size_t r = dims_.size();
  const std::size_t ny = dims_[r - 2], nx = dims_[r - 1];
  const std::size_t frame_bytes = ny * nx * elem_size_;
  if (chunk_.empty()) {  // contiguous: frame k is one run of bytes, no lookup at all
    Stored at;
    at.addr = contiguous_addr_ + static_cast<haddr_t>(k) * frame_bytes;
    at.size = frame_bytes;
    fetch(at, out, where(k));
    return true;
  }
  const std::size_t cy = chunk_[r - 2], cx = chunk_[r - 1];
  const std::int64_t per = frames_per_chunk_;
  const std::int64_t first = k - k % per;  // first frame of the chunk row
  const std::size_t in_chunk = static_cast<std::size_t>(k - first);
  const std::size_t tiles_y = (ny + cy - 1) / cy, tiles_x = (nx + cx - 1) / cx;
  const std::size_t tiles = tiles_y * tiles_x;
  const bool direct_to_out = one_chunk_per_frame();
  // Several frames per chunk: keep the decoded row for the next frames (bounded memory).
  const bool cache = per > 1 && tiles * chunk_bytes_ <= (std::size_t{256} << 20);

  if (!(cache && s.cached_owner == id_ && s.cached_first_frame == first)) {
    std::vector<std::vector<hsize_t>> offsets(tiles, std::vector<hsize_t>(r, 0));
    for (std::size_t t = 0; t < tiles; ++t) {
      if (r == 3) offsets[t][0] = static_cast<hsize_t>(first);
      offsets[t][r - 2] = (t / tiles_x) * cy;
      offsets[t][r - 1] = (t % tiles_x) * cx;
    }
    std::vector<Stored> at;
    if (!locate(offsets, at)) return false;
    if (cache) {
      s.cached_first_frame = -1;
      s.cached.resize(tiles);
    }
    for (std::size_t t = 0; t < tiles; ++t) {
      std::uint8_t* decoded;
      if (direct_to_out) {
        decoded = out;
      } else if (cache) {
        s.cached[t].resize(chunk_bytes_);
        decoded = s.cached[t].data();
      } else {
        s.tile.resize(chunk_bytes_);
        decoded = s.tile.data();
      }
      const std::string what = "the chunk of " + where(k);
      if (codec_.filters.empty()) {
        if (at[t].size != chunk_bytes_)
          throw InputError(file_, what + " holds " + std::to_string(at[t].size) + " bytes, expected " +
                                      std::to_string(chunk_bytes_));
        fetch(at[t], decoded, what);  // stored as is: straight into place
      } else {
        s.raw.resize(at[t].size);
        fetch(at[t], s.raw.data(), what);
        try {
          codec_.decode(s.raw.data(), s.raw.size(), at[t].mask, decoded, chunk_bytes_, s.a, s.b);
        } catch (const DecodeError& e) {
          throw InputError(file_, where(k) + ": " + e.what());
        }
      }
      if (!direct_to_out && !cache) {  // copy this tile's part of frame k now
        const std::size_t y0 = (t / tiles_x) * cy, x0 = (t % tiles_x) * cx;
        const std::size_t h = std::min(cy, ny - y0), w = std::min(cx, nx - x0);
        for (std::size_t y = 0; y < h; ++y)
          std::memcpy(out + ((y0 + y) * nx + x0) * elem_size_, decoded + ((in_chunk * cy + y) * cx) * elem_size_,
                      w * elem_size_);
      }
    }
    if (cache) {
      s.cached_owner = id_;
      s.cached_first_frame = first;
    }
  }
  if (cache) {
    for (std::size_t t = 0; t < tiles; ++t) {
      const std::size_t y0 = (t / tiles_x) * cy, x0 = (t % tiles_x) * cx;
      const std::size_t h = std::min(cy, ny - y0), w = std::min(cx, nx - x0);
      const std::uint8_t* decoded = s.cached[t].data();
      for (std::size_t y = 0; y < h; ++y)
        std::memcpy(out + ((y0 + y) * nx + x0) * elem_size_, decoded + ((in_chunk * cy + y) * cx) * elem_size_,
                    w * elem_size_);
    }
  }
  return true;
}

bool ChunkReader::read_stored_chunk(std::int64_t k, const std::function<std::uint8_t*(std::size_t)>& room,
                                    std::uint32_t& mask) const {
  if (!one_chunk_per_frame()) throw Error("read_stored_chunk: " + path_ + " does not hold one frame per chunk");
  std::vector<std::vector<hsize_t>> offsets(1, std::vector<hsize_t>(dims_.size(), 0));
  if (dims_.size() == 3) offsets[0][0] = static_cast<hsize_t>(k);
  std::vector<Stored> at;
  if (!locate(offsets, at)) return false;
  fetch(at[0], room(static_cast<std::size_t>(at[0].size)), "the chunk of " + where(k));
  mask = at[0].mask;
  return true;
}

}  // namespace laueproc::io
