/// @file
/// @brief Bad-pixel masks: the static mask file and the per-frame dead-line detection.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "laueproc/error.hpp"
#include "laueproc/stages.hpp"
#include "stages/clones.hpp"
#include "stages/grid_rows.hpp"

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

namespace {
// Values flipped to signed (v ^ 0x8000 keeps their order): SSE2 has min/max for signed 16-bit
// lanes only, so the loops below vectorise on every x86-64.
inline std::int16_t to_signed(std::uint16_t v) { return static_cast<std::int16_t>(v ^ 0x8000u); }
inline std::uint16_t to_unsigned(std::int16_t v) { return static_cast<std::uint16_t>(v ^ 0x8000); }

LAUEPROC_CLONES void row_extremes(const std::uint16_t* row, int w, std::uint16_t& rmin, std::uint16_t& rmax) {
  std::int16_t lo = INT16_MAX, hi = INT16_MIN;
  for (int x = 0; x < w; ++x) {
    lo = std::min(lo, to_signed(row[x]));
    hi = std::max(hi, to_signed(row[x]));
  }
  rmin = to_unsigned(lo);
  rmax = to_unsigned(hi);
}

// constant[x] &= row[x] == first[x]; returns the number of columns still constant.
LAUEPROC_CLONES int keep_equal(const std::uint16_t* __restrict row, const std::uint16_t* __restrict first,
                               std::uint8_t* __restrict constant, int w) {
  int remaining = 0;
  for (int x = 0; x < w; ++x) {
    constant[x] &= row[x] == first[x];
    remaining += constant[x];
  }
  return remaining;
}

// Flags of the unmasked zero pixels of one row.
LAUEPROC_CLONES void zero_flags(const std::uint16_t* raw, const std::uint8_t* mask_row, int w, std::uint8_t* flags) {
  for (int x = 0; x < w; ++x) flags[x] = (raw[x] == 0) & (mask_row[x] == 0);
}
}  // namespace

int detect_dead_lines(const FrameView& frame, std::uint8_t* mask, bool* constant_frame,
                      std::vector<std::uint8_t>* rows_with_zero, std::uint8_t* masked_rows) {
  const int w = frame.width, h = frame.height;
  if (w <= 0 || h <= 0) {
    if (constant_frame) *constant_frame = true;
    return 0;
  }
  thread_local std::vector<std::uint8_t> dead_row, dead_col;
  thread_local std::vector<std::uint16_t> first_values;  // the first row taken, per column
  thread_local std::vector<std::uint8_t> constant;       // 1: the column equals it on every row taken so far
  thread_local std::vector<int> constant_cols;           // the same as a list, once it is short
  dead_row.assign(static_cast<std::size_t>(h), 0);
  if (rows_with_zero) rows_with_zero->assign(static_cast<std::size_t>(h), 0);
  dead_col.assign(static_cast<std::size_t>(w), 0);
  // A column is dead when all its values on the rows that are not dead are equal (a stuck column
  // crossed by a dead row is constant on the other rows only). Tracked as the columns still equal
  // to the first such row: a vectorised test of the whole row while many are left (a no-data
  // area keeps its columns equal for many rows), then a list, usually after a row or two of noise
  // (only stuck columns are left to compare).
  bool have_first = false, listed = false;
  int remaining = 0;
  const auto take_row = [&](const std::uint16_t* row) {
    if (!have_first) {
      first_values.assign(row, row + w);
      constant.assign(static_cast<std::size_t>(w), 1);
      remaining = w;
      have_first = true;
    } else if (!listed) {
      remaining = keep_equal(row, first_values.data(), constant.data(), w);
    } else {
      std::size_t kept = 0;
      for (const int x : constant_cols)
        if (row[x] == first_values[x]) constant_cols[kept++] = x;
      constant_cols.resize(kept);
      remaining = static_cast<int>(kept);
    }
    if (!listed && remaining <= w / 16) {
      constant_cols.clear();
      for (int x = 0; x < w; ++x)
        if (constant[x]) constant_cols.push_back(x);
      listed = true;
    }
  };
  // Pass 1, row by row: the row's extremes, then the columns' test while the row is in cache.
  std::uint16_t gmin = 0xFFFF, gmax = 0;
  int nrows = 0;
  for (int y = 0; y < h; ++y) {
    const std::uint16_t* row = frame.data + y * frame.stride;
    std::uint16_t rmin, rmax;
    row_extremes(row, w, rmin, rmax);
    dead_row[y] = rmin == rmax;
    nrows += dead_row[y];
    if (!dead_row[y] && (!have_first || remaining > 0)) take_row(row);
    // Zero pixels off the dead rows (the only ones mask_zero_pixels needs to look at).
    if (rows_with_zero) (*rows_with_zero)[static_cast<std::size_t>(y)] = rmin == 0 && rmax != 0;
    gmin = std::min(gmin, rmin);
    gmax = std::max(gmax, rmax);
  }
  if (constant_frame) *constant_frame = gmin == gmax;
  if (gmin == gmax) return 0;  // nothing to tell apart: the caller reports an empty frame
  if (nrows == h)  // every row constant: no row is left out, columns over all rows
    for (int y = 0; y < h && (!have_first || remaining > 0); ++y) take_row(frame.data + y * frame.stride);
  if (listed)
    for (const int x : constant_cols) dead_col[x] = 1;
  else
    for (int x = 0; x < w; ++x) dead_col[x] = constant[x];
  const int ncols = remaining;
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
      if (masked_rows) masked_rows[y] = 1;
      ++lines;
    }
  for (int x = 0; x < w; ++x)
    if (dead_col[x]) {
      for (int y = 0; y < h; ++y) mask[static_cast<std::size_t>(y) * w + x] = 1;
      ++lines;
    }
  if (masked_rows && ncols > 0) std::fill(masked_rows, masked_rows + h, std::uint8_t{1});
  return lines;
}

std::size_t mask_zero_pixels(const FrameView& frame, std::uint8_t* mask, int margin_px,
                             std::vector<std::uint8_t>& scratch, const std::uint8_t* candidate_rows,
                             std::uint8_t* masked_rows) {
  const int w = frame.width, h = frame.height, m = std::max(0, margin_px);
  // Pass 1, per row: the unmasked zero pixels as runs (a vectorised flag row, skipped 8 pixels
  // at a time where clear), each grown by m columns both ways; overlapping spans merge. The
  // no-data area of an offset detector is a few long runs per row.
  thread_local std::vector<std::pair<int, int>> spans;  // [x0, x1] of all rows
  thread_local std::vector<std::size_t> row_spans;      // row y: spans[row_spans[y] .. row_spans[y + 1])
  thread_local std::vector<PixelRun> zero_runs;
  spans.clear();
  row_spans.assign(static_cast<std::size_t>(h) + 1, 0);
  scratch.assign(detail::flag_row_bytes(w), 0);
  std::uint8_t* const zero = scratch.data();
  std::size_t zeros = 0;
  for (int y = 0; y < h; ++y) {
    row_spans[static_cast<std::size_t>(y)] = spans.size();
    if (candidate_rows && !candidate_rows[y]) continue;
    const std::uint16_t* raw = frame.data + y * frame.stride;
    const std::uint8_t* mrow = mask + static_cast<std::size_t>(y) * w;
    zero_flags(raw, mrow, w, zero);
    zero_runs.clear();
    detail::append_flag_runs(zero, w, y, zero_runs);
    for (const PixelRun& r : zero_runs) {
      zeros += static_cast<std::size_t>(r.x1 - r.x0 + 1);
      const int x0 = std::max(0, r.x0 - m), x1 = std::min(w - 1, r.x1 + m);
      if (spans.size() > row_spans[static_cast<std::size_t>(y)] && x0 <= spans.back().second + 1)
        spans.back().second = x1;
      else
        spans.emplace_back(x0, x1);
    }
  }
  row_spans[static_cast<std::size_t>(h)] = spans.size();
  if (zeros == 0) return 0;
  // Pass 2: row y takes the union of the spans of rows y - m .. y + m (the vertical margin):
  // ORed span by span, the wide no-data area would be written 2 m + 1 times.
  thread_local std::vector<std::pair<int, int>> window;
  for (int y = 0; y < h; ++y) {
    std::uint8_t* mrow = mask + static_cast<std::size_t>(y) * w;
    const std::size_t first = row_spans[static_cast<std::size_t>(std::max(0, y - m))];
    const std::size_t last = row_spans[static_cast<std::size_t>(std::min(h - 1, y + m)) + 1];
    if (first == last) continue;
    if (masked_rows) masked_rows[y] = 1;
    window.assign(spans.begin() + static_cast<std::ptrdiff_t>(first),
                  spans.begin() + static_cast<std::ptrdiff_t>(last));
    std::sort(window.begin(), window.end());
    for (std::size_t k = 0; k < window.size();) {
      const int x0 = window[k].first;  // locals: the stores cannot alias them
      int x1 = window[k].second;
      for (++k; k < window.size() && window[k].first <= x1 + 1; ++k) x1 = std::max(x1, window[k].second);
      for (int x = x0; x <= x1; ++x) mrow[x] |= 1;
    }
  }
  return zeros;
}

}  // namespace laueproc
