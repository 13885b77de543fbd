// zlib streams (HDF5 deflate filter) through ISA-L or libdeflate, the zlib reference, zstd, and
// the HDF5 byte shuffle.
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "io/decode.hpp"
#include "io/decode_simd.hpp"
#include "io/decode_util.hpp"

#ifdef LAUEPROC_HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef LAUEPROC_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

namespace laueproc::io {
namespace {

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
};

libdeflate_decompressor& thread_decompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(libdeflate_alloc_decompressor());
  if (!d) throw DecodeError("libdeflate: cannot allocate a decompressor (out of memory)");
  return *d;
}

std::string size_mismatch(std::size_t got, std::size_t expect) {
  return "deflate chunk decompresses to " + std::to_string(got) + " bytes, expected " + std::to_string(expect);
}

DecodeError too_long(std::size_t out_size) {
  return DecodeError("deflate chunk decompresses to more than " + std::to_string(out_size) + " bytes");
}

void inflate_libdeflate(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size) {
  std::size_t got = 0;
  const libdeflate_result r = libdeflate_zlib_decompress(&thread_decompressor(), in, n, out, out_size, &got);
  switch (r) {
    case LIBDEFLATE_SUCCESS:
      if (got != out_size) throw DecodeError(size_mismatch(got, out_size));
      return;
    case LIBDEFLATE_INSUFFICIENT_SPACE: throw too_long(out_size);
    default:  // bad data, Adler-32 mismatch, truncated stream
      throw DecodeError("corrupt deflate chunk (bad data or Adler-32 checksum, or truncated)");
  }
}

#ifdef LAUEPROC_HAVE_ISAL
// ISA-L's stateless inflate: whole stream in, whole chunk out, zlib wrapper and Adler-32 checked.
// Its state (87 KiB of tables) is allocated once per thread.
void inflate_isal(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size) {
  if (n > UINT32_MAX || out_size > UINT32_MAX) throw DecodeError("deflate chunk larger than 4 GiB");
  thread_local std::unique_ptr<inflate_state> state(new inflate_state);
  inflate_state& st = *state;
  isal_inflate_init(&st);
  st.crc_flag = ISAL_ZLIB;
  st.next_in = const_cast<std::uint8_t*>(in);
  st.avail_in = static_cast<std::uint32_t>(n);
  st.next_out = out;
  st.avail_out = static_cast<std::uint32_t>(out_size);
  switch (isal_inflate_stateless(&st)) {
    case ISAL_DECOMP_OK:
      if (st.total_out != out_size) throw DecodeError(size_mismatch(st.total_out, out_size));
      return;
    case ISAL_OUT_OVERFLOW: throw too_long(out_size);
    case ISAL_INCORRECT_CHECKSUM: throw DecodeError("corrupt deflate chunk (Adler-32 checksum mismatch)");
    case ISAL_END_INPUT: throw DecodeError("corrupt deflate chunk (truncated stream)");
    default: throw DecodeError("corrupt deflate chunk (invalid deflate block, symbol or distance)");
  }
}
#endif

void inflate_zlib(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size) {
  if (n > UINT_MAX || out_size > UINT_MAX) throw DecodeError("deflate chunk larger than 4 GiB");
  struct Stream {
    z_stream z{};
    bool ready = false;
    ~Stream() {
      if (ready) inflateEnd(&z);
    }
  };
  thread_local Stream s;  // the 32 KiB window is allocated once per thread
  if (!s.ready) {
    std::memset(&s.z, 0, sizeof s.z);
    if (inflateInit(&s.z) != Z_OK) throw DecodeError("zlib initialisation failed");
    s.ready = true;
  } else if (inflateReset(&s.z) != Z_OK) {
    throw DecodeError("zlib reset failed");
  }
  s.z.next_in = const_cast<unsigned char*>(in);
  s.z.avail_in = static_cast<uInt>(n);
  s.z.next_out = out;
  s.z.avail_out = static_cast<uInt>(out_size);
  const int r = inflate(&s.z, Z_FINISH);
  if (r == Z_STREAM_END) {
    if (s.z.total_out != out_size) throw DecodeError(size_mismatch(s.z.total_out, out_size));
    return;
  }
  if (r == Z_BUF_ERROR && s.z.avail_out == 0) throw too_long(out_size);
  throw DecodeError(std::string("corrupt deflate chunk (zlib: ") + (s.z.msg ? s.z.msg : "truncated stream") + ")");
}

}  // namespace

bool have_isal() {
#ifdef LAUEPROC_HAVE_ISAL
  return true;
#else
  return false;
#endif
}

Inflater resolve_inflater(Inflater requested, const std::uint8_t* header) {
  if (requested == Inflater::fastest) {
    const unsigned flevel = header[1] >> 6;  // 0: zlib level 1, 1: levels 2-5, 2: level 6, 3: levels 7-9
    requested = flevel >= 2 ? Inflater::isal : Inflater::libdeflate;
  }
  if (requested == Inflater::isal && !have_isal()) return Inflater::libdeflate;
  return requested;
}

void decode_zlib(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size, Inflater inflater) {
  parse_zlib_frame(in, n);  // the same header errors whichever decoder runs
  switch (resolve_inflater(inflater, in)) {
    case Inflater::zlib: return inflate_zlib(in, n, out, out_size);
#ifdef LAUEPROC_HAVE_ISAL
    case Inflater::isal: return inflate_isal(in, n, out, out_size);
#endif
    default: return inflate_libdeflate(in, n, out, out_size);
  }
}

ZlibFrame parse_zlib_frame(const std::uint8_t* in, std::size_t n) {
  if (n < 6) throw DecodeError("deflate chunk of " + std::to_string(n) + " bytes is shorter than a zlib stream");
  const unsigned cmf = in[0], flg = in[1];
  if ((cmf & 0x0F) != 8) throw DecodeError("deflate chunk: zlib compression method " + std::to_string(cmf & 0x0F) + ", not 8");
  if ((cmf >> 4) > 7) throw DecodeError("deflate chunk: zlib window larger than 32 KiB");
  if ((cmf * 256 + flg) % 31 != 0) throw DecodeError("deflate chunk: zlib header check fails");
  if (flg & 0x20) throw DecodeError("deflate chunk: zlib preset dictionary (not used by HDF5)");
  ZlibFrame f;
  f.deflate_offset = 2;
  f.deflate_size = n - 6;
  f.adler32 = read_be32(in + n - 4);
  return f;
}

std::uint32_t adler32(std::uint32_t adler, const std::uint8_t* data, std::size_t n) {
  uLong a = adler;
  while (n > 0) {  // zlib takes uInt lengths
    const uInt step = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    a = ::adler32(a, data, step);
    data += step;
    n -= step;
  }
  return static_cast<std::uint32_t>(a);
}

bool have_zstd() {
#ifdef LAUEPROC_HAVE_ZSTD
  return true;
#else
  return false;
#endif
}

void decode_zstd(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t out_size) {
#ifdef LAUEPROC_HAVE_ZSTD
  const std::size_t r = ZSTD_decompress(out, out_size, in, n);
  if (ZSTD_isError(r)) throw DecodeError(std::string("corrupt zstd chunk (") + ZSTD_getErrorName(r) + ")");
  if (r != out_size)
    throw DecodeError("zstd chunk decompresses to " + std::to_string(r) + " bytes, expected " + std::to_string(out_size));
#else
  (void)in, (void)n, (void)out, (void)out_size;
  throw DecodeError("zstd chunk: this laueproc was built without libzstd");
#endif
}

LAUEPROC_SIMD_CLONES
void byte_unshuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t nbytes, std::size_t elem_size) {
  if (elem_size <= 1) {
    std::memcpy(out, in, nbytes);
    return;
  }
  const std::size_t n = nbytes / elem_size;
  if (elem_size == 2) {
    const std::uint8_t* lo = in;
    const std::uint8_t* hi = in + n;
    for (std::size_t i = 0; i < n; ++i) {
      out[2 * i] = lo[i];
      out[2 * i + 1] = hi[i];
    }
  } else if (elem_size == 4) {
    const std::uint8_t *p0 = in, *p1 = in + n, *p2 = in + 2 * n, *p3 = in + 3 * n;
    for (std::size_t i = 0; i < n; ++i) {
      out[4 * i] = p0[i];
      out[4 * i + 1] = p1[i];
      out[4 * i + 2] = p2[i];
      out[4 * i + 3] = p3[i];
    }
  } else {
    for (std::size_t b = 0; b < elem_size; ++b) {
      const std::uint8_t* src = in + b * n;
      for (std::size_t i = 0; i < n; ++i) out[i * elem_size + b] = src[i];
    }
  }
  std::memcpy(out + n * elem_size, in + n * elem_size, nbytes - n * elem_size);  // leftover bytes stay as stored
}

}  // namespace laueproc::io
