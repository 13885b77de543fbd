/// @file
/// @brief Bad-pixel masks: the static mask file and the per-frame dead-line detection.

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "laueproc/error.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

BadPixelMask::BadPixelMask(int width, int height, std::vector<std::uint8_t> bad)
    : width_(width), height_(height), pixels_(std::move(bad)) {
  if (width < 0 || height < 0 ||
      pixels_.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height))
    throw UsageError("bad pixel mask: " + std::to_string(pixels_.size()) + " values for " +
                     std::to_string(width) + "x" + std::to_string(height) + " pixels");
  for (auto& v : pixels_) v = v ? 1 : 0;
}

std::size_t BadPixelMask::bad_count() const {
  return static_cast<std::size_t>(std::count(pixels_.begin(), pixels_.end(), std::uint8_t{1}));
}

namespace {
// Next PGM header token, skipping whitespace and '#' comments.
std::string pgm_token(std::istream& in) {
  std::string tok;
  int ch;
  while ((ch = in.get()) != EOF) {
    if (ch == '#') {
      while ((ch = in.get()) != EOF && ch != '\n') {
      }
      continue;
    }
    if (std::isspace(ch)) {
      if (!tok.empty()) break;
      continue;
    }
    tok.push_back(static_cast<char>(ch));
  }
  return tok;
}
int pgm_int(std::istream& in, const std::string& path, const char* what) {
  const std::string tok = pgm_token(in);
  try {
    std::size_t used = 0;
    const int v = std::stoi(tok, &used);
    if (used != tok.size() || v <= 0) throw std::invalid_argument(tok);
    return v;
  } catch (const std::exception&) {
    throw InputError(path, std::string("bad PGM ") + what + " '" + tok + "'");
  }
}
}  // namespace

BadPixelMask BadPixelMask::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open bad pixel mask");
  const std::string magic = pgm_token(in);
  if (magic != "P5" && magic != "P2")
    throw InputError(path, "not a PGM mask (expected P5 or P2 header, 8-bit, nonzero = bad)");
  const int width = pgm_int(in, path, "width");
  const int height = pgm_int(in, path, "height");
  const int maxval = pgm_int(in, path, "maxval");
  if (maxval > 255) throw InputError(path, "16-bit PGM masks are not supported (maxval > 255)");
  std::vector<std::uint8_t> bad(static_cast<std::size_t>(width) * static_cast<std::size_t>(height));
  if (magic == "P5") {  // exactly one whitespace byte after maxval was consumed by pgm_token
    in.read(reinterpret_cast<char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
    if (in.gcount() != static_cast<std::streamsize>(bad.size()))
      throw InputError(path, "truncated PGM mask: " + std::to_string(in.gcount()) + " of " +
                                 std::to_string(bad.size()) + " bytes");
  } else {
    for (auto& v : bad) {
      int value = 0;
      if (!(in >> value)) throw InputError(path, "truncated text PGM mask");
      v = value != 0;
    }
  }
  return BadPixelMask(width, height, std::move(bad));
}

int detect_dead_lines(const FrameView& frame, std::uint8_t* mask, bool* constant_frame,
                      std::vector<std::uint8_t>* rows_with_zero) {
  const int w = frame.width, h = frame.height;
  if (w <= 0 || h <= 0) {
    if (constant_frame) *constant_frame = true;
    return 0;
  }
  thread_local std::vector<std::uint16_t> col_min, col_max;
  thread_local std::vector<std::uint8_t> dead_row, dead_col;
  dead_row.assign(static_cast<std::size_t>(h), 0);
  if (rows_with_zero) rows_with_zero->assign(static_cast<std::size_t>(h), 0);
  dead_col.assign(static_cast<std::size_t>(w), 0);
  // Pass 1: every row and column over the whole frame (branch-free min/max, vectorises).
  col_min.assign(static_cast<std::size_t>(w), 0xFFFF);
  col_max.assign(static_cast<std::size_t>(w), 0);
  std::uint16_t gmin = 0xFFFF, gmax = 0;
  int nrows = 0;
  for (int y = 0; y < h; ++y) {
    const std::uint16_t* row = frame.data + y * frame.stride;
    std::uint16_t rmin = 0xFFFF, rmax = 0;
    std::uint16_t* cmin = col_min.data();
    std::uint16_t* cmax = col_max.data();
    for (int x = 0; x < w; ++x) {
      const std::uint16_t v = row[x];
      rmin = std::min(rmin, v);
      rmax = std::max(rmax, v);
      cmin[x] = std::min(cmin[x], v);
      cmax[x] = std::max(cmax[x], v);
    }
    dead_row[y] = rmin == rmax;
    nrows += dead_row[y];
    // Zero pixels off the dead rows (the only ones mask_zero_pixels needs to look at).
    if (rows_with_zero) (*rows_with_zero)[static_cast<std::size_t>(y)] = rmin == 0 && rmax != 0;
    gmin = std::min(gmin, rmin);
    gmax = std::max(gmax, rmax);
  }
  if (constant_frame) *constant_frame = gmin == gmax;
  if (gmin == gmax) return 0;  // nothing to tell apart: the caller reports an empty frame
  // Pass 2 (only with dead rows): a stuck column crossed by a dead row is constant on the other
  // rows only, so judge columns without the dead rows.
  if (nrows > 0 && nrows < h) {
    col_min.assign(static_cast<std::size_t>(w), 0xFFFF);
    col_max.assign(static_cast<std::size_t>(w), 0);
    for (int y = 0; y < h; ++y) {
      if (dead_row[y]) continue;
      const std::uint16_t* row = frame.data + y * frame.stride;
      for (int x = 0; x < w; ++x) {
        col_min[x] = std::min(col_min[x], row[x]);
        col_max[x] = std::max(col_max[x], row[x]);
      }
    }
  }
  int ncols = 0;
  for (int x = 0; x < w; ++x) {
    dead_col[x] = col_min[x] == col_max[x];
    ncols += dead_col[x];
  }
  // Pass 3 (only with dead columns): rows again, without the dead columns.
  if (ncols > 0 && ncols < w) {
    for (int y = 0; y < h; ++y) {
      if (dead_row[y]) continue;
      const std::uint16_t* row = frame.data + y * frame.stride;
      std::uint16_t rmin = 0xFFFF, rmax = 0;
      for (int x = 0; x < w; ++x)
        if (!dead_col[x]) {
          rmin = std::min(rmin, row[x]);
          rmax = std::max(rmax, row[x]);
        }
      dead_row[y] = rmin == rmax;
    }
  }
  int lines = 0;
  for (int y = 0; y < h; ++y)
    if (dead_row[y]) {
      std::fill(mask + static_cast<std::size_t>(y) * w, mask + static_cast<std::size_t>(y + 1) * w, std::uint8_t{1});
      ++lines;
    }
  for (int x = 0; x < w; ++x)
    if (dead_col[x]) {
      for (int y = 0; y < h; ++y) mask[static_cast<std::size_t>(y) * w + x] = 1;
      ++lines;
    }
  return lines;
}

std::size_t mask_zero_pixels(const FrameView& frame, std::uint8_t* mask, int margin_px,
                             std::vector<std::uint8_t>& scratch, const std::uint8_t* candidate_rows) {
  const int w = frame.width, h = frame.height, m = std::max(0, margin_px);
  const std::size_t n = frame.pixel_count();
  // Most frames hold no zero pixel: one branch-free pass decides, and nothing else is touched.
  bool any = false;
  for (int y = 0; y < h && !any; ++y) {
    if (candidate_rows && !candidate_rows[y]) continue;
    const std::uint16_t* raw = frame.data + y * frame.stride;
    const std::uint8_t* mrow = mask + static_cast<std::size_t>(y) * w;
    int hits = 0;
    for (int x = 0; x < w; ++x) hits += (raw[x] == 0) & (mrow[x] == 0);
    any = hits > 0;
  }
  if (!any) return 0;
  scratch.assign(n, 0);  // 1: within m columns of a zero pixel of the same row
  std::size_t zeros = 0;
  std::vector<std::uint8_t> row_has(static_cast<std::size_t>(h), 0);
  for (int y = 0; y < h; ++y) {
    const std::uint16_t* raw = frame.data + y * frame.stride;
    const std::uint8_t* mrow = mask + static_cast<std::size_t>(y) * w;
    std::uint8_t* out = scratch.data() + static_cast<std::size_t>(y) * w;
    int last = -1 - m;  // column of the last zero seen, left to right
    for (int x = 0; x < w; ++x) {
      if (raw[x] == 0 && !mrow[x]) {
        ++zeros;
        last = x;
        for (int k = std::max(0, x - m); k < x; ++k) out[k] = 1;  // the left margin
      }
      if (x - last <= m) out[x] = 1;
    }
    row_has[static_cast<std::size_t>(y)] = last >= 0;
  }
  if (zeros == 0) return 0;
  // Vertical margin: a pixel is masked when any row within m of it has the column marked.
  for (int y = 0; y < h; ++y) {
    bool near = false;
    for (int yy = std::max(0, y - m); yy <= std::min(h - 1, y + m) && !near; ++yy) near = row_has[static_cast<std::size_t>(yy)];
    if (!near) continue;
    std::uint8_t* mrow = mask + static_cast<std::size_t>(y) * w;
    for (int yy = std::max(0, y - m); yy <= std::min(h - 1, y + m); ++yy) {
      if (!row_has[static_cast<std::size_t>(yy)]) continue;
      const std::uint8_t* src = scratch.data() + static_cast<std::size_t>(yy) * w;
      for (int x = 0; x < w; ++x) mrow[x] |= src[x];
    }
  }
  return zeros;
}

}  // namespace laueproc
