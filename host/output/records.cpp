#include "output/records.hpp"

#include <zlib.h>

#include <charconv>
#include <cmath>
#include <system_error>

namespace laueproc::output {

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "nan";  // sign and payload of a NaN carry no meaning here
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  out.append(buf, res.ptr);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

namespace {

void sep(std::string& out, char c) { out.push_back(c); }

// Splits a line at single separators; next() yields the fields one by one.
class Fields {
 public:
  explicit Fields(std::string_view line) : rest_(line) {}
  bool next(std::string_view& field) {
    if (done_) return false;
    auto pos = rest_.find(' ');
    if (pos == std::string_view::npos) {
      field = rest_;
      done_ = true;
    } else {
      field = rest_.substr(0, pos);
      rest_.remove_prefix(pos + 1);
    }
    return true;
  }
  /// Everything after the fields read so far (the status); empty when none is left.
  std::string_view rest() const { return done_ ? std::string_view() : rest_; }
  bool done() const { return done_; }

 private:
  std::string_view rest_;
  bool done_ = false;
};

bool read(Fields& f, double& v) {
  std::string_view s;
  if (!f.next(s) || s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

template <typename Int>
bool read(Fields& f, Int& v) {
  std::string_view s;
  if (!f.next(s) || s.empty()) return false;
  std::int64_t wide = 0;
  auto res = std::from_chars(s.data(), s.data() + s.size(), wide);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size()) return false;
  v = static_cast<Int>(wide);
  return static_cast<std::int64_t>(v) == wide;
}

bool read(Fields& f, bool& v) {
  int i = 0;
  if (!read(f, i) || (i != 0 && i != 1)) return false;
  v = i != 0;
  return true;
}

bool expect(Fields& f, std::string_view tag) {
  std::string_view s;
  return f.next(s) && s == tag;
}

// The peak fields in peaks.csv order, separated by `c`.
void append_peak_fields(std::string& out, const Peak& p, char c) {
  append_int(out, p.frame); sep(out, c);
  append_int(out, p.peak); sep(out, c);
  append_double(out, p.x); sep(out, c);
  append_double(out, p.y); sep(out, c);
  append_double(out, p.intensity); sep(out, c);
  append_double(out, p.peak_value); sep(out, c);
  append_int(out, p.npix); sep(out, c);
  append_double(out, p.a); sep(out, c);
  append_double(out, p.b); sep(out, c);
  append_double(out, p.theta_deg); sep(out, c);
  append_int(out, p.n_maxima); sep(out, c);
  out.push_back(p.saturated ? '1' : '0'); sep(out, c);
  append_double(out, p.mxx); sep(out, c);
  append_double(out, p.myy); sep(out, c);
  append_double(out, p.mxy); sep(out, c);
  out.push_back(p.edge ? '1' : '0'); sep(out, c);
  append_double(out, p.snr);
}

std::uint32_t checksum(std::string_view text) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
}

// Starts a journal line: room for the checksum, then the tag. end_line() fills the checksum in.
std::size_t begin_line(std::string& out, char tag) {
  const std::size_t start = out.size();
  out.append(kChecksumChars, '0');
  out.push_back(' ');
  out.push_back(tag);
  out.push_back(' ');
  return start;
}

void end_line(std::string& out, std::size_t start) {
  const std::size_t body = start + kChecksumChars + 1;
  std::uint32_t crc = checksum(std::string_view(out).substr(body));
  static const char kHex[] = "0123456789abcdef";
  for (std::size_t k = kChecksumChars; k-- > 0; crc >>= 4) out[start + k] = kHex[crc & 0xf];
  out.push_back('\n');
}

// The line after its checksum when the checksum matches; else an empty view.
std::string_view checked_body(std::string_view line) {
  if (line.size() < kChecksumChars + 3 || line[kChecksumChars] != ' ') return {};
  std::uint32_t want = 0;
  for (std::size_t k = 0; k < kChecksumChars; ++k) {
    const char c = line[k];
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else return {};
    want = (want << 4) | static_cast<std::uint32_t>(v);
  }
  std::string_view body = line.substr(kChecksumChars + 1);
  return checksum(body) == want ? body : std::string_view();
}

}  // namespace

char journal_line_tag(std::string_view line) {
  std::string_view body = checked_body(line);
  return body.size() >= 2 && body[1] == ' ' ? body[0] : 0;
}

void append_journal_csv(std::string& out, const std::string& csv_dir) {
  const std::size_t start = begin_line(out, 'C');
  for (char ch : csv_dir) out.push_back(ch == '\n' || ch == '\r' ? ' ' : ch);
  end_line(out, start);
}

bool parse_journal_csv(std::string_view line, std::string& csv_dir) {
  std::string_view body = checked_body(line);
  if (body.size() < 2 || body.substr(0, 2) != "C ") return false;
  csv_dir = std::string(body.substr(2));
  return true;
}

void append_journal_info(std::string& out, std::string_view key, std::string_view value) {
  const std::size_t start = begin_line(out, 'I');
  out += key;
  out.push_back(' ');
  for (char ch : value) out.push_back(ch == '\n' || ch == '\r' ? ' ' : ch);
  end_line(out, start);
}

bool parse_journal_info(std::string_view line, std::string& key, std::string& value) {
  std::string_view body = checked_body(line);
  if (body.size() < 2 || body.substr(0, 2) != "I ") return false;
  body.remove_prefix(2);
  const auto space = body.find(' ');
  key = std::string(body.substr(0, space));
  value = space == std::string_view::npos ? std::string() : std::string(body.substr(space + 1));
  return !key.empty();
}

void append_journal_peak(std::string& out, const Peak& p) {
  const std::size_t start = begin_line(out, 'P');
  append_peak_fields(out, p, ' ');
  end_line(out, start);
}

void append_journal_frame(std::string& out, const FrameSummary& f, std::int64_t n_peak_lines) {
  const std::size_t start = begin_line(out, 'F');
  append_int(out, f.frame); sep(out, ' ');
  append_int(out, n_peak_lines); sep(out, ' ');
  append_int(out, f.ix); sep(out, ' ');
  append_int(out, f.iy); sep(out, ' ');
  out.push_back(f.has_position ? '1' : '0'); sep(out, ' ');
  append_double(out, f.x_um); sep(out, ' ');
  append_double(out, f.y_um); sep(out, ' ');
  append_int(out, f.n_peaks); sep(out, ' ');
  append_int(out, f.n_used); sep(out, ' ');
  append_double(out, f.se); sep(out, ' ');
  append_double(out, f.se_median); sep(out, ' ');
  out += to_string(f.scenario); sep(out, ' ');
  append_double(out, f.split_px); sep(out, ' ');
  append_double(out, f.split_dx); sep(out, ' ');
  append_double(out, f.split_dy); sep(out, ' ');
  append_double(out, f.misorientation_deg); sep(out, ' ');
  append_double(out, f.pair_fraction); sep(out, ' ');
  append_double(out, f.stacking_fraction); sep(out, ' ');
  append_double(out, f.elongation); sep(out, ' ');
  append_double(out, f.background); sep(out, ' ');
  append_double(out, f.noise); sep(out, ' ');
  out += f.status;
  end_line(out, start);
}

bool parse_journal_peak(std::string_view line, Peak& p) {
  Fields f(checked_body(line));
  return expect(f, "P") && read(f, p.frame) && read(f, p.peak) && read(f, p.x) && read(f, p.y) &&
         read(f, p.intensity) && read(f, p.peak_value) && read(f, p.npix) && read(f, p.a) &&
         read(f, p.b) && read(f, p.theta_deg) && read(f, p.n_maxima) && read(f, p.saturated) &&
         read(f, p.mxx) && read(f, p.myy) && read(f, p.mxy) && read(f, p.edge) && read(f, p.snr) &&
         f.done();
}

bool parse_journal_frame(std::string_view line, FrameSummary& s, std::int64_t& n_peak_lines) {
  Fields f(checked_body(line));
  if (!(expect(f, "F") && read(f, s.frame) && read(f, n_peak_lines) && read(f, s.ix) && read(f, s.iy) &&
        read(f, s.has_position) && read(f, s.x_um) && read(f, s.y_um) && read(f, s.n_peaks) &&
        read(f, s.n_used) && read(f, s.se) && read(f, s.se_median)))
    return false;
  std::string_view name;
  if (!f.next(name)) return false;
  auto scenario = scenario_from_string(name);
  if (!scenario) return false;
  s.scenario = *scenario;
  if (!(read(f, s.split_px) && read(f, s.split_dx) && read(f, s.split_dy) && read(f, s.misorientation_deg) &&
        read(f, s.pair_fraction) && read(f, s.stacking_fraction) && read(f, s.elongation) &&
        read(f, s.background) && read(f, s.noise)))
    return false;
  if (f.done()) return false;  // the separator before the status (possibly empty) is required
  s.status = std::string(f.rest());
  return n_peak_lines >= 0;
}

void append_csv_peak(std::string& out, const Peak& p) {
  append_peak_fields(out, p, ',');
  out.push_back('\n');
}

void append_csv_frame(std::string& out, const FrameSummary& f) {
  const double nan = std::nan("");
  append_int(out, f.frame); sep(out, ',');
  append_int(out, f.ix); sep(out, ',');
  append_int(out, f.iy); sep(out, ',');
  append_double(out, f.has_position ? f.x_um : nan); sep(out, ',');
  append_double(out, f.has_position ? f.y_um : nan); sep(out, ',');
  append_int(out, f.n_peaks); sep(out, ',');
  append_double(out, f.se); sep(out, ',');
  append_double(out, f.se_median); sep(out, ',');
  out += to_string(f.scenario); sep(out, ',');
  append_double(out, f.split_px); sep(out, ',');
  append_double(out, f.misorientation_deg); sep(out, ',');
  append_double(out, f.background); sep(out, ',');
  append_double(out, f.noise); sep(out, ',');
  if (f.status.find_first_of(",\"") != std::string::npos) {  // RFC 4180 quoting
    out.push_back('"');
    for (char ch : f.status) {
      if (ch == '"') out.push_back('"');
      out.push_back(ch);
    }
    out.push_back('"');
  } else {
    out += f.status;
  }
  sep(out, ',');
  append_int(out, f.n_used); sep(out, ',');
  append_double(out, f.split_dx); sep(out, ',');
  append_double(out, f.split_dy); sep(out, ',');
  append_double(out, f.pair_fraction); sep(out, ',');
  append_double(out, f.stacking_fraction); sep(out, ',');
  append_double(out, f.elongation); sep(out, ',');
  out.push_back(f.has_position ? '1' : '0');
  out.push_back('\n');
}

std::string sanitize_status(std::string status) {
  for (char& ch : status)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return status;
}

}  // namespace laueproc::output
