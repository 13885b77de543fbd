#pragma once
/// @file
/// @brief The journal behind `--resume` and `laueproc merge`: writing and reading its text
/// (format in docs/output.md).
///
/// A journal is self-describing: after the header line come "I" lines with the run's provenance
/// (RunInfo, frames in the scan) and a "C" line with its CSV folder, so `laueproc merge` can
/// finish a run from its journals alone. Frames (their "P" lines, then the "F" line) may come in
/// any order: an MPI run journals each frame as it arrives from whichever rank computed it.
/// Every line but the header carries a CRC-32 (output/records.hpp): a damaged or edited line
/// ends the read like a torn one.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "laueproc/output.hpp"

namespace laueproc::output {

/// @brief What a journal's header and info lines hold.
struct JournalHead {
  std::string fingerprint;        ///< run_fingerprint() of the run that wrote it
  std::string started_utc;        ///< when that run (its first session) started
  RunInfo info;                   ///< provenance as recorded (defaults when there are no info lines)
  bool has_info = false;          ///< the journal carries info lines (journals of older versions do not)
  std::int64_t frames_total = 0;  ///< frames in the scan; 0 = not recorded
  std::string csv_dir;            ///< the run's CSV folder ("C" line; the last one read counts); empty = none
};

struct FileCloser {
  void operator()(std::FILE* f) const noexcept;
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

/// @brief Appends frames to a journal, each flushed before write() returns.
class JournalWriter {
 public:
  static constexpr int kSyncFrames = ResultSink::kSyncFrames;  ///< fsync this often (power loss)

  /// @brief Creates (or truncates) `path` and writes the header and the info lines.
  static JournalWriter create(const std::string& path, const JournalHead& head);
  /// @brief Cuts `path` to `good_size` bytes (the end of its last complete frame) and appends there.
  static JournalWriter append(const std::string& path, std::int64_t good_size);

  /// @brief Writes one frame, its P lines then its F line, and flushes: the frame survives a
  /// kill once this returns. Returns the byte offset of the frame's first line.
  std::int64_t write(const FrameSummary& frame, const PeakList& peaks);
  /// @brief Records that the run now writes its CSV to `csv_dir` (a resumed run with another --csv).
  void write_csv_folder(const std::string& csv_dir);
  const std::string& path() const { return path_; }

 private:
  JournalWriter(std::string path, FilePtr file, std::int64_t size);
  std::string path_;
  FilePtr file_;
  std::int64_t size_ = 0;  // bytes written so far = offset of the next frame
  std::string line_;       // reused formatting buffer
  int since_sync_ = 0;
};

/// @brief Reads a journal: header and info lines at once, then frames one by one (next()) or
/// by the offset where they start (read_at()).
class JournalReader {
 public:
  /// @brief Opens `path` and reads its header and info lines. Throws OutputError (one line naming
  /// the file) when it cannot be read, is not a laueproc journal or is of another format version.
  /// A file that is empty or holds a torn header (a run killed at once) reads as empty().
  explicit JournalReader(const std::string& path);
  const JournalHead& head() const { return head_; }
  const std::string& path() const { return path_; }
  bool empty() const { return empty_; }

  /// @brief The next complete frame in file order and the offset of its first line. False at
  /// the end, or at the first torn or damaged line (then torn() is true and nothing after it is
  /// read: a frame counts only when its F line is complete and agrees with its P lines).
  bool next(FrameSummary& frame, PeakList& peaks, std::int64_t& offset);
  bool torn() const { return torn_; }
  /// @brief Why the read stopped early ("a torn last line", "a damaged or edited line 12
  /// (checksum mismatch)", "a malformed line 7", "an incomplete frame"); empty when it did not.
  const std::string& damage() const { return damage_; }
  /// @brief Bytes up to the end of the last complete frame read (header and info included):
  /// where JournalWriter::append() cuts the file.
  std::int64_t good_size() const { return good_size_; }

  /// @brief Reads again the frame whose lines start at `offset` (from next() or
  /// JournalWriter::write(); the writer must have flushed it). Throws Error when it does not
  /// parse. Does not disturb next().
  void read_at(std::int64_t offset, FrameSummary& frame, PeakList& peaks);
  /// @brief See list_journal_frames(). Does not disturb next().
  std::vector<std::int64_t> frame_numbers();

 private:
  int read_line(std::string& line);  // 1: a complete line, 0: end or torn
  // One frame's lines (C and I lines between frames are applied); on failure `why` says what.
  bool read_frame(FrameSummary& frame, PeakList& peaks, std::string& why, std::int64_t& line_no);

  std::string path_;
  FilePtr file_;
  JournalHead head_;
  bool empty_ = false;
  bool torn_ = false;
  std::string damage_;
  std::int64_t line_no_ = 1;  // lines read by next(), the header counted
  std::int64_t good_size_ = 0;
  std::int64_t next_pos_ = 0;  // where next() goes on
  std::string line_;
};

/// @brief The frame numbers of a journal's complete frames, in file order, up to its first torn
/// or damaged line: a quick scan (peak lines are only counted) to check that shards cover a
/// scan before merging them.
std::vector<std::int64_t> list_journal_frames(const std::string& path);

}  // namespace laueproc::output
