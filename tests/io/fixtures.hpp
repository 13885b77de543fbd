#pragma once
// Writers of small HDF5 fixtures for the io tests, with the HDF5 C API.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/h5.hpp"

namespace laueproc::test {

/// A fresh temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "laueproc_io_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Test pattern: distinct per frame, row and column, spanning most of uint16.
inline std::uint16_t pattern(std::int64_t k, int y, int x) {
  return static_cast<std::uint16_t>((k * 7919 + y * 131 + x * 7) % 65521);
}

inline std::vector<std::uint16_t> pattern_stack(int n, int ny, int nx) {
  std::vector<std::uint16_t> v(static_cast<std::size_t>(n) * ny * nx);
  std::size_t i = 0;
  for (int k = 0; k < n; ++k)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) v[i++] = pattern(k, y, x);
  return v;
}

/// Writes one dataset (creating its groups). `dcpl_setup` adds chunking/filters; empty = contiguous.
inline void write_dataset(hid_t f, const std::string& path, hid_t type, const void* data,
                          const std::vector<hsize_t>& dims,
                          const std::function<void(hid_t)>& dcpl_setup = {}) {
  auto slash = path.rfind('/');
  if (slash > 0) h5::make_groups(f, path.substr(0, slash), "fixture");
  h5::Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                                : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                   H5Sclose);
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (dcpl_setup) dcpl_setup(dcpl);
  h5::Handle ds(H5Dcreate2(f, path.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) throw std::runtime_error("fixture: cannot create " + path + " (" + h5::last_error() + ")");
  if (H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw std::runtime_error("fixture: cannot write " + path + " (" + h5::last_error() + ")");
}

/// Chunking one frame per chunk, optionally shuffle + deflate.
inline std::function<void(hid_t)> frame_chunks(int ny, int nx, int deflate_level = -1, bool shuffle = false,
                                               bool three_d = true) {
  return [=](hid_t dcpl) {
    hsize_t c3[3] = {1, static_cast<hsize_t>(ny), static_cast<hsize_t>(nx)};
    H5Pset_chunk(dcpl, three_d ? 3 : 2, three_d ? c3 : c3 + 1);
    if (shuffle) H5Pset_shuffle(dcpl);
    if (deflate_level >= 0) H5Pset_deflate(dcpl, static_cast<unsigned>(deflate_level));
  };
}

/// A uint16 stack at `dataset` (N x ny x nx).
inline void write_stack(const std::string& file, const std::vector<std::uint16_t>& data, int n, int ny, int nx,
                        const std::function<void(hid_t)>& dcpl_setup = {},
                        const std::string& dataset = "/entry/data/data") {
  h5::Handle f = h5::create(file);
  write_dataset(f, dataset, H5T_NATIVE_UINT16, data.data(),
                {static_cast<hsize_t>(n), static_cast<hsize_t>(ny), static_cast<hsize_t>(nx)}, dcpl_setup);
}

/// An APS 34-ID-E style file: 2-D image (or 3-D with n > 1) plus sampleX/sampleY scalars.
inline void write_per_frame(const std::string& file, const std::vector<std::uint16_t>& data, int ny, int nx,
                            double x_um, double y_um, int n = 0) {
  h5::Handle f = h5::create(file);
  std::vector<hsize_t> dims = {static_cast<hsize_t>(ny), static_cast<hsize_t>(nx)};
  if (n > 0) dims.insert(dims.begin(), static_cast<hsize_t>(n));
  write_dataset(f, "/entry1/data/data", H5T_NATIVE_UINT16, data.data(), dims);
  write_dataset(f, "/entry1/sample/sampleX", H5T_NATIVE_DOUBLE, &x_um, {});
  write_dataset(f, "/entry1/sample/sampleY", H5T_NATIVE_DOUBLE, &y_um, {});
}

}  // namespace laueproc::test
