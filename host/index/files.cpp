// Files of `laueproc index`: peaks in (a process results file or a peak list), the index file /
// results-file groups and the CSVs out. Layout: docs/indexing.md and docs/output.md.
#include <hdf5.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "laueproc/index.hpp"
#include "laueproc/version.hpp"

namespace laueproc::index {

const char* const kGrainsCsvHeader =
    "frame,grain,n_indexed,n_peaks,mean_dev_px,ub11,ub12,ub13,ub21,ub22,ub23,ub31,ub32,ub33,misorientation_deg,kam_deg";
const char* const kIndexedCsvHeader = "frame,peak,grain,h,k,l,energy_kev,dev_px";

namespace {

namespace fs = std::filesystem;

struct PeakIn {
  std::int64_t frame;
  std::int32_t peak;
  double x, y, intensity;
};
struct FrameIn {
  std::int64_t frame;
  std::int32_t ix, iy;
};

struct GrainRow {
  std::int64_t frame;
  std::int32_t grain, n_indexed, n_peaks;
  double mean_dev_px;
  double ub[9];
  double misorientation_deg, kam_deg;
};
struct IndexedRow {
  std::int64_t frame;
  std::int32_t peak, grain, h, k, l;
  double energy_kev, dev_px;
};

// HDF5 failures of the writers: an output problem (OutputError, exit 2).
constexpr auto ck = &h5::check_write;
constexpr auto own = &h5::wrap_write;

template <typename Row>
std::vector<Row> read_table(hid_t file, const char* name, hid_t mem, const std::string& path) {
  h5::Handle ds = h5::open_dataset(file, name, path);
  const auto dims = h5::shape(ds, path, name);
  if (dims.size() != 1) throw InputError(path, std::string(name) + " should be a 1-D table");
  std::vector<Row> rows(dims[0]);
  if (!rows.empty())
    h5::check(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), path,
              std::string("cannot read ") + name + " (a laueproc process results file?)");
  return rows;
}

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void write_text(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw OutputError(path, std::string("cannot create the file (") + std::strerror(errno) + ")");
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  const int err = errno;
  if ((std::fclose(f) != 0) || !ok) throw OutputError(path, std::string("write failed (") + std::strerror(ok ? errno : err) + ")");
}

void write_dataset(hid_t group, const std::string& name, hid_t type, const void* data, int rank, const hsize_t* dims,
                   const std::string& path) {
  h5::Handle space = own(H5Screate_simple(rank, dims, nullptr), H5Sclose, path, "cannot create a dataspace");
  h5::Handle ds = own(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                      path, "cannot create " + name);
  hsize_t total = 1;
  for (int i = 0; i < rank; ++i) total *= dims[i];
  if (total) ck(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path, "cannot write " + name);
}

h5::Handle grain_type(const std::string& p) {
  h5::Handle t = own(H5Tcreate(H5T_COMPOUND, sizeof(GrainRow)), H5Tclose, p, "cannot create the grain type");
  auto add = [&](const char* name, std::size_t off, hid_t type) { ck(H5Tinsert(t, name, off, type), p, name); };
  add("frame", HOFFSET(GrainRow, frame), H5T_NATIVE_INT64);
  add("grain", HOFFSET(GrainRow, grain), H5T_NATIVE_INT32);
  add("n_indexed", HOFFSET(GrainRow, n_indexed), H5T_NATIVE_INT32);
  add("n_peaks", HOFFSET(GrainRow, n_peaks), H5T_NATIVE_INT32);
  add("mean_dev_px", HOFFSET(GrainRow, mean_dev_px), H5T_NATIVE_DOUBLE);
  const char* names[9] = {"ub11", "ub12", "ub13", "ub21", "ub22", "ub23", "ub31", "ub32", "ub33"};
  for (int k = 0; k < 9; ++k) add(names[k], HOFFSET(GrainRow, ub) + static_cast<std::size_t>(k) * sizeof(double), H5T_NATIVE_DOUBLE);
  add("misorientation_deg", HOFFSET(GrainRow, misorientation_deg), H5T_NATIVE_DOUBLE);
  add("kam_deg", HOFFSET(GrainRow, kam_deg), H5T_NATIVE_DOUBLE);
  return t;
}

h5::Handle indexed_type(const std::string& p) {
  h5::Handle t = own(H5Tcreate(H5T_COMPOUND, sizeof(IndexedRow)), H5Tclose, p, "cannot create the indexed type");
  auto add = [&](const char* name, std::size_t off, hid_t type) { ck(H5Tinsert(t, name, off, type), p, name); };
  add("frame", HOFFSET(IndexedRow, frame), H5T_NATIVE_INT64);
  add("peak", HOFFSET(IndexedRow, peak), H5T_NATIVE_INT32);
  add("grain", HOFFSET(IndexedRow, grain), H5T_NATIVE_INT32);
  add("h", HOFFSET(IndexedRow, h), H5T_NATIVE_INT32);
  add("k", HOFFSET(IndexedRow, k), H5T_NATIVE_INT32);
  add("l", HOFFSET(IndexedRow, l), H5T_NATIVE_INT32);
  add("energy_kev", HOFFSET(IndexedRow, energy_kev), H5T_NATIVE_DOUBLE);
  add("dev_px", HOFFSET(IndexedRow, dev_px), H5T_NATIVE_DOUBLE);
  return t;
}

std::vector<GrainRow> grain_rows(const ScanIndex& s) {
  std::vector<GrainRow> rows;
  for (std::size_t i = 0; i < s.results.size(); ++i) {
    const FrameIndex& r = s.results[i];
    for (std::size_t g = 0; g < r.grains.size(); ++g) {
      GrainRow row{};
      row.frame = s.frames[i];
      row.grain = static_cast<std::int32_t>(g);
      row.n_indexed = r.grains[g].n_indexed;
      row.n_peaks = static_cast<std::int32_t>(r.spots.size());
      row.mean_dev_px = r.grains[g].mean_dev_px;
      for (int k = 0; k < 9; ++k) row.ub[k] = r.grains[g].ub_b0.m[k];
      row.misorientation_deg = s.grain_misorientation_deg[i][g];
      row.kam_deg = s.grain_kam_deg[i][g];
      rows.push_back(row);
    }
  }
  return rows;
}

std::vector<IndexedRow> indexed_rows(const ScanIndex& s) {
  std::vector<IndexedRow> rows;
  for (std::size_t i = 0; i < s.results.size(); ++i) {
    const FrameIndex& r = s.results[i];
    for (std::size_t p = 0; p < r.spots.size(); ++p) {
      const IndexedSpot& sp = r.spots[p];
      IndexedRow row{};
      row.frame = s.frames[i];
      row.peak = p < s.peak_ids[i].size() ? s.peak_ids[i][p] : static_cast<std::int32_t>(p);
      row.grain = sp.grain;
      row.h = sp.h, row.k = sp.k, row.l = sp.l;
      row.energy_kev = sp.energy_kev;
      row.dev_px = sp.dev_px;
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace

ScanPeaks read_scan_peaks(const std::string& path) {
  h5::init();
  ScanPeaks scan;
  if (!h5::looks_like_hdf5(path)) {
    FramePeaks f;
    f.frame = 0;
    f.ix = f.iy = 0;
    f.spots = read_peak_list(path);
    for (std::size_t i = 0; i < f.spots.size(); ++i) f.peak_ids.push_back(static_cast<std::int32_t>(i));
    scan.frames.push_back(std::move(f));
    scan.x_um = {0.0};
    scan.y_um = {0.0};
    return scan;
  }
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::open_read(path);
  if (!h5::exists(file, "/peaks") || !h5::exists(file, "/frames"))
    throw InputError(path, "no /peaks and /frames tables (not a laueproc process results file?)");
  h5::Handle pm = own(H5Tcreate(H5T_COMPOUND, sizeof(PeakIn)), H5Tclose, path, "type");
  ck(H5Tinsert(pm, "frame", HOFFSET(PeakIn, frame), H5T_NATIVE_INT64), path, "type");
  ck(H5Tinsert(pm, "peak", HOFFSET(PeakIn, peak), H5T_NATIVE_INT32), path, "type");
  ck(H5Tinsert(pm, "x", HOFFSET(PeakIn, x), H5T_NATIVE_DOUBLE), path, "type");
  ck(H5Tinsert(pm, "y", HOFFSET(PeakIn, y), H5T_NATIVE_DOUBLE), path, "type");
  ck(H5Tinsert(pm, "intensity", HOFFSET(PeakIn, intensity), H5T_NATIVE_DOUBLE), path, "type");
  h5::Handle fm = own(H5Tcreate(H5T_COMPOUND, sizeof(FrameIn)), H5Tclose, path, "type");
  ck(H5Tinsert(fm, "frame", HOFFSET(FrameIn, frame), H5T_NATIVE_INT64), path, "type");
  ck(H5Tinsert(fm, "ix", HOFFSET(FrameIn, ix), H5T_NATIVE_INT32), path, "type");
  ck(H5Tinsert(fm, "iy", HOFFSET(FrameIn, iy), H5T_NATIVE_INT32), path, "type");
  const auto peaks = read_table<PeakIn>(file, "/peaks", pm, path);
  const auto frames = read_table<FrameIn>(file, "/frames", fm, path);
  scan.from_results = true;
  int nx = 0, ny = 0;
  if (h5::exists(file, "/maps")) {
    h5::Handle maps = own(H5Gopen2(file, "/maps", H5P_DEFAULT), H5Gclose, path, "cannot open /maps");
    for (auto [name, target] : {std::pair<const char*, int*>{"nx", &nx}, {"ny", &ny}})
      if (H5Aexists(maps, name) > 0) {
        h5::Handle a = own(H5Aopen(maps, name, H5P_DEFAULT), H5Aclose, path, name);
        std::int64_t v = 0;
        ck(H5Aread(a, H5T_NATIVE_INT64, &v), path, name);
        *target = static_cast<int>(v);
      }
    if (h5::exists(file, "/maps/se/x_um")) scan.x_um = h5::read_vector(file, "/maps/se/x_um", path);
    if (h5::exists(file, "/maps/se/y_um")) scan.y_um = h5::read_vector(file, "/maps/se/y_um", path);
  }
  std::map<std::int64_t, std::size_t> slot;
  for (const FrameIn& f : frames) {
    FramePeaks fp;
    fp.frame = f.frame;
    fp.ix = f.ix;
    fp.iy = f.iy;
    nx = std::max(nx, f.ix + 1);
    ny = std::max(ny, f.iy + 1);
    slot[f.frame] = scan.frames.size();
    scan.frames.push_back(std::move(fp));
  }
  for (const PeakIn& p : peaks) {
    auto it = slot.find(p.frame);
    if (it == slot.end()) throw InputError(path, "/peaks has frame " + std::to_string(p.frame) + " that /frames lacks");
    FramePeaks& f = scan.frames[it->second];
    f.spots.push_back({p.x, p.y, p.intensity});
    f.peak_ids.push_back(p.peak);
  }
  scan.nx = std::max(nx, 1);
  scan.ny = std::max(ny, 1);
  if (scan.x_um.size() != static_cast<std::size_t>(scan.nx)) {
    scan.x_um.resize(static_cast<std::size_t>(scan.nx));
    for (int i = 0; i < scan.nx; ++i) scan.x_um[static_cast<std::size_t>(i)] = i;
  }
  if (scan.y_um.size() != static_cast<std::size_t>(scan.ny)) {
    scan.y_um.resize(static_cast<std::size_t>(scan.ny));
    for (int i = 0; i < scan.ny; ++i) scan.y_um[static_cast<std::size_t>(i)] = i;
  }
  return scan;
}

std::vector<std::pair<std::string, std::string>> describe(const IndexSettings& s, const Material& m) {
  char lat[160];
  std::snprintf(lat, sizeof lat, "%.6g,%.6g,%.6g,%.6g,%.6g,%.6g", m.lattice.a, m.lattice.b, m.lattice.c, m.lattice.alpha,
                m.lattice.beta, m.lattice.gamma);
  return {{"material", m.name},
          {"lattice", lat},
          {"space_group", std::to_string(m.space_group)},
          {"reflection_rule", m.rule.describe()},
          {"energy_min_kev", number(s.energy_min_kev)},
          {"energy_max_kev", number(s.energy_max_kev)},
          {"max_grains", std::to_string(s.max_grains)},
          {"q_max", number(s.q_max)},
          {"n_brightest", std::to_string(s.n_brightest)},
          {"n_pair_directions", std::to_string(s.n_pair_directions)},
          {"pair_tolerance_deg", number(s.pair_tolerance_deg)},
          {"match_tolerance_deg", number(s.match_tolerance_deg)},
          {"final_tolerance_deg", number(s.final_tolerance_deg)},
          {"min_matched", std::to_string(s.min_matched)},
          {"refine_strain", s.refine_strain ? "1" : "0"},
          {"max_candidates", std::to_string(s.max_candidates)}};
}

void write_index_h5(const std::string& path, const ScanIndex& s, const IndexProvenance& prov, bool create) {
  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  if (create) {
    const fs::path dir = fs::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) fs::create_directories(dir, ec);
  }
  h5::Handle file = create ? h5::create(path) : h5::open_rw(path);
  h5::Handle root = own(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, path, "cannot open /");
  if (h5::exists(file, "/index")) throw Error(path + ": already holds /index (index it into a new file with laueproc index --out)");
  h5::Handle group = own(H5Gcreate2(file, "/index", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, path,
                         "cannot create /index");
  // Provenance: on the root of a new file (as every laueproc output), on /index inside a results file.
  const hid_t prov_object = create ? root.get() : group.get();
  if (create) {
    h5::write_attribute(root, "NX_class", std::string("NXroot"));
    h5::write_attribute(root, "program", std::string("laueproc index"));
    h5::write_attribute(root, "default", std::string("maps"));
  }
  h5::write_attribute(group, "NX_class", std::string("NXcollection"));
  h5::write_attribute(prov_object, "version", std::string(laueproc::version()));
  h5::write_attribute(prov_object, "git_commit", std::string(laueproc::git_commit()));
  h5::write_attribute(prov_object, "command_line", prov.command_line);
  h5::write_attribute(prov_object, "input", prov.input);
  h5::write_attribute(prov_object, "geometry_file", prov.geometry_file);
  for (const auto& [name, value] : prov.settings) h5::write_attribute(prov_object, "settings." + name, value);
  h5::write_attribute(group, "ub_convention",
                      std::string("UB B0 in the LaueTools lab frame (x beam, z up, y = z x x), columns a*, b*, c* "
                                  "(1/Angstrom, no 2 pi); ub_rc = row r, column c"));

  const auto grains = grain_rows(s);
  const auto indexed = indexed_rows(s);
  {
    h5::Handle t = grain_type(path);
    hsize_t n = grains.size();
    write_dataset(group, "grains", t, grains.data(), 1, &n, path);
    h5::Handle u = indexed_type(path);
    hsize_t m = indexed.size();
    write_dataset(group, "indexed", u, indexed.data(), 1, &m, path);
  }

  // Maps: one NXdata each under /maps (created when the file has none).
  const OrientationMaps& mp = s.maps;
  h5::Handle maps;
  if (h5::exists(file, "/maps")) {
    maps = own(H5Gopen2(file, "/maps", H5P_DEFAULT), H5Gclose, path, "cannot open /maps");
  } else {
    maps = own(H5Gcreate2(file, "/maps", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, path, "cannot create /maps");
    h5::write_attribute(maps, "NX_class", std::string("NXentry"));
    h5::write_attribute(maps, "default", std::string("n_grains"));
    h5::write_attribute(maps, "nx", static_cast<std::int64_t>(mp.nx));
    h5::write_attribute(maps, "ny", static_cast<std::int64_t>(mp.ny));
  }
  const hsize_t dims2[2] = {static_cast<hsize_t>(mp.ny), static_cast<hsize_t>(mp.nx)};
  const hsize_t dims3[3] = {static_cast<hsize_t>(mp.ny), static_cast<hsize_t>(mp.nx), 3};
  auto nxdata = [&](const std::string& name, hid_t type, const void* data, bool rgb, const std::string& description) {
    if (h5::exists(maps, name)) throw Error(path + ": /maps/" + name + " already exists");
    h5::Handle g = own(H5Gcreate2(maps, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, path,
                       "cannot create /maps/" + name);
    h5::write_attribute(g, "NX_class", std::string("NXdata"));
    h5::write_attribute(g, "signal", name);
    if (rgb)
      h5::write_string_array_attribute(g, "axes", {"y_um", "x_um", "."}, path);
    else
      h5::write_string_array_attribute(g, "axes", {"y_um", "x_um"}, path);
    h5::write_attribute(g, "y_um_indices", std::int64_t{0});
    h5::write_attribute(g, "x_um_indices", std::int64_t{1});
    write_dataset(g, name, type, data, rgb ? 3 : 2, rgb ? dims3 : dims2, path);
    h5::Handle ds = own(H5Dopen2(g, name.c_str(), H5P_DEFAULT), H5Dclose, path, "cannot open /maps/" + name);
    h5::write_attribute(ds, "description", description);
    if (rgb) h5::write_attribute(ds, "interpretation", std::string("rgba-image"));
    for (auto [axis, values, count] : {std::tuple<const char*, const std::vector<double>*, int>{"x_um", &s.x_um, mp.nx},
                                       {"y_um", &s.y_um, mp.ny}}) {
      std::vector<double> v = *values;
      v.resize(static_cast<std::size_t>(count), std::nan(""));
      hsize_t n = v.size();
      write_dataset(g, axis, H5T_NATIVE_DOUBLE, v.data(), 1, &n, path);
      h5::Handle a = own(H5Dopen2(g, axis, H5P_DEFAULT), H5Dclose, path, axis);
      h5::write_attribute(a, "units", std::string("um"));
    }
  };
  nxdata("n_grains", H5T_NATIVE_INT8, mp.n_grains.data(), false, "crystals indexed per raster point; -1 = no frame");
  nxdata("single_crystal", H5T_NATIVE_UINT8, mp.single_crystal.data(), false,
         "1 where exactly one crystal was indexed (the single-crystal mask of correlate --single-crystal-only)");
  nxdata("particle", H5T_NATIVE_INT32, mp.particle.data(), false,
         "connected regions whose main grains are within the particle threshold of their neighbours; 0 = none");
  nxdata("misorientation_deg", H5T_NATIVE_FLOAT, mp.misorientation_deg.data(), false,
         "main grain's misorientation to its particle's mean orientation (deg)");
  nxdata("kam_deg", H5T_NATIVE_FLOAT, mp.kam_deg.data(), false,
         "kernel average misorientation: mean misorientation to the 4-neighbours of the same particle (deg)");
  nxdata("ipf", H5T_NATIVE_FLOAT, mp.ipf_rgb.data(), true,
         "inverse-pole-figure colour (r, g, b in 0..1) of the incident beam direction in the main grain's crystal frame");
  ck(H5Fflush(file, H5F_SCOPE_GLOBAL), path, "cannot flush");
}

void write_index_csv(const std::string& dir, const ScanIndex& s, const IndexProvenance& prov) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": cannot create the CSV folder");
  std::string g = std::string(kGrainsCsvHeader) + "\n";
  for (const GrainRow& r : grain_rows(s)) {
    g += std::to_string(r.frame) + "," + std::to_string(r.grain) + "," + std::to_string(r.n_indexed) + "," +
         std::to_string(r.n_peaks) + "," + number(r.mean_dev_px);
    for (double v : r.ub) g += "," + number(v);
    g += "," + number(r.misorientation_deg) + "," + number(r.kam_deg) + "\n";
  }
  write_text((fs::path(dir) / "grains.csv").string(), g);
  std::string ix = std::string(kIndexedCsvHeader) + "\n";
  for (const IndexedRow& r : indexed_rows(s))
    ix += std::to_string(r.frame) + "," + std::to_string(r.peak) + "," + std::to_string(r.grain) + "," +
          std::to_string(r.h) + "," + std::to_string(r.k) + "," + std::to_string(r.l) + "," + number(r.energy_kev) + "," +
          number(r.dev_px) + "\n";
  write_text((fs::path(dir) / "indexed.csv").string(), ix);
  std::string p = "# laueproc index: how grains.csv and indexed.csv were made\nversion: " + std::string(laueproc::version()) +
                  "\ngit_commit: " + laueproc::git_commit() + "\ncommand_line: " + prov.command_line +
                  "\ninput: " + prov.input + "\ngeometry_file: " + prov.geometry_file + "\n";
  for (const auto& [name, value] : prov.settings) p += "settings." + name + ": " + value + "\n";
  write_text((fs::path(dir) / "index_provenance.txt").string(), p);
}

}  // namespace laueproc::index
