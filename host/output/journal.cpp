// The journal's text: header, info lines, frames. See journal.hpp and docs/output.md.
#include "output/journal.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "laueproc/error.hpp"
#include "output/output_guard.hpp"
#include "output/records.hpp"

namespace laueproc::output {

namespace fs = std::filesystem;

void FileCloser::operator()(std::FILE* f) const noexcept { std::fclose(f); }

namespace {

[[noreturn]] void io_error(const std::string& path, const char* what) {
  throw OutputError(path, std::string(what) + " (" + std::strerror(errno) + ")");
}

void append_info_lines(std::string& out, const JournalHead& head) {
  const RunInfo& info = head.info;
  append_journal_info(out, "version", info.program_version);
  append_journal_info(out, "git_commit", info.git_commit);
  append_journal_info(out, "command_line", info.command_line);
  append_journal_info(out, "backend", info.backend);
  append_journal_info(out, "threads", std::to_string(info.threads));
  append_journal_info(out, "dataset", info.dataset);
  if (!info.run_mode.empty()) append_journal_info(out, "run_mode", info.run_mode);
  for (const auto& file : info.input_files) append_journal_info(out, "input_file", file);
  for (const auto& [name, value] : info.settings) append_journal_info(out, "setting", name + ' ' + value);
  append_journal_info(out, "frames_total", std::to_string(head.frames_total));
  append_journal_csv(out, head.csv_dir);
}

// Applies one info item to `head`; unknown keys are skipped (a newer writer may add some).
void apply_info(const std::string& key, const std::string& value, JournalHead& head) {
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
  if (ec) throw OutputError(path, "cannot truncate the journal (" + ec.message() + ")");
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
    sync_fd(fileno(file_.get()), path_);  // power loss; a kill is already covered by fflush
    since_sync_ = 0;
  }
  const std::int64_t offset = size_;
  size_ += static_cast<std::int64_t>(line_.size());
  return offset;
}

void JournalWriter::write_csv_folder(const std::string& csv_dir) {
  line_.clear();
  append_journal_csv(line_, csv_dir);
  if (std::fwrite(line_.data(), 1, line_.size(), file_.get()) != line_.size() || std::fflush(file_.get()) != 0)
    io_error(path_, "write failed");
  size_ += static_cast<std::int64_t>(line_.size());
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
  if (line.compare(0, expected.size(), expected) != 0) {
    if (line.compare(0, 17, "LAUEPROC-JOURNAL ") == 0)
      throw OutputError(path, "journal written by another laueproc version (format " +
                                  line.substr(17, line.find(' ', 17) - 17) + "); give --overwrite to start over");
    throw OutputError(path, "not a laueproc journal (delete it, or give --overwrite to start over)");
  }
  const std::string_view rest = std::string_view(line).substr(expected.size());
  const auto space = rest.find(' ');
  head_.fingerprint = std::string(rest.substr(0, space));
  if (space != std::string_view::npos) head_.started_utc = std::string(rest.substr(space + 1));
  if (head_.started_utc == "-") head_.started_utc.clear();
  good_size_ = std::ftell(file_.get());
  // The info and CSV lines that follow the header (a torn or damaged one ends them: next() says so).
  std::string key, value;
  for (;;) {
    const long before = std::ftell(file_.get());
    const bool whole = read_line(line);
    const char tag = whole ? journal_line_tag(line) : 0;
    if (tag == 'I' && parse_journal_info(line, key, value)) {
      apply_info(key, value, head_);
    } else if (tag == 'C' && parse_journal_csv(line, head_.csv_dir)) {
    } else {
      std::fseek(file_.get(), before, SEEK_SET);
      break;
    }
    good_size_ = std::ftell(file_.get());
    ++line_no_;
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

bool JournalReader::read_frame(FrameSummary& frame, PeakList& peaks, std::string& why, std::int64_t& line_no) {
  peaks.clear();
  std::string key, value;
  for (;;) {
    const long before = std::ftell(file_.get());
    if (!read_line(line_)) {
      const bool moved = std::ftell(file_.get()) != before;
      why = moved ? "a torn last line" : (peaks.empty() ? std::string() : "an incomplete frame");
      return false;
    }
    ++line_no;
    const char tag = journal_line_tag(line_);
    if (tag == 'P') {
      Peak p;
      if (!parse_journal_peak(line_, p)) {
        why = "a malformed line " + std::to_string(line_no);
        return false;
      }
      peaks.push_back(p);
      continue;
    }
    if (tag == 'C' && peaks.empty()) {  // the run's CSV folder changed (a resumed run)
      parse_journal_csv(line_, head_.csv_dir);
      continue;
    }
    if (tag == 'I' && peaks.empty() && parse_journal_info(line_, key, value)) continue;
    if (tag != 'F') {
      why = tag == 0 ? "a damaged or edited line " + std::to_string(line_no) + " (checksum mismatch)"
                     : "a malformed line " + std::to_string(line_no);
      return false;
    }
    std::int64_t n_lines = -1;
    bool ok = parse_journal_frame(line_, frame, n_lines) && n_lines == static_cast<std::int64_t>(peaks.size());
    for (const Peak& p : peaks) ok = ok && p.frame == frame.frame;
    if (!ok) why = "a malformed line " + std::to_string(line_no);
    return ok;
  }
}

bool JournalReader::next(FrameSummary& frame, PeakList& peaks, std::int64_t& offset) {
  if (empty_ || torn_) return false;
  std::fseek(file_.get(), static_cast<long>(next_pos_), SEEK_SET);
  std::string why;
  std::int64_t line_no = line_no_;
  offset = next_pos_;
  if (!read_frame(frame, peaks, why, line_no)) {
    // The clean end of the file, or a torn/damaged frame: nothing after good_size() counts.
    torn_ = !why.empty();
    damage_ = why;
    return false;
  }
  next_pos_ = std::ftell(file_.get());
  good_size_ = next_pos_;
  line_no_ = line_no;
  return true;
}

std::vector<std::int64_t> JournalReader::frame_numbers() {
  std::vector<std::int64_t> frames;
  if (empty_) return frames;
  std::fseek(file_.get(), static_cast<long>(next_pos_), SEEK_SET);
  std::int64_t peaks = 0;
  while (read_line(line_)) {
    const char tag = journal_line_tag(line_);
    if (tag == 'P') {
      ++peaks;
      continue;
    }
    if ((tag == 'C' || tag == 'I') && peaks == 0) continue;
    FrameSummary f;
    std::int64_t n_lines = -1;
    if (tag != 'F' || !parse_journal_frame(line_, f, n_lines) || n_lines != peaks) break;
    frames.push_back(f.frame);
    peaks = 0;
  }
  std::fseek(file_.get(), static_cast<long>(next_pos_), SEEK_SET);
  return frames;
}

void JournalReader::read_at(std::int64_t offset, FrameSummary& frame, PeakList& peaks) {
  std::clearerr(file_.get());
  std::string why;
  std::int64_t line_no = 0;
  if (std::fseek(file_.get(), static_cast<long>(offset), SEEK_SET) != 0 || !read_frame(frame, peaks, why, line_no))
    throw OutputError(path_, "the frame at byte " + std::to_string(offset) + " does not read back (journal changed?)");
}

std::vector<std::int64_t> list_journal_frames(const std::string& path) {
  JournalReader reader(path);
  return reader.frame_numbers();
}

}  // namespace laueproc::output
