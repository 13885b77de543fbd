#include "io/h5.hpp"

#include <H5PLpublic.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace laueproc::h5 {
namespace {

// HDF5 registers H5close() with atexit() on first use. In HDF5 1.10.8 (Debian bookworm's; no
// newer one is packaged) a file whose close failed (disk full) stays in the library's ID table
// half torn down, and that exit-time H5close() then crashes in H5F__close_cb (HDFFV-11052, fixed
// in HDF5 1.10.10 / 1.14.1): laueproc printed its one-line error, then died with SIGSEGV.
// laueproc closes every file it writes itself and checks the close (close_file), and reading
// leaves nothing to flush, so the exit-time cleanup has no work to do: it is never registered.
// H5dont_atexit() only works before the library initialises, hence this static initialiser
// (nothing in laueproc calls HDF5 before main) and the call in init().
const bool kNoAtexitCleanup = [] {
  H5dont_atexit();
  return true;
}();

herr_t innermost(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::string*>(client);
  if (n == 0 && err && err->desc) *out = err->desc;  // n == 0 is the innermost frame
  return 0;
}

// HDF5's message for a failed write or read system call is long ("file write failed: time = ...,
// filename = ..., errno = 28, error message = 'No space left on device', buf = ..."); the
// system's reason is what the user needs.
std::string system_reason(const std::string& message) {
  static const std::string kKey = "error message = '";
  const auto at = message.find(kKey);
  if (at == std::string::npos) return message;
  const auto end = message.find('\'', at + kKey.size());
  if (end == std::string::npos) return message;
  return message.substr(at + kKey.size(), end - at - kKey.size());
}

// The file an object lives in, for messages ("" when HDF5 cannot tell).
std::string file_of(hid_t object) {
  ssize_t n = H5Fget_name(object, nullptr, 0);
  if (n <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return "";
  }
  std::string name(static_cast<std::size_t>(n) + 1, '\0');
  H5Fget_name(object, name.data(), name.size());
  name.resize(static_cast<std::size_t>(n));
  return name;
}

bool is_hdf5_signature(const std::string& path) {
  // The superblock starts at 0, 512, 1024, 2048... ; checking 0 and the first few covers our files.
  static const char kSig[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream in(path, std::ios::binary);
  for (std::streamoff offset : {0, 512, 1024, 2048}) {
    char buf[8] = {};
    in.clear();
    in.seekg(offset);
    if (!in.read(buf, 8)) return false;
    if (std::equal(buf, buf + 8, kSig)) return true;
  }
  return false;
}

}  // namespace

void init() {
  static std::once_flag once;
  // The thread-safe HDF5 keeps one error stack per thread, each printing by default: silence
  // every thread that calls us (a read-ahead thread would otherwise dump HDF5-DIAG traces).
  thread_local bool silenced = false;
  if (!silenced) {
    (void)kNoAtexitCleanup;
    H5dont_atexit();  // no-op (an error) once the library runs; see kNoAtexitCleanup
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
  std::call_once(once, [] {
    // Debian installs filter plugins (bitshuffle, LZ4, ...) here; HDF5's built-in default differs.
    if (!std::getenv("HDF5_PLUGIN_PATH")) {
      for (const char* dir : {"/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins",
                              "/usr/lib/aarch64-linux-gnu/hdf5/serial/plugins"}) {
        std::error_code ec;
        if (std::filesystem::is_directory(dir, ec)) H5PLappend(dir);
      }
    }
  });
}

std::string last_error() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &message);
  H5Eclear2(H5E_DEFAULT);
  return system_reason(message);
}

void Handle::close(const std::string& file, const std::string& what) {
  if (id_ < 0 || !closer_) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  if (closer_(id) < 0) {
    std::string why = last_error();
    throw OutputError(file, "cannot close " + what + (why.empty() ? "" : " (" + why + ")"));
  }
}

void check_write(herr_t status, const std::string& file, const std::string& what) {
  if (status < 0) {
    std::string why = last_error();
    throw OutputError(file, why.empty() ? what : what + " (" + why + ")");
  }
}

Handle wrap_write(hid_t id, Handle::Closer closer, const std::string& file, const std::string& what) {
  if (id < 0) {
    std::string why = last_error();
    throw OutputError(file, why.empty() ? what : what + " (" + why + ")");
  }
  return Handle(id, closer);
}

void close_file(Handle& file, const std::string& path) {
  if (!file.valid()) return;
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) {
    std::string why = last_error();
    file.reset();
    throw OutputError(path, "cannot write" + (why.empty() ? std::string() : " (" + why + ")"));
  }
  const ssize_t others = H5Fget_obj_count(file, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE |
                                                    H5F_OBJ_ATTR | H5F_OBJ_LOCAL);
  if (others != 0) {
    file.reset();
    throw Error(path + ": internal error: " + std::to_string(others) + " HDF5 objects still open when closing the file");
  }
  file.close(path, "the file");
}

void check_readable(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "is a directory, not a file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) throw InputError(path, "no such file");
    throw InputError(path, std::string("cannot read (") + std::strerror(err) + ")");
  }
  ::close(fd);
}

void check(herr_t status, const std::string& file, const std::string& what) {
  if (status < 0) {
    std::string why = last_error();
    throw InputError(file, why.empty() ? what : what + " (" + why + ")");
  }
}

Handle wrap(hid_t id, Handle::Closer closer, const std::string& file, const std::string& what) {
  if (id < 0) {
    std::string why = last_error();
    throw InputError(file, why.empty() ? what : what + " (" + why + ")");
  }
  return Handle(id, closer);
}

Handle open_read(const std::string& path) {
  init();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path, "no such file");
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "is a directory, not an HDF5 file");
  check_readable(path);
  if (!is_hdf5_signature(path)) throw InputError(path, "not an HDF5 file");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    std::string why = last_error();
    throw InputError(path, "truncated or damaged HDF5 file" + (why.empty() ? "" : " (" + why + ")"));
  }
  return Handle(id, H5Fclose);
}

Handle create(const std::string& path) {
  init();
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw OutputError(path, "cannot create the HDF5 file (" + last_error() + ")");
  return Handle(id, H5Fclose);
}

Handle open_rw(const std::string& path) {
  init();
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (id < 0) throw OutputError(path, "cannot open the HDF5 file for writing (" + last_error() + ")");
  return Handle(id, H5Fclose);
}

bool exists(hid_t file, const std::string& path) {
  if (path.empty() || path == "/") return true;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    htri_t ok = H5Lexists(file, prefix.c_str(), H5P_DEFAULT);
    if (ok <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

Handle open_dataset(hid_t file, const std::string& path, const std::string& filename) {
  if (!exists(file, path)) throw InputError(filename, "no dataset at " + path);
  return wrap(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose, filename,
              path + " is not a readable dataset");
}

void make_groups(hid_t file, const std::string& path, const std::string& filename) {
  for (std::size_t pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
    std::string prefix = path.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && !exists(file, prefix)) {
      hid_t g = H5Gcreate2(file, prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (g < 0) throw OutputError(filename, "cannot create group " + prefix + " (" + last_error() + ")");
      H5Gclose(g);
    }
    if (pos == std::string::npos) break;
  }
}

std::vector<hsize_t> shape(hid_t dataset, const std::string& filename, const std::string& path) {
  Handle space = wrap(H5Dget_space(dataset), H5Sclose, filename, "cannot read the shape of " + path);
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw InputError(filename, "cannot read the rank of " + path);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

std::optional<double> read_scalar(hid_t file, const std::string& path, const std::string& filename) {
  if (!exists(file, path)) return std::nullopt;
  Handle ds = open_dataset(file, path, filename);
  Handle type = wrap(H5Dget_type(ds), H5Tclose, filename, "cannot read the type of " + path);
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw InputError(filename, path + " is not numeric");
  auto dims = shape(ds, filename, path);
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  if (n != 1) throw InputError(filename, path + " should hold one value, holds " + std::to_string(n));
  double value = 0;
  check(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value), filename, "cannot read " + path);
  return value;
}

std::vector<double> read_vector(hid_t file, const std::string& path, const std::string& filename,
                                hsize_t max_values) {
  Handle ds = open_dataset(file, path, filename);
  auto dims = shape(ds, filename, path);
  if (dims.size() != 1) throw InputError(filename, path + " should be 1-D, has rank " + std::to_string(dims.size()));
  if (dims[0] > max_values)
    throw InputError(filename, path + " holds " + std::to_string(dims[0]) + " values, more than the " +
                                   std::to_string(max_values) + " expected");
  std::vector<double> values(dims[0]);
  if (!values.empty())
    check(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), filename,
          "cannot read " + path);
  return values;
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, value.empty() ? 1 : value.size());
  H5Tset_cset(type, H5T_CSET_UTF8);
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
  Handle attr(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid() || H5Awrite(attr, type, value.empty() ? "" : value.data()) < 0) {
    std::string why = last_error();
    throw OutputError(file_of(object), "cannot write attribute " + name + " (" + why + ")");
  }
}

void write_string_array_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values,
                                  const std::string& file) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size() + 1);
  std::string buf(width * values.size(), '\0');
  for (std::size_t i = 0; i < values.size(); ++i) buf.replace(i * width, values[i].size(), values[i]);
  Handle type = wrap_write(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot create a string type");
  check_write(H5Tset_size(type, width), file, "cannot size a string type");
  check_write(H5Tset_strpad(type, H5T_STR_NULLTERM), file, "cannot create a string type");
  hsize_t n = values.size();
  Handle space = wrap_write(H5Screate_simple(1, &n, nullptr), H5Sclose, file, "cannot create a dataspace");
  if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
  Handle attr = wrap_write(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, file,
                           "cannot create attribute " + name);
  check_write(H5Awrite(attr, type, buf.data()), file, "cannot write attribute " + name);
}

namespace {
template <typename T>
void write_numeric_attribute(hid_t object, const std::string& name, T value, hid_t type) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
  Handle attr(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid() || H5Awrite(attr, type, &value) < 0) {
    std::string why = last_error();
    throw OutputError(file_of(object), "cannot write attribute " + name + " (" + why + ")");
  }
}
}  // namespace

void write_attribute(hid_t object, const std::string& name, double value) {
  write_numeric_attribute(object, name, value, H5T_NATIVE_DOUBLE);
}
void write_attribute(hid_t object, const std::string& name, std::int64_t value) {
  write_numeric_attribute(object, name, value, H5T_NATIVE_INT64);
}

std::optional<std::string> read_string_attribute(hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) return std::nullopt;
  Handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING) return std::nullopt;
  if (H5Tis_variable_str(type) > 0) {
    char* buf = nullptr;
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem, H5T_VARIABLE);
    if (H5Aread(attr, mem, &buf) < 0) return std::nullopt;
    std::string value = buf ? buf : "";
    H5free_memory(buf);
    return value;
  }
  std::size_t size = H5Tget_size(type);
  std::string value(size, '\0');
  if (H5Aread(attr, type, value.data()) < 0) return std::nullopt;
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

void write_vector(hid_t file, const std::string& path, const std::vector<double>& values,
                  const std::string& filename) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) make_groups(file, path.substr(0, slash), filename);
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle ds(H5Dcreate2(file, path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid() || (n > 0 && H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0))
    throw OutputError(filename, "cannot write " + path + " (" + last_error() + ")");
}

bool looks_like_hdf5(const std::string& path) { return is_hdf5_signature(path); }

std::mutex& library_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace laueproc::h5
