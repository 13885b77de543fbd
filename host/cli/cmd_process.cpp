// laueproc process: one scan in, one results file (+ CSV) out.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/cli.hpp"
#include "cli/index_options.hpp"
#include "cli/process_options.hpp"
#include "cli/progress.hpp"
#include "cli/run_process.hpp"
#include "laueproc/error.hpp"
#include "laueproc/output.hpp"
#include "laueproc/stages.hpp"
#include "laueproc/version.hpp"

#ifdef LAUEPROC_HAVE_CUDA
#include "laueproc/cuda.hpp"
#endif

namespace laueproc::cli {

namespace {

std::string join(const std::vector<std::string>& args) {
  std::string s = "laueproc process";
  for (const auto& a : args) s += " " + a;
  return s;
}

}  // namespace

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }
}  // namespace

int run_process(ProcessRequest r, RunReport* report_out) {
  auto source = open_scan(r.input, r.scan);
  const ScanInfo& info = source->info();
  std::unique_ptr<BadPixelMask> mask;
  if (!r.config.threshold.bad_pixel_mask.empty()) {
    mask = std::make_unique<BadPixelMask>(BadPixelMask::load(r.config.threshold.bad_pixel_mask));
    r.pipeline.mask = mask.get();
  }

  std::string backend = r.backend;
#ifdef LAUEPROC_HAVE_CUDA
  const cuda::DeviceProbe probe = cuda::probe_devices();
  if (!probe.problem.empty()) {  // a stale or broken driver is said out loud, never taken for "no GPU"
    if (backend == "cuda") throw UsageError("--backend cuda: " + probe.problem);
    if (backend == "auto") std::fprintf(stderr, "laueproc: warning: CUDA unusable, using the CPU: %s\n", probe.problem.c_str());
  }
  if (backend == "auto") backend = probe.count > 0 ? "cuda" : "cpu";
  if (backend == "cuda") {
    const int n_devices = probe.count;
    if (n_devices == 0) throw UsageError("--backend cuda: no CUDA device answered (no NVIDIA driver or no GPU)");
    if (r.devices.empty()) r.devices.push_back(0);
    for (int d : r.devices)
      if (d < 0 || d >= n_devices)
        throw UsageError("--devices: no CUDA device " + std::to_string(d) + " (" + std::to_string(n_devices) +
                         " present)");
    auto next = std::make_shared<std::size_t>(0);
    const ProcessConfig config = r.config;
    const BadPixelMask* mask_ptr = r.pipeline.mask;
    const std::vector<int> devices = r.devices;
    const std::size_t batch = r.batch;
    // The host only stages frames and launches: a few workers keep a GPU busy; each takes its
    // share of the device memory.
    r.pipeline.workers = r.cuda_workers > 0 ? r.cuda_workers : std::min(4, resolve_threads(r.pipeline.threads));
    const int per_device = (r.pipeline.workers + static_cast<int>(devices.size()) - 1) / static_cast<int>(devices.size());
    r.pipeline.make_analyzer = [config, mask_ptr, devices, batch, next, per_device] {
      cuda::CudaOptions options;
      options.device = devices[(*next)++ % devices.size()];  // workers round-robin over the devices
      options.batch = batch;
      options.memory_share = 0.8 / per_device;
      return cuda::make_cuda_analyzer(config, mask_ptr, options);
    };
  }
#else
  if (backend == "auto") backend = "cpu";
  if (backend == "cuda") throw UsageError("--backend cuda: this laueproc was built without CUDA");
#endif

  if (!r.quiet) {
    std::fprintf(stderr, "laueproc process: %s: %lld frames of %dx%d %s, backend %s, %d workers, %d readers%s\n",
                 r.input.c_str(), static_cast<long long>(info.n_frames), info.width, info.height, info.dtype.c_str(),
                 backend.c_str(), r.pipeline.make_analyzer ? r.pipeline.workers : resolve_threads(r.pipeline.threads),
                 source->concurrent_reads() ? resolve_readers(r.pipeline.readers) : 1,
                 info.chunk_direct ? " (chunk-direct)" : "");
  }

  const RunInfo run = make_run_info(r.input, info, r.config, r.pipeline.grid, backend,
                                    r.pipeline.make_analyzer ? r.pipeline.workers : resolve_threads(r.pipeline.threads),
                                    r.command_line);

  SinkOptions sink_options;
  sink_options.results_h5 = r.out_h5;
  sink_options.csv_dir = r.csv_dir;
  sink_options.resume = r.resume;
  sink_options.overwrite = r.overwrite;
  ResultSink sink(sink_options, run);
  if (!r.quiet && !sink.resumed_frames().empty())
    std::fprintf(stderr, "laueproc process: resuming: %zu frames already done\n", sink.resumed_frames().size());

  ProgressLine progress("process", progress_wanted(r.quiet));
  r.pipeline.progress = [&progress](std::int64_t done, std::int64_t total) { progress.update(done, total); };
  // Ctrl-C (or SIGTERM from a batch system) ends the run after the frames already written.
  g_interrupted.store(false);
  r.pipeline.cancel = &g_interrupted;
  struct sigaction action {}, old_int {}, old_term {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  RunReport report;
  try {
    report = run_pipeline(*source, r.config, r.pipeline, sink);
  } catch (...) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    throw;
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  progress.done();
  if (report.interrupted) {
    std::fprintf(stderr,
                 "laueproc process: interrupted after %lld frames; the journal keeps them: run the same command "
                 "with --resume%s to continue\n",
                 static_cast<long long>(report.frames_resumed + report.frames_processed),
                 r.overwrite ? " instead of --overwrite" : "");
    return 130;
  }

  if (!r.quiet) {
    std::fprintf(stderr, "laueproc process: %s: %lld frames (%lld resumed), %lld peaks in %.2f s (%.1f frames/s)\n",
                 report.backend.c_str(),
                 static_cast<long long>(report.frames_processed + report.frames_resumed),
                 static_cast<long long>(report.frames_resumed), static_cast<long long>(report.peaks), report.seconds,
                 report.seconds > 0 ? static_cast<double>(report.frames_processed) / report.seconds : 0.0);
    std::fprintf(stderr, "laueproc process: results in %s%s%s\n", r.out_h5.c_str(),
                 r.csv_dir.empty() ? "" : " and ", r.csv_dir.empty() ? "" : (r.csv_dir + "/{peaks,frames}.csv").c_str());
  }
  // Conversions made while reading (e.g. float32 data clipped to uint16): known once read.
  for (const auto& w : source->warnings()) std::fprintf(stderr, "laueproc process: note: %s\n", w.c_str());
  const int code = report.frames_failed > 0 ? 3 : 0;
  if (report.frames_failed > 0) {
    std::fprintf(stderr, "laueproc process: warning: %lld frames failed (listed in /frames with their status):\n",
                 static_cast<long long>(report.frames_failed));
    for (const auto& f : report.failures) std::fprintf(stderr, "  %s\n", f.c_str());
  }
  if (report_out) *report_out = std::move(report);
  return code;
}

int cmd_process(const std::vector<std::string>& args) {
  ProcessRequest r;
  std::string background_method, grid, backend, devices;
  po::options_description options("Options");
  options.add_options()
      ("input", po::value(&r.input)->required(), "scan: HDF5 stack, 34-ID-E file, directory, glob or list file")
      ("out,o", po::value(&r.out_h5)->default_value("results.h5"), "results file (HDF5)")
      ("csv", po::value(&r.csv_dir), "also write peaks.csv and frames.csv into this folder")
      ("resume", po::bool_switch(&r.resume), "continue an interrupted run from its journal")
      ("overwrite", po::bool_switch(&r.overwrite),
       "replace existing results (and CSVs), or start an interrupted run over; they are replaced when this run completes")
      ("dataset", po::value(&r.scan.dataset), "image dataset path (default /entry/data/data; 34-ID-E: /entry1/data/data)")
      ("grid", po::value(&grid), "raster grid NXxNY (frame i at ix = i % NX); default: from positions")
      ("threads,j", po::value(&r.pipeline.threads)->default_value(0), "worker threads (0 = all cores)")
      ("readers", po::value(&r.pipeline.readers)->default_value(0),
       "reader threads reading and decoding frames (0 = all cores); results do not depend on it")
      ("backend", po::value(&backend)->default_value("auto"),
       "auto (cuda when built with CUDA and a device answers), cpu or cuda")
      ("devices", po::value(&devices), "CUDA devices, e.g. 0,1: workers are spread over them")
      ("batch", with_default(&r.batch), "CUDA: frames per batch")
      ("cuda-workers", with_default(&r.cuda_workers), "CUDA: host workers feeding the GPUs (0 = min(4, cores))")
      ("no-chunk-direct", po::bool_switch()->notifier([&r](bool off) { if (off) r.scan.chunk_direct = false; }),
       "always read through H5Dread")
      ("quiet,q", po::bool_switch(&r.quiet), "no progress line or report");
  add_config_options(options, r.config, background_method);
  bool do_index = false;  // --index: orientations of the peaks once the run is complete
  IndexOptions index_options;
  po::options_description indexing("Indexing (with --index; see laueproc index --help)");
  indexing.add_options()("index", po::bool_switch(&do_index), "index every frame's peaks into the results file");
  add_index_options(indexing, index_options);
  options.add(indexing);
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc process SCAN [--out results.h5] [--csv DIR] [options]",
             "Finds and measures the Laue peaks of every frame (background, hysteresis threshold,\n"
             "8-connected labels, deblending, intensity-moment ellipses), then the streaking extent\n"
             "and defect scenario per frame, and maps over the raster grid. Results are written as\n"
             "frames complete; --resume continues a killed run. Existing results are never replaced\n"
             "without --overwrite. Exit 2: bad input or an output problem; 3: some frames failed.",
             options, positional, vm))
    return 0;
  finish_config(r.config, background_method);
  if (!grid.empty()) parse_grid(grid, r.pipeline.grid.nx, r.pipeline.grid.ny);
  if (backend != "auto" && backend != "cpu" && backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, not '" + backend + "'");
  r.backend = backend;
  if (r.pipeline.readers < 0) throw UsageError("--readers must not be negative");
  if (!devices.empty()) {
    std::stringstream list(devices);
    std::string item;
    while (std::getline(list, item, ',')) {
      try {
        r.devices.push_back(std::stoi(item));
      } catch (const std::exception&) {
        throw UsageError("--devices wants a list like 0,1; got '" + devices + "'");
      }
    }
  }
  r.command_line = join(args);
  if (!do_index) return run_process(std::move(r));
  finish_index_options(index_options);  // bad indexing options fail before any frame is processed
  if (index_options.geometry.empty()) throw UsageError("--index needs --geometry FILE (.det or LaueGo XML)");
  index::read_geometry(index_options.geometry);
  resolve_material(index_options);
  const std::string out = r.out_h5, csv = r.csv_dir, command_line = r.command_line;
  const bool quiet = r.quiet;
  const int threads = r.pipeline.threads;
  const int code = run_process(std::move(r));
  if (code != 0 && code != 3) return code;  // interrupted: no index of a partial scan
  run_index(out, out, false, csv, index_options, threads, command_line, quiet);
  return code;
}

}  // namespace laueproc::cli
