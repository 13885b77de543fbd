// Fuzz target: the journal line parser that --resume trusts. Every line either fails its
// checksum / parse, or parses into values that, written again, read back the same (the journal
// is the truth of a run: what it says must be what was read). Each input line is tried as it is
// (checksum checks) and with a valid checksum put in front (so the fields parser itself is
// searched, not only the checksum).
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "output/records.hpp"

namespace {

void check_line(std::string_view line);

std::string with_checksum(std::string_view body) {
  const auto crc = static_cast<unsigned long>(
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx ", crc & 0xffffffffUL);
  return std::string(hex) + std::string(body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    check_line(line);
    check_line(with_checksum(line));
  }
  return 0;
}

namespace {

void check_line(std::string_view line) {
  using namespace laueproc;
  {
    const char tag = output::journal_line_tag(line);
    Peak p;
    FrameSummary f;
    std::int64_t n = 0;
    std::string dir;
    std::string again;
    if (output::parse_journal_peak(line, p)) {
      if (tag != 'P') std::abort();
      output::append_journal_peak(again, p);
    } else if (output::parse_journal_frame(line, f, n)) {
      if (tag != 'F') std::abort();
      output::append_journal_frame(again, f, n);
    } else if (output::parse_journal_csv(line, dir)) {
      if (tag != 'C') std::abort();
      output::append_journal_csv(again, dir);
    } else {
      return;
    }
    again.pop_back();
    // Numbers may be written another way ("1e2" read, "100" written): the re-written line must
    // parse back to the same values, which its own round trip checks byte for byte.
    Peak p2;
    FrameSummary f2;
    std::int64_t n2 = 0;
    std::string dir2, third;
    if (tag == 'P' && (!output::parse_journal_peak(again, p2) || (output::append_journal_peak(third, p2), third.pop_back(), third != again)))
      std::abort();
    if (tag == 'F' && (!output::parse_journal_frame(again, f2, n2) ||
                       (output::append_journal_frame(third, f2, n2), third.pop_back(), third != again)))
      std::abort();
    for (char& ch : dir)
      if (ch == '\r') ch = ' ';  // a folder name is one line: append_journal_csv writes CR as a space
    if (tag == 'C' && (!output::parse_journal_csv(again, dir2) || dir2 != dir)) std::abort();
  }
}

}  // namespace
