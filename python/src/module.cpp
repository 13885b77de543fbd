// laueproc._core: the compiled half of the Python package (python/laueproc/__init__.py holds the
// rest). Errors keep the CLI's one-line messages: UsageError -> ValueError, InputError -> OSError.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "bindings.hpp"
#include "laueproc/error.hpp"
#include "laueproc/version.hpp"

#ifdef LAUEPROC_HAVE_CUDA
#include "laueproc/cuda.hpp"
#endif

namespace laueproc::python {

std::string path_arg(const py::handle& path) {
  return py::module_::import("os").attr("fspath")(path).cast<std::string>();
}

void run_interruptible(const std::function<void()>& work, std::atomic<bool>& cancel, const std::function<void()>& tick) {
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
  std::exception_ptr work_error, python_error;
  std::thread worker;
  {
    py::gil_scoped_release release;
    worker = std::thread([&] {
      try {
        work();
      } catch (...) {
        work_error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex);
      finished = true;
      finished_cv.notify_all();
    });
  }
  for (;;) {
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mutex);
      if (finished_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return finished; })) break;
    }
    if (python_error) continue;  // already stopping: wait for the work to wind down
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C raised KeyboardInterrupt
      if (tick) tick();
    } catch (...) {
      python_error = std::current_exception();
      cancel.store(true);
    }
  }
  {
    py::gil_scoped_release release;
    worker.join();
  }
  if (python_error) std::rethrow_exception(python_error);
  if (work_error) std::rethrow_exception(work_error);
  if (tick) tick();  // the final state (e.g. progress at 100 %)
}

}  // namespace laueproc::python

PYBIND11_MODULE(_core, m) {
  using namespace laueproc;
  m.doc() = "laueproc's compiled core; import laueproc instead (docs/python.md).";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.attr("__version__") = version();
  m.attr("git_commit") = git_commit();
#ifdef LAUEPROC_HAVE_CUDA
  m.attr("built_with_cuda") = true;
  m.def("cuda_devices", [] { return cuda::device_count(); }, "Number of CUDA devices that answer (0 without a GPU).");
#else
  m.attr("built_with_cuda") = false;
  m.def("cuda_devices", [] { return 0; }, "Number of CUDA devices that answer (0: built without CUDA).");
#endif
  python::bind_settings(m);
  python::bind_analysis(m);
  python::bind_files(m);
}
