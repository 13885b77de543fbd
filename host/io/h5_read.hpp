#pragma once
/// @file
/// @brief Generic readers for results files: any 1-D compound dataset (a table such as /peaks or
/// /frames) or numeric array, read in the native layout of its own type, and an object's
/// attributes. They know no field names, so a reader (the Python module's read_results) follows
/// whatever the writer stored. Errors are InputError naming the file and the object.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "io/h5.hpp"

namespace laueproc::h5 {

/// @brief A scalar element type in numpy's terms.
struct ElementType {
  char kind = 'f';        ///< 'i' signed, 'u' unsigned, 'f' float, 'S' fixed-length byte string
  std::size_t size = 0;   ///< bytes
  /// Enumerations (e.g. /frames scenario): the names of the values; kind/size are the base integer's.
  std::vector<std::pair<std::string, long long>> enum_names;
};

/// @brief One field of a compound row, at `offset` bytes inside the row.
struct Column {
  std::string name;
  std::size_t offset = 0;
  ElementType type;
};

/// @brief A dataset opened for reading in its native memory layout.
class DatasetReader {
 public:
  /// @brief Opens `path` in `file`; throws InputError(filename, ...) when it is missing or holds a
  /// type this reader does not handle (variable-length strings, nested compounds, arrays).
  DatasetReader(hid_t file, const std::string& path, const std::string& filename);
  const std::vector<hsize_t>& shape() const { return shape_; }
  std::uint64_t elements() const;
  /// @brief Compound datasets: the fields; empty for a plain numeric dataset.
  const std::vector<Column>& columns() const { return columns_; }
  /// @brief Plain datasets: the element type.
  const ElementType& element() const { return element_; }
  /// @brief Bytes per element (per row for a compound).
  std::size_t element_size() const { return size_; }
  /// @brief Reads everything into `out` (elements() x element_size() bytes).
  void read(void* out) const;

 private:
  std::string filename_, path_;
  Handle dataset_, memory_type_;
  std::vector<hsize_t> shape_;
  std::vector<Column> columns_;
  ElementType element_;
  std::size_t size_ = 0;
};

/// @brief An attribute's value: text, or a number (first element of a numeric attribute).
using AttributeValue = std::variant<std::string, double, long long>;

/// @brief Every scalar string or numeric attribute of `object`, in name order; others skipped.
std::vector<std::pair<std::string, AttributeValue>> read_attributes(hid_t object, const std::string& filename);

/// @brief Names of the links inside group `path`, in name order; empty when the group is absent.
std::vector<std::string> list_group(hid_t file, const std::string& path, const std::string& filename);

}  // namespace laueproc::h5
