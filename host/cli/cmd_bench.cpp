// laueproc bench: how fast this machine analyses frames. Frames are simulated once into memory
// (untimed), then each backend analyses them on worker threads that take frames from one atomic
// counter, for at least kMinSeconds and at least one pass over all frames. With CUDA: the
// bandwidth floors (cuda::measure_floors) and the analysis rate as a fraction of each. With
// --input: the read rate of a real scan through open_scan + FrameStream.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "cli/cli.hpp"
#include "cli/cmd_bench.hpp"
#include "io/frame_memory.hpp"
#include "laueproc/backend.hpp"
#include "laueproc/error.hpp"
#include "laueproc/io.hpp"
#include "laueproc/pipeline.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/version.hpp"

#ifdef LAUEPROC_HAVE_CUDA
#include "laueproc/cuda.hpp"
#endif

namespace laueproc::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMinSeconds = 1.0;     // each timed measurement runs at least this long
constexpr std::uint64_t kSeed = 1;      // fixed: every run sees the same frames
constexpr double kMaxFrameBytes = 32e9; // refuse to hold more than this in memory

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// A measured analysis rate.
struct Rate {
  std::int64_t frames = 0;  // frames analysed in the timed part
  double seconds = 0;
  double cpu_seconds = 0;   // host CPU time of the whole process (user + system) in the timed part
  double frames_per_s() const { return seconds > 0 ? static_cast<double>(frames) / seconds : 0.0; }
  double cpu_ms_per_frame() const { return frames > 0 ? cpu_seconds * 1e3 / static_cast<double>(frames) : 0.0; }
};

// User + system CPU seconds of every thread of this process so far (getrusage).
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Runs `workers` threads, each with its own analyzer from `make`: warm-up on `warm` frames, then
// (all workers ready) the clock starts and each takes `batch` frames at a time from one counter
// (frame k % n) until the counter has passed every frame once and kMinSeconds have elapsed.
template <typename Make>
Rate run_workers(const std::vector<Frame>& frames, int workers, std::size_t batch, std::size_t warm, Make make) {
  const auto n = static_cast<std::int64_t>(frames.size());
  const auto step = static_cast<std::int64_t>(batch);
  std::atomic<std::int64_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::int64_t> done(static_cast<std::size_t>(workers), 0);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  Clock::time_point t0;
  double cpu0 = 0;

  auto body = [&](std::size_t w) {
    std::unique_ptr<BatchAnalyzer> analyzer;
    std::vector<const Frame*> ptrs;
    std::vector<FrameAnalysis> out;
    try {
      analyzer = make();
      ptrs.clear();
      for (std::size_t k = 0; k < warm; ++k) ptrs.push_back(&frames[(w + k) % frames.size()]);
      analyzer->analyze(ptrs, out);  // scratch buffers, device arenas, module load
    } catch (...) {
      errors[w] = std::current_exception();
      failed = true;
    }
    {
      std::unique_lock<std::mutex> lock(m);
      ++ready;
      cv.notify_all();
      cv.wait(lock, [&] { return go; });
    }
    if (errors[w]) return;
    try {
      while (!failed) {
        const std::int64_t start = next.fetch_add(step);
        if (start >= n && seconds_since(t0) >= kMinSeconds) break;
        ptrs.clear();
        for (std::int64_t k = 0; k < step; ++k) ptrs.push_back(&frames[static_cast<std::size_t>((start + k) % n)]);
        analyzer->analyze(ptrs, out);
        done[w] += step;
      }
    } catch (...) {
      errors[w] = std::current_exception();
      failed = true;
    }
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(body, static_cast<std::size_t>(w));
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return ready == workers; });
    t0 = Clock::now();
    cpu0 = process_cpu_seconds();
    go = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  Rate r;
  r.seconds = seconds_since(t0);
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (auto d : done) r.frames += d;
  return r;
}

// Renders frames 0..n-1 of a mixed-scenario simulated scan on `threads` threads.
std::vector<Frame> render_frames(int n, int width, int height, int threads) {
  sim::SimConfig c;
  c.width = width;
  c.height = height;
  c.grid_nx = n;
  c.grid_ny = 1;
  c.seed = kSeed;  // default weights: all five scenarios, drawn per frame
  const sim::ScanSimulator simulator(c);
  std::vector<Frame> frames(static_cast<std::size_t>(n));
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex m;
  auto body = [&] {
    try {
      for (int i = next++; i < n; i = next++) {
        Frame& f = frames[static_cast<std::size_t>(i)];
        f.meta.index = i;
        f.width = width;
        f.height = height;
        simulator.render(i, f.pixels, nullptr);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(m);
      error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, std::min(threads, n)); ++t) pool.emplace_back(body);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return frames;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string json_number(std::optional<double> v) {
  if (!v) return "null";
  char buf[32];
  const double x = *v;
  if (x == std::floor(x) && std::fabs(x) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", x);  // counts and sizes exactly
  else
    std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// Keys in the order written; every key is always present (null when not measured).
class JsonLine {
 public:
  void add(const char* key, const std::string& raw) {
    text_ += text_.empty() ? "{" : ", ";
    text_ += json_string(key) + ": " + raw;
  }
  void num(const char* key, std::optional<double> v) { add(key, json_number(v)); }
  void str(const char* key, const std::optional<std::string>& v) { add(key, v ? json_string(*v) : "null"); }
  std::string text() const { return text_ + "}"; }
  void boolean(const char* key, std::optional<bool> v) { add(key, v ? (*v ? "true" : "false") : "null"); }

 private:
  std::string text_;
};

/// One pass of the reader over the first n frames of a scan.
struct ReadPass {
  std::int64_t frames = 0, failed = 0;
  double seconds = 0, cpu_seconds = 0;
  double pixel_bytes = 0;    // decoded pixels delivered
  double encoded_bytes = 0;  // compressed chunks delivered (keep_encoded)
  double frames_per_s() const { return seconds > 0 ? static_cast<double>(frames) / seconds : 0.0; }
  double cpu_ms_per_frame() const { return frames > 0 ? cpu_seconds * 1e3 / static_cast<double>(frames) : 0.0; }
};

// Reads frames 0..n-1 through FrameStream with `readers` threads into `memory`'s blocks (null:
// ordinary memory); with `staging_copy` the consumer also copies each frame into one staging
// buffer, as the CUDA backend did before the reader could write into its pinned memory. Host CPU
// time (getrusage, all threads) over the pass.
ReadPass read_pass(FrameSource& source, std::int64_t n, int readers, std::shared_ptr<FrameMemory> memory,
                   bool staging_copy) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  std::vector<std::uint16_t> staging;
  ReadPass r;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  {
    FrameStream stream(source, std::move(order), 8, readers, std::move(memory));
    Frame f;
    while (stream.next(f)) {
      ++r.frames;
      if (!f.ok()) ++r.failed;
      if (f.has_pixels()) {
        r.pixel_bytes += 2.0 * static_cast<double>(f.pixel_count());
        if (staging_copy) {
          staging.resize(f.pixel_count());
          std::memcpy(staging.data(), f.pixel_data(), f.pixel_count() * sizeof(std::uint16_t));
        }
      } else if (f.is_encoded()) {
        r.encoded_bytes += static_cast<double>(f.encoded_size());
      }
    }
  }
  r.seconds = seconds_since(t0);
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  return r;
}

/// Reading and analysis together, as `process` runs them without the writer.
struct EndToEnd {
  std::int64_t frames = 0, failed = 0;
  double seconds = 0, cpu_seconds = 0;
  std::vector<FrameAnalysis> results;  // by position; status carries a read or analysis failure
  double frames_per_s() const { return seconds > 0 ? static_cast<double>(frames) / seconds : 0.0; }
  double cpu_ms_per_frame() const { return frames > 0 ? cpu_seconds * 1e3 / static_cast<double>(frames) : 0.0; }
};

// Frames 0..n-1 of `source` read by `readers` threads into the analyzers' frame memory and
// analysed by one worker thread per analyzer (a batch at a time, taken from the stream under one
// lock, as the pipeline's workers do). Timed from the stream's start to the last analysis.
EndToEnd end_to_end(FrameSource& source, std::int64_t n, int readers,
                    std::vector<std::unique_ptr<BatchAnalyzer>>& analyzers) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  const std::size_t batch = std::max<std::size_t>(1, analyzers.front()->preferred_batch());
  EndToEnd e;
  e.results.resize(static_cast<std::size_t>(n));
  std::mutex take;
  std::size_t next_position = 0;
  std::exception_ptr error;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  {
    FrameStream stream(source, std::move(order), std::max<std::size_t>(8, batch), readers,
                       analyzers.front()->frame_memory());
    auto worker = [&](BatchAnalyzer& analyzer) {
      std::vector<Frame> frames(batch);
      std::vector<std::size_t> positions;
      std::vector<const Frame*> readable;
      std::vector<FrameAnalysis> out;
      try {
        for (;;) {
          positions.clear();
          {
            std::lock_guard<std::mutex> lock(take);
            while (positions.size() < batch && stream.next(frames[positions.size()])) positions.push_back(next_position++);
          }
          if (positions.empty()) return;
          readable.clear();
          for (std::size_t i = 0; i < positions.size(); ++i)
            if (frames[i].ok()) readable.push_back(&frames[i]);
          analyzer.analyze(readable, out);
          for (std::size_t i = 0, r = 0; i < positions.size(); ++i) {
            FrameAnalysis& slot = e.results[positions[i]];
            if (frames[i].ok()) slot = std::move(out[r++]);
            else slot.status = frames[i].error;
          }
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(take);
        if (!error) error = std::current_exception();
      }
    };
    std::vector<std::thread> threads;
    for (auto& a : analyzers) threads.emplace_back(worker, std::ref(*a));
    for (auto& t : threads) t.join();
  }
  e.seconds = seconds_since(t0);
  e.cpu_seconds = process_cpu_seconds() - cpu0;
  if (error) std::rethrow_exception(error);
  e.frames = n;
  for (const auto& r : e.results) e.failed += r.status != "ok";
  return e;
}

#ifdef LAUEPROC_HAVE_CUDA
// True when both runs found the same peaks, bit for bit (same backend, same pixels).
bool identical_results(const EndToEnd& a, const EndToEnd& b) {
  if (a.results.size() != b.results.size()) return false;
  for (std::size_t i = 0; i < a.results.size(); ++i) {
    const FrameAnalysis &x = a.results[i], &y = b.results[i];
    if (x.status != y.status || x.peaks.size() != y.peaks.size() || x.noise_sigma != y.noise_sigma ||
        x.background_level != y.background_level)
      return false;
    for (std::size_t k = 0; k < x.peaks.size(); ++k) {
      const Peak &p = x.peaks[k], &q = y.peaks[k];
      if (p.frame != q.frame || p.peak != q.peak || p.x != q.x || p.y != q.y || p.intensity != q.intensity ||
          p.peak_value != q.peak_value || p.npix != q.npix || p.mxx != q.mxx || p.myy != q.myy || p.mxy != q.mxy ||
          p.a != q.a || p.b != q.b || p.theta_deg != q.theta_deg || p.n_maxima != q.n_maxima ||
          p.saturated != q.saturated || p.edge != q.edge || p.snr != q.snr)
        return false;
    }
  }
  return true;
}

// Copies of `frames` whose pixels lie in blocks of `memory` (pinned for the CUDA backend), as the
// reader delivers them to the backend.
std::vector<Frame> frames_in(const std::shared_ptr<FrameMemory>& memory, const std::vector<Frame>& frames) {
  std::vector<Frame> out(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    Frame& g = out[i];
    g.meta = frames[i].meta;
    g.width = frames[i].width;
    g.height = frames[i].height;
    g.memory = memory;
    std::memcpy(g.prepare_pixels(), frames[i].pixel_data(), frames[i].pixel_count() * sizeof(std::uint16_t));
  }
  return out;
}

#endif  // LAUEPROC_HAVE_CUDA

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  std::string backend = "auto", input, json_path;
  int frames_n = 64, size = 2048, threads = 0, readers = 0;
  std::size_t batch = 16;  // as `laueproc process`: 16 workers x 16 frames fit an 80 GB GPU
  bool quiet = false;
  po::options_description options("Options");
  options.add_options()
      ("backend", with_default(&backend), "auto (CPU, and CUDA when built with it and a device answers), cpu, "
                                           "or cuda (CPU and CUDA; fails without a device)")
      ("frames,n", with_default(&frames_n), "simulated frames held in memory (mixed scenarios, seed 1)")
      ("size", with_default(&size), "square frame side, pixels (with --input and no --size: the scan's frame shape)")
      ("batch", with_default(&batch), "CUDA: frames per analyze() call")
      ("threads,j", with_default(&threads), "CPU worker threads and CUDA host workers (0 = all cores)")
      ("input", po::value(&input), "also time reading this scan (the first --frames frames when given, "
                                   "else all): into the backend's memory, with a staging copy, still compressed; "
                                   "then reading + analysis (host decoding, and device decoding with CUDA + nvCOMP)")
      ("readers", with_default(&readers), "--input: reader threads (0 = all cores), as `process --readers`")
      ("json", po::value(&json_path), "also write the JSON line to this file")
      ("quiet,q", po::bool_switch(&quiet), "print only the JSON line");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(args, "laueproc bench [--backend auto|cpu|cuda] [--frames N] [--size PX] [--batch B] [--threads T] "
                   "[--input SCAN] [--json FILE]",
             "Measures this machine: frames/s of the CPU backend (and the CUDA backend with its\n"
             "bandwidth floors) on simulated frames in memory, and the read rate and host CPU cost of\n"
             "reading a scan, alone and with the analysis.\n"
             "Prints a table and one JSON line (keys in docs/bench.md).",
             options, positional, vm))
    return 0;
  if (backend != "auto" && backend != "cpu" && backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, not '" + backend + "'");
  if (frames_n < 1) throw UsageError("--frames must be at least 1");
  if (size < 64) throw UsageError("--size must be at least 64 pixels");
  if (batch < 1) throw UsageError("--batch must be at least 1");
  if (threads < 0) throw UsageError("--threads must not be negative");
  if (readers < 0) throw UsageError("--readers must not be negative");
  std::unique_ptr<FrameSource> source;
  if (!input.empty()) source = open_scan(input);  // bad path: one line, exit 2, before rendering
  // Like with like: without --size, frames of the input's shape are simulated.
  int width = size, height = size;
  if (source && vm["size"].defaulted()) {
    width = std::max(64, source->info().width);
    height = std::max(64, source->info().height);
  }
  const double bytes_per_frame = 2.0 * width * height;  // uint16
  if (bytes_per_frame * frames_n > kMaxFrameBytes)
    throw UsageError("--frames x --size: " + std::to_string(bytes_per_frame * frames_n / 1e9) +
                     " GB would be held in memory; at most 32 GB");
  const int workers = resolve_threads(threads);

  // Which backends run: decided before any work, so --backend cuda fails at once without a device.
  bool run_cuda = false;
#ifdef LAUEPROC_HAVE_CUDA
  const cuda::DeviceProbe probe = cuda::probe_devices();
  if (!probe.problem.empty()) {  // a stale or broken driver is said out loud, never taken for "no GPU"
    if (backend == "cuda") throw UsageError("--backend cuda: " + probe.problem);
    std::fprintf(stderr, "laueproc bench: warning: CUDA unusable: %s\n", probe.problem.c_str());
  }
  if (backend == "cuda" && probe.count == 0)
    throw UsageError("--backend cuda: no CUDA device answered (no NVIDIA driver or no GPU)");
  run_cuda = backend != "cpu" && probe.count > 0;
#else
  if (backend == "cuda") throw UsageError("--backend cuda: this laueproc was built without CUDA");
#endif
  auto note = [quiet](const std::string& text) {
    if (!quiet) std::fprintf(stderr, "laueproc bench: %s\n", text.c_str());
  };
  note("rendering " + std::to_string(frames_n) + " frames of " + std::to_string(width) + "x" + std::to_string(height) +
       " (untimed)");
  const std::vector<Frame> frames = render_frames(frames_n, width, height, workers);

  // CPU backend.
  const ProcessConfig config;
  note("CPU backend, " + std::to_string(workers) + " threads");
  const Rate cpu = run_workers(frames, workers, 1, 2, [&config] { return make_cpu_analyzer(config); });
  const double cpu_fps = cpu.frames_per_s();

  // CUDA backend: floors first (buffers freed before the analyzers allocate theirs). Frames are
  // analysed from pinned blocks, where the reader puts them for `process`; once more from ordinary
  // memory, which costs the host a staging copy per frame: the difference is that copy.
  std::optional<std::string> cuda_device;
  std::optional<double> h2d, d2d, cuda_fps, frac_h2d, frac_d2d, speedup;
  std::optional<double> cuda_frames, cuda_seconds, host_cpu_ms, staged_fps, staged_host_cpu_ms;
  std::function<std::unique_ptr<BatchAnalyzer>(bool device_decode)> make_cuda;  // set when CUDA runs
#ifdef LAUEPROC_HAVE_CUDA
  std::shared_ptr<FrameMemory> pinned;
  if (run_cuda) {
    try {
      note("CUDA floors");
      const cuda::Floors floors = cuda::measure_floors(0);
      cuda_device = floors.device;
      h2d = floors.h2d_pinned_gbps;
      d2d = floors.d2d_copy_gbps;
      note("CUDA backend, batch " + std::to_string(batch) + ", " + std::to_string(workers) + " host workers");
      pinned = cuda::make_pinned_frame_memory(std::size_t{16} << 30);
      cuda::CudaOptions cuda_options;
      cuda_options.batch = batch;
      cuda_options.memory_share = 0.8 / workers;  // every worker has its own analyzer on device 0
      cuda_options.frame_memory = pinned;
      const std::vector<Frame> pinned_frames = frames_in(pinned, frames);  // untimed
      const Rate gpu = run_workers(pinned_frames, workers, batch, batch, [&config, &cuda_options] {
        return cuda::make_cuda_analyzer(config, nullptr, cuda_options);
      });
      const Rate staged = run_workers(frames, workers, batch, batch, [&config, &cuda_options] {
        return cuda::make_cuda_analyzer(config, nullptr, cuda_options);
      });
      cuda_fps = gpu.frames_per_s();
      host_cpu_ms = gpu.cpu_ms_per_frame();
      cuda_frames = static_cast<double>(gpu.frames);
      cuda_seconds = gpu.seconds;
      staged_fps = staged.frames_per_s();
      staged_host_cpu_ms = staged.cpu_ms_per_frame();
      frac_h2d = *cuda_fps * bytes_per_frame / (*h2d * 1e9);
      frac_d2d = *cuda_fps * bytes_per_frame / (*d2d * 1e9);
      if (cpu_fps > 0) speedup = *cuda_fps / cpu_fps;
      make_cuda = [&config, cuda_options](bool device_decode) {
        cuda::CudaOptions o = cuda_options;
        o.device_decode = device_decode;
        return cuda::make_cuda_analyzer(config, nullptr, o);
      };
    } catch (const Error& e) {
      if (backend == "cuda") throw;
      cuda_device.reset();  // all CUDA fields null: nothing half-measured
      h2d = d2d = cuda_fps = frac_h2d = frac_d2d = speedup = cuda_frames = cuda_seconds = host_cpu_ms = std::nullopt;
      staged_fps = staged_host_cpu_ms = std::nullopt;
      make_cuda = nullptr;
      note(std::string("CUDA skipped: ") + e.what());  // auto: report the CPU alone
    }
  }
#endif
  (void)run_cuda;

  // File read rate through the same reader as `laueproc process`, and a memcpy of the same bytes
  // in the same run (one thread) as the reference the rate is compared with. Then the host CPU
  // per frame of the reader writing into lent blocks (what the CUDA backend gets, measured here on
  // ordinary page-aligned blocks) against the reader plus the staging copy it replaces, and of
  // the reader delivering the stored chunks for device decoding. Then reading and analysis
  // together (the backend's own memory), with host and, on a GPU with nvCOMP, device decoding.
  std::optional<double> read_frames, read_failed, read_seconds, read_fps, read_gbps, read_frac;
  std::optional<double> read_readers, read_per_reader, memcpy_gbps, read_frac_memcpy, read_ratio;
  std::optional<double> read_cpu_ms, blocks_cpu_ms, copy_cpu_ms, encoded_fps, encoded_cpu_ms, encoded_gbps;
  std::optional<std::string> e2e_backend, device_decodable;
  std::optional<double> e2e_frames, e2e_failed, e2e_host_fps, e2e_host_cpu_ms, e2e_device_fps, e2e_device_cpu_ms;
  std::optional<double> e2e_device_speedup;
  std::optional<bool> e2e_identical;
  if (source) {
    const ScanInfo& info = source->info();
    std::int64_t n = info.n_frames;
    if (!vm["frames"].defaulted()) n = std::min<std::int64_t>(n, frames_n);
    const int n_readers = source->concurrent_reads() ? resolve_readers(readers) : 1;
    note("reading " + std::to_string(n) + " frames of " + input + " with " + std::to_string(n_readers) + " readers");
    const ReadPass plain = read_pass(*source, n, n_readers, nullptr, false);
    const double bytes = plain.pixel_bytes, s = plain.seconds;
    read_frames = static_cast<double>(plain.frames);
    read_failed = static_cast<double>(plain.failed);
    read_seconds = s;
    read_fps = plain.frames_per_s();
    read_gbps = s > 0 ? bytes / s / 1e9 : 0.0;
    read_readers = n_readers;
    read_per_reader = *read_gbps / n_readers;
    read_cpu_ms = plain.cpu_ms_per_frame();
    // In bytes, so a scan of another frame size compares fairly: frames of the analysed size per s.
    if (cpu_fps > 0) read_frac = *read_gbps * 1e9 / bytes_per_frame / cpu_fps;
    {
      const std::size_t frame_bytes = 2 * static_cast<std::size_t>(info.width) * static_cast<std::size_t>(info.height);
      std::vector<std::uint8_t> from(frame_bytes, 1), to(frame_bytes);
      const auto m0 = Clock::now();
      std::int64_t copies = 0;
      while (copies < std::max<std::int64_t>(n, 4) || seconds_since(m0) < 0.2) {
        from[static_cast<std::size_t>(copies) % frame_bytes] = static_cast<std::uint8_t>(copies);  // not hoisted
        std::memcpy(to.data(), from.data(), frame_bytes);
        ++copies;
      }
      memcpy_gbps = static_cast<double>(copies) * static_cast<double>(frame_bytes) / seconds_since(m0) / 1e9;
      if (to[1] == 42) note("");  // keeps the copies
      read_frac_memcpy = *read_per_reader / *memcpy_gbps;
    }
    if (info.stored_bytes > 0) {
      const double raw = 2.0 * info.width * info.height *
                         (info.layout == ScanLayout::stack ? static_cast<double>(info.n_frames)
                                                           : static_cast<double>(info.n_frames / std::max<std::size_t>(info.files.size(), 1)));
      read_ratio = raw / static_cast<double>(info.stored_bytes);
    }
    // Into lent blocks vs ordinary frames + the staging copy: interleaved, the lower of two each.
    {
      const std::size_t frame_bytes = 2 * static_cast<std::size_t>(info.width) * static_cast<std::size_t>(info.height);
      auto blocks = io::make_host_frame_memory(std::max<std::size_t>(64, 4 * static_cast<std::size_t>(n_readers) + 16) *
                                               (frame_bytes + (std::size_t{64} << 10)));
      double best_blocks = 1e300, best_copy = 1e300;
      for (int rep = 0; rep < 2; ++rep) {
        best_blocks = std::min(best_blocks, read_pass(*source, n, n_readers, blocks, false).cpu_ms_per_frame());
        best_copy = std::min(best_copy, read_pass(*source, n, n_readers, nullptr, true).cpu_ms_per_frame());
      }
      blocks_cpu_ms = best_blocks;
      copy_cpu_ms = best_copy;
      if (!info.device_decodable.empty()) {
        device_decodable = info.device_decodable;
        ScanOptions keep;
        keep.keep_encoded = true;
        auto encoded_source = open_scan(input, keep);
        const ReadPass enc = read_pass(*encoded_source, n, n_readers, blocks, false);
        encoded_fps = enc.frames_per_s();
        encoded_cpu_ms = enc.cpu_ms_per_frame();
        encoded_gbps = enc.seconds > 0 ? enc.encoded_bytes / enc.seconds / 1e9 : 0.0;
      }
    }
    // End to end, without the writer: the CUDA backend (host decoding, then device decoding when
    // this build and the scan allow it), else the CPU backend.
    const int e2e_workers = make_cuda ? std::min(4, workers) : workers;
    auto analyzers = [&](bool device_decode) {
      std::vector<std::unique_ptr<BatchAnalyzer>> list;
      for (int w = 0; w < e2e_workers; ++w)
        list.push_back(make_cuda ? make_cuda(device_decode) : make_cpu_analyzer(config));
      // Warm-up on simulated frames of the scan's shape (device arenas, module load): untimed.
      std::vector<const Frame*> warm;
      for (const Frame& f : frames)
        if (f.width == info.width && f.height == info.height && warm.size() < list.front()->preferred_batch())
          warm.push_back(&f);
      std::vector<FrameAnalysis> ignored;
      for (auto& a : list) a->analyze(warm, ignored);
      return list;
    };
    e2e_backend = make_cuda ? "cuda" : "cpu";
    note("end to end (" + *e2e_backend + ", host decoding): " + std::to_string(n) + " frames");
    auto host_list = analyzers(false);
    const EndToEnd host = end_to_end(*source, n, n_readers, host_list);
    host_list.clear();
    e2e_frames = static_cast<double>(host.frames);
    e2e_failed = static_cast<double>(host.failed);
    e2e_host_fps = host.frames_per_s();
    e2e_host_cpu_ms = host.cpu_ms_per_frame();
#ifdef LAUEPROC_HAVE_CUDA
    if (make_cuda && cuda::device_decode_available() && !info.device_decodable.empty()) {
      note("end to end (cuda, device decoding of " + info.device_decodable + ")");
      ScanOptions keep;
      keep.keep_encoded = true;
      auto encoded_source = open_scan(input, keep);
      auto device_list = analyzers(true);
      const EndToEnd device = end_to_end(*encoded_source, n, n_readers, device_list);
      e2e_device_fps = device.frames_per_s();
      e2e_device_cpu_ms = device.cpu_ms_per_frame();
      if (*e2e_host_fps > 0) e2e_device_speedup = *e2e_device_fps / *e2e_host_fps;
      e2e_identical = identical_results(host, device);
    }
#endif
  }

  JsonLine j;
  j.str("laueproc_version", std::string(version()));
  j.str("git_commit", std::string(git_commit()));
  j.str("backend", std::string(cuda_fps ? "cpu+cuda" : "cpu"));
  j.num("frames", frames_n);
  j.num("width", width);
  j.num("height", height);
  j.num("seed", static_cast<double>(kSeed));
  j.num("bytes_per_frame", bytes_per_frame);
  j.num("threads", workers);
  j.num("cpu_frames_per_s", cpu_fps);
  j.num("cpu_frames_per_s_per_thread", cpu_fps / workers);
  j.num("cpu_gb_per_s", cpu_fps * bytes_per_frame / 1e9);
  j.num("cpu_frames_timed", static_cast<double>(cpu.frames));
  j.num("cpu_seconds", cpu.seconds);
  j.str("cuda_device", cuda_device);
  j.num("cuda_batch", cuda_fps ? std::optional<double>(static_cast<double>(batch)) : std::nullopt);
  j.num("cuda_workers", cuda_fps ? std::optional<double>(workers) : std::nullopt);
  j.num("h2d_pinned_gb_per_s", h2d);
  j.num("d2d_copy_gb_per_s", d2d);
  j.num("cuda_frames_per_s", cuda_fps);
  j.num("cuda_frames_timed", cuda_frames);
  j.num("cuda_seconds", cuda_seconds);
  j.num("cuda_fraction_of_h2d", frac_h2d);
  j.num("cuda_fraction_of_d2d", frac_d2d);
  j.num("cuda_speedup_over_cpu", speedup);
  j.str("input", source ? std::optional<std::string>(input) : std::nullopt);
  j.num("read_frames", read_frames);
  j.num("read_failed_frames", read_failed);
  j.num("read_seconds", read_seconds);
  j.num("read_frames_per_s", read_fps);
  j.num("read_gb_per_s", read_gbps);
  j.num("read_fraction_of_cpu", read_frac);
  j.num("read_readers", read_readers);
  j.num("read_gb_per_s_per_reader", read_per_reader);
  j.num("memcpy_gb_per_s", memcpy_gbps);
  j.num("read_fraction_of_memcpy", read_frac_memcpy);
  j.num("read_compression_ratio", read_ratio);
  j.num("host_cpu_ms_per_frame", host_cpu_ms);
  j.num("cpu_host_cpu_ms_per_frame", cpu.cpu_ms_per_frame());
  j.num("cuda_staged_frames_per_s", staged_fps);
  j.num("cuda_staged_host_cpu_ms_per_frame", staged_host_cpu_ms);
  j.num("read_cpu_ms_per_frame", read_cpu_ms);
  j.num("read_into_blocks_cpu_ms_per_frame", blocks_cpu_ms);
  j.num("read_plus_copy_cpu_ms_per_frame", copy_cpu_ms);
  j.str("device_decodable", device_decodable);
  j.num("read_encoded_frames_per_s", encoded_fps);
  j.num("read_encoded_cpu_ms_per_frame", encoded_cpu_ms);
  j.num("read_encoded_gb_per_s", encoded_gbps);
  j.str("e2e_backend", e2e_backend);
  j.num("e2e_frames", e2e_frames);
  j.num("e2e_failed_frames", e2e_failed);
  j.num("e2e_host_decode_frames_per_s", e2e_host_fps);
  j.num("e2e_host_decode_host_cpu_ms_per_frame", e2e_host_cpu_ms);
  j.num("e2e_device_decode_frames_per_s", e2e_device_fps);
  j.num("e2e_device_decode_host_cpu_ms_per_frame", e2e_device_cpu_ms);
  j.num("e2e_device_decode_speedup", e2e_device_speedup);
  j.boolean("e2e_device_equals_host_decode", e2e_identical);
  const std::string json = j.text();

  if (!quiet) {
    std::printf("laueproc bench: %d frames of %dx%d uint16 in memory (%.2f MB each), mixed scenarios, seed %llu\n",
                frames_n, width, height, bytes_per_frame / 1e6, static_cast<unsigned long long>(kSeed));
    std::printf("  %-34s %13s  %s\n", "measurement", "rate", "detail");
    char what[96];
    std::snprintf(what, sizeof what, "CPU analyze (%d threads)", workers);
    std::printf("  %-34s %8.1f fr/s  %.1f frames/s per thread, %.2f GB/s, %lld frames in %.2f s\n", what, cpu_fps,
                cpu_fps / workers, cpu_fps * bytes_per_frame / 1e9, static_cast<long long>(cpu.frames), cpu.seconds);
    if (cuda_fps) {
      std::printf("  %-34s %8.1f GB/s  %s\n", "CUDA floor: pinned host-to-device", *h2d, cuda_device->c_str());
      std::printf("  %-34s %8.1f GB/s  bytes read + written\n", "CUDA floor: device-to-device copy", *d2d);
      std::snprintf(what, sizeof what, "CUDA analyze (batch %zu, %d workers)", batch, workers);
      std::printf("  %-34s %8.1f fr/s  %.3f of the h2d floor, %.4f of the d2d floor, %.1fx the CPU, %.3f ms host CPU/frame\n",
                  what, *cuda_fps, *frac_h2d, *frac_d2d, speedup ? *speedup : 0.0, *host_cpu_ms);
      std::printf("  %-34s %8.1f fr/s  %.3f ms host CPU/frame (frames in ordinary memory: + the staging copy)\n",
                  "CUDA analyze, frames not pinned", *staged_fps, *staged_host_cpu_ms);
    }
    if (read_fps) {
      std::snprintf(what, sizeof what, "read (%d readers)", static_cast<int>(*read_readers));
      std::printf("  %-34s %8.1f fr/s  %.2f GB/s (%.2f per reader, %.2f of a memcpy at %.1f GB/s), %.0f frames%s, "
                  "%.1fx the CPU analysis rate\n",
                  what, *read_fps, *read_gbps, *read_per_reader, *read_frac_memcpy, *memcpy_gbps, *read_frames,
                  *read_failed > 0 ? (", " + std::to_string(static_cast<long long>(*read_failed)) + " failed").c_str() : "",
                  read_frac ? *read_frac : 0.0);
      std::printf("  %-34s %13s  %.3f ms/frame into lent blocks, %.3f with the staging copy, %.3f plain\n",
                  "read: host CPU per frame", "", *blocks_cpu_ms, *copy_cpu_ms, *read_cpu_ms);
      if (encoded_fps)
        std::printf("  %-34s %8.1f fr/s  %.3f ms host CPU/frame, %.2f GB/s of %s chunks\n", "read still compressed",
                    *encoded_fps, *encoded_cpu_ms, *encoded_gbps, device_decodable->c_str());
      std::snprintf(what, sizeof what, "end to end (%s, host decoding)", e2e_backend->c_str());
      std::printf("  %-34s %8.1f fr/s  %.3f ms host CPU/frame, %.0f frames, %.0f failed\n", what, *e2e_host_fps,
                  *e2e_host_cpu_ms, *e2e_frames, *e2e_failed);
      if (e2e_device_fps)
        std::printf("  %-34s %8.1f fr/s  %.3f ms host CPU/frame, %.2fx host decoding, peaks %s\n",
                    "end to end (cuda, device decoding)", *e2e_device_fps, *e2e_device_cpu_ms,
                    e2e_device_speedup ? *e2e_device_speedup : 0.0, *e2e_identical ? "identical" : "DIFFER");
    }
  }
  std::printf("%s\n", json.c_str());
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << json << "\n";
    if (!out) throw InputError(json_path, "cannot write the JSON file");
  }
  return 0;
}

}  // namespace laueproc::cli
