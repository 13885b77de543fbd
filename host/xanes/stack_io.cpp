// HDF5 Data Exchange stacks in, white-line maps out (plus pixels.csv).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "laueproc/version.hpp"
#include "laueproc/xanes.hpp"

namespace laueproc::xanes {

namespace {

// Writes a whole dataset of the given rank; returns it open for attributes.
h5::Handle write_dataset(hid_t file, const std::string& path, hid_t mem_type, hid_t file_type,
                         const std::vector<hsize_t>& dims, const void* data, const std::string& filename) {
  h5::Handle space = h5::wrap_write(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
                                    filename, "dataspace for " + path);
  h5::Handle ds = h5::wrap_write(H5Dcreate2(file, path.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                 H5Dclose, filename, "cannot create " + path);
  h5::check_write(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), filename, "cannot write " + path);
  return ds;
}

// Reads a numeric ny x nx dataset as float; the caller holds the library lock.
std::vector<float> read_map_locked(hid_t file, const std::string& filename, const std::string& dataset, std::size_t ny,
                                   std::size_t nx) {
  h5::Handle ds = h5::open_dataset(file, dataset, filename);
  auto dims = h5::shape(ds, filename, dataset);
  if (dims.size() != 2 || dims[0] != ny || dims[1] != nx) {
    std::string got;
    for (std::size_t i = 0; i < dims.size(); ++i) got += (i ? " x " : "") + std::to_string(dims[i]);
    throw InputError(filename, dataset + " is " + (got.empty() ? "a scalar" : got) + ", the stack is " +
                                   std::to_string(ny) + " x " + std::to_string(nx));
  }
  h5::Handle type = h5::wrap(H5Dget_type(ds), H5Tclose, filename, "cannot read the type of " + dataset);
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw InputError(filename, dataset + " is not numeric");
  std::vector<float> v(ny * nx);
  if (!v.empty())
    h5::check(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), filename, "cannot read " + dataset);
  return v;
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

Stack read_stack(const std::string& path, const StackPaths& paths) {
  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::open_read(path);
  Stack st;
  st.energy_ev = h5::read_vector(file, paths.energy, path);
  h5::Handle ds = h5::open_dataset(file, paths.data, path);
  auto dims = h5::shape(ds, path, paths.data);
  if (dims.size() != 3)
    throw InputError(path, paths.data + " should be 3-D (n_energies, ny, nx), has rank " + std::to_string(dims.size()));
  if (dims[0] != st.energy_ev.size())
    throw InputError(path, paths.data + " has " + std::to_string(dims[0]) + " energies, " + paths.energy + " has " +
                               std::to_string(st.energy_ev.size()));
  if (st.energy_ev.size() < 2) throw InputError(path, paths.energy + " needs at least 2 energies");
  h5::Handle type = h5::wrap(H5Dget_type(ds), H5Tclose, path, "cannot read the type of " + paths.data);
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw InputError(path, paths.data + " is not numeric");
  double emax = -INFINITY;
  for (double e : st.energy_ev) {
    if (!std::isfinite(e)) throw InputError(path, paths.energy + " holds a non-finite energy");
    emax = std::max(emax, e);
  }
  if (emax < 100) {
    for (auto& e : st.energy_ev) e *= 1000;  // keV
    st.kev_converted = true;
  }
  std::vector<double> sorted = st.energy_ev;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i] == sorted[i - 1]) throw InputError(path, paths.energy + " holds duplicate energy " + num(sorted[i]) + " eV");
  st.ny = dims[1];
  st.nx = dims[2];
  // A damaged or hostile header must not make us allocate absurd amounts (or overflow).
  constexpr hsize_t kMaxValues = hsize_t{1} << 31;  // 8 GiB of float
  if (dims[1] == 0 || dims[2] == 0 || dims[1] > kMaxValues / dims[2] || dims[0] > kMaxValues / (dims[1] * dims[2]))
    throw InputError(path, paths.data + " is " + std::to_string(dims[0]) + " x " + std::to_string(dims[1]) + " x " +
                               std::to_string(dims[2]) + (dims[1] == 0 || dims[2] == 0 ? ": an empty map" : ": too large to read (more than 2^31 values)"));
  st.data.resize(dims[0] * dims[1] * dims[2]);
  if (!st.data.empty())
    h5::check(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, st.data.data()), path,
              "cannot read " + paths.data);
  if (!paths.xrf.empty() && h5::exists(file, paths.xrf)) st.xrf = read_map_locked(file, path, paths.xrf, st.ny, st.nx);
  return st;
}

std::vector<float> read_map(const std::string& path, const std::string& dataset, std::size_t ny, std::size_t nx) {
  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::open_read(path);
  if (!h5::exists(file, dataset)) throw InputError(path, "no dataset " + dataset);
  return read_map_locked(file, path, dataset, ny, nx);
}

void write_stack(const std::string& path, const Stack& stack, const StackPaths& paths) {
  if (stack.data.size() != stack.energy_ev.size() * stack.ny * stack.nx)
    throw Error(path + ": stack data size does not match energies x ny x nx");
  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::create(path);
  {
  h5::write_vector(file, paths.energy, stack.energy_ev, path);
  auto slash = paths.data.rfind('/');
  if (slash != std::string::npos && slash > 0) h5::make_groups(file, paths.data.substr(0, slash), path);
  h5::Handle ds = write_dataset(file, paths.data, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE,
                                {stack.energy_ev.size(), stack.ny, stack.nx}, stack.data.data(), path);
  h5::Handle e = h5::open_dataset(file, paths.energy, path);
  h5::write_attribute(e, "units", std::string("eV"));
  if (!stack.xrf.empty()) {
    if (stack.xrf.size() != stack.ny * stack.nx) throw Error(path + ": xrf map size does not match ny x nx");
    auto xs = paths.xrf.rfind('/');
    if (xs != std::string::npos && xs > 0) h5::make_groups(file, paths.xrf.substr(0, xs), path);
    auto x = write_dataset(file, paths.xrf, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, {stack.ny, stack.nx}, stack.xrf.data(), path);
    h5::write_attribute(x, "long_name", std::string("fluorescence (XRF) map"));
  }
  }
  h5::close_file(file, path);
}

void write_simulated_stack(const std::string& path, const SimulatedXanes& sim) {
  write_stack(path, sim.stack);
  const Stack& st = sim.stack;
  if (sim.true_white_line_ev.size() != st.ny * st.nx || sim.true_particles.size() != st.ny * st.nx)
    throw Error(path + ": truth maps do not match ny x nx");
  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::open_rw(path);
  {
  h5::make_groups(file, "/truth", path);
  {
    auto d = write_dataset(file, "/truth/white_line_ev", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {st.ny, st.nx},
                           sim.true_white_line_ev.data(), path);
    h5::write_attribute(d, "units", std::string("eV"));
    h5::write_attribute(d, "long_name", std::string("maximum of the noise-free spectrum (NaN outside particles)"));
  }
  write_dataset(file, "/truth/particles", H5T_NATIVE_INT32, H5T_STD_I32LE, {st.ny, st.nx}, sim.true_particles.data(),
                path);
  if (!sim.particle_wl_ev.empty()) {
    auto d = write_dataset(file, "/truth/particle_wl_ev", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE,
                           {sim.particle_wl_ev.size()}, sim.particle_wl_ev.data(), path);
    h5::write_attribute(d, "units", std::string("eV"));
  }
  }
  h5::close_file(file, path);
}

void write_results(const std::string& path, const std::vector<FitResult>& results, std::size_t ny, std::size_t nx,
                   const std::vector<double>& energies_ev, const FitSettings& settings, const std::string& input,
                   const ParticleMap* particles) {
  if (results.size() != ny * nx) throw Error(path + ": " + std::to_string(results.size()) + " results for a " +
                                             std::to_string(ny) + " x " + std::to_string(nx) + " map");
  const std::size_t n = results.size();
  std::vector<double> wl(n), ph(n), r2(n);
  std::vector<std::int8_t> st(n);
  for (std::size_t p = 0; p < n; ++p) {
    wl[p] = results[p].white_line_ev;
    ph[p] = results[p].peak_height;
    r2[p] = results[p].r2;
    st[p] = static_cast<std::int8_t>(results[p].status);
  }
  std::vector<double> xs(nx), ys(ny);
  for (std::size_t i = 0; i < nx; ++i) xs[i] = static_cast<double>(i);
  for (std::size_t i = 0; i < ny; ++i) ys[i] = static_cast<double>(i);

  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::create(path);
  {
  h5::make_groups(file, "/xanes", path);
  h5::Handle g = h5::wrap_write(H5Gopen2(file, "/xanes", H5P_DEFAULT), H5Gclose, path, "cannot open /xanes");
  h5::Handle root = h5::wrap_write(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, path, "cannot open /");
  h5::write_attribute(root, "default", std::string("xanes"));
  h5::write_attribute(root, "laueproc_version", std::string(version()));
  h5::write_attribute(root, "git_commit", std::string(git_commit()));

  // NXdata: signal white_line_ev, axes y (rows) and x (columns), pixel indices.
  h5::write_attribute(g, "NX_class", std::string("NXdata"));
  h5::write_attribute(g, "signal", std::string("white_line_ev"));
  h5::write_string_array_attribute(g, "axes", {"y", "x"}, path);
  h5::write_attribute(g, "y_indices", std::int64_t{0});
  h5::write_attribute(g, "x_indices", std::int64_t{1});
  h5::write_attribute(g, "method",
                      std::string(settings.normalise ? "mu normalised (see normalisation); " : "mu as given (no normalisation); ") +
                      std::string("linear interpolation onto a grid_step_ev grid from "
                                  "the lowest energy; maximum inside search window; least-squares polynomial of "
                                  "`order` over maximum +- half_window_ev; energy of the polynomial's maximum"));
  h5::write_attribute(g, "order", std::int64_t{settings.order});
  h5::write_attribute(g, "half_window_ev", settings.half_window_ev);
  h5::write_attribute(g, "grid_step_ev", settings.grid_step_ev);
  h5::write_attribute(g, "min_signal", settings.min_signal);
  h5::write_attribute(g, "normalisation", describe_normalisation(settings));
  if (settings.search_window) {
    h5::write_attribute(g, "search_window_lo_ev", settings.search_window->first);
    h5::write_attribute(g, "search_window_hi_ev", settings.search_window->second);
  } else {
    h5::write_attribute(g, "search_window", std::string("whole spectrum"));
  }
  h5::write_attribute(g, "input", input);
  h5::write_attribute(g, "laueproc_version", std::string(version()));
  h5::write_attribute(g, "git_commit", std::string(git_commit()));

  const std::vector<hsize_t> dims{ny, nx};
  {
    auto d = write_dataset(g, "white_line_ev", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, dims, wl.data(), path);
    h5::write_attribute(d, "units", std::string("eV"));
    h5::write_attribute(d, "long_name", std::string("Co K-edge white-line energy"));
  }
  {
    auto d = write_dataset(g, "peak_height", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, dims, ph.data(), path);
    h5::write_attribute(d, "units", std::string("mu (as given)"));
  }
  write_dataset(g, "r2", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, dims, r2.data(), path);
  {
    auto d = write_dataset(g, "status", H5T_NATIVE_INT8, H5T_STD_I8LE, dims, st.data(), path);
    std::vector<std::string> names;
    for (int s = 0; s < kFitStatusCount; ++s) names.emplace_back(to_string(static_cast<FitStatus>(s)));
    h5::write_string_array_attribute(d, "names", names, path);
  }
  {
    auto d = write_dataset(g, "x", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {nx}, xs.data(), path);
    h5::write_attribute(d, "units", std::string("pixel"));
  }
  {
    auto d = write_dataset(g, "y", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {ny}, ys.data(), path);
    h5::write_attribute(d, "units", std::string("pixel"));
  }
  {
    auto d = write_dataset(g, "energy_ev", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {energies_ev.size()},
                           energies_ev.data(), path);
    h5::write_attribute(d, "units", std::string("eV"));
  }
  if (particles) {
    if (particles->labels.size() != n || particles->signal.size() != n)
      throw Error(path + ": particle map does not match the " + std::to_string(ny) + " x " + std::to_string(nx) + " map");
    {
      auto d = write_dataset(g, "particles", H5T_NATIVE_INT32, H5T_STD_I32LE, dims, particles->labels.data(), path);
      h5::write_attribute(d, "long_name", std::string("particle label (0 = outside any particle, 8-connected)"));
      h5::write_attribute(d, "n_particles", std::int64_t{particles->n_particles});
      h5::write_attribute(d, "mask_method", particles->method);
      h5::write_attribute(d, "mask_threshold", particles->threshold);
      h5::write_attribute(d, "min_particle_pixels", std::int64_t{particles->min_pixels});
    }
    {
      auto d = write_dataset(g, "mask_signal", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, dims, particles->signal.data(), path);
      h5::write_attribute(d, "mask_method", particles->method);
      h5::write_attribute(d, "mask_threshold", particles->threshold);
      h5::write_attribute(d, "min_particle_pixels", std::int64_t{particles->min_pixels});
      h5::write_attribute(d, "n_particles", std::int64_t{particles->n_particles});
    }
    h5::write_attribute(g, "mask_method", particles->method);
    h5::write_attribute(g, "mask_threshold", particles->threshold);
    h5::write_attribute(g, "n_particles", std::int64_t{particles->n_particles});
  }
  }
  h5::close_file(file, path);
}

std::string write_pixels_csv(const std::string& dir, const std::vector<FitResult>& results, std::size_t ny,
                             std::size_t nx, const std::vector<std::int32_t>* particles) {
  if (results.size() != ny * nx) throw Error(dir + ": results do not match the map size");
  if (particles && particles->size() != ny * nx) throw Error(dir + ": particle map does not match the map size");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw OutputError(dir, "cannot create the folder (" + ec.message() + ")");
  const std::string path = (std::filesystem::path(dir) / "pixels.csv").string();
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw OutputError(path, std::string("cannot create (") + std::strerror(errno) + ")");
  std::fputs("iy,ix,white_line_ev,peak_height,r2,status,particle\n", f);
  for (std::size_t iy = 0; iy < ny; ++iy)
    for (std::size_t ix = 0; ix < nx; ++ix) {
      const FitResult& r = results[iy * nx + ix];
      const std::int32_t particle = particles ? (*particles)[iy * nx + ix] : 0;
      std::fprintf(f, "%zu,%zu,%.4f,%.6g,%.6f,%s,%d\n", iy, ix, r.white_line_ev, r.peak_height, r.r2,
                   to_string(r.status), static_cast<int>(particle));
    }
  const bool bad = std::ferror(f) != 0 || std::fflush(f) != 0;
  const int err = errno;
  if (std::fclose(f) != 0 || bad) throw OutputError(path, std::string("write failed (") + std::strerror(bad ? err : errno) + ")");
  return path;
}

}  // namespace laueproc::xanes
