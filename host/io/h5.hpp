#pragma once
/// @file
/// @brief RAII owners for HDF5 identifiers and small checked helpers. Every call is checked;
/// failures become laueproc::InputError (reading) or laueproc::OutputError (writing) that name
/// the file and the object path, with HDF5's own innermost reason appended.
///
/// Writing: a destructor cannot report a failed close, and on a full disk the close is where the
/// last data reaches the file. So a writer ends with close_file() on its success path (flush,
/// then close, both checked); the destructors only clean up after an error. laueproc never lets
/// HDF5 run its exit-time cleanup (H5dont_atexit, see h5.cpp).

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "laueproc/error.hpp"

namespace laueproc::h5 {

/// @brief Silences HDF5's automatic error printing (we report errors ourselves) and adds the
/// Debian filter-plugin folders to the plugin search path. Idempotent; call before any HDF5 use.
void init();

/// @brief The innermost message on HDF5's error stack (e.g. "truncated file"), then clears it.
std::string last_error();

/// @brief Move-only owner of one hid_t; closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      closer_ = other.closer_;
      other.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const noexcept { return id_; }
  operator hid_t() const noexcept { return id_; }  // NOLINT: pass straight to the C API
  bool valid() const noexcept { return id_ >= 0; }
  void reset() noexcept {
    if (id_ >= 0 && closer_) closer_(id_);  // a failing close cannot be reported from a destructor
    id_ = H5I_INVALID_HID;
  }
  /// @brief Closes now and reports a failure: OutputError(file, "cannot close " + what + ...).
  /// For objects whose close writes (a chunked dataset flushes its chunk cache).
  void close(const std::string& file, const std::string& what);

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

/// @brief Throws InputError(file, what + ": " + last_error()) when `status` is negative.
void check(herr_t status, const std::string& file, const std::string& what);
/// @brief Wraps a freshly returned id; throws InputError(file, what...) when it is invalid.
Handle wrap(hid_t id, Handle::Closer closer, const std::string& file, const std::string& what);
/// @brief As check() and wrap(), for files being written: OutputError.
void check_write(herr_t status, const std::string& file, const std::string& what);
Handle wrap_write(hid_t id, Handle::Closer closer, const std::string& file, const std::string& what);

/// @brief Completes a file opened for writing: flushes everything (metadata and the chunk caches
/// of datasets still open), then closes it; both checked (OutputError naming the file, e.g.
/// "cannot write (No space left on device)"). Every other object of the file must be closed
/// first (else HDF5 would defer the real close to the last object's close, unchecked): an
/// object still open is a program error (laueproc::Error). `file` is invalid afterwards.
void close_file(Handle& file, const std::string& path);

/// @brief Largest 1-D dataset read_vector() reads (2^27 values, 1 GiB of doubles): a damaged or
/// hostile header cannot make laueproc allocate absurd amounts of memory.
inline constexpr hsize_t kMaxVectorValues = hsize_t{1} << 27;

/// @brief InputError naming the file unless it can be opened for reading: "no such file",
/// "cannot read (Permission denied)", "is a directory".
void check_readable(const std::string& path);

/// @brief True when the file carries the HDF5 signature (at offset 0, 512, 1024 or 2048).
bool looks_like_hdf5(const std::string& path);

/// @brief Opens a file for reading: distinct errors for "no such file", "cannot read
/// (Permission denied)", "not an HDF5 file" and "truncated or damaged HDF5 file".
Handle open_read(const std::string& path);
/// @brief Creates (truncates) a file for writing; OutputError when it cannot.
Handle create(const std::string& path);
/// @brief Opens an existing file read-write; OutputError when it cannot.
Handle open_rw(const std::string& path);

/// @brief True when `path` ("/a/b/c") exists as a link in `file` (every parent checked).
bool exists(hid_t file, const std::string& path);
Handle open_dataset(hid_t file, const std::string& path, const std::string& filename);
/// @brief Creates the groups along `path` that do not exist yet ("/entry/data").
void make_groups(hid_t file, const std::string& path, const std::string& filename);

/// @brief Dataset dimensions.
std::vector<hsize_t> shape(hid_t dataset, const std::string& filename, const std::string& path);

/// @brief Reads a numeric scalar (any integer or float type) as double.
std::optional<double> read_scalar(hid_t file, const std::string& path, const std::string& filename);
/// @brief Reads a 1-D numeric dataset as doubles; InputError when it holds more than
/// `max_values` (checked before anything is allocated).
std::vector<double> read_vector(hid_t file, const std::string& path, const std::string& filename,
                                hsize_t max_values = kMaxVectorValues);

/// @brief Writes string / numeric attributes on an object (group or dataset); OutputError
/// naming the object's file on failure.
void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, double value);
void write_attribute(hid_t object, const std::string& name, std::int64_t value);
/// @brief Writes a 1-D array of fixed-width, NUL-terminated strings as an attribute (NeXus
/// `axes`, column names); OutputError naming `file` on failure.
void write_string_array_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values,
                                  const std::string& file);
/// @brief Reads a string attribute; nullopt when absent.
std::optional<std::string> read_string_attribute(hid_t object, const std::string& name);

/// @brief Writes a whole 1-D dataset of doubles (creating parent groups).
void write_vector(hid_t file, const std::string& path, const std::vector<double>& values,
                  const std::string& filename);

/// @brief One lock for laueproc's HDF5 calls that may run beside another thread's: Debian's
/// HDF5 1.10 is built without thread safety, so the frame reader takes this lock around its
/// HDF5 calls (not around decompression). Writers running while a FrameStream reads should take
/// it too. Not recursive: never call a locking function while holding it.
std::mutex& library_mutex();

}  // namespace laueproc::h5
