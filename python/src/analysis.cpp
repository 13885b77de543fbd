// laueproc.analyze, analyze_batch and process: frames from numpy (uint16 read in place), the
// library's analyzers, results back as numpy structured arrays and dicts.
#include <chrono>
#include <climits>
#include <filesystem>
#include <memory>
#include <sstream>

#include "bindings.hpp"
#include "laueproc/analyze.hpp"
#include "laueproc/error.hpp"
#include "laueproc/io.hpp"
#include "laueproc/output.hpp"
#include "laueproc/pipeline.hpp"
#include "laueproc/stages.hpp"

#ifdef LAUEPROC_HAVE_CUDA
#include "laueproc/cuda.hpp"
#endif

namespace laueproc::python {

namespace {

// One row of AnalysisResult.peaks: the columns of peaks.csv but `frame`, types as in /peaks.
struct PeakRecord {
  std::int32_t peak;
  double x, y, intensity, peak_value;
  std::int32_t npix;
  double a, b, theta_deg;
  std::int32_t n_maxima;
  std::uint8_t saturated;
  double mxx, myy, mxy;
  std::uint8_t edge;
  double snr;
};

// Frames converted or copied before analysis (dtype, byte order, layout): the tests read it to
// prove that a C-contiguous uint16 frame is analysed in place.
std::atomic<long long> g_frame_copies{0};

// A frame as the analyzers see it, and what keeps its pixels alive.
struct FrameInput {
  FrameView view;
  py::object keep;                      // the numpy array the view points into
  std::vector<std::uint16_t> converted; // pixels converted from another dtype or layout
  bool copied = false;
  std::vector<std::string> notes;
};

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// uint16 frames in native byte order whose rows are contiguous are read in place (any row
// stride, e.g. a slice of columns); everything else is converted as the scan reader converts.
FrameInput frame_input(const py::array& a) {
  FrameInput in;
  const py::ssize_t h = a.shape(0), w = a.shape(1);
  if (h > INT_MAX || w > INT_MAX) throw UsageError("frame of shape " + shape_text(a) + " is too large");
  py::dtype dt = a.dtype();
  const char kind = dt.kind();
  if (kind != 'u' && kind != 'i' && kind != 'f')
    throw UsageError("frame dtype " + py::str(dt).cast<std::string>() + " is not supported (integers or floats)");
  const bool native = dt.attr("isnative").cast<bool>();
  const bool aligned = a.attr("flags").attr("aligned").cast<bool>();
  in.keep = a;
  if (kind == 'u' && dt.itemsize() == 2 && native && aligned && a.strides(1) == 2 && a.strides(0) % 2 == 0 &&
      a.strides(0) >= 2 * w) {
    in.view = FrameView{static_cast<const std::uint16_t*>(a.data()), static_cast<int>(w), static_cast<int>(h),
                        a.strides(0) / 2};
    return in;
  }
  py::module_ np = py::module_::import("numpy");
  py::array c = np.attr("ascontiguousarray")(a, dt.attr("newbyteorder")("="));
  if (kind == 'f' && dt.itemsize() == 2) c = c.attr("astype")("float32");  // float16: not a reader type
  const std::string name = c.dtype().attr("name").cast<std::string>();
  const std::size_t n = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  in.converted.resize(n);
  PixelConversion conversion;
  {
    py::gil_scoped_release release;
    conversion = convert_to_uint16(name, c.data(), n, in.converted.data());
  }
  if (conversion.clipped || conversion.nan)
    in.notes.push_back("converting " + name + " to uint16 clipped " + std::to_string(conversion.clipped) +
                       " pixels to [0, 65535] and set " + std::to_string(conversion.nan) + " NaN pixels to 0");
  in.view = FrameView{in.converted.data(), static_cast<int>(w), static_cast<int>(h), static_cast<std::ptrdiff_t>(w)};
  in.copied = true;
  ++g_frame_copies;
  return in;
}

py::array as_array(const py::object& frames) {
  return py::module_::import("numpy").attr("asarray")(frames);
}

void require_2d(const py::array& a) {
  if (a.ndim() != 2)
    throw UsageError("frame must be a 2-D array (rows, columns), not of shape " + shape_text(a));
}

// The result of one frame, as Python sees it.
struct AnalysisResult {
  py::array peaks;
  py::dict summary;
  bool copied = false;
  std::vector<std::string> notes;
  std::uintptr_t input_address = 0;  // where the analyzer read the pixels (tests: zero copy)
};

AnalysisResult to_python(FrameResult&& r, const FrameInput& in) {
  AnalysisResult out;
  out.peaks = peaks_array(r.peaks);
  out.summary = summary_dict(r.summary);
  out.copied = in.copied;
  out.notes = in.notes;
  out.input_address = reinterpret_cast<std::uintptr_t>(in.view.data);
  return out;
}

std::string result_repr(const AnalysisResult& r) {
  std::ostringstream s;
  s << "AnalysisResult(" << r.peaks.size() << " peaks, se=" << py::str(r.summary["se"]).cast<std::string>()
    << ", scenario=" << py::str(r.summary["scenario"]).cast<std::string>()
    << ", status=" << py::repr(r.summary["status"]).cast<std::string>() << ")";
  return s.str();
}

// One analyzer per Python thread, kept while the settings (and the mask file) stay the same,
// so repeated analyze() calls reuse its scratch buffers as the pipeline's workers do.
struct AnalyzerCache {
  std::vector<std::pair<std::string, std::string>> key;
  std::filesystem::file_time_type mask_time;
  std::unique_ptr<BadPixelMask> mask;
  std::unique_ptr<CpuFrameAnalyzer> analyzer;
};

std::unique_ptr<BadPixelMask> load_mask(const ProcessConfig& config) {
  if (config.threshold.bad_pixel_mask.empty()) return nullptr;
  return std::make_unique<BadPixelMask>(BadPixelMask::load(config.threshold.bad_pixel_mask));
}

std::filesystem::file_time_type mask_time(const ProcessConfig& config) {
  std::error_code ec;
  if (config.threshold.bad_pixel_mask.empty()) return {};
  return std::filesystem::last_write_time(config.threshold.bad_pixel_mask, ec);
}

CpuFrameAnalyzer& cached_analyzer(const ProcessConfig& config) {
  thread_local AnalyzerCache cache;
  auto key = describe(config);
  const auto time = mask_time(config);
  if (!cache.analyzer || key != cache.key || time != cache.mask_time) {
    cache.analyzer.reset();
    cache.mask = load_mask(config);
    cache.analyzer = std::make_unique<CpuFrameAnalyzer>(config, cache.mask.get());
    cache.key = std::move(key);
    cache.mask_time = time;
  }
  return *cache.analyzer;
}

void check_mask_shape(const BadPixelMask* mask, const std::string& path, const FrameView& view) {
  if (mask && (mask->width() != view.width || mask->height() != view.height))
    throw UsageError(path + ": mask is " + std::to_string(mask->width()) + "x" + std::to_string(mask->height()) +
                     ", frame is " + std::to_string(view.width) + "x" + std::to_string(view.height));
}

AnalysisResult analyze(const py::object& frame, const py::object& settings, const py::kwargs& kwargs) {
  const ProcessConfig config = config_from(settings, kwargs);
  py::array a = as_array(frame);
  require_2d(a);
  FrameInput in = frame_input(a);
  FrameResult result;
  {
    py::gil_scoped_release release;
    CpuFrameAnalyzer& analyzer = cached_analyzer(config);
    FrameMeta meta;
    meta.source = "memory";
    result = frame_result(meta, analyzer.analyze(in.view, 0), config.summary);
  }
  return to_python(std::move(result), in);
}

// backend "auto" | "cpu" | "cuda" -> an analyzer factory (empty for the CPU), as `process --backend`.
std::function<std::unique_ptr<BatchAnalyzer>()> backend_factory(const std::string& backend,
                                                                const ProcessConfig& config,
                                                                const BadPixelMask* mask) {
  if (backend != "auto" && backend != "cpu" && backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, not '" + backend + "'");
#ifdef LAUEPROC_HAVE_CUDA
  const bool use_cuda = backend == "cuda" || (backend == "auto" && cuda::device_count() > 0);
  if (!use_cuda) return {};
  if (cuda::device_count() == 0) throw UsageError("--backend cuda: no CUDA device answered (driver or GPU missing)");
  return [config, mask] { return cuda::make_cuda_analyzer(config, mask, cuda::CudaOptions{}); };
#else
  (void)config;
  (void)mask;
  if (backend == "cuda") throw UsageError("--backend cuda: this laueproc was built without CUDA");
  return {};
#endif
}

py::list analyze_batch(const py::object& frames, int threads, const std::string& backend, const py::object& settings,
                       const py::kwargs& kwargs) {
  const ProcessConfig config = config_from(settings, kwargs);
  if (threads < 0) throw UsageError("--threads must not be negative");
  std::vector<FrameInput> inputs;
  if (py::isinstance<py::list>(frames) || py::isinstance<py::tuple>(frames)) {
    for (const auto& item : frames.cast<py::sequence>()) {  // frames may differ in shape
      py::array a = as_array(py::reinterpret_borrow<py::object>(item));
      require_2d(a);
      inputs.push_back(frame_input(a));
    }
  } else {
    py::array stack = as_array(frames);
    if (stack.ndim() != 3)
      throw UsageError("frames must be a 3-D array (frames, rows, columns) or a list of 2-D frames, not of shape " +
                       shape_text(stack));
    for (py::ssize_t i = 0; i < stack.shape(0); ++i) inputs.push_back(frame_input(py::array(stack[py::int_(i)])));
  }
  std::vector<FrameView> views;
  for (const auto& in : inputs) views.push_back(in.view);

  std::unique_ptr<BadPixelMask> mask = load_mask(config);
  for (const auto& v : views) check_mask_shape(mask.get(), config.threshold.bad_pixel_mask, v);
  BatchOptions options;
  options.threads = threads;
  options.mask = mask.get();
  options.make_analyzer = backend_factory(backend, config, mask.get());
  if (options.make_analyzer) options.workers = resolve_threads(threads);
  std::atomic<bool> cancel{false};
  options.cancel = &cancel;
  std::vector<FrameResult> results;
  run_interruptible([&] { results = analyze_frames(views, config, options); }, cancel, {});
  py::list out;
  for (std::size_t i = 0; i < results.size(); ++i) out.append(to_python(std::move(results[i]), inputs[i]));
  return out;
}

// ---- process -----------------------------------------------------------------------------------

struct ProcessReport {
  RunReport run;
  std::string out, csv;
};

GridSpec grid_arg(const py::object& grid) {
  GridSpec spec;
  if (grid.is_none()) return spec;
  if (py::isinstance<py::str>(grid)) {
    const std::string text = grid.cast<std::string>();
    char x = 0, extra = 0;
    if (std::sscanf(text.c_str(), "%d%c%d%c", &spec.nx, &x, &spec.ny, &extra) != 3 || (x != 'x' && x != 'X') ||
        spec.nx < 1 || spec.ny < 1)
      throw UsageError("--grid wants NXxNY with positive numbers (e.g. 5x5), got '" + text + "'");
    return spec;
  }
  auto pair = grid.cast<std::pair<int, int>>();
  if (pair.first < 1 || pair.second < 1) throw UsageError("--grid wants positive numbers (nx, ny)");
  spec.nx = pair.first;
  spec.ny = pair.second;
  return spec;
}

std::string call_text(const std::string& scan, const std::string& out, const py::kwargs& kwargs) {
  std::string text = "laueproc.process(" + py::repr(py::str(scan)).cast<std::string>() +
                     ", out=" + py::repr(py::str(out)).cast<std::string>();
  for (const auto& [key, value] : kwargs)
    text += ", " + key.cast<std::string>() + "=" + py::repr(value).cast<std::string>();
  return text + ")";
}

ProcessReport process(const py::object& scan_arg, const py::object& out_arg, const py::object& csv_arg, bool resume,
                      const py::object& progress, int threads, const py::object& grid_obj,
                      const py::object& dataset, const std::string& backend, const py::object& settings,
                      const py::kwargs& kwargs) {
  const ProcessConfig config = config_from(settings, kwargs);
  if (threads < 0) throw UsageError("--threads must not be negative");
  const std::string scan = path_arg(scan_arg), out = path_arg(out_arg);
  const std::string csv = csv_arg.is_none() ? std::string() : path_arg(csv_arg);
  const GridSpec grid = grid_arg(grid_obj);
  ScanOptions scan_options;
  if (!dataset.is_none()) scan_options.dataset = dataset.cast<std::string>();
  if (!progress.is_none() && !PyCallable_Check(progress.ptr())) throw py::type_error("progress must be callable");

  ProcessReport report;
  report.out = out;
  report.csv = csv;
  std::unique_ptr<FrameSource> source;
  std::unique_ptr<BadPixelMask> mask;
  PipelineOptions pipeline;
  std::unique_ptr<ResultSink> sink;
  std::atomic<bool> cancel{false};
  std::atomic<std::int64_t> done{0}, total{0};
  std::int64_t shown = -1;
  const std::string command_line = call_text(scan, out, kwargs);
  try {
    {
      py::gil_scoped_release release;
      source = open_scan(scan, scan_options);
      mask = load_mask(config);
    }
    pipeline.threads = threads;
    pipeline.grid = grid;
    pipeline.mask = mask.get();
    pipeline.make_analyzer = backend_factory(backend, config, mask.get());
    if (pipeline.make_analyzer) pipeline.workers = resolve_threads(threads);
    pipeline.cancel = &cancel;
    pipeline.progress = [&](std::int64_t d, std::int64_t t) {
      done.store(d);
      total.store(t);
    };
    const std::string backend_name = pipeline.make_analyzer ? "cuda" : "cpu";
    const int workers = pipeline.make_analyzer ? pipeline.workers : resolve_threads(threads);
    const RunInfo run = make_run_info(scan, source->info(), config, grid, backend_name, workers, command_line);
    SinkOptions sink_options;
    sink_options.results_h5 = out;
    sink_options.csv_dir = csv;
    sink_options.resume = resume;
    {
      py::gil_scoped_release release;
      sink = std::make_unique<ResultSink>(sink_options, run);
    }
    total.store(source->info().n_frames);
    done.store(static_cast<std::int64_t>(sink->resumed_frames().size()));
    auto tick = [&] {
      if (progress.is_none() || done.load() == shown) return;
      shown = done.load();
      progress(shown, total.load());
    };
    try {
      run_interruptible([&] { report.run = run_pipeline(*source, config, pipeline, *sink); }, cancel, tick);
    } catch (py::error_already_set& e) {
      // A KeyboardInterrupt that came after the last frame leaves complete results: raised as is.
      if (!e.matches(PyExc_KeyboardInterrupt) || !report.run.interrupted) throw;
      // Ctrl-C: the pipeline stopped after the frames already written; the journal keeps them.
      const std::string message = "laueproc.process: interrupted after " +
                                  std::to_string(report.run.frames_resumed + report.run.frames_processed) +
                                  " frames; the journal keeps them: call again with resume=True to continue";
      sink.reset();
      PyErr_SetString(PyExc_KeyboardInterrupt, message.c_str());
      throw py::error_already_set();
    }
  } catch (const InputError&) {
    throw;
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {  // results file, CSV or journal problems: files, so OSError
    PyErr_SetString(PyExc_OSError, e.what());
    throw py::error_already_set();
  }
  sink.reset();
  py::module_ warnings = py::module_::import("warnings");
  for (const auto& w : source->warnings()) warnings.attr("warn")("laueproc.process: note: " + w, py::module_::import("builtins").attr("UserWarning"), 2);
  if (report.run.frames_failed > 0) {
    std::string text = "laueproc.process: " + std::to_string(report.run.frames_failed) +
                       " frames failed (listed in /frames with their status)";
    for (const auto& f : report.run.failures) text += "; " + f;
    warnings.attr("warn")(text, py::module_::import("builtins").attr("RuntimeWarning"), 2);
  }
  return report;
}

}  // namespace

py::array peaks_array(const PeakList& peaks) {
  py::array_t<PeakRecord> out(static_cast<py::ssize_t>(peaks.size()));
  PeakRecord* rows = out.mutable_data();
  for (std::size_t i = 0; i < peaks.size(); ++i) {
    const Peak& p = peaks[i];
    rows[i] = PeakRecord{p.peak, p.x, p.y, p.intensity, p.peak_value, p.npix, p.a, p.b, p.theta_deg, p.n_maxima,
                         static_cast<std::uint8_t>(p.saturated), p.mxx, p.myy, p.mxy,
                         static_cast<std::uint8_t>(p.edge), p.snr};
  }
  return out;
}

py::dict summary_dict(const FrameSummary& f) {
  const double nan = FrameSummary::kNaN;
  py::dict d;
  d["frame"] = f.frame;
  d["ix"] = f.ix;
  d["iy"] = f.iy;
  d["x_um"] = f.has_position ? f.x_um : nan;
  d["y_um"] = f.has_position ? f.y_um : nan;
  d["n_peaks"] = f.n_peaks;
  d["se"] = f.se;
  d["se_median"] = f.se_median;
  d["scenario"] = std::string(to_string(f.scenario));
  d["split_px"] = f.split_px;
  d["misorientation_deg"] = f.misorientation_deg;
  d["background"] = f.background;
  d["noise"] = f.noise;
  d["status"] = f.status;
  d["n_used"] = f.n_used;
  d["split_dx"] = f.split_dx;
  d["split_dy"] = f.split_dy;
  d["pair_fraction"] = f.pair_fraction;
  d["stacking_fraction"] = f.stacking_fraction;
  d["elongation"] = f.elongation;
  d["has_position"] = f.has_position;
  return d;
}

void bind_analysis(py::module_& m) {
  PYBIND11_NUMPY_DTYPE(PeakRecord, peak, x, y, intensity, peak_value, npix, a, b, theta_deg, n_maxima, saturated, mxx,
                       myy, mxy, edge, snr);
  py::class_<AnalysisResult>(m, "AnalysisResult",
                             "What laueproc finds in one frame: .peaks (numpy structured array, the columns of "
                             "peaks.csv but frame), .summary (dict of the frames.csv columns), .copied (the frame "
                             "was converted or copied before analysis), .notes (conversion notes).")
      .def_readonly("peaks", &AnalysisResult::peaks)
      .def_readonly("summary", &AnalysisResult::summary)
      .def_readonly("copied", &AnalysisResult::copied)
      .def_readonly("notes", &AnalysisResult::notes)
      .def_readonly("_input_address", &AnalysisResult::input_address)
      .def("__repr__", &result_repr);

  py::class_<ProcessReport>(m, "ProcessReport", "What laueproc.process did (results are in .out and .csv).")
      .def_property_readonly("frames_total", [](const ProcessReport& r) { return r.run.frames_total; })
      .def_property_readonly("frames_resumed", [](const ProcessReport& r) { return r.run.frames_resumed; })
      .def_property_readonly("frames_processed", [](const ProcessReport& r) { return r.run.frames_processed; })
      .def_property_readonly("frames_failed", [](const ProcessReport& r) { return r.run.frames_failed; })
      .def_property_readonly("peaks", [](const ProcessReport& r) { return r.run.peaks; })
      .def_property_readonly("seconds", [](const ProcessReport& r) { return r.run.seconds; })
      .def_property_readonly("backend", [](const ProcessReport& r) { return r.run.backend; })
      .def_property_readonly("failures", [](const ProcessReport& r) { return r.run.failures; })
      .def_readonly("out", &ProcessReport::out)
      .def_readonly("csv", &ProcessReport::csv)
      .def("__repr__", [](const ProcessReport& r) {
        return "ProcessReport(" + std::to_string(r.run.frames_processed + r.run.frames_resumed) + " frames (" +
               std::to_string(r.run.frames_resumed) + " resumed, " + std::to_string(r.run.frames_failed) +
               " failed), " + std::to_string(r.run.peaks) + " peaks, out=" + py::repr(py::str(r.out)).cast<std::string>() + ")";
      });

  m.def("analyze", &analyze, py::arg("frame"), py::kw_only(), py::arg("settings") = py::none(),
        "analyze(frame, *, settings=None, **settings) -> AnalysisResult\n\n"
        "Finds and measures the peaks of one 2-D frame exactly as `laueproc process` does.");
  m.def("analyze_batch", &analyze_batch, py::arg("frames"), py::kw_only(), py::arg("threads") = 0,
        py::arg("backend") = "auto", py::arg("settings") = py::none(),
        "analyze_batch(frames, *, threads=0, backend='auto', settings=None, **settings) -> list[AnalysisResult]\n\n"
        "Analyses a 3-D stack (or a list of 2-D frames) on worker threads without the GIL.");
  m.def("process", &process, py::arg("scan"), py::kw_only(), py::arg("out") = "results.h5",
        py::arg("csv") = py::none(), py::arg("resume") = false, py::arg("progress") = py::none(),
        py::arg("threads") = 0, py::arg("grid") = py::none(), py::arg("dataset") = py::none(),
        py::arg("backend") = "auto", py::arg("settings") = py::none(),
        "process(scan, *, out='results.h5', csv=None, resume=False, progress=None, threads=0, grid=None, "
        "dataset=None, backend='auto', settings=None, **settings) -> ProcessReport\n\n"
        "Runs `laueproc process` on a scan.");
  m.def(
      "_time_cpp_analyze",
      [](const py::array& frame, int repeats) {
        // benchmarks/bench_python.py: the C++ calls of analyze() alone (the same cached analyzer,
        // then the frame's summary), to measure what the Python layer adds around them.
        const ProcessConfig config;
        require_2d(frame);
        FrameInput in = frame_input(frame);
        std::vector<double> seconds;
        py::gil_scoped_release release;
        CpuFrameAnalyzer& analyzer = cached_analyzer(config);
        for (int i = 0; i < repeats; ++i) {
          const auto start = std::chrono::steady_clock::now();
          FrameResult r = frame_result(FrameMeta{}, analyzer.analyze(in.view, 0), config.summary);
          seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        return seconds;
      },
      py::arg("frame"), py::arg("repeats") = 1);
  m.def("_frame_copies", [] { return g_frame_copies.load(); },
        "Frames converted or copied before analysis since the module was loaded (tests).");
}

}  // namespace laueproc::python
