// `laueproc bench` as a user runs it: the table and one JSON object with the documented keys
// and positive rates; --backend cuda without a device (or without CUDA built) is one line and
// exit 2; --input reports the read rate of a simulated stack; bad options exit 2.
#include <gtest/gtest.h>

#include "e2e/program.hpp"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#ifdef LAUEPROC_HAVE_CUDA
#include "laueproc/cuda.hpp"
#endif

namespace {

using namespace laueproc::e2e;

// The number after "key": in a JSON object; NaN when the key is missing or its value is null.
double json_number(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\": ";
  const auto at = json.find(needle);
  if (at == std::string::npos) return std::nan("");
  const char* begin = json.c_str() + at + needle.size();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  return end == begin ? std::nan("") : v;
}

bool has_key(const std::string& json, const std::string& key) {
  return json.find("\"" + key + "\": ") != std::string::npos;
}

// One object on one line: starts with '{', ends with '}' (+ newline), no other line.
void expect_one_object(const std::string& json) {
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(count_lines(json), 1) << json;
  const auto last = json.find_last_not_of('\n');
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(json[last], '}');
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      --depth;
      if (depth == 0) EXPECT_EQ(i, last) << "text after the object: " << json;
    }
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(in_string);
}

class Bench : public TempDirTest {};

const char* const kKeys[] = {
    "laueproc_version", "git_commit", "backend", "frames", "width", "height", "seed", "bytes_per_frame", "threads",
    "cpu_frames_per_s", "cpu_frames_per_s_per_thread", "cpu_gb_per_s", "cpu_frames_timed", "cpu_seconds",
    "cuda_device", "cuda_batch", "cuda_workers", "h2d_pinned_gb_per_s", "d2d_copy_gb_per_s", "cuda_frames_per_s",
    "cuda_frames_timed", "cuda_seconds", "cuda_fraction_of_h2d", "cuda_fraction_of_d2d", "cuda_speedup_over_cpu",
    "input", "read_frames", "read_failed_frames", "read_seconds", "read_frames_per_s", "read_gb_per_s",
    "read_fraction_of_cpu", "read_readers", "read_gb_per_s_per_reader", "memcpy_gb_per_s",
    "read_fraction_of_memcpy", "read_compression_ratio", "host_cpu_ms_per_frame", "cpu_host_cpu_ms_per_frame"};

TEST_F(Bench, CpuRunPrintsTableAndWritesOneJsonObject) {
  const std::string json_path = dir_ + "/bench.json";
  auto r = run("bench --backend cpu --frames 4 --size 256 --threads 2 --json " + json_path);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("CPU analyze (2 threads)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fr/s"), std::string::npos) << r.out;
  const std::string json = read_file(json_path);
  expect_one_object(json);
  for (const char* key : kKeys) EXPECT_TRUE(has_key(json, key)) << key << " missing: " << json;
  // The same line is printed on stdout.
  EXPECT_NE(r.out.find(json.substr(0, json.size() - 1)), std::string::npos);

  const double fps = json_number(json, "cpu_frames_per_s");
  EXPECT_GT(fps, 0.0) << json;
  EXPECT_NEAR(json_number(json, "cpu_frames_per_s_per_thread"), fps / 2, fps * 1e-3);
  EXPECT_EQ(json_number(json, "bytes_per_frame"), 256.0 * 256.0 * 2.0);
  EXPECT_EQ(json_number(json, "frames"), 4.0);
  EXPECT_EQ(json_number(json, "threads"), 2.0);
  // At least one pass over the frames and at least one second.
  EXPECT_GE(json_number(json, "cpu_frames_timed"), 4.0);
  EXPECT_GE(json_number(json, "cpu_seconds"), 1.0);
  EXPECT_NEAR(json_number(json, "cpu_frames_timed") / json_number(json, "cpu_seconds"), fps, fps * 1e-3);
  // CPU only: the CUDA and read fields are null.
  EXPECT_NE(json.find("\"cuda_frames_per_s\": null"), std::string::npos);
  EXPECT_NE(json.find("\"cuda_speedup_over_cpu\": null"), std::string::npos);
  EXPECT_NE(json.find("\"host_cpu_ms_per_frame\": null"), std::string::npos);
  EXPECT_GT(json_number(json, "cpu_host_cpu_ms_per_frame"), 0.0) << json;  // getrusage over the CPU run
  EXPECT_NE(json.find("\"read_frames_per_s\": null"), std::string::npos);
  EXPECT_NE(json.find("\"backend\": \"cpu\""), std::string::npos);
}

TEST_F(Bench, QuietPrintsOnlyTheJsonLine) {
  auto r = run("bench --backend cpu --frames 2 --size 128 --threads 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_one_object(r.out);
  EXPECT_GT(json_number(r.out, "cpu_frames_per_s"), 0.0);
}

TEST_F(Bench, CudaBackendWithoutDeviceIsOneLineAndExit2) {
#ifdef LAUEPROC_HAVE_CUDA
  if (laueproc::cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device answers";
#endif
  auto r = run("bench --backend cuda --frames 2 --size 128");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("--backend cuda"), std::string::npos) << r.out;
}

TEST_F(Bench, InputReportsReadThroughput) {
  auto sim = run("simulate --out " + dir_ + "/scan.h5 --grid 3x2 --size 256 --seed 3 --quiet");
  ASSERT_EQ(sim.code, 0) << sim.out;
  const std::string json_path = dir_ + "/bench.json";
  auto r = run("bench --backend cpu --frames 2 --threads 1 --readers 2 --input " + dir_ + "/scan.h5 --json " +
               json_path);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("read (2 readers)"), std::string::npos) << r.out;
  const std::string json = read_file(json_path);
  expect_one_object(json);
  // --frames 2 given: the first 2 of the 6 frames are read; without --size, the scan's shape is simulated.
  EXPECT_EQ(json_number(json, "read_frames"), 2.0) << json;
  EXPECT_EQ(json_number(json, "read_failed_frames"), 0.0);
  EXPECT_EQ(json_number(json, "width"), 256.0);
  const double read_fps = json_number(json, "read_frames_per_s");
  EXPECT_GT(read_fps, 0.0);
  EXPECT_NEAR(json_number(json, "read_gb_per_s"), read_fps * 256 * 256 * 2 / 1e9, read_fps * 256 * 256 * 2 / 1e9 * 1e-3);
  EXPECT_NEAR(json_number(json, "read_fraction_of_cpu"), read_fps / json_number(json, "cpu_frames_per_s"),
              1e-3 * read_fps / json_number(json, "cpu_frames_per_s"));
  EXPECT_NE(json.find("\"input\": \"" + dir_ + "/scan.h5\""), std::string::npos) << json;
  EXPECT_EQ(json_number(json, "read_readers"), 2.0);
  EXPECT_NEAR(json_number(json, "read_gb_per_s_per_reader"), json_number(json, "read_gb_per_s") / 2,
              json_number(json, "read_gb_per_s") * 1e-3);
  EXPECT_GT(json_number(json, "memcpy_gb_per_s"), 0.0);
  EXPECT_NEAR(json_number(json, "read_fraction_of_memcpy"),
              json_number(json, "read_gb_per_s_per_reader") / json_number(json, "memcpy_gb_per_s"),
              1e-3 * json_number(json, "read_fraction_of_memcpy") + 1e-6);
  EXPECT_EQ(json_number(json, "read_compression_ratio"), 1.0);  // simulate writes uncompressed frames by default

  // Without --frames: the whole scan is read.
  auto whole = run("bench --backend cpu --threads 1 --quiet --size 128 --input " + dir_ + "/scan.h5");
  ASSERT_EQ(whole.code, 0) << whole.out;
  EXPECT_EQ(json_number(whole.out, "read_frames"), 6.0) << whole.out;
}

// A bitshuffle/LZ4 stack: the reader's host CPU per frame into lent blocks, with the staging
// copy, and still compressed (what device decoding leaves to the host); end to end with host
// decoding. Device decoding is measured only with CUDA, nvCOMP and a device: null here.
TEST_F(Bench, InputReportsTheReadersHostCostAndEndToEnd) {
  auto sim = run("simulate --out " + dir_ + "/bs.h5 --grid 3x2 --size 256 --seed 4 --compression bitshuffle --quiet");
  ASSERT_EQ(sim.code, 0) << sim.out;
  auto r = run("bench --backend cpu --frames 3 --threads 1 --readers 1 --quiet --input " + dir_ + "/bs.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string& json = r.out;
  expect_one_object(json);
  EXPECT_NE(json.find("\"device_decodable\": \"bitshuffle/LZ4\""), std::string::npos) << json;
  for (const char* key : {"read_cpu_ms_per_frame", "read_into_blocks_cpu_ms_per_frame", "read_plus_copy_cpu_ms_per_frame",
                          "read_encoded_frames_per_s", "read_encoded_gb_per_s", "e2e_host_decode_frames_per_s"})
    EXPECT_GT(json_number(json, key), 0.0) << key << ": " << json;
  EXPECT_GE(json_number(json, "read_encoded_cpu_ms_per_frame"), 0.0) << json;
  EXPECT_NE(json.find("\"e2e_backend\": \"cpu\""), std::string::npos) << json;
  EXPECT_EQ(json_number(json, "e2e_frames"), 3.0) << json;
  EXPECT_EQ(json_number(json, "e2e_failed_frames"), 0.0) << json;
  for (const char* key : {"e2e_device_decode_frames_per_s", "e2e_device_decode_speedup", "e2e_device_equals_host_decode"}) {
    EXPECT_TRUE(has_key(json, key)) << key;
    EXPECT_NE(json.find(std::string("\"") + key + "\": null"), std::string::npos) << key << ": " << json;
  }
}

TEST_F(Bench, BadOptionsExit2WithOneLine) {
  for (const std::string args : {"--frames 0", "--size 10", "--backend gpu", "--batch 0", "--input /nonexistent/scan.h5"}) {
    auto r = run("bench " + args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_EQ(count_lines(r.out), 1) << args << ": " << r.out;
  }
}

}  // namespace
