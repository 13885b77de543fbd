// The program split over processes, as a cluster user runs it: mpirun -n 1/2/3 and
// --shard i/N + laueproc merge give the tables of a single run (CSV bytes and HDF5 dataset
// bytes); a rank killed mid-run fails the job naming it and its frames, and --resume (with
// another rank count) completes to the same tables.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cluster/launch.hpp"
#include "e2e/program.hpp"
#include "io/h5.hpp"

namespace {

using namespace laueproc::e2e;
namespace h5 = laueproc::h5;

// mpirun as root needs these (CI runs as root); several ranks on 2 cores need --oversubscribe.
const std::string kMpirun =
    "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun";

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// The bytes of a dataset as stored (compound rows, maps), or "" when absent.
std::string dataset_bytes(const std::string& file, const char* name) {
  h5::Handle f = h5::open_read(file);
  h5::Handle ds(H5Dopen2(f, name, H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) return std::string();
  h5::Handle type(H5Dget_type(ds), H5Tclose);
  h5::Handle space(H5Dget_space(ds), H5Sclose);
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space));
  std::string bytes(n * H5Tget_size(type), '\0');
  if (n > 0) EXPECT_GE(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), 0) << name;
  return bytes;
}

// The same tables and maps, byte for byte, and the same CSVs.
void expect_same_tables(const std::string& dir, const std::string& a, const std::string& b) {
  for (const char* name : {"/peaks", "/frames", "/maps/se/se", "/maps/n_peaks/n_peaks", "/maps/scenario/scenario",
                           "/maps/se/x_um", "/maps/se/y_um"}) {
    const std::string da = dataset_bytes(dir + "/" + a + ".h5", name);
    EXPECT_FALSE(da.empty()) << name;
    EXPECT_TRUE(da == dataset_bytes(dir + "/" + b + ".h5", name)) << name << " differs between " << a << " and " << b;
  }
  for (const char* csv : {"/peaks.csv", "/frames.csv"}) {
    const std::string ca = read_file(dir + "/" + a + csv);
    EXPECT_GT(count_lines(ca), 1) << a << csv;
    EXPECT_EQ(ca, read_file(dir + "/" + b + csv)) << csv << " differs between " << a << " and " << b;
  }
}

// The laueproc process of MPI rank `rank` whose command line holds `marker` (from /proc).
pid_t find_rank(const std::string& marker, int rank) {
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  DIR* proc = opendir("/proc");
  pid_t found = -1;
  for (dirent* e; proc && (e = readdir(proc)) && found < 0;) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    const std::string cmdline = read_file("/proc/" + std::string(e->d_name) + "/cmdline");
    if (cmdline.find(marker) == std::string::npos || cmdline.find("mpirun") != std::string::npos) continue;
    const std::string env = read_file("/proc/" + std::string(e->d_name) + "/environ");
    bool in_env = false;
    for (std::size_t at = 0; at < env.size(); at = env.find('\0', at) + 1) {
      if (env.compare(at, want.size() + 1, want + '\0') == 0) in_env = true;
      if (env.find('\0', at) == std::string::npos) break;
    }
    if (in_env) found = pid;
  }
  if (proc) closedir(proc);
  return found;
}

class Mpi : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (!laueproc::cluster::mpi_built()) GTEST_SKIP() << "built without MPI (-DLAUEPROC_MPI=OFF or no libopenmpi-dev)";
    if (!have_mpirun()) GTEST_SKIP() << "mpirun not installed (scripts/setup.sh installs openmpi-bin)";
  }
  Result process(const std::string& ranks, const std::string& out, const std::string& extra = "") {
    const std::string args = "process " + dir_ + "/scan --out " + dir_ + "/" + out + ".h5 --csv " + dir_ + "/" + out +
                             " --threads 1 --quiet " + extra;
    return ranks.empty() ? run(args) : run_command(kMpirun + " -n " + ranks + " " + kProgram + " " + args);
  }
};

// Per-frame files of uneven cost: half gzip-compressed (decoding costs), half raw.
void simulate_uneven(const std::string& dir, const std::string& grid, int size) {
  const std::string common = " --layout files --grid " + grid + " --size " + std::to_string(size) + " --seed 11 --quiet";
  ASSERT_EQ(run("simulate --out " + dir + "/gz --compression gzip" + common).code, 0);
  ASSERT_EQ(run("simulate --out " + dir + "/raw --compression none" + common).code, 0);
  // One list: the first half of the frames from gz/, the rest from raw/ (same pixels either way).
  std::vector<std::string> names;
  if (DIR* d = opendir((dir + "/gz").c_str())) {
    for (dirent* e; (e = readdir(d));)
      if (std::string(e->d_name).find(".h5") != std::string::npos) names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  ASSERT_FALSE(names.empty());
  std::ofstream list(dir + "/scan");
  for (std::size_t i = 0; i < names.size(); ++i) list << (i < names.size() / 2 ? "gz/" : "raw/") << names[i] << "\n";
}

TEST_F(Mpi, OneTwoThreeRanksWriteTheTablesOfASingleRun) {
  simulate_uneven(dir_, "5x4", 192);
  ASSERT_EQ(process("", "single").code, 0);
  auto one = process("1", "r1");
  ASSERT_EQ(one.code, 0) << one.out;
  auto two = process("2", "r2", "--chunk 1");
  ASSERT_EQ(two.code, 0) << two.out;
  auto three = process("3", "r3", "--distribute static");  // 3 ranks on 2 cores: oversubscribed
  ASSERT_EQ(three.code, 0) << three.out;
  for (const char* r : {"r1", "r2", "r3"}) expect_same_tables(dir_, "single", r);
  h5::Handle f = h5::open_read(dir_ + "/r3.h5");
  h5::Handle root(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose);
  EXPECT_EQ(h5::read_string_attribute(root, "run_mode").value_or(""), "mpi: 3 ranks, static hand-out");
}

TEST_F(Mpi, ShardsMergeToTheTablesOfASingleRun) {
  simulate_uneven(dir_, "5x4", 192);
  ASSERT_EQ(process("", "single").code, 0);
  for (int i : {2, 0}) {
    auto shard = process("", "sharded", "--shard " + std::to_string(i) + "/3");
    ASSERT_EQ(shard.code, 0) << shard.out;
  }
  // Shard 1 missing: refused, naming the shard and its frames; nothing is written.
  auto early = run("merge " + dir_ + "/sharded.h5");
  EXPECT_EQ(early.code, 2) << early.out;
  EXPECT_NE(early.out.find("shard 1 of 3"), std::string::npos) << early.out;
  EXPECT_NE(early.out.find("frames 6-12"), std::string::npos) << early.out;
  EXPECT_FALSE(std::ifstream(dir_ + "/sharded.h5").good());
  ASSERT_EQ(process("", "sharded", "--shard 1/3").code, 0);
  // A resubmitted task whose shard is complete (the Slurm script adds --resume) redoes nothing.
  auto again = run("process " + dir_ + "/scan --out " + dir_ + "/sharded.h5 --csv " + dir_ +
                   "/sharded --threads 1 --shard 1/3 --resume");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("7 frames (7 resumed)"), std::string::npos) << again.out;
  auto merged = run("merge " + dir_ + "/sharded.h5");
  ASSERT_EQ(merged.code, 0) << merged.out;
  expect_same_tables(dir_, "single", "sharded");
  EXPECT_FALSE(std::ifstream(dir_ + "/sharded.h5.shard-0-of-3.journal").good()) << "merged shards are removed";
}

// An output that cannot be written fails every rank before any work, with one message.
TEST_F(Mpi, UnwritableOutputStopsEveryRankAtOnce) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan --grid 2x2 --size 64 --quiet").code, 0);
  { std::ofstream(dir_ + "/blocker") << "a file, not a folder"; }
  auto r = run_command(kMpirun + " -n 2 " + kProgram + " process " + dir_ + "/scan --out " + dir_ +
                       "/blocker/sub/results.h5 --threads 1");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("blocker/sub"), std::string::npos) << r.out;
  std::size_t said = 0;
  for (std::size_t at = r.out.find("laueproc process: error:"); at != std::string::npos;
       at = r.out.find("laueproc process: error:", at + 1))
    ++said;
  EXPECT_EQ(said, 1u) << "one message for the job: " << r.out;
  EXPECT_EQ(r.out.find("frames of"), std::string::npos) << "no work started: " << r.out;
}

// A rank whose analysis throws mid-run: rank 0 stops handing out, keeps every finished frame,
// and fails the job with one line naming the rank, its error and the frames it held.
TEST_F(Mpi, RankThatFailsStopsTheJobNamingItsFrames) {
#ifndef LAUEPROC_MPI_FAULT_PROGRAM
  GTEST_SKIP() << "built without MPI";
#else
  const std::string out = dir_ + "/fault.h5";
  auto r = run_command(kMpirun + " -n 2 " + LAUEPROC_MPI_FAULT_PROGRAM + " " + out);
  EXPECT_EQ(r.code, 2) << "an input error: " << r.out;
  EXPECT_NE(r.out.find("exit 2: rank 1 of 2 ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("disk vanished"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("frames it held: 20-"), std::string::npos) << "its block starts at 20: " << r.out;
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rank 1 of 2 (") , r.out.rfind("rank 1 of 2 (")) << "the rank says it too: " << r.out;
  const int kept = journal_frames(out + ".journal");
  EXPECT_LT(kept, 40) << "the job stopped";
  EXPECT_FALSE(std::ifstream(out).good()) << "no complete results";
#endif
}

TEST(Merge, HelpAnswers) {
  auto r = run("merge --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: laueproc merge"), std::string::npos) << r.out;
  auto none = run("merge /nonexistent/results.h5");
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_NE(none.out.find("no shard journals"), std::string::npos) << none.out;
}

// srun/mpirun tasks that cannot talk MPI would each write the whole scan into the same files.
TEST_F(Mpi, TasksWithoutMpiWiringAreRefused) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/s.h5 --grid 2x1 --size 64 --quiet").code, 0);
  auto r = run_command("env SLURM_STEP_ID=0 SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=4 " + kProgram + " process " + dir_ +
                       "/s.h5 --out " + dir_ + "/r.h5");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("one of 4 srun tasks"), std::string::npos) << r.out;
  EXPECT_FALSE(std::ifstream(dir_ + "/r.h5").good());
}

// kill -9 of rank 1: the job fails, naming rank 1 (mpirun) and the frames each rank held (rank
// 0); nothing journalled is lost, and --resume on 3 ranks completes to the single run's tables.
TEST_F(Mpi, KilledRankFailsTheJobAndResumeCompletesIt) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan --grid 12x10 --size 256 --seed 4 --quiet").code, 0);
  ASSERT_EQ(process("", "single").code, 0);
  const std::string journal = dir_ + "/cut.h5.journal", log = dir_ + "/log.txt";
  bool killed = false;
  int status = 0;
  for (int attempt = 0; attempt < 3 && !killed; ++attempt) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string cmd = kMpirun + " -n 2 " + kProgram + " process " + dir_ + "/scan --out " + dir_ +
                              "/cut.h5 --csv " + dir_ + "/cut --threads 1 --quiet --overwrite > " + log + " 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 50000 && journal_frames(journal) < 6; ++i) usleep(200);
    const pid_t rank1 = find_rank(dir_ + "/cut.h5", 1);
    killed = rank1 > 0 && journal_frames(journal) < 100 && kill(rank1, SIGKILL) == 0;
    waitpid(pid, &status, 0);
  }
  if (!killed) GTEST_SKIP() << "the run finished before rank 1 could be killed";
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(log);
  const std::string said = read_file(log);
  EXPECT_NE(said.find("rank 1"), std::string::npos) << said;
  // Rank 0 names the frames each rank held when the launcher's SIGTERM reaches it; Open MPI may
  // SIGKILL it first on a loaded machine (or rank 0 may be inside a receive from the dead rank),
  // so that line is checked whenever rank 0 got to say anything, and the journal carries the rest.
  if (said.find("laueproc process:") != std::string::npos)
    EXPECT_NE(said.find("rank 1 of 2 ("), std::string::npos) << "rank 0 names rank 1's frames: " << said;
  const int kept = journal_frames(journal);
  EXPECT_GT(kept, 0);

  auto resumed = process("3", "cut", "--resume");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  expect_same_tables(dir_, "single", "cut");
  EXPECT_FALSE(std::ifstream(journal).good()) << "the journal is removed when the run completes";
}

}  // namespace
