// Frame reader throughput: chunk-direct (H5Dread_chunk + own inflate) vs H5Dread, on a stack of
// 2048 x 2048 uint16 frames, one frame per chunk, uncompressed and gzip level 1.
// Files are written once to a temporary folder (LAUEPROC_BENCH_FRAMES frames, default 16) and are
// then in the page cache, so this measures decoding and copying, not the disk.
//   build/benchmarks/bench_reader --benchmark_format=json
// Report the CPU model beside every figure (items/s = frames/s, bytes/s = decoded uint16 bytes/s).
#include <benchmark/benchmark.h>
#include <hdf5.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/h5.hpp"
#include "laueproc/io.hpp"

namespace {

constexpr int kSize = 2048;

struct Files {
  std::string dir, raw, gzip;
  int frames = 16;

  Files() {
    if (const char* env = std::getenv("LAUEPROC_BENCH_FRAMES")) frames = std::max(1, std::atoi(env));
    std::string tmpl = (std::filesystem::temp_directory_path() / "laueproc_bench_XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    dir = buf.data();
    raw = dir + "/raw.h5";
    gzip = dir + "/gzip1.h5";
    // A Laue-like frame: flat background with Poisson-ish noise and a few bright spots.
    std::vector<std::uint16_t> frame(static_cast<std::size_t>(kSize) * kSize);
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(100.0f, 10.0f);
    for (auto& v : frame) v = static_cast<std::uint16_t>(std::max(0.0f, noise(rng)));
    for (int s = 0; s < 200; ++s) {
      int cx = static_cast<int>(rng() % (kSize - 10)), cy = static_cast<int>(rng() % (kSize - 10));
      for (int y = 0; y < 9; ++y)
        for (int x = 0; x < 9; ++x) frame[static_cast<std::size_t>(cy + y) * kSize + cx + x] = 30000;
    }
    write(raw, frame, -1);
    write(gzip, frame, 1);
  }
  ~Files() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  void write(const std::string& path, const std::vector<std::uint16_t>& frame, int level) const {
    using laueproc::h5::Handle;
    Handle f = laueproc::h5::create(path);
    laueproc::h5::make_groups(f, "/entry/data", path);
    hsize_t dims[3] = {static_cast<hsize_t>(frames), kSize, kSize};
    hsize_t chunk[3] = {1, kSize, kSize};
    Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(dcpl, 3, chunk);
    if (level >= 0) H5Pset_deflate(dcpl, static_cast<unsigned>(level));
    Handle ds(H5Dcreate2(f, "/entry/data/data", H5T_NATIVE_UINT16, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
    if (!ds.valid()) throw std::runtime_error("cannot create " + path);
    hsize_t one[2] = {kSize, kSize};
    Handle mem(H5Screate_simple(2, one, nullptr), H5Sclose);
    std::vector<std::uint16_t> shifted(frame.size());
    for (int k = 0; k < frames; ++k) {
      for (std::size_t i = 0; i < frame.size(); ++i) shifted[i] = static_cast<std::uint16_t>(frame[i] + k);
      Handle fs(H5Dget_space(ds), H5Sclose);
      hsize_t start[3] = {static_cast<hsize_t>(k), 0, 0}, count[3] = {1, kSize, kSize};
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr);
      if (H5Dwrite(ds, H5T_NATIVE_UINT16, mem, fs, H5P_DEFAULT, shifted.data()) < 0)
        throw std::runtime_error("cannot write " + path);
    }
  }
};

Files& files() {
  static Files f;  // created on first use, removed at exit
  return f;
}

void read_frames(benchmark::State& state, bool gzip, bool direct) {
  laueproc::ScanOptions opt;
  opt.chunk_direct = direct;
  auto src = laueproc::open_scan(gzip ? files().gzip : files().raw, opt);
  if (src->info().chunk_direct != direct) {
    state.SkipWithError("chunk-direct not available for this file");
    return;
  }
  const std::int64_t n = src->info().n_frames;
  laueproc::Frame frame;
  std::int64_t k = 0;
  for (auto _ : state) {
    src->read(k, frame);
    if (!frame.ok()) {
      state.SkipWithError(frame.error.c_str());
      return;
    }
    benchmark::DoNotOptimize(frame.pixels.data());
    k = (k + 1) % n;
  }
  const std::int64_t bytes = static_cast<std::int64_t>(kSize) * kSize * 2;
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
  state.SetLabel(std::to_string(n) + " frames 2048x2048 uint16, page-cached");
}

void stream_frames(benchmark::State& state, bool direct) {
  laueproc::ScanOptions opt;
  opt.chunk_direct = direct;
  auto src = laueproc::open_scan(files().gzip, opt);
  const std::int64_t n = src->info().n_frames;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  laueproc::Frame frame;
  std::int64_t delivered = 0;
  for (auto _ : state) {
    laueproc::FrameStream stream(*src, order, 4);
    while (stream.next(frame)) {
      benchmark::DoNotOptimize(frame.pixels.data());
      ++delivered;
    }
  }
  state.SetItemsProcessed(delivered);
  state.SetBytesProcessed(delivered * kSize * kSize * 2);
  state.SetLabel("FrameStream depth 4, gzip level 1");
}

void BM_ReadRaw_ChunkDirect(benchmark::State& s) { read_frames(s, false, true); }
void BM_ReadRaw_H5Dread(benchmark::State& s) { read_frames(s, false, false); }
void BM_ReadGzip1_ChunkDirect(benchmark::State& s) { read_frames(s, true, true); }
void BM_ReadGzip1_H5Dread(benchmark::State& s) { read_frames(s, true, false); }
void BM_StreamGzip1_ChunkDirect(benchmark::State& s) { stream_frames(s, true); }
void BM_StreamGzip1_H5Dread(benchmark::State& s) { stream_frames(s, false); }

BENCHMARK(BM_ReadRaw_ChunkDirect)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadRaw_H5Dread)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadGzip1_ChunkDirect)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadGzip1_H5Dread)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StreamGzip1_ChunkDirect)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_StreamGzip1_H5Dread)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
