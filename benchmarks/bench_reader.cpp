// Frame reader throughput, measured interleaved so each figure has a same-run reference.
//
// Simulated 2048 x 2048 uint16 frames (sim::ScanSimulator, mixed scenarios, seed 1) are written
// once to a temporary folder in six layouts: uncompressed stack, gzip level 1, 4 and 6 stacks,
// bitshuffle/LZ4 stack (one chunk per frame each) and 34-ID-E per-frame files (gzip level 1); a
// seventh case is the real Ge frame of tests/data (a 34-ID-E file, gzip 6 in 256^2 tiles) copied
// N times. The files are then in the page cache, so this measures reading and decoding, not the
// disk. Each repetition then times, case after case, every reader count: a memcpy of the same
// bytes (one thread), open_scan + FrameStream over all frames (as `laueproc process` reads), and
// for gzip the same reader with each inflate (libdeflate, ISA-L, zlib's as the reference).
//
//   build/benchmarks/bench_reader [--frames N] [--passes P] [--reps R] [--readers 1,2] [--json FILE]
// Each timed read goes P times (default 3) over the N frames in one stream, so frame buffers are
// reused as in a long run rather than allocated (page faults) frame after frame.
//
// Prints a table (median and min-max over the repetitions) and one JSON line per measurement.
// "per reader" = wall-time rate / reader threads (a per-core rate when each reader has a free
// core); "per CPU-second" = bytes / CPU time of the process during the read, the per-core rate
// that still holds on a machine shared with other work.
#include <hdf5.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "io/decode.hpp"
#include "io/h5.hpp"
#include "laueproc/io.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/version.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using laueproc::h5::Handle;
constexpr int kSize = 2048;
constexpr std::size_t kFrameBytes = std::size_t{kSize} * kSize * 2;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds used by the whole process (all threads): on a machine shared with other work, bytes
// per CPU-second is the per-core rate that wall time cannot give.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Rate {
  double gbps = 0;       // per second of wall time
  double gb_per_cpu = 0; // per CPU-second
};

// n simulated 2048^2 frames in a row, mixed scenarios, seed 1.
laueproc::sim::SimConfig sim_config(int n) {
  laueproc::sim::SimConfig c;
  c.width = kSize;
  c.height = kSize;
  c.grid_nx = n;
  c.grid_ny = 1;
  c.seed = 1;
  return c;
}

std::vector<std::vector<std::uint16_t>> render(int n) {
  const laueproc::sim::ScanSimulator sim(sim_config(n));
  std::vector<std::vector<std::uint16_t>> frames(static_cast<std::size_t>(n));
  std::vector<std::thread> pool;
  const int threads = std::max(1u, std::thread::hardware_concurrency());
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = t; i < n; i += threads) sim.render(i, frames[static_cast<std::size_t>(i)], nullptr);
    });
  for (auto& t : pool) t.join();
  return frames;
}

// A stack, one chunk per frame, whose stored chunks are `encode(frame)` written as they are;
// `filter` (0 = none) is recorded in the dataset as the filter that made them.
template <class Encode>
std::uint64_t write_stack(const std::string& path, const std::vector<std::vector<std::uint16_t>>& frames,
                          H5Z_filter_t filter, const std::vector<unsigned>& cd, Encode encode) {
  std::lock_guard<std::mutex> lock(laueproc::h5::library_mutex());
  Handle f = laueproc::h5::create(path);
  laueproc::h5::make_groups(f, "/entry/data", path);
  hsize_t dims[3] = {frames.size(), kSize, kSize}, chunk[3] = {1, kSize, kSize};
  Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, 3, chunk);
  if (filter == H5Z_FILTER_DEFLATE) H5Pset_deflate(dcpl, cd[0]);
  else if (filter != 0) H5Pset_filter(dcpl, filter, H5Z_FLAG_OPTIONAL, cd.size(), cd.data());
  Handle ds(H5Dcreate2(f, "/entry/data/data", H5T_NATIVE_UINT16, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) throw std::runtime_error("cannot create " + path + " (" + laueproc::h5::last_error() + ")");
  std::uint64_t stored = 0;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const std::vector<std::uint8_t> bytes = encode(frames[k]);
    hsize_t off[3] = {k, 0, 0};
    if (H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, bytes.size(), bytes.data()) < 0)
      throw std::runtime_error("cannot write " + path);
    stored += bytes.size();
  }
  return stored;
}

std::vector<std::uint8_t> raw_bytes(const std::vector<std::uint16_t>& f) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(f.data());
  return {p, p + f.size() * 2};
}

std::vector<std::uint8_t> gzip(const std::vector<std::uint16_t>& f, int level) {
  uLongf size = compressBound(static_cast<uLong>(f.size() * 2));
  std::vector<std::uint8_t> out(size);
  if (compress2(out.data(), &size, reinterpret_cast<const Bytef*>(f.data()), static_cast<uLong>(f.size() * 2), level) != Z_OK)
    throw std::runtime_error("zlib compress failed");
  out.resize(size);
  return out;
}

struct Case {
  std::string name, path;
  double ratio = 1;      // uncompressed / stored bytes
  bool has_zlib = false; // gzip: also time the reader with each inflate
};

// memcpy of the same bytes, one thread: the rendered frames (as many distinct sources as the file
// holds frames) copied `passes` times into a ring of 10 frame buffers (as many as the reader's
// stream keeps), so source and destination miss the caches as the reader's do.
Rate memcpy_rate(const std::vector<std::vector<std::uint16_t>>& frames, int passes) {
  static std::vector<std::vector<std::uint16_t>> ring(10, std::vector<std::uint16_t>(kFrameBytes / 2));
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  std::size_t copies = 0;
  for (int p = 0; p < passes; ++p)
    for (const auto& f : frames) {
      std::memcpy(ring[copies % ring.size()].data(), f.data(), kFrameBytes);
      ++copies;
    }
  const double s = seconds_since(t0), c = cpu_seconds() - c0;
  if (ring[0][3] == 42 && ring[1][5] == 42) std::puts("");  // keep the copies
  const double bytes = static_cast<double>(copies) * kFrameBytes;
  return {bytes / s / 1e9, bytes / c / 1e9};
}

// Reads every frame `passes` times in one stream, so frame buffers are reused as in a long run.
Rate read_rate(const std::string& path, int readers, laueproc::Inflater inflater, int passes, int& frames_read) {
  laueproc::ScanOptions o;
  o.inflater = inflater;
  auto src = laueproc::open_scan(path, o);
  if (!src->info().chunk_direct) throw std::runtime_error(path + ": not chunk-direct");
  const std::int64_t n = src->info().n_frames;
  std::vector<std::int64_t> order;
  for (int p = 0; p < passes; ++p)
    for (std::int64_t i = 0; i < n; ++i) order.push_back(i);
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  laueproc::FrameStream stream(*src, order, 8, readers);
  laueproc::Frame f;
  frames_read = 0;
  while (stream.next(f)) {
    if (!f.ok()) throw std::runtime_error(f.error);
    ++frames_read;
  }
  const double bytes = static_cast<double>(frames_read) * kFrameBytes;
  return {bytes / seconds_since(t0) / 1e9, bytes / (cpu_seconds() - c0) / 1e9};
}

struct Stats {
  std::vector<double> v;
  double median() const {
    auto s = v;
    std::sort(s.begin(), s.end());
    return s.empty() ? 0 : (s[(s.size() - 1) / 2] + s[s.size() / 2]) / 2;
  }
  double min() const { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
  double max() const { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
};

}  // namespace

int main(int argc, char** argv) {
  int n = 16, reps = 5, passes = 3;
  std::vector<int> reader_counts = {1, 2};
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--frames") n = std::max(1, std::stoi(value()));
    else if (a == "--reps") reps = std::max(1, std::stoi(value()));
    else if (a == "--passes") passes = std::max(1, std::stoi(value()));
    else if (a == "--json") json_path = value();
    else if (a == "--readers") {
      reader_counts.clear();
      std::string list = value();
      for (std::size_t p = 0; p < list.size();) {
        const std::size_t c = list.find(',', p);
        reader_counts.push_back(std::max(1, std::stoi(list.substr(p, c - p))));
        p = c == std::string::npos ? list.size() : c + 1;
      }
    } else {
      std::fprintf(stderr, "usage: bench_reader [--frames N] [--passes P] [--reps R] [--readers 1,2] [--json FILE]\n");
      return 2;
    }
  }
  laueproc::h5::init();
  const std::string dir = (std::filesystem::temp_directory_path() / "laueproc_bench_reader").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::fprintf(stderr, "bench_reader: rendering %d frames of %dx%d and writing six layouts to %s\n", n, kSize, kSize,
               dir.c_str());
  const auto frames = render(n);
  const double raw = static_cast<double>(n) * kFrameBytes;
  std::vector<Case> cases;
  cases.push_back({"uncompressed", dir + "/raw.h5", raw / static_cast<double>(write_stack(dir + "/raw.h5", frames, 0, {}, raw_bytes)), false});
  for (int level : {1, 4, 6}) {
    const std::string p = dir + "/gzip" + std::to_string(level) + ".h5";
    const auto stored = write_stack(p, frames, H5Z_FILTER_DEFLATE, {static_cast<unsigned>(level)},
                                    [level](const std::vector<std::uint16_t>& f) { return gzip(f, level); });
    cases.push_back({"gzip " + std::to_string(level), p, raw / static_cast<double>(stored), true});
  }
  {
    const std::string p = dir + "/bslz4.h5";
    // The cd values the plugin records: version 0.3, element size 2, default block, LZ4. When the
    // plugin is loadable, HDF5 lets it fill in the first three itself from {block, LZ4}.
    const bool plugin = H5Zfilter_avail(laueproc::io::kBitshuffleFilter) > 0;
    const std::vector<unsigned> cd = plugin ? std::vector<unsigned>{0, 2} : std::vector<unsigned>{0, 3, 2, 0, 2};
    const auto stored = write_stack(p, frames, laueproc::io::kBitshuffleFilter, cd,
                                    [](const std::vector<std::uint16_t>& f) {
                                      return laueproc::io::encode_bitshuffle_lz4(
                                          reinterpret_cast<const std::uint8_t*>(f.data()), f.size() * 2, 2);
                                    });
    cases.push_back({"bitshuffle/LZ4", p, raw / static_cast<double>(stored), false});
  }
  {
    laueproc::sim::WriteOptions w;
    w.layout = laueproc::ScanLayout::per_frame_files;
    w.out = dir + "/files";
    w.compression = "gzip";
    laueproc::sim::write_scan(sim_config(n), w);
    auto src = laueproc::open_scan(w.out);
    cases.push_back({"34-ID-E files, gzip 1", w.out,
                     static_cast<double>(kFrameBytes) / static_cast<double>(src->info().stored_bytes), true});
  }
  {  // the real frame, its stored bytes as the beamline file has them
    const std::string real = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/Ge_blanc_0000_as34ide.h5";
    const std::string out = dir + "/real";
    std::filesystem::create_directories(out);
    for (int k = 0; k < n; ++k) {
      char name[64];
      std::snprintf(name, sizeof name, "/Ge_%04d.h5", k);
      std::filesystem::copy_file(real, out + name);
    }
    auto src = laueproc::open_scan(out);
    cases.push_back({"real Ge files, gzip 6", out,
                     static_cast<double>(kFrameBytes) / static_cast<double>(src->info().stored_bytes), true});
  }

  std::map<std::string, Stats> fps, gbps, per_core, frac, zlib_per_core, vs_zlib, per_cpu, frac_cpu, vs_zlib_cpu,
      libdeflate_vs_zlib_cpu, isal_vs_zlib_cpu;
  std::vector<std::string> lines;
  std::vector<std::string> keys;
  for (int rep = 0; rep < reps; ++rep) {
    for (const Case& c : cases)
      for (int readers : reader_counts) {
        const Rate memr = memcpy_rate(frames, passes);
        const double mem = memr.gbps;
        int got = 0;
        const Rate r = read_rate(c.path, readers, laueproc::Inflater::fastest, passes, got);
        const double g = r.gbps;
        Rate rz, rd, ri;  // zlib, libdeflate, ISA-L
        double gz = 0;
        if (c.has_zlib) {
          int got_other = 0;
          rz = read_rate(c.path, readers, laueproc::Inflater::zlib, passes, got_other);
          rd = read_rate(c.path, readers, laueproc::Inflater::libdeflate, passes, got_other);
          if (laueproc::io::have_isal()) ri = read_rate(c.path, readers, laueproc::Inflater::isal, passes, got_other);
          gz = rz.gbps;
        }
        const std::string key = c.name + " | " + std::to_string(readers);
        if (rep == 0) keys.push_back(key);
        fps[key].v.push_back(g * 1e9 / kFrameBytes);
        gbps[key].v.push_back(g);
        per_core[key].v.push_back(g / readers);
        frac[key].v.push_back(g / readers / mem);
        per_cpu[key].v.push_back(r.gb_per_cpu);
        frac_cpu[key].v.push_back(r.gb_per_cpu / memr.gb_per_cpu);
        if (c.has_zlib) {
          zlib_per_core[key].v.push_back(gz / readers);
          vs_zlib[key].v.push_back(g / gz);
          vs_zlib_cpu[key].v.push_back(r.gb_per_cpu / rz.gb_per_cpu);
          libdeflate_vs_zlib_cpu[key].v.push_back(rd.gb_per_cpu / rz.gb_per_cpu);
          if (ri.gb_per_cpu > 0) isal_vs_zlib_cpu[key].v.push_back(ri.gb_per_cpu / rz.gb_per_cpu);
        }
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "{\"bench\": \"reader\", \"git_commit\": \"%s\", \"case\": \"%s\", \"readers\": %d, \"rep\": %d, "
                      "\"frames\": %d, \"compression_ratio\": %.3f, \"frames_per_s\": %.2f, \"gb_per_s\": %.4f, "
                      "\"gb_per_s_per_core\": %.4f, \"memcpy_gb_per_s\": %.3f, \"fraction_of_memcpy\": %.4f, "
                      "\"zlib_gb_per_s_per_core\": %s, \"gb_per_cpu_s\": %.4f, \"memcpy_gb_per_cpu_s\": %.3f, "
                      "\"zlib_gb_per_cpu_s\": %s, \"libdeflate_gb_per_cpu_s\": %s, \"isal_gb_per_cpu_s\": %s}",
                      laueproc::git_commit(), c.name.c_str(), readers, rep, got, c.ratio, g * 1e9 / kFrameBytes, g,
                      g / readers, mem, g / readers / mem, c.has_zlib ? std::to_string(gz / readers).c_str() : "null",
                      r.gb_per_cpu, memr.gb_per_cpu, c.has_zlib ? std::to_string(rz.gb_per_cpu).c_str() : "null",
                      c.has_zlib ? std::to_string(rd.gb_per_cpu).c_str() : "null",
                      ri.gb_per_cpu > 0 ? std::to_string(ri.gb_per_cpu).c_str() : "null");
        lines.push_back(buf);
        std::fprintf(stderr, "  rep %d %-24s readers %d: %7.1f frames/s  %.3f GB/s per core  (memcpy %.2f GB/s)\n", rep,
                     c.name.c_str(), readers, g * 1e9 / kFrameBytes, g / readers, mem);
      }
  }
  std::printf("bench_reader: %d frames of %dx%d uint16 (%.1f MB each) per case, page-cached, %d repetitions, "
              "median [min-max]; commit %s\n",
              n, kSize, kSize, kFrameBytes / 1e6, reps, laueproc::git_commit());
  std::printf("%-22s %3s %5s %20s %20s %17s %20s %17s %17s %17s %17s %17s\n", "case", "rd", "ratio", "frames/s",
              "GB/s per reader", "of memcpy", "GB/CPU-s", "of memcpy (CPU)", "x zlib", "x zlib (CPU)",
              "libdeflate (CPU)", "ISA-L (CPU)");
  for (const auto& key : keys) {
    const std::string name = key.substr(0, key.find(" | "));
    const std::string readers = key.substr(key.find(" | ") + 3);
    double ratio = 1;
    for (const Case& c : cases)
      if (c.name == name) ratio = c.ratio;
    auto cell = [](const Stats& s, const char* fmt) {
      char a[64], b[64], c[64], out[96];
      std::snprintf(a, sizeof a, fmt, s.median());
      std::snprintf(b, sizeof b, fmt, s.min());
      std::snprintf(c, sizeof c, fmt, s.max());
      std::snprintf(out, sizeof out, "%s [%s-%s]", a, b, c);
      return std::string(out);
    };
    auto cell_or_dash = [&](const std::map<std::string, Stats>& m) {
      return m.count(key) ? cell(m.at(key), "%.2f") : std::string("-");
    };
    std::printf("%-22s %3s %5.2f %20s %20s %17s %20s %17s %17s %17s %17s %17s\n", name.c_str(), readers.c_str(), ratio,
                cell(fps[key], "%.1f").c_str(), cell(per_core[key], "%.3f").c_str(), cell(frac[key], "%.2f").c_str(),
                cell(per_cpu[key], "%.3f").c_str(), cell(frac_cpu[key], "%.2f").c_str(),
                cell_or_dash(vs_zlib).c_str(), cell_or_dash(vs_zlib_cpu).c_str(),
                cell_or_dash(libdeflate_vs_zlib_cpu).c_str(), cell_or_dash(isal_vs_zlib_cpu).c_str());
  }
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    for (const auto& l : lines) out << l << "\n";
  }
  std::filesystem::remove_all(dir);
  return 0;
}
