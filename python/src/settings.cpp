// laueproc.Settings and the keyword arguments of analyze/analyze_batch/process: the settings table
// of laueproc/settings.hpp, spelled with '_' (k_high), checked by laueproc::validate().
#include <mutex>

#include "bindings.hpp"
#include "io/h5.hpp"
#include "io/h5_read.hpp"
#include "laueproc/error.hpp"
#include "laueproc/settings.hpp"

namespace laueproc::python {

namespace {

std::string python_name(const char* option) {
  std::string name = option;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

SettingValue setting_value(const py::handle& value, const std::string& name) {
  static const py::object numpy_bool = py::module_::import("numpy").attr("bool_");
  if (PyBool_Check(value.ptr()) || py::isinstance(value, numpy_bool)) return value.cast<bool>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::hasattr(value, "__fspath__")) return path_arg(value);
  if (PyLong_Check(value.ptr()) || PyIndex_Check(value.ptr())) {
    py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(value.ptr()));
    if (!i) throw py::error_already_set();
    long long v = PyLong_AsLongLong(i.ptr());
    if (v == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      throw UsageError("--" + name + " wants a smaller number, not " + py::repr(value).cast<std::string>());
    }
    return v;
  }
  if (PyFloat_Check(value.ptr()) || py::hasattr(value, "__float__")) return value.cast<double>();
  throw UsageError("--" + name + " cannot take " + py::repr(value).cast<std::string>());
}

py::object to_python(const SettingValue& value) {
  struct Convert {
    py::object operator()(bool v) const { return py::bool_(v); }
    py::object operator()(long long v) const { return py::int_(v); }
    py::object operator()(double v) const { return py::float_(v); }
    py::object operator()(const std::string& v) const { return py::str(v); }
  };
  return std::visit(Convert{}, value);
}

void apply(ProcessConfig& config, const py::dict& kwargs) {
  for (const auto& [key, value] : kwargs) {
    const std::string name = key.cast<std::string>();
    const SettingSpec* spec = find_setting(name);
    set_setting(config, name, setting_value(value, spec ? spec->option : name));
  }
}

py::dict to_dict(const ProcessConfig& config) {
  py::dict d;
  for (const auto& spec : setting_specs()) d[py::str(python_name(spec.option))] = to_python(get_setting(config, spec.option));
  return d;
}

std::string repr(const Settings& s) {
  const ProcessConfig defaults;
  std::string text = "Settings(";
  bool first = true;
  for (const auto& spec : setting_specs()) {
    SettingValue v = get_setting(s.config, spec.option);
    if (v == get_setting(defaults, spec.option)) continue;
    text += (first ? "" : ", ") + python_name(spec.option) + "=" + py::repr(to_python(v)).cast<std::string>();
    first = false;
  }
  return text + ")";
}

Settings from_description(const py::dict& described) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [key, value] : described) pairs.emplace_back(py::str(key), py::str(value));
  return Settings{config_from_description(pairs)};
}

Settings from_results(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> pairs;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    h5::init();
    h5::Handle file = h5::open_read(path);
    for (const auto& [name, value] : h5::read_attributes(file, path))
      if (const auto* text = std::get_if<std::string>(&value); text && name.rfind("settings.", 0) == 0)
        pairs.emplace_back(name, *text);
  }
  if (pairs.empty()) throw InputError(path, "no settings.* attributes: not a results file of laueproc process");
  return Settings{config_from_description(pairs)};
}

std::string class_doc() {
  std::string doc =
      "Settings of the Laue pipeline: the options of `laueproc process`, spelled with '_'.\n\n"
      "Settings(**settings) checks every value as the command does (ValueError with its message).\n"
      "Settings.from_results(path) reads the settings a results file was made with; describe()\n"
      "gives them back as stored there.\n\n";
  std::string group;
  for (const auto& spec : setting_specs()) {
    if (group != spec.group) {
      group = spec.group;
      doc += group + ":\n";
    }
    const std::string value = py::repr(to_python(get_setting(ProcessConfig{}, spec.option))).cast<std::string>();
    doc += "    " + python_name(spec.option) + " = " + value + ": " + spec.help + "\n";
  }
  return doc;
}

}  // namespace

ProcessConfig config_from(const py::object& settings, const py::dict& kwargs) {
  ProcessConfig config;
  if (!settings.is_none()) {
    if (!py::isinstance<Settings>(settings))
      throw py::type_error("settings must be a laueproc.Settings, not " +
                           py::str(py::type::handle_of(settings).attr("__name__")).cast<std::string>());
    config = settings.cast<const Settings&>().config;
  }
  apply(config, kwargs);
  validate(config);
  return config;
}

void bind_settings(py::module_& m) {
  py::class_<Settings> cls(m, "Settings", class_doc().c_str());
  cls.def(py::init([](const py::kwargs& kwargs) { return Settings{config_from(py::none(), kwargs)}; }));
  for (const auto& spec : setting_specs()) {
    const std::string option = spec.option;
    cls.def_property(
        python_name(spec.option).c_str(),
        [option](const Settings& s) { return to_python(get_setting(s.config, option)); },
        [option](Settings& s, const py::object& value) { set_setting(s.config, option, setting_value(value, option)); },
        (std::string(spec.help) + " (--" + option + ")").c_str());
  }
  cls.def("to_dict", [](const Settings& s) { return to_dict(s.config); },
          "Every setting as {name: value}; Settings(**s.to_dict()) == s.")
      .def("replace",
           [](const Settings& s, const py::kwargs& kwargs) { return Settings{config_from(py::cast(s), kwargs)}; },
           "A copy with some settings changed (checked).")
      .def("validate", [](const Settings& s) { validate(s.config); },
           "Checks every range as `laueproc process` does; ValueError with its message.")
      .def(
          "describe",
          [](const Settings& s) {
            py::dict d;
            for (const auto& [key, value] : describe(s.config)) d[py::str(key)] = value;
            return d;
          },
          "The settings as stored in results files: {'threshold.k_high': '6', ...}.")
      .def_static("from_description", &from_description, py::arg("described"),
                  "Settings from describe()'s dict, or a results file's settings.* attributes.")
      .def_static(
          "from_results", [](const py::object& path) { return from_results(path_arg(path)); }, py::arg("path"),
          "The settings a results file of `laueproc process` (or laueproc.process) was made with.")
      .def("__eq__", [](const Settings& a, const Settings& b) { return describe(a.config) == describe(b.config); })
      .def("__repr__", &repr)
      .def("__copy__", [](const Settings& s) { return s; })
      .def("__deepcopy__", [](const Settings& s, const py::dict&) { return s; })
      .def(py::pickle([](const Settings& s) { return to_dict(s.config); },
                      [](const py::dict& d) { return Settings{config_from(py::none(), d)}; }));
  cls.attr("__hash__") = py::none();
}

}  // namespace laueproc::python
