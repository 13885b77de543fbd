// Output safety, as a user meets it (issue 8): a full disk gives one line naming the file and
// exit 2, never a crash, never a file that looks complete; a second run on the same results is
// refused before it changes anything; nothing is overwritten unless asked; a resumed run leaves
// no stale CSV and does not trust an edited journal.
//
// Full disks come two ways: a small tmpfs mounted for the test (needs root / CAP_SYS_ADMIN;
// skipped otherwise, with the reason), and RLIMIT_FSIZE set in the child before exec with
// SIGXFSZ ignored, so a write past the limit fails with EFBIG as it would with ENOSPC: that one
// runs everywhere.
#include <gtest/gtest.h>
#include <hdf5.h>

#include "e2e/program.hpp"
#include "io/fixtures.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace laueproc::e2e;
namespace fs = std::filesystem;

/// Runs `laueproc ARGS` with every file it writes limited to `limit` bytes.
Result run_limited(const std::string& args, rlim_t limit) {
  return run_prepared(args, [limit] {
    signal(SIGXFSZ, SIG_IGN);  // ignored signals stay ignored across exec: the write fails with EFBIG
    struct rlimit r {};
    r.rlim_cur = r.rlim_max = limit;
    return setrlimit(RLIMIT_FSIZE, &r) == 0;
  });
}

std::vector<std::string> lines_with(const std::string& text, const std::string& word) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.find(word) != std::string::npos) found.push_back(l);
  return found;
}

/// Names in a folder, recursively, relative to it.
std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file()) names.push_back(fs::relative(it->path(), dir).string());
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

/// The contract of a run that hit a full disk: it ended cleanly (exit 2, not a signal), said so in
/// one line naming a file in `dir`, and left in `dir` no file that looks complete: only names in
/// `allowed` (the journal and .partial files of process, which say what they are).
void expect_clean_failure(const Result& r, const std::string& dir, const std::vector<std::string>& allowed_suffixes,
                          const std::string& what) {
  EXPECT_LT(r.code, 128) << what << ": crashed: " << r.out;
  EXPECT_EQ(r.code, 2) << what << ": " << r.out;
  const auto errors = lines_with(r.out, "error");
  ASSERT_EQ(errors.size(), 1u) << what << ": " << r.out;
  EXPECT_NE(errors[0].find(dir), std::string::npos) << what << ": the line names the file: " << errors[0];
  EXPECT_EQ(r.out.find("HDF5-DIAG"), std::string::npos) << what << ": " << r.out;
  for (const auto& name : names_in(dir)) {
    bool ok = false;
    for (const auto& suffix : allowed_suffixes)
      ok |= name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    EXPECT_TRUE(ok) << what << ": left " << name << " (in " << dir << ": " << join(names_in(dir)) << ")";
  }
}

const std::vector<std::string> kProcessLeftovers = {".journal", ".partial"};

class TrustOutput : public TempDirTest {
 protected:
  /// A 4x4 scan of 256 px frames, its XANES stack, and the complete outputs of every command
  /// (made without limits), the inputs of the commands under test.
  void make_inputs() {
    ASSERT_EQ(run("simulate --out " + dir_ + "/in/scan.h5 --grid 4x4 --size 256 --seed 3 --compression gzip --quiet").code, 0);
    ASSERT_EQ(run("process " + dir_ + "/in/scan.h5 --out " + dir_ + "/in/r.h5 --quiet").code, 0);
    ASSERT_EQ(run("xanes --simulate " + dir_ + "/in/stack.h5 --grid 4x4 --particles 2").code, 0);
    ASSERT_EQ(run("xanes " + dir_ + "/in/stack.h5 --out " + dir_ + "/in/x.h5").code, 0);
  }

  /// Every writing command into `out` (an empty folder on a full disk or under a file-size limit),
  /// each failing cleanly or succeeding completely. `runner` runs one command line.
  template <typename Runner>
  void check_all_commands(const std::string& out, Runner runner, const std::string& label,
                          std::vector<int>& failures) {
    struct Case {
      std::string args;
      std::vector<std::string> finals;  // what a success writes
      bool process;
    };
    const std::string in = dir_ + "/in";
    const std::vector<Case> cases = {
        {"process " + in + "/scan.h5 --out " + out + "/r.h5 --quiet", {"r.h5"}, true},
        {"process " + in + "/scan.h5 --out " + out + "/r.h5 --csv " + out + "/csv --quiet",
         {"r.h5", "csv/peaks.csv", "csv/frames.csv", "csv/provenance.txt"},
         true},
        {"process " + in + "/blank.h5 --out " + out + "/r.h5 --quiet", {"r.h5"}, true},
        {"simulate --out " + out + "/s.h5 --grid 3x3 --size 128 --quiet", {"s.h5", "truth_peaks.csv", "truth_frames.csv"},
         false},
        {"simulate --out " + out + "/f --layout files --grid 3x3 --size 128 --quiet", {"f/scan_00008.h5"}, false},
        {"xanes " + in + "/stack.h5 --out " + out + "/x.h5 --csv " + out + "/xcsv", {"x.h5", "xcsv/pixels.csv"}, false},
        {"xanes --simulate " + out + "/xs.h5 --grid 32x32", {"xs.h5"}, false},
        {"correlate --process " + in + "/r.h5 --xanes " + in + "/x.h5 --out " + out + "/c.h5 --csv " + out + "/ccsv",
         {"c.h5", "ccsv/particles.csv"},
         false},
        {"mask " + in + "/scan.h5 --out " + out + "/m.pgm --quiet", {"m.pgm"}, false},
    };
    failures.resize(cases.size());
    for (std::size_t k = 0; k < cases.size(); ++k) {
      const Case& c = cases[k];
      std::system(("rm -rf " + out + "/*").c_str());
      const Result r = runner(c.args);
      const std::string what = label + ": laueproc " + c.args;
      if (r.code == 0 || (c.process && r.code == 3)) {  // 3: complete, some frames failed (blank.h5: all)
        for (const auto& f : c.finals) EXPECT_TRUE(fs::exists(out + "/" + f)) << what << ": " << f << " missing";
        for (const auto& name : names_in(out))
          EXPECT_EQ(name.find("partial"), std::string::npos) << what << ": left " << name;
      } else {
        ++failures[k];
        expect_clean_failure(r, out, c.process ? kProcessLeftovers : std::vector<std::string>{}, what);
      }
    }
  }

  /// 16 constant frames: no peaks, so the journal stays small and the results file's close is
  /// what meets the full disk (the failed close that crashed HDF5's exit-time cleanup).
  void make_blank_scan() {
    std::vector<std::uint16_t> data(16 * 64 * 64, 100);
    laueproc::test::write_stack(dir_ + "/in/blank.h5", data, 16, 64, 64);
  }
};

TEST_F(TrustOutput, FileSizeLimitGivesOneLineExit2AndNothingThatLooksComplete) {
  make_inputs();
  make_blank_scan();
  const std::string out = dir_ + "/out";
  fs::create_directories(out);
  std::vector<int> failures;
  for (rlim_t limit : {rlim_t{6} << 10, rlim_t{24} << 10, rlim_t{96} << 10}) {
    check_all_commands(out, [&](const std::string& args) { return run_limited(args, limit); },
                       "limit " + std::to_string(limit), failures);
  }
  for (std::size_t k = 0; k < failures.size(); ++k)
    EXPECT_GT(failures[k], 0) << "command " << k << " never met the limit: its failure path went untested";
}

/// A tmpfs of `kib` KiB mounted at `dir` for one test; unmounted at the end.
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, int kib) : dir_(dir) {
    fs::create_directories(dir);
    const std::string opts = "size=" + std::to_string(kib) + "k,mode=0755";
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    if (!mounted_) why_ = std::string("cannot mount a tmpfs (") + std::strerror(errno) + "; needs root or CAP_SYS_ADMIN)";
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_, why_;
  bool mounted_ = false;
};

TEST_F(TrustOutput, FullTmpfsGivesOneLineExit2AndNothingThatLooksComplete) {
  {
    SmallDisk probe(dir_ + "/probe", 64);
    if (!probe.mounted()) GTEST_SKIP() << probe.why();
  }
  make_inputs();
  make_blank_scan();
  std::vector<int> failures;
  for (int kib : {8, 20, 64}) {
    const std::string out = dir_ + "/disk" + std::to_string(kib);
    SmallDisk disk(out, kib);
    ASSERT_TRUE(disk.mounted()) << disk.why();
    check_all_commands(out, [](const std::string& args) { return run(args); }, "tmpfs " + std::to_string(kib) + " KiB",
                       failures);
  }
  for (std::size_t k = 0; k < failures.size(); ++k)
    EXPECT_GT(failures[k], 0) << "command " << k << " never filled the disk: its failure path went untested";
}

// ---- a second process on the same results ---------------------------------------------------

pid_t start_process(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kProgram.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(kProgram.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

TEST_F(TrustOutput, SecondRunOnTheSameResultsIsRefusedBeforeItTouchesAnything) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 8x8 --size 384 --seed 4 --quiet").code, 0);
  auto whole = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/whole.h5 --csv " + dir_ + "/whole --quiet");
  ASSERT_EQ(whole.code, 0) << whole.out;

  const std::string out = dir_ + "/r.h5", journal = out + ".journal";
  const std::vector<std::string> args = {"process", dir_ + "/scan.h5", "--out", out, "--csv", dir_ + "/csv",
                                         "--threads", "1", "--quiet"};
  const pid_t first = start_process(args, dir_ + "/first.log");
  ASSERT_GT(first, 0);
  for (int i = 0; i < 50000 && journal_frames(journal) < 3; ++i) usleep(200);
  // The second run while the first one runs: refused, and the journal is not cut.
  const int before = journal_frames(journal);
  auto second = run("process " + dir_ + "/scan.h5 --out " + out + " --csv " + dir_ + "/csv --threads 1 --quiet");
  const int after = journal_frames(journal);
  int status = 0;
  const bool still_running = waitpid(first, &status, WNOHANG) == 0;
  if (still_running) {
    kill(first, SIGKILL);
    waitpid(first, &status, 0);
  }
  if (!still_running || before == 0) GTEST_SKIP() << "the first run ended before the second one started";
  EXPECT_EQ(second.code, 2) << second.out;
  EXPECT_EQ(count_lines(second.out), 1) << second.out;
  EXPECT_NE(second.out.find("another laueproc process"), std::string::npos) << second.out;
  EXPECT_GE(after, before) << "the refused run must not touch the running job's journal";

  // The first run, killed, resumes where it stopped and ends as an uninterrupted run.
  const int journalled = journal_frames(journal);
  ASSERT_GE(journalled, before);
  auto resumed = run("process " + dir_ + "/scan.h5 --out " + out + " --csv " + dir_ + "/csv --threads 1 --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("resuming: " + std::to_string(journalled) + " frames already done"), std::string::npos)
      << "journalled " << journalled << ": " << resumed.out;
  EXPECT_EQ(read_file(dir_ + "/whole/peaks.csv"), read_file(dir_ + "/csv/peaks.csv"));
  EXPECT_EQ(read_file(dir_ + "/whole/frames.csv"), read_file(dir_ + "/csv/frames.csv"));
}

// ---- nothing is overwritten unless asked ---------------------------------------------------

TEST_F(TrustOutput, ExistingFilesAreNotReplacedWithoutOverwrite) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 2x2 --size 256 --seed 2 --quiet").code, 0);
  ASSERT_EQ(run("process " + dir_ + "/scan.h5 --out " + dir_ + "/r.h5 --csv " + dir_ + "/csv --quiet").code, 0);
  { std::ofstream(dir_ + "/notes.csv") << "my notes, not results\n"; }
  const std::string results = read_file(dir_ + "/r.h5"), peaks = read_file(dir_ + "/csv/peaks.csv");

  struct Case {
    std::string args, victim;
  };
  const std::vector<Case> cases = {
      {"process " + dir_ + "/scan.h5 --out " + dir_ + "/r.h5 --quiet", dir_ + "/r.h5"},
      {"process " + dir_ + "/scan.h5 --out " + dir_ + "/notes.csv --quiet", dir_ + "/notes.csv"},
      {"process " + dir_ + "/scan.h5 --out " + dir_ + "/other.h5 --csv " + dir_ + "/csv --quiet",
       dir_ + "/csv/peaks.csv"},
      {"simulate --out " + dir_ + "/notes.csv --grid 2x1 --size 128 --quiet", dir_ + "/notes.csv"},
      {"xanes --simulate " + dir_ + "/notes.csv --grid 8x8", dir_ + "/notes.csv"},
      {"mask " + dir_ + "/scan.h5 --out " + dir_ + "/notes.csv --quiet", dir_ + "/notes.csv"},
      {"report --process " + dir_ + "/r.h5 --out " + dir_ + "/notes.csv", dir_ + "/notes.csv"},
      {"index " + dir_ + "/r.h5 --geometry " + std::string(LAUEPROC_TEST_DATA_DIR) +
           "/laue/calibGe111.det --material Ge --out " + dir_ + "/notes.csv",
       dir_ + "/notes.csv"},
  };
  for (const Case& c : cases) {
    const std::string before = read_file(c.victim);
    auto r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << ": " << r.out;
    EXPECT_EQ(count_lines(r.out), 1) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find("--overwrite"), std::string::npos) << c.args << ": " << r.out;
    EXPECT_EQ(read_file(c.victim), before) << c.args << " changed " << c.victim;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/other.h5")) << "a refused run writes nothing";
  EXPECT_FALSE(fs::exists(dir_ + "/other.h5.journal")) << "a refused run leaves no journal";
  EXPECT_EQ(read_file(dir_ + "/r.h5"), results);
  EXPECT_EQ(read_file(dir_ + "/csv/peaks.csv"), peaks);

  // --overwrite replaces them, with the same results for the same scan.
  auto again = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/r.h5 --csv " + dir_ + "/csv --quiet --overwrite");
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(read_file(dir_ + "/csv/peaks.csv"), peaks);
}

// ---- exit codes of output problems ------------------------------------------------------------

TEST_F(TrustOutput, OutputProblemsExit2) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 2x1 --size 128 --quiet").code, 0);
  // A --csv folder under a regular file, and an --out there.
  for (const std::string& args :
       {"process " + dir_ + "/scan.h5 --quiet --out " + dir_ + "/r.h5 --csv " + dir_ + "/scan.h5/csv",
        "process " + dir_ + "/scan.h5 --quiet --out " + dir_ + "/scan.h5/r.h5",
        "xanes --simulate " + dir_ + "/scan.h5/x.h5 --grid 8x8"}) {
    auto r = run(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_EQ(count_lines(r.out), 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find(dir_ + "/scan.h5"), std::string::npos) << r.out;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/r.h5.journal")) << "a run that cannot make its CSV folder leaves no journal";
  // A read-only folder (a read-only tmpfs: root writes anywhere else).
  const std::string ro = dir_ + "/ro";
  fs::create_directories(ro);
  bool read_only = false;
  if (geteuid() == 0) {
    read_only = ::mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=64k") == 0;
  } else {
    read_only = chmod(ro.c_str(), 0555) == 0;
  }
  if (!read_only) GTEST_SKIP() << "no read-only folder available (cannot mount a tmpfs)";
  auto r = run("process " + dir_ + "/scan.h5 --out " + ro + "/r.h5 --quiet");
  if (geteuid() == 0) ::umount2(ro.c_str(), MNT_DETACH);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find(ro), std::string::npos) << r.out;
}

// ---- what a failed or resumed run leaves ---------------------------------------------------

/// Adds 1 to the x of the first peak line of a journal (with or without the checksum the journal
/// lines carry now): an edited number.
void edit_first_peak(const std::string& journal) {
  std::ifstream in(journal);
  std::ostringstream out;
  bool done = false;
  for (std::string line; std::getline(in, line);) {
    std::size_t tag = line.rfind("P ", 0) == 0 ? 0 : (line.size() >= 11 && line.compare(9, 2, "P ") == 0 ? 9 : std::string::npos);
    if (!done && tag != std::string::npos) {
      std::istringstream fields(line.substr(tag));
      std::vector<std::string> f;
      for (std::string w; fields >> w;) f.push_back(w);
      f[3] = std::to_string(std::stod(f[3]) + 1.0);  // P frame peak x ...
      std::string edited = line.substr(0, tag);
      for (std::size_t i = 0; i < f.size(); ++i) edited += (i ? " " : "") + f[i];
      line = edited;
      done = true;
    }
    out << line << "\n";
  }
  ASSERT_TRUE(done) << "no peak line in " << journal;
  std::ofstream(journal, std::ios::trunc) << out.str();
}

TEST_F(TrustOutput, ResumeWithoutCsvLeavesNoStaleCsvAndRejectsAnEditedJournal) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 4x4 --size 256 --seed 3 --quiet").code, 0);
  auto whole = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/whole.h5 --csv " + dir_ + "/whole --quiet");
  ASSERT_EQ(whole.code, 0) << whole.out;

  // A run stopped by its journal reaching the size limit: some frames are journalled.
  const std::string out = dir_ + "/r.h5", journal = out + ".journal";
  auto cut = run_limited("process " + dir_ + "/scan.h5 --out " + out + " --csv " + dir_ + "/csv --quiet", 48 << 10);
  ASSERT_NE(cut.code, 0) << cut.out;
  EXPECT_LT(cut.code, 128) << cut.out;
  ASSERT_GT(journal_frames(journal), 1);
  EXPECT_FALSE(fs::exists(out)) << "a failed run leaves no file under the results' name";
  EXPECT_FALSE(fs::exists(dir_ + "/csv/peaks.csv")) << "nor a peaks.csv that looks complete";

  // Resumed without --csv: the interrupted run's partial CSV goes.
  auto resumed = run("process " + dir_ + "/scan.h5 --out " + out + " --resume --quiet");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  for (const auto& name : names_in(dir_ + "/csv")) ADD_FAILURE() << "stale " << name << " left in csv/";

  // Again, with an edited number in the journal: resumed from before the edit, so the results
  // equal the uninterrupted run's.
  fs::remove(out);
  auto cut2 = run_limited("process " + dir_ + "/scan.h5 --out " + out + " --csv " + dir_ + "/csv --quiet", 48 << 10);
  ASSERT_NE(cut2.code, 0) << cut2.out;
  edit_first_peak(journal);
  auto edited = run("process " + dir_ + "/scan.h5 --out " + out + " --csv " + dir_ + "/csv --resume");
  ASSERT_EQ(edited.code, 0) << edited.out;
  EXPECT_NE(edited.out.find(journal), std::string::npos) << "the damage is reported: " << edited.out;
  EXPECT_EQ(read_file(dir_ + "/whole/peaks.csv"), read_file(dir_ + "/csv/peaks.csv"));
  EXPECT_EQ(read_file(dir_ + "/whole/frames.csv"), read_file(dir_ + "/csv/frames.csv"));
}

}  // namespace
