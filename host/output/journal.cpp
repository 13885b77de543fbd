// The journal's text: header, info lines, frames. See journal.hpp and docs/output.md.
#include "output/journal.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "laueproc/error.hpp"
#include "output/records.hpp"

namespace laueproc::output {

namespace fs = std::filesystem;

void FileCloser::operator()(std::FILE* f) const noexcept { std::fclose(f); }

namespace {

[[noreturn]] void io_error(const std::string& path, const char* what) {
  throw Error(path + ": " + what + " (" + std::strerror(errno) + ")");
}

// A value on one journal line: line breaks would end the record early.
std::string one_line(std::string value) { return sanitize_status(std::move(value)); }

void append_info(std::string& out, std::string_view key, const std::string& value) {
  out += "I ";
  out += key;
  out.push_back(' ');
  out += one_line(value);
  out.push_back('\n');
}

void append_info_lines(std::string& out, const JournalHead& head) {
  const RunInfo& info = head.info;
  append_info(out, "version", info.program_version);
  append_info(out, "git_commit", info.git_commit);
  append_info(out, "command_line", info.command_line);
  append_info(out, "backend", info.backend);
  append_info(out, "threads", std::to_string(info.threads));
  append_info(out, "dataset", info.dataset);
  if (!info.run_mode.empty()) append_info(out, "run_mode", info.run_mode);
  for (const auto& file : info.input_files) append_info(out, "input_file", file);
  for (const auto& [name, value] : info.settings) append_info(out, "setting", one_line(name) + ' ' + value);
  append_info(out, "frames_total", std::to_string(head.frames_total));
  if (!head.csv_dir.empty()) append_info(out, "csv_dir", head.csv_dir);
}

// Applies one "I key value" line (without "I ") to `head`; unknown keys are skipped (a newer
// writer may add some).
void apply_info(std::string_view rest, JournalHead& head) {
  const auto space = rest.find(' ');
  const std::string_view key = rest.substr(0, space);
  const std::string value = space == std::string_view::npos ? std::string() : std::string(rest.substr(space + 1));
  RunInfo& info = head.info;
  head.has_info = true;
  if (key == "version") info.program_version = value;
  else if (key == "git_commit") info.git_commit = value;
  else if (key == "command_line") info.command_line = value;
  else if (key == "backend") info.backend = value;
  else if (key == "threads") info.threads = std::atoi(value.c_str());
  else if (key == "dataset") info.dataset = value;
  else if (key == "run_mode") info.run_mode = value;
  else if (key == "input_file") info.input_files.push_back(value);
  else if (key == "setting") {
    const auto sep = value.find(' ');
    info.settings.emplace_back(value.substr(0, sep), sep == std::string::npos ? std::string() : value.substr(sep + 1));
  } else if (key == "frames_total") head.frames_total = std::atoll(value.c_str());
  else if (key == "csv_dir") head.csv_dir = value;
}

}  // namespace

// ---- writer ------------------------------------------------------------------------------------

JournalWriter::JournalWriter(std::string path, FilePtr file, std::int64_t size)
    : path_(std::move(path)), file_(std::move(file)), size_(size) {}

JournalWriter JournalWriter::create(const std::string& path, const JournalHead& head) {
  FilePtr file(std::fopen(path.c_str(), "wb"));
  if (!file) io_error(path, "cannot create the journal");
  std::string text(kJournalMagic);
  text += ' ' + head.fingerprint + ' ' + (head.started_utc.empty() ? std::string("-") : head.started_utc) + '\n';
  append_info_lines(text, head);
  if (std::fwrite(text.data(), 1, text.size(), file.get()) != text.size() || std::fflush(file.get()) != 0)
    io_error(path, "write failed");
  return JournalWriter(path, std::move(file), static_cast<std::int64_t>(text.size()));
}

JournalWriter JournalWriter::append(const std::string& path, std::int64_t good_size) {
  std::error_code ec;
  fs::resize_file(path, static_cast<std::uintmax_t>(good_size), ec);
  if (ec) throw Error(path + ": cannot truncate the journal (" + ec.message() + ")");
  FilePtr file(std::fopen(path.c_str(), "ab"));
  if (!file) io_error(path, "cannot append to the journal");
  return JournalWriter(path, std::move(file), good_size);
}

std::int64_t JournalWriter::write(const FrameSummary& frame, const PeakList& peaks) {
  line_.clear();
  for (const Peak& p : peaks) append_journal_peak(line_, p);
  append_journal_frame(line_, frame, static_cast<std::int64_t>(peaks.size()));
  if (std::fwrite(line_.data(), 1, line_.size(), file_.get()) != line_.size() || std::fflush(file_.get()) != 0)
    io_error(path_, "write failed");
  if (++since_sync_ >= kSyncFrames) {
    ::fsync(fileno(file_.get()));
    since_sync_ = 0;
  }
  const std::int64_t offset = size_;
  size_ += static_cast<std::int64_t>(line_.size());
  return offset;
}

// ---- reader ------------------------------------------------------------------------------------

JournalReader::JournalReader(const std::string& path) : path_(path) {
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) io_error(path, "cannot read the journal");
  std::string line;
  if (!read_line(line)) {  // empty, or killed while writing the header
    empty_ = true;
    return;
  }
  const std::string expected = std::string(kJournalMagic) + ' ';
  if (line.compare(0, expected.size(), expected) != 0)
    throw Error(path + ": not a laueproc journal (delete it, or run without --resume)");
  const std::string_view rest = std::string_view(line).substr(expected.size());
  const auto space = rest.find(' ');
  head_.fingerprint = std::string(rest.substr(0, space));
  if (space != std::string_view::npos) head_.started_utc = std::string(rest.substr(space + 1));
  if (head_.started_utc == "-") head_.started_utc.clear();
  good_size_ = std::ftell(file_.get());
  for (;;) {
    const long before = std::ftell(file_.get());
    if (!read_line(line)) {
      std::fseek(file_.get(), before, SEEK_SET);
      break;
    }
    if (line.size() < 2 || line[0] != 'I' || line[1] != ' ') {
      std::fseek(file_.get(), before, SEEK_SET);
      break;
    }
    apply_info(std::string_view(line).substr(2), head_);
    good_size_ = std::ftell(file_.get());
  }
  next_pos_ = good_size_;
}

int JournalReader::read_line(std::string& line) {
  line.clear();
  char buf[4096];
  while (std::fgets(buf, sizeof buf, file_.get())) {
    const std::size_t n = std::strlen(buf);
    line.append(buf, n);
    if (n > 0 && buf[n - 1] == '\n') {
      line.pop_back();
      return 1;
    }
  }
  return 0;  // end of file; a line without '\n' is torn (the writer was killed mid-line)
}

bool JournalReader::read_frame(FrameSummary& frame, PeakList& peaks) {
  peaks.clear();
  for (;;) {
    if (!read_line(line_)) return false;
    if (!line_.empty() && line_[0] == 'P') {
      Peak p;
      if (!parse_journal_peak(line_, p)) return false;
      peaks.push_back(p);
      continue;
    }
    std::int64_t n_lines = -1;
    if (!parse_journal_frame(line_, frame, n_lines) || n_lines != static_cast<std::int64_t>(peaks.size())) return false;
    for (const Peak& p : peaks)
      if (p.frame != frame.frame) return false;
    return true;
  }
}

bool JournalReader::next(FrameSummary& frame, PeakList& peaks, std::int64_t& offset) {
  if (empty_ || torn_) return false;
  std::fseek(file_.get(), static_cast<long>(next_pos_), SEEK_SET);
  offset = next_pos_;
  if (!read_frame(frame, peaks)) {
    // The clean end of the file, or a torn/damaged frame: anything read after good_size() is dropped.
    torn_ = std::ftell(file_.get()) != static_cast<long>(next_pos_) || !std::feof(file_.get());
    return false;
  }
  next_pos_ = std::ftell(file_.get());
  good_size_ = next_pos_;
  return true;
}

std::vector<std::int64_t> JournalReader::frame_numbers() {
  std::vector<std::int64_t> frames;
  if (empty_) return frames;
  std::fseek(file_.get(), static_cast<long>(next_pos_), SEEK_SET);
  std::int64_t peaks = 0;
  while (read_line(line_)) {
    if (!line_.empty() && line_[0] == 'P') {
      ++peaks;
      continue;
    }
    FrameSummary f;
    std::int64_t n_lines = -1;
    if (!parse_journal_frame(line_, f, n_lines) || n_lines != peaks) break;
    frames.push_back(f.frame);
    peaks = 0;
  }
  std::fseek(file_.get(), static_cast<long>(next_pos_), SEEK_SET);
  return frames;
}

void JournalReader::read_at(std::int64_t offset, FrameSummary& frame, PeakList& peaks) {
  std::clearerr(file_.get());
  if (std::fseek(file_.get(), static_cast<long>(offset), SEEK_SET) != 0 || !read_frame(frame, peaks))
    throw Error(path_ + ": the frame at byte " + std::to_string(offset) + " does not read back (journal changed?)");
}

std::vector<std::int64_t> list_journal_frames(const std::string& path) {
  JournalReader reader(path);
  return reader.frame_numbers();
}

}  // namespace laueproc::output
