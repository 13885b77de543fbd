// The program itself, as a user runs it: simulate -> process -> results, for both layouts; the
// output does not depend on the thread count; bad input ends in one line and a non-zero exit.
#include <gtest/gtest.h>

#include "e2e/program.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

using namespace laueproc::e2e;

class Cli : public TempDirTest {};

constexpr const char* kPeaksHeader = "frame,peak,x,y,intensity,peak_value,npix,a,b,theta_deg,n_maxima,saturated";
constexpr const char* kFramesHeader =
    "frame,ix,iy,x_um,y_um,n_peaks,se,se_median,scenario,split_px,misorientation_deg,background,noise,status";

TEST_F(Cli, StackAndPerFrameFilesGiveTheSameResults) {
  auto sim = run("simulate --out " + dir_ + "/stack/scan.h5 --grid 3x2 --size 384 --seed 5 --quiet");
  ASSERT_EQ(sim.code, 0) << sim.out;
  auto sim_files = run("simulate --out " + dir_ + "/files --layout files --grid 3x2 --size 384 --seed 5 --quiet");
  ASSERT_EQ(sim_files.code, 0) << sim_files.out;

  auto a = run("process " + dir_ + "/stack/scan.h5 --out " + dir_ + "/a.h5 --csv " + dir_ + "/a --threads 2 --quiet");
  ASSERT_EQ(a.code, 0) << a.out;
  auto b = run("process " + dir_ + "/files --out " + dir_ + "/b.h5 --csv " + dir_ + "/b --threads 1 --quiet");
  ASSERT_EQ(b.code, 0) << b.out;

  const std::string peaks_a = read_file(dir_ + "/a/peaks.csv"), frames_a = read_file(dir_ + "/a/frames.csv");
  EXPECT_EQ(first_line(peaks_a).rfind(kPeaksHeader, 0), 0u) << first_line(peaks_a);
  EXPECT_EQ(first_line(frames_a).rfind(kFramesHeader, 0), 0u) << first_line(frames_a);
  EXPECT_EQ(count_lines(frames_a), 1 + 6);
  const std::string provenance = read_file(dir_ + "/a/provenance.txt");
  EXPECT_NE(provenance.find("git_commit: "), std::string::npos) << provenance;
  EXPECT_NE(provenance.find("settings.threshold.k_high: 6"), std::string::npos) << provenance;
  EXPECT_NE(provenance.find("input_file: " + dir_ + "/stack/scan.h5"), std::string::npos) << provenance;
  EXPECT_GT(count_lines(peaks_a), 1 + 6 * 10);
  // Same pixels, other layout, other thread count: the same peaks and frames.
  EXPECT_EQ(peaks_a, read_file(dir_ + "/b/peaks.csv"));
  EXPECT_EQ(frames_a, read_file(dir_ + "/b/frames.csv"));
}

TEST_F(Cli, ThreadCountDoesNotChangeTheOutput) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 4x2 --size 256 --seed 9 --quiet").code, 0);
  for (const char* threads : {"1", "3"}) {
    auto r = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/r" + threads + ".h5 --csv " + dir_ + "/t" +
                 threads + " --threads " + threads + " --quiet");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  EXPECT_EQ(read_file(dir_ + "/t1/peaks.csv"), read_file(dir_ + "/t3/peaks.csv"));
  EXPECT_EQ(read_file(dir_ + "/t1/frames.csv"), read_file(dir_ + "/t3/frames.csv"));
}

TEST_F(Cli, BadInputIsOneLineAndNonZero) {
  auto missing = run("process " + dir_ + "/nope.h5 --out " + dir_ + "/r.h5");
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(count_lines(missing.out), 1) << missing.out;
  EXPECT_NE(missing.out.find(dir_ + "/nope.h5"), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("no such file"), std::string::npos) << missing.out;

  std::ofstream(dir_ + "/text.h5") << "not hdf5\n";
  auto not_hdf5 = run("info " + dir_ + "/text.h5");
  EXPECT_EQ(not_hdf5.code, 2);
  EXPECT_EQ(count_lines(not_hdf5.out), 1) << not_hdf5.out;
  EXPECT_NE(not_hdf5.out.find("not an HDF5 file"), std::string::npos) << not_hdf5.out;

  auto bad_option = run("process " + dir_ + "/text.h5 --k-high -1");
  EXPECT_EQ(bad_option.code, 2);
  EXPECT_EQ(count_lines(bad_option.out), 1) << bad_option.out;

  auto unknown = run("frobnicate");
  EXPECT_EQ(unknown.code, 2);
}

// --device-decode: a wrong value, or "on" where nothing can decode on a device, is one line, exit 2.
TEST_F(Cli, DeviceDecodeOptionIsChecked) {
  auto sim = run("simulate --out " + dir_ + "/s.h5 --grid 2x1 --size 128 --seed 1 --compression bitshuffle --quiet");
  ASSERT_EQ(sim.code, 0) << sim.out;
  for (const std::string args : {"--device-decode maybe", "--device-decode on --backend cpu"}) {
    auto r = run("process " + dir_ + "/s.h5 --out " + dir_ + "/r.h5 -q " + args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_EQ(count_lines(r.out), 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find("--device-decode"), std::string::npos) << r.out;
  }
  // off or auto with the CPU backend: the run goes on, decoding on the host.
  auto r = run("process " + dir_ + "/s.h5 --out " + dir_ + "/r.h5 -q --backend cpu --device-decode off");
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(Cli, HelpAnswersForEveryCommand) {
  for (const char* cmd : {"process", "simulate", "info", "demo"}) {
    auto r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: laueproc " + std::string(cmd)), std::string::npos) << r.out;
  }
  auto top = run("--help");
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("process"), std::string::npos);
}

TEST_F(Cli, InfoDescribesAScan) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 2x2 --size 128 --compression gzip --quiet").code, 0);
  auto r = run("info " + dir_ + "/scan.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("128"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deflate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("uint16"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// A run killed with SIGKILL mid-way and resumed gives the same files as an uninterrupted run.
TEST_F(Cli, KilledRunResumesToIdenticalResults) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 12x10 --size 384 --seed 4 --quiet").code, 0);
  auto whole = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/whole.h5 --csv " + dir_ + "/whole --quiet");
  ASSERT_EQ(whole.code, 0) << whole.out;

  const std::string out = dir_ + "/cut.h5", journal = out + ".journal";
  bool killed = false;
  for (int attempt = 0; attempt < 3 && !killed; ++attempt) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execl(kProgram.c_str(), kProgram.c_str(), "process", (dir_ + "/scan.h5").c_str(), "--out", out.c_str(),
            "--csv", (dir_ + "/cut").c_str(), "--threads", "1", "--quiet", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Kill once a few frames are journalled, well before the 120 frames are done.
    for (int i = 0; i < 20000 && journal_frames(journal) < 5; ++i) usleep(200);
    killed = journal_frames(journal) < 100;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) killed = false;  // it finished first: try again
  }
  if (!killed) GTEST_SKIP() << "the run finished before it could be killed";
  const int done = journal_frames(journal);
  ASSERT_GT(done, 0);

  auto resumed = run("process " + dir_ + "/scan.h5 --out " + out + " --csv " + dir_ + "/cut --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("resuming"), std::string::npos) << resumed.out;
  EXPECT_EQ(read_file(dir_ + "/whole/peaks.csv"), read_file(dir_ + "/cut/peaks.csv"));
  EXPECT_EQ(read_file(dir_ + "/whole/frames.csv"), read_file(dir_ + "/cut/frames.csv"));
  EXPECT_FALSE(std::ifstream(journal).good()) << "the journal is removed when the run completes";
}

// A frame that cannot be read in a long scan is listed as failed; the others are processed.
TEST_F(Cli, UnreadableFrameIsListedAndTheRunGoesOn) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/files --layout files --grid 4x1 --size 256 --seed 2 --quiet").code, 0);
  // Truncate the third frame's file.
  std::string victim = dir_ + "/files/scan_00002.h5";
  ASSERT_EQ(truncate(victim.c_str(), 2000), 0);
  auto r = run("process " + dir_ + "/files --out " + dir_ + "/r.h5 --csv " + dir_ + "/r");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("frame 2"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("HDF5-DIAG"), std::string::npos) << "HDF5's own traces stay quiet: " << r.out;
  const std::string frames = read_file(dir_ + "/r/frames.csv");
  EXPECT_EQ(count_lines(frames), 1 + 4);
  int ok = 0;
  std::istringstream rows(frames);
  std::string row;
  std::getline(rows, row);
  while (std::getline(rows, row)) ok += row.find(",ok,") != std::string::npos || row.find(",ok") == row.size() - 3;
  EXPECT_EQ(ok, 3) << frames;
  EXPECT_NE(frames.find("scan_00002.h5"), std::string::npos) << "the failed frame names its file: " << frames;
}

}  // namespace

namespace {

// The results files open as silx view expects: valid NXdata, a default image (scripts/check_nexus.py).
TEST_F(Cli, ResultsAreValidNexusForSilx) {
  if (std::system("/usr/bin/python3 -c 'import silx.io.nxdata, h5py' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-silx not installed (scripts/setup.sh installs it)";
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 3x3 --size 256 --quiet").code, 0);
  ASSERT_EQ(run("process " + dir_ + "/scan.h5 --out " + dir_ + "/r.h5 --quiet").code, 0);
  ASSERT_EQ(run("xanes --simulate " + dir_ + "/x_stack.h5 --grid 12x10 --particles 2").code, 0);
  ASSERT_EQ(run("xanes " + dir_ + "/x_stack.h5 --out " + dir_ + "/x.h5").code, 0);
  const std::string check = std::string("/usr/bin/python3 ") + LAUEPROC_SOURCE_DIR + "/scripts/check_nexus.py " +
                            dir_ + "/r.h5 " + dir_ + "/x.h5 > " + dir_ + "/check.txt 2>&1";
  const int status = std::system(check.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(dir_ + "/check.txt");
  EXPECT_NE(read_file(dir_ + "/check.txt").find("default /maps/se"), std::string::npos) << read_file(dir_ + "/check.txt");
}

}  // namespace

namespace {

// Ctrl-C stops after the frames already written, says how to continue, exits 130.
TEST_F(Cli, InterruptedRunSaysHowToResume) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 12x10 --size 384 --seed 6 --quiet").code, 0);
  const std::string out = dir_ + "/r.h5", journal = out + ".journal", log = dir_ + "/log.txt";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(kProgram.c_str(), kProgram.c_str(), "process", (dir_ + "/scan.h5").c_str(), "--out", out.c_str(),
          "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 20000 && journal_frames(journal) < 3; ++i) usleep(200);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "the run finished before the interrupt";
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_file(log);
  EXPECT_NE(read_file(log).find("--resume"), std::string::npos) << read_file(log);
  EXPECT_GT(journal_frames(journal), 0);
  auto resumed = run("process " + dir_ + "/scan.h5 --out " + out + " --resume --quiet");
  EXPECT_EQ(resumed.code, 0) << resumed.out;
}

}  // namespace
