#pragma once
// Shared pieces of the Python module laueproc._core (docs/python.md). The module is a thin layer:
// every computation is a call into the C++ libraries; this code only converts between numpy /
// Python objects and the library's types, releases the GIL, and turns Ctrl-C into a clean stop.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "laueproc/config.hpp"
#include "laueproc/frame.hpp"
#include "laueproc/peak.hpp"
#include "laueproc/summary.hpp"

namespace py = pybind11;

namespace laueproc::python {

/// @brief laueproc.Settings: a ProcessConfig that Python can hold.
struct Settings {
  ProcessConfig config;
};

/// @brief The configuration of a call: `settings` (a Settings or None) overridden by keyword
/// arguments named as the options (k_high=8), then validated. ValueError with the CLI's message.
ProcessConfig config_from(const py::object& settings, const py::dict& kwargs);

/// @brief os.fspath(path) for str and path-like objects.
std::string path_arg(const py::handle& path);

/// @brief Runs `work` on a helper thread while the calling thread waits without the GIL, waking
/// every 0.1 s to run Python's signal handlers and `tick` (progress). On an exception there
/// (KeyboardInterrupt from Ctrl-C, or from `tick`) it sets `cancel`, waits for `work` to return,
/// and rethrows it; otherwise rethrows what `work` threw.
void run_interruptible(const std::function<void()>& work, std::atomic<bool>& cancel, const std::function<void()>& tick);

/// @brief Peaks as a numpy structured array with the columns of peaks.csv but `frame`.
py::array peaks_array(const PeakList& peaks);
/// @brief A frame's summary as a dict of the frames.csv columns (scenario by name).
py::dict summary_dict(const FrameSummary& summary);

void bind_settings(py::module_& m);
void bind_analysis(py::module_& m);
void bind_files(py::module_& m);

}  // namespace laueproc::python
