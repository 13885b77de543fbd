// Output-file safety (host/output/output_guard.hpp) and how the result sink uses it: temporary
// names renamed when complete, no replacing without asking, one writer per results file, and
// journal lines whose edits are detected.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "laueproc/error.hpp"
#include "laueproc/output.hpp"
#include "output/output_guard.hpp"
#include "output/records.hpp"

namespace {

namespace fs = std::filesystem;
using namespace laueproc;

class Dir {
 public:
  Dir() {
    std::string t = ::testing::TempDir() + "laueproc_guard_XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    path_ = mkdtemp(buf.data());
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (const auto& e : fs::recursive_directory_iterator(path_)) v.push_back(fs::relative(e.path(), path_).string());
    std::sort(v.begin(), v.end());
    return v;
  }

 private:
  std::string path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// ---- AtomicFile --------------------------------------------------------------------------------

TEST(AtomicFile, AppearsOnlyWhenCommitted) {
  Dir d;
  const std::string path = d / "sub/out.h5";
  {
    output::AtomicFile f(path, false);
    EXPECT_NE(f.temp_path(), path);
    EXPECT_EQ(fs::path(f.temp_path()).parent_path(), fs::path(path).parent_path()) << "same folder: rename is atomic";
    spit(f.temp_path(), "complete");
    EXPECT_FALSE(fs::exists(path));
    f.commit();
  }
  EXPECT_EQ(slurp(path), "complete");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"sub", "sub/out.h5"})) << "no temporary file left";
}

TEST(AtomicFile, AbandonedLeavesNothingAndKeepsTheOldFile) {
  Dir d;
  const std::string path = d / "out.h5";
  spit(path, "old results");
  {
    output::AtomicFile f(path, true);
    spit(f.temp_path(), "half writ");
  }  // an exception, say: never committed
  EXPECT_EQ(slurp(path), "old results");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"out.h5"}));
}

TEST(AtomicFile, RefusesAnExistingFileUnlessOverwrite) {
  Dir d;
  const std::string path = d / "notes.csv";
  spit(path, "mine");
  try {
    output::AtomicFile f(path, false);
    FAIL() << "an existing file must be refused";
  } catch (const OutputError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos) << e.what();
  }
  output::AtomicFile f(path, true);
  spit(f.temp_path(), "new");
  f.commit();
  EXPECT_EQ(slurp(path), "new");
}

TEST(AtomicFile, FileMadeMeanwhileIsNotReplacedWithoutOverwrite) {
  Dir d;
  const std::string path = d / "out.h5";
  output::AtomicFile f(path, false);
  spit(f.temp_path(), "mine");
  spit(path, "someone else's, made while we wrote");
  EXPECT_THROW(f.commit(), OutputError);
  EXPECT_EQ(slurp(path), "someone else's, made while we wrote");
}

TEST(AtomicFile, UnwritableFolderIsOneLineOutputError) {
  Dir d;
  spit(d / "file", "x");
  try {
    output::AtomicFile f(d / "file/out.h5", false);
    FAIL();
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find(d / "file"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

// ---- StagingFolder -----------------------------------------------------------------------------

TEST(StagingFolder, MovesEverythingInOnCommitAndNothingOtherwise) {
  Dir d;
  {
    output::StagingFolder s(d / "csv", false);
    spit(s.path() + "/a.csv", "a");
    spit(s.path() + "/b.csv", "b");
    EXPECT_EQ(s.final_path("a.csv"), d / "csv/a.csv");
  }
  EXPECT_EQ(d.names(), (std::vector<std::string>{"csv"})) << "abandoned: nothing";
  {
    output::StagingFolder s(d / "csv", false);
    spit(s.path() + "/a.csv", "a");
    spit(s.path() + "/b.csv", "b");
    s.commit();
  }
  EXPECT_EQ(d.names(), (std::vector<std::string>{"csv", "csv/a.csv", "csv/b.csv"}));
  output::StagingFolder s(d / "csv", false);
  spit(s.path() + "/a.csv", "again");
  EXPECT_THROW(s.commit(), OutputError) << "a.csv exists and overwrite was not given";
  EXPECT_EQ(slurp(d / "csv/a.csv"), "a");
}

// ---- OutputLock --------------------------------------------------------------------------------

TEST(OutputLock, SecondHolderIsRefusedAndTheFileIsUntouched) {
  Dir d;
  const std::string path = d / "r.h5.journal";
  spit(path, "journal of a running job\n");
  output::OutputLock first(path, d / "r.h5", "busy");
  EXPECT_FALSE(first.created());
  try {
    output::OutputLock second(path, d / "r.h5", "another process writes it");
    FAIL() << "a second lock must fail";
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find("another process writes it"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(path), "journal of a running job\n");
  first.remove_and_release();
  EXPECT_FALSE(fs::exists(path));
  output::OutputLock third(path, d / "r.h5", "busy");
  EXPECT_TRUE(third.created());
}

// ---- the result sink ---------------------------------------------------------------------------

RunInfo info() {
  RunInfo i;
  i.program_version = "test";
  i.input_files = {"/data/scan.h5"};
  i.settings = {{"threshold.k_high", "6"}};
  return i;
}

FrameSummary frame(std::int64_t k) {
  FrameSummary f;
  f.frame = k;
  f.status = "ok";
  f.has_position = true;
  f.x_um = 0.5 * static_cast<double>(k);
  return f;
}

PeakList peaks(std::int64_t k) {
  PeakList v(2);
  for (int p = 0; p < 2; ++p) {
    v[static_cast<std::size_t>(p)].frame = k;
    v[static_cast<std::size_t>(p)].peak = p;
    v[static_cast<std::size_t>(p)].x = 10.25 * static_cast<double>(k + p);
  }
  return v;
}

TEST(SinkSafety, SecondSinkOnTheSameResultsIsRefusedAndTheFirstGoesOn) {
  Dir d;
  SinkOptions o{d / "r.h5", d / "csv", false};
  ResultSink first(o, info());
  for (int k = 0; k < 3; ++k) first.add(frame(k), peaks(k));
  const std::string journal = slurp(d / "r.h5.journal");
  for (bool resume : {false, true}) {
    SinkOptions o2 = o;
    o2.resume = resume;
    o2.overwrite = !resume;
    try {
      ResultSink second(o2, info());
      FAIL() << "a second writer must be refused";
    } catch (const OutputError& e) {
      EXPECT_NE(std::string(e.what()).find("another laueproc process"), std::string::npos) << e.what();
    }
    EXPECT_EQ(slurp(d / "r.h5.journal"), journal) << "the refused sink changed nothing (resume " << resume << ")";
  }
  for (int k = 3; k < 6; ++k) first.add(frame(k), peaks(k));
  first.finish(ScanMaps{});
  EXPECT_TRUE(fs::exists(d / "r.h5"));
  EXPECT_TRUE(fs::exists(d / "csv/peaks.csv"));
  EXPECT_FALSE(fs::exists(d / "r.h5.partial"));
  EXPECT_FALSE(fs::exists(d / "csv/peaks.csv.partial"));
  EXPECT_FALSE(fs::exists(d / "r.h5.journal"));
}

TEST(SinkSafety, ExistingResultsOrAnyFileAsOutAreRefusedUnlessOverwrite) {
  Dir d;
  spit(d / "notes.csv", "my notes");
  try {
    ResultSink s(SinkOptions{d / "notes.csv", "", false}, info());
    FAIL();
  } catch (const OutputError& e) {
    EXPECT_EQ(e.file(), d / "notes.csv");
  }
  EXPECT_EQ(slurp(d / "notes.csv"), "my notes");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"notes.csv"})) << "the refused sink left no journal";
  fs::create_directories(d / "csv");
  spit(d / "csv/peaks.csv", "old");
  EXPECT_THROW(ResultSink(SinkOptions{d / "r.h5", d / "csv", false}, info()), OutputError);
  EXPECT_EQ(slurp(d / "csv/peaks.csv"), "old");
  SinkOptions o{d / "notes.csv", d / "csv", false};
  o.overwrite = true;
  {
    ResultSink s(o, info());
    EXPECT_EQ(slurp(d / "notes.csv"), "my notes") << "replaced only when the run completes";
    s.add(frame(0), peaks(0));
    s.finish(ScanMaps{});
  }
  EXPECT_NE(slurp(d / "notes.csv"), "my notes");
  EXPECT_NE(slurp(d / "csv/peaks.csv"), "old");
}

TEST(SinkSafety, FailedFreshStartLeavesNoJournal) {
  Dir d;
  spit(d / "blocker", "a file");
  EXPECT_THROW(ResultSink(SinkOptions{d / "r.h5", d / "blocker/csv", false}, info()), OutputError);
  EXPECT_EQ(d.names(), (std::vector<std::string>{"blocker"}));
  // So the corrected command runs without --overwrite.
  ResultSink s(SinkOptions{d / "r.h5", d / "csv", false}, info());
}

TEST(SinkSafety, ResumeAndOverwriteExcludeEachOther) {
  Dir d;
  SinkOptions o{d / "r.h5", "", true};
  o.overwrite = true;
  EXPECT_THROW(ResultSink(o, info()), UsageError);
}

TEST(SinkSafety, ResumeWithAnotherCsvFolderRemovesTheStalePartialCsv) {
  Dir d;
  {
    ResultSink s(SinkOptions{d / "r.h5", d / "csv", false}, info());
    for (int k = 0; k < 3; ++k) s.add(frame(k), peaks(k));
  }  // killed
  ASSERT_TRUE(fs::exists(d / "csv/peaks.csv.partial"));
  {
    ResultSink s(SinkOptions{d / "r.h5", "", true}, info());
    EXPECT_EQ(s.resumed_frames().size(), 3u);
    EXPECT_FALSE(fs::exists(d / "csv/peaks.csv.partial"));
    s.add(frame(3), peaks(3));
  }  // killed again: the journal now records "no CSV"
  {
    ResultSink s(SinkOptions{d / "r.h5", d / "csv2", true}, info());
    EXPECT_EQ(s.resumed_frames().size(), 4u);
    s.finish(ScanMaps{});
  }
  EXPECT_FALSE(fs::exists(d / "csv/peaks.csv"));
  // csv2/peaks.csv holds every frame's peaks, rebuilt from the journal.
  std::istringstream rows(slurp(d / "csv2/peaks.csv"));
  int n = 0;
  for (std::string line; std::getline(rows, line);) ++n;
  EXPECT_EQ(n, 1 + 4 * 2);
}

// ---- journal lines -----------------------------------------------------------------------------

TEST(JournalLines, AnEditedNumberIsDetected) {
  std::string line;
  output::append_journal_peak(line, peaks(3)[1]);
  line.pop_back();
  Peak p;
  ASSERT_TRUE(output::parse_journal_peak(line, p)) << line;
  EXPECT_EQ(p.x, 41.0);
  EXPECT_EQ(output::journal_line_tag(line), 'P');
  std::string edited = line;
  const auto at = edited.find("41");
  ASSERT_NE(at, std::string::npos) << edited;
  edited[at] = '5';  // 41 -> 51: still a well-formed number
  EXPECT_FALSE(output::parse_journal_peak(edited, p)) << edited;
  EXPECT_EQ(output::journal_line_tag(edited), 0);
  std::string f;
  output::append_journal_frame(f, frame(2), 2);
  f.pop_back();
  std::string cut = f.substr(0, f.size() - 1);
  FrameSummary s;
  std::int64_t n = 0;
  EXPECT_TRUE(output::parse_journal_frame(f, s, n));
  EXPECT_FALSE(output::parse_journal_frame(cut, s, n)) << "a status cut short";
}

TEST(JournalLines, AnEditedJournalIsResumedFromBeforeTheEdit) {
  Dir d;
  {
    ResultSink s(SinkOptions{d / "r.h5", "", false}, info());
    for (int k = 0; k < 5; ++k) s.add(frame(k), peaks(k));
  }
  // Frame 2's first peak: x 20.5 -> 29.5.
  std::istringstream in(slurp(d / "r.h5.journal"));
  std::string text;
  for (std::string line; std::getline(in, line);) {
    if (line.find(" P 2 0 20.5 ") != std::string::npos) line.replace(line.find("20.5"), 4, "29.5");
    text += line + "\n";
  }
  spit(d / "r.h5.journal", text);
  testing::internal::CaptureStderr();
  ResultSink s(SinkOptions{d / "r.h5", "", true}, info());
  const std::string warning = testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.resumed_frames().size(), 2u) << "frames 0 and 1 only";
  EXPECT_NE(warning.find("r.h5.journal"), std::string::npos) << warning;
  EXPECT_NE(warning.find("checksum"), std::string::npos) << warning;
}

}  // namespace
