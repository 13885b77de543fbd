// laueproc.read_results (the compiled half), simulate_frame, simulate_scan and white_line.
#include <mutex>
#include <thread>

#include "bindings.hpp"
#include "io/h5.hpp"
#include "io/h5_read.hpp"
#include "laueproc/error.hpp"
#include "laueproc/settings.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/xanes.hpp"

namespace laueproc::python {

namespace {

// ---- results files -----------------------------------------------------------------------------

std::string numpy_format(const h5::ElementType& t) {
  return std::string(1, t.kind == 'S' ? 'S' : t.kind) + std::to_string(t.size);
}

// A dataset as a numpy array in its own native layout (structured for a compound table).
py::array read_dataset(hid_t file, const std::string& path, const std::string& filename) {
  py::module_ np = py::module_::import("numpy");
  std::unique_ptr<h5::DatasetReader> reader;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    reader = std::make_unique<h5::DatasetReader>(file, path, filename);
  }
  py::object dtype;
  if (!reader->columns().empty()) {
    py::list names, formats, offsets;
    for (const auto& c : reader->columns()) {
      names.append(c.name);
      formats.append(numpy_format(c.type));
      offsets.append(c.offset);
    }
    py::dict spec;
    spec["names"] = names;
    spec["formats"] = formats;
    spec["offsets"] = offsets;
    spec["itemsize"] = reader->element_size();
    dtype = np.attr("dtype")(spec);
  } else {
    dtype = np.attr("dtype")(numpy_format(reader->element()));
  }
  std::vector<py::ssize_t> shape(reader->shape().begin(), reader->shape().end());
  py::array out(py::dtype::from_args(dtype), shape);
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    reader->read(out.mutable_data());
  }
  return out;
}

py::object attribute_value(const h5::AttributeValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return py::str(*s);
  if (const auto* d = std::get_if<double>(&v)) return py::float_(*d);
  return py::int_(std::get<long long>(v));
}

// Everything of a results file as numpy arrays; python/laueproc/__init__.py shapes it for users.
py::dict read_results_raw(const py::object& path_obj) {
  const std::string path = path_arg(path_obj);
  h5::Handle file;
  std::vector<std::pair<std::string, h5::AttributeValue>> attributes;
  std::vector<std::string> maps;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    h5::init();
    file = h5::open_read(path);
    if (!h5::exists(file, "/peaks") || !h5::exists(file, "/frames"))
      throw InputError(path, "no /peaks and /frames: not a results file of laueproc process");
    attributes = h5::read_attributes(file, path);
    maps = h5::list_group(file, "/maps", path);
  }
  py::dict out;
  out["peaks"] = read_dataset(file, "/peaks", path);
  out["frames"] = read_dataset(file, "/frames", path);
  py::dict map_arrays;
  for (const auto& name : maps) {
    const std::string group = "/maps/" + name;
    bool has_signal = false;
    {
      std::lock_guard<std::mutex> lock(h5::library_mutex());
      has_signal = h5::exists(file, group + "/" + name);
    }
    if (!has_signal) continue;
    map_arrays[py::str(name)] = read_dataset(file, group + "/" + name, path);
    if (!out.contains("x_um")) {
      out["x_um"] = read_dataset(file, group + "/x_um", path);
      out["y_um"] = read_dataset(file, group + "/y_um", path);
    }
  }
  out["maps"] = map_arrays;
  py::dict attrs;
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& [name, value] : attributes) {
    attrs[py::str(name)] = attribute_value(value);
    if (const auto* text = std::get_if<std::string>(&value); text && name.rfind("settings.", 0) == 0)
      settings.emplace_back(name, *text);
  }
  out["attrs"] = attrs;
  out["settings"] = Settings{config_from_description(settings)};
  py::list scenario_names;
  for (auto name : kScenarioNames) scenario_names.append(std::string(name));
  out["scenario_names"] = scenario_names;
  {
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    file.reset();
  }
  return out;
}

// ---- simulator ---------------------------------------------------------------------------------

struct TruthRecord {
  std::int32_t peak, reflection;
  double x, y, amplitude, a, b, theta_deg;
  std::int32_t n_sub;
  std::uint8_t saturated, isolated;
};

sim::SimConfig sim_config(const py::object& scenario, std::uint64_t seed, const py::object& size) {
  sim::SimConfig config;
  config.seed = seed;
  if (py::isinstance<py::int_>(size)) {
    config.width = config.height = size.cast<int>();
  } else {
    auto hw = size.cast<std::pair<int, int>>();  // (rows, columns) as numpy shapes
    config.height = hw.first;
    config.width = hw.second;
  }
  if (!scenario.is_none()) {
    const std::string name = scenario.cast<std::string>();
    auto s = scenario_from_string(name);
    if (!s || *s == Scenario::unknown)
      throw UsageError("--scenario must be defect_free, gnd, tilt_boundary, mixed, stacking or None (any), not '" +
                       name + "'");
    config.only = *s;
  }
  return config;
}

py::tuple simulate_frame(const py::object& scenario, std::uint64_t seed, const py::object& size) {
  sim::SimConfig config = sim_config(scenario, seed, size);
  config.grid_nx = config.grid_ny = 1;
  std::vector<std::uint16_t> pixels;
  std::vector<sim::TruthPeak> truth;
  sim::TruthFrame frame_truth;
  {
    py::gil_scoped_release release;
    sim::ScanSimulator simulator(config);
    simulator.render(0, pixels, &truth);
    frame_truth = simulator.frame_truth(0);
  }
  py::array_t<std::uint16_t> frame({static_cast<py::ssize_t>(config.height), static_cast<py::ssize_t>(config.width)});
  std::copy(pixels.begin(), pixels.end(), frame.mutable_data());
  py::array_t<TruthRecord> peaks(static_cast<py::ssize_t>(truth.size()));
  TruthRecord* rows = peaks.mutable_data();
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const auto& t = truth[i];
    rows[i] = TruthRecord{t.peak, t.reflection, t.x, t.y, t.amplitude, t.a, t.b, t.theta_deg, t.n_sub,
                          static_cast<std::uint8_t>(t.saturated), static_cast<std::uint8_t>(t.isolated)};
  }
  py::dict info;
  info["peaks"] = peaks;
  info["scenario"] = std::string(to_string(frame_truth.scenario));
  info["n_reflections"] = frame_truth.n_reflections;
  info["n_peaks"] = frame_truth.n_peaks;
  info["se_true"] = frame_truth.se_true;
  info["split_dx"] = frame_truth.split_dx;
  info["split_dy"] = frame_truth.split_dy;
  info["split_px"] = frame_truth.split_px;
  info["misorientation_deg"] = frame_truth.misorientation_deg;
  info["background"] = frame_truth.background_mean;
  info["noise"] = frame_truth.noise_sigma;
  return py::make_tuple(frame, info);
}

py::dict simulate_scan(const py::object& out, const py::object& grid, int size, std::uint64_t seed,
                       const py::object& scenario, const std::string& layout, const std::string& compression,
                       int threads) {
  sim::SimConfig config = sim_config(scenario, seed, py::int_(size));
  auto nxy = grid.cast<std::pair<int, int>>();
  config.grid_nx = nxy.first;
  config.grid_ny = nxy.second;
  sim::WriteOptions write;
  write.out = path_arg(out);
  write.compression = compression;
  write.threads = threads;
  if (layout == "stack") write.layout = ScanLayout::stack;
  else if (layout == "files") write.layout = ScanLayout::per_frame_files;
  else throw UsageError("--layout must be stack or files, not '" + layout + "'");
  if (threads < 0) throw UsageError("--threads must not be negative");
  sim::WrittenScan written;
  {
    py::gil_scoped_release release;
    written = sim::write_scan(config, write);
  }
  py::dict d;
  d["path"] = written.path;
  d["truth_peaks_csv"] = written.truth_peaks_csv;
  d["truth_frames_csv"] = written.truth_frames_csv;
  d["n_frames"] = written.n_frames;
  return d;
}

// ---- micro-XANES white line --------------------------------------------------------------------

xanes::FitSettings fit_settings(const py::kwargs& kwargs, int& threads) {
  xanes::FitSettings s;
  std::vector<std::string> needs_normalise;
  for (const auto& [key, value] : kwargs) {
    const std::string name = key.cast<std::string>();
    if (name == "order") s.order = value.cast<int>();
    else if (name == "half_window") s.half_window_ev = value.cast<double>();
    else if (name == "step") s.grid_step_ev = value.cast<double>();
    else if (name == "min_signal") s.min_signal = value.cast<double>();
    else if (name == "search_window") {
      if (!value.is_none()) s.search_window = value.cast<std::pair<double, double>>();
    } else if (name == "normalise") {
      s.normalise = value.cast<bool>();
    } else if (name == "threads") threads = value.cast<int>();
    else if (name == "e0" || name == "pre1" || name == "pre2" || name == "norm1" || name == "norm2") {
      if (value.is_none()) continue;
      needs_normalise.push_back(name);
      const double v = value.cast<double>();
      if (name == "e0") s.e0_ev = v;
      else if (name == "pre1") s.pre1_ev = v;
      else if (name == "pre2") s.pre2_ev = v;
      else if (name == "norm1") s.norm1_ev = v;
      else s.norm2_ev = v;
    } else if (name == "nnorm") {
      if (value.is_none()) continue;
      needs_normalise.push_back(name);
      s.nnorm = value.cast<int>();
    } else {
      throw UsageError("unknown white_line setting '" + name +
                       "' (settings: order, half_window, step, search_window, min_signal, normalise, e0, pre1, pre2, "
                       "norm1, norm2, nnorm, threads)");
    }
  }
  for (const auto& name : needs_normalise)
    if (!s.normalise) throw UsageError("--" + name + " needs --normalise");
  return s;
}

py::dict fit_dict(const xanes::FitResult& r) {
  py::dict d;
  d["white_line_ev"] = r.white_line_ev;
  d["peak_height"] = r.peak_height;
  d["r2"] = r.r2;
  d["status"] = std::string(xanes::to_string(r.status));
  return d;
}

py::dict white_line(const py::object& energy_obj, const py::object& mu_obj, const py::kwargs& kwargs) {
  py::module_ np = py::module_::import("numpy");
  int threads = 0;
  const xanes::FitSettings settings = fit_settings(kwargs, threads);
  auto energy = np.attr("ascontiguousarray")(energy_obj, "float64").cast<py::array_t<double>>();
  if (energy.ndim() != 1) throw UsageError("energy must be a 1-D array of eV values");
  const auto n = static_cast<py::ssize_t>(energy.size());
  std::vector<double> energies(energy.data(), energy.data() + n);
  py::array mu_any = np.attr("asarray")(mu_obj);
  if (mu_any.ndim() == 0 || mu_any.shape(0) != n)
    throw UsageError("mu must have the energies along its first axis: " + std::to_string(n) + " energies, mu of shape " +
                     py::str(mu_any.attr("shape")).cast<std::string>());
  std::unique_ptr<xanes::WhiteLineFitter> fitter;
  {
    py::gil_scoped_release release;
    fitter = std::make_unique<xanes::WhiteLineFitter>(energies, settings);  // std::invalid_argument -> ValueError
  }
  if (mu_any.ndim() == 1) {
    auto mu = np.attr("ascontiguousarray")(mu_any, "float64").cast<py::array_t<double>>();
    xanes::FitResult r;
    {
      py::gil_scoped_release release;
      r = fitter->fit(mu.data());
    }
    return fit_dict(r);
  }
  // A stack: energies first (as /exchange/data), any shape after; fitted in float32 as the CLI does.
  auto mu = np.attr("ascontiguousarray")(mu_any, "float32").cast<py::array_t<float>>();
  std::vector<py::ssize_t> shape(mu.shape() + 1, mu.shape() + mu.ndim());
  const std::size_t pixels = static_cast<std::size_t>(mu.size() / std::max<py::ssize_t>(n, 1));
  std::vector<xanes::FitResult> results(pixels);
  {
    py::gil_scoped_release release;
    const int workers = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    fitter->fit_many(mu.data(), pixels, results.data(), workers);
  }
  py::array_t<double> wl(shape), height(shape), r2(shape);
  py::array_t<std::int8_t> status(shape);
  for (std::size_t i = 0; i < pixels; ++i) {
    wl.mutable_data()[i] = results[i].white_line_ev;
    height.mutable_data()[i] = results[i].peak_height;
    r2.mutable_data()[i] = results[i].r2;
    status.mutable_data()[i] = static_cast<std::int8_t>(results[i].status);
  }
  py::list names;
  for (int s = 0; s < xanes::kFitStatusCount; ++s) names.append(xanes::to_string(static_cast<xanes::FitStatus>(s)));
  py::dict d;
  d["white_line_ev"] = wl;
  d["peak_height"] = height;
  d["r2"] = r2;
  d["status"] = status;
  d["status_names"] = names;
  return d;
}

}  // namespace

void bind_files(py::module_& m) {
  PYBIND11_NUMPY_DTYPE(TruthRecord, peak, reflection, x, y, amplitude, a, b, theta_deg, n_sub, saturated, isolated);
  m.def("_read_results", &read_results_raw, py::arg("path"));
  m.def("simulate_frame", &simulate_frame, py::arg("scenario") = py::none(), py::arg("seed") = 1,
        py::arg("size") = 2048,
        "simulate_frame(scenario=None, seed=1, size=2048) -> (frame, truth)\n\n"
        "One synthetic Laue frame (uint16, size x size or size=(rows, columns)) and its ground truth.");
  m.def("simulate_scan", &simulate_scan, py::arg("out"), py::kw_only(), py::arg("grid") = std::make_pair(5, 5),
        py::arg("size") = 512, py::arg("seed") = 1, py::arg("scenario") = py::none(), py::arg("layout") = "stack",
        py::arg("compression") = "none", py::arg("threads") = 0,
        "simulate_scan(out, *, grid=(5, 5), size=512, seed=1, scenario=None, layout='stack', compression='none', "
        "threads=0) -> dict\n\nWrites a synthetic scan with ground truth, as `laueproc simulate`.");
  m.def("white_line", &white_line, py::arg("energy"), py::arg("mu"),
        "white_line(energy, mu, **settings) -> dict\n\nWhite-line energy of one spectrum or a stack, as "
        "`laueproc xanes`.");
}

}  // namespace laueproc::python
