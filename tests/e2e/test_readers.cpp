// Reader threads do not change the results: the same peaks and frames tables for 1, 2 or 3
// readers with 1 or 2 workers, from a bitshuffle/LZ4 stack (own decoder) and gzip per-frame
// files (34-ID-E layout), and the same as HDF5's own filter path (--no-chunk-direct).
#include <gtest/gtest.h>

#include <string>

#include "e2e/program.hpp"

namespace {

using namespace laueproc::e2e;

class Readers : public TempDirTest {};

TEST_F(Readers, ReaderAndWorkerCountsGiveIdenticalTables) {
  struct Scan {
    std::string name, simulate;
  };
  const Scan scans[] = {{"bslz4", "--compression bitshuffle --out " + dir_ + "/bslz4.h5"},
                        {"gzfiles", "--layout files --compression gzip --out " + dir_ + "/gzfiles"}};
  for (const Scan& scan : scans) {
    SCOPED_TRACE(scan.name);
    auto sim = run("simulate " + scan.simulate + " --grid 4x2 --size 256 --seed 11 --quiet");
    ASSERT_EQ(sim.code, 0) << sim.out;
    const std::string input = dir_ + "/" + scan.name + (scan.name == "bslz4" ? ".h5" : "");
    auto process = [&](const std::string& tag, const std::string& options) {
      auto r = run("process " + input + " --out " + dir_ + "/" + tag + ".h5 --csv " + dir_ + "/" + tag + " " +
                   options + " --quiet");
      EXPECT_EQ(r.code, 0) << r.out;
    };
    const std::string ref = scan.name + "_r1t1";
    process(ref, "--readers 1 --threads 1");
    const std::string peaks = read_file(dir_ + "/" + ref + "/peaks.csv");
    const std::string frames = read_file(dir_ + "/" + ref + "/frames.csv");
    ASSERT_GT(count_lines(peaks), 1 + 8 * 5);
    ASSERT_EQ(count_lines(frames), 1 + 8);
    for (const char* readers : {"1", "2", "3"})
      for (const char* threads : {"1", "2"}) {
        const std::string tag = scan.name + "_r" + readers + "t" + threads;
        if (tag == ref) continue;
        SCOPED_TRACE(tag);
        process(tag, std::string("--readers ") + readers + " --threads " + threads);
        EXPECT_EQ(read_file(dir_ + "/" + tag + "/peaks.csv"), peaks);
        EXPECT_EQ(read_file(dir_ + "/" + tag + "/frames.csv"), frames);
      }
    process(scan.name + "_hdf5", "--no-chunk-direct --readers 2 --threads 2");
    EXPECT_EQ(read_file(dir_ + "/" + scan.name + "_hdf5/peaks.csv"), peaks);
    EXPECT_EQ(read_file(dir_ + "/" + scan.name + "_hdf5/frames.csv"), frames);
  }
}

TEST_F(Readers, NegativeReadersIsAUsageError) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/s.h5 --grid 1x1 --size 128 --quiet").code, 0);
  auto r = run("process " + dir_ + "/s.h5 --out " + dir_ + "/r.h5 --readers -1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--readers"), std::string::npos) << r.out;
}

}  // namespace
