#include "io/h5_read.hpp"

#include <cstring>

namespace laueproc::h5 {

namespace {

long long enum_value(const void* bytes, const ElementType& base) {
  if (base.kind == 'u') {
    switch (base.size) {
      case 1: return *static_cast<const std::uint8_t*>(bytes);
      case 2: return *static_cast<const std::uint16_t*>(bytes);
      case 4: return *static_cast<const std::uint32_t*>(bytes);
      default: return static_cast<long long>(*static_cast<const std::uint64_t*>(bytes));
    }
  }
  switch (base.size) {
    case 1: return *static_cast<const std::int8_t*>(bytes);
    case 2: return *static_cast<const std::int16_t*>(bytes);
    case 4: return *static_cast<const std::int32_t*>(bytes);
    default: return *static_cast<const std::int64_t*>(bytes);
  }
}

ElementType element_type(hid_t type, const std::string& filename, const std::string& what) {
  ElementType t;
  t.size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      t.kind = H5Tget_sign(type) == H5T_SGN_NONE ? 'u' : 'i';
      return t;
    case H5T_FLOAT:
      t.kind = 'f';
      return t;
    case H5T_ENUM: {
      Handle base = wrap(H5Tget_super(type), H5Tclose, filename, what + ": cannot read the enumeration's base type");
      t = element_type(base, filename, what);
      const int n = H5Tget_nmembers(type);
      std::vector<unsigned char> value(t.size);
      for (int i = 0; i < n; ++i) {
        char* name = H5Tget_member_name(type, static_cast<unsigned>(i));
        check(H5Tget_member_value(type, static_cast<unsigned>(i), value.data()), filename, what + ": bad enumeration");
        t.enum_names.emplace_back(name ? name : "", enum_value(value.data(), t));
        H5free_memory(name);
      }
      return t;
    }
    case H5T_STRING:
      if (H5Tis_variable_str(type) > 0) throw InputError(filename, what + ": variable-length strings are not supported");
      t.kind = 'S';
      return t;
    default:
      throw InputError(filename, what + ": unsupported element type");
  }
}

}  // namespace

DatasetReader::DatasetReader(hid_t file, const std::string& path, const std::string& filename)
    : filename_(filename), path_(path) {
  if (!exists(file, path)) throw InputError(filename, "no " + path + " in this file");
  dataset_ = open_dataset(file, path, filename);
  shape_ = h5::shape(dataset_, filename, path);
  Handle file_type = wrap(H5Dget_type(dataset_), H5Tclose, filename, path + ": cannot read its type");
  memory_type_ = wrap(H5Tget_native_type(file_type, H5T_DIR_ASCEND), H5Tclose, filename,
                      path + ": no native type for it");
  size_ = H5Tget_size(memory_type_);
  if (H5Tget_class(memory_type_) == H5T_COMPOUND) {
    const int n = H5Tget_nmembers(memory_type_);
    for (int i = 0; i < n; ++i) {
      Column c;
      char* name = H5Tget_member_name(memory_type_, static_cast<unsigned>(i));
      c.name = name ? name : "";
      H5free_memory(name);
      c.offset = H5Tget_member_offset(memory_type_, static_cast<unsigned>(i));
      Handle member = wrap(H5Tget_member_type(memory_type_, static_cast<unsigned>(i)), H5Tclose, filename,
                           path + ": cannot read field " + c.name);
      c.type = element_type(member, filename, path + " field " + c.name);
      columns_.push_back(std::move(c));
    }
  } else {
    element_ = element_type(memory_type_, filename, path);
  }
}

std::uint64_t DatasetReader::elements() const {
  std::uint64_t n = 1;
  for (hsize_t d : shape_) n *= d;
  return n;
}

void DatasetReader::read(void* out) const {
  if (elements() == 0) return;
  check(H5Dread(dataset_, memory_type_, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), filename_, "cannot read " + path_);
}

namespace {

struct AttributeVisit {
  std::vector<std::pair<std::string, AttributeValue>>* out;
};

herr_t visit_attribute(hid_t object, const char* name, const H5A_info_t*, void* data) {
  auto& v = *static_cast<AttributeVisit*>(data);
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) return 0;
  Handle type(H5Aget_type(attr), H5Tclose);
  Handle space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 1) return 0;
  switch (H5Tget_class(type)) {
    case H5T_STRING:
      if (n == 1)
        if (auto text = read_string_attribute(object, name)) v.out->emplace_back(name, *text);
      break;
    case H5T_INTEGER: {
      std::vector<long long> values(static_cast<std::size_t>(n));
      if (H5Aread(attr, H5T_NATIVE_LLONG, values.data()) >= 0) v.out->emplace_back(name, values.front());
      break;
    }
    case H5T_FLOAT: {
      std::vector<double> values(static_cast<std::size_t>(n));
      if (H5Aread(attr, H5T_NATIVE_DOUBLE, values.data()) >= 0) v.out->emplace_back(name, values.front());
      break;
    }
    default: break;  // arrays of names (e.g. @axes) and other types: not needed by readers
  }
  return 0;
}

herr_t visit_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

std::vector<std::pair<std::string, AttributeValue>> read_attributes(hid_t object, const std::string& filename) {
  std::vector<std::pair<std::string, AttributeValue>> out;
  AttributeVisit visit{&out};
  hsize_t index = 0;
  // Creation order is tracked only when the writer asked for it; name order always works.
  check(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, visit_attribute, &visit), filename,
        "cannot list attributes");
  return out;
}

std::vector<std::string> list_group(hid_t file, const std::string& path, const std::string& filename) {
  std::vector<std::string> names;
  if (path != "/" && !exists(file, path)) return names;
  Handle group = wrap(H5Gopen2(file, path.c_str(), H5P_DEFAULT), H5Gclose, filename, "cannot open group " + path);
  hsize_t index = 0;
  check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, visit_link, &names), filename,
        "cannot list group " + path);
  return names;
}

}  // namespace laueproc::h5
