// write_scan: frames are rendered (and, for gzip, deflated) on worker threads; the calling thread
// writes them in frame order, so the HDF5 library (not thread-safe in Debian's build) is used by
// one thread only, under h5::library_mutex().
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "io/h5.hpp"
#include "output/output_guard.hpp"
#include "laueproc/error.hpp"
#include "laueproc/sim.hpp"
#include "laueproc/version.hpp"

namespace laueproc::sim {

const char* const kTruthPeaksHeader = "frame,peak,reflection,x,y,amplitude,a,b,theta_deg,n_sub,saturated,isolated";
const char* const kTruthFramesHeader =
    "frame,ix,iy,x_um,y_um,scenario,n_reflections,n_peaks,se_true,split_dx,split_dy,split_px,"
    "misorientation_deg,background,noise";

const char* const kTruthGrainsHeader = "frame,grain,ub11,ub12,ub13,ub21,ub22,ub23,ub31,ub32,ub33";
const char* const kTruthSpotsHeader = "frame,peak,grain,h,k,l,energy_kev";

namespace {

namespace fs = std::filesystem;

constexpr unsigned kBitshuffleFilter = 32008;  // bitshuffle (+LZ4), HDF5 registered filter id

enum class Compression { none, gzip, bitshuffle };

Compression parse_compression(const std::string& name) {
  if (name == "none" || name.empty()) return Compression::none;
  if (name == "gzip" || name == "deflate") return Compression::gzip;
  if (name == "bitshuffle") return Compression::bitshuffle;
  throw UsageError("--compression must be none, gzip or bitshuffle, not '" + name + "'");
}

struct Rendered {
  std::vector<std::uint16_t> pixels;
  std::vector<unsigned char> deflated;  // zlib stream of the whole frame (gzip only)
  std::vector<TruthPeak> truth;
  TruthFrame frame;
  CrystalTruth crystal;  // physical mode
};

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_csv(const std::string& path, const char* header) {
  File f(std::fopen(path.c_str(), "w"));
  if (!f) throw OutputError(path, std::string("cannot create (") + std::strerror(errno) + ")");
  std::fprintf(f.get(), "%s\n", header);
  return f;
}

void close_csv(File& f, const std::string& path) {
  std::FILE* raw = f.release();
  const bool bad = std::ferror(raw) != 0 || std::fflush(raw) != 0;
  const int err = errno;
  if (std::fclose(raw) != 0 || bad)
    throw OutputError(path, std::string("write failed (") + std::strerror(bad ? err : errno) + ")");
}

void write_truth(std::FILE* peaks, std::FILE* frames, const Rendered& r) {
  for (const auto& p : r.truth)
    std::fprintf(peaks, "%lld,%d,%d,%.4f,%.4f,%.2f,%.4f,%.4f,%.3f,%d,%d,%d\n", static_cast<long long>(p.frame), p.peak,
                 p.reflection, p.x, p.y, p.amplitude, p.a, p.b, p.theta_deg, p.n_sub, p.saturated ? 1 : 0,
                 p.isolated ? 1 : 0);
  const TruthFrame& f = r.frame;
  std::fprintf(frames, "%lld,%d,%d,%.4f,%.4f,%s,%d,%d,%.5f,%.4f,%.4f,%.4f,%.5f,%.3f,%.4f\n",
               static_cast<long long>(f.frame), f.ix, f.iy, f.x_um, f.y_um, std::string(to_string(f.scenario)).c_str(),
               f.n_reflections, f.n_peaks, f.se_true, f.split_dx, f.split_dy, f.split_px, f.misorientation_deg,
               f.background_mean, f.noise_sigma);
}

void write_scalar(hid_t file, const std::string& path, hid_t type, const void* value, const std::string& filename) {
  h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Handle ds(H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (!ds.valid() || H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) < 0)
    throw OutputError(filename, "cannot write " + path + " (" + h5::last_error() + ")");
}

h5::Handle open_group(hid_t file, const std::string& path, const std::string& filename) {
  h5::make_groups(file, path, filename);
  hid_t g = H5Gopen2(file, path.c_str(), H5P_DEFAULT);
  if (g < 0) throw OutputError(filename, "cannot open group " + path + " (" + h5::last_error() + ")");
  return h5::Handle(g, H5Gclose);
}

void write_provenance(hid_t object, const SimConfig& config) {
  h5::write_attribute(object, "program", std::string("laueproc simulate"));
  h5::write_attribute(object, "laueproc_version", std::string(laueproc::version()));
  h5::write_attribute(object, "git_commit", std::string(laueproc::git_commit()));
  h5::write_attribute(object, "seed", std::to_string(config.seed));
  for (const auto& [name, value] : describe(config)) h5::write_attribute(object, "sim." + name, value);
}

/// Dataset creation properties: chunk = one frame, optional filter.
h5::Handle frame_dcpl(int rank, const hsize_t* chunk, Compression compression, const std::string& filename) {
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!dcpl.valid() || H5Pset_chunk(dcpl, rank, chunk) < 0)
    throw Error(filename + ": cannot set chunking (" + h5::last_error() + ")");
  if (compression == Compression::gzip && H5Pset_deflate(dcpl, 1) < 0)
    throw Error(filename + ": cannot set gzip compression (" + h5::last_error() + ")");
  if (compression == Compression::bitshuffle) {
    const unsigned cd[2] = {0, 2};  // block size: automatic; 2 = LZ4
    if (H5Pset_filter(dcpl, kBitshuffleFilter, H5Z_FLAG_MANDATORY, 2, cd) < 0)
      throw Error(filename + ": cannot set the bitshuffle filter (" + h5::last_error() + ")");
  }
  return dcpl;
}

void require_bitshuffle() {
  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  if (H5Zfilter_avail(kBitshuffleFilter) <= 0) {
    h5::last_error();
    throw Error(
        "bitshuffle compression needs the HDF5 bitshuffle filter plugin (id 32008; Debian: "
        "hdf5-filter-plugin-bitshuffle-serial, or set HDF5_PLUGIN_PATH)");
  }
}

/// Writes one frame as a chunk: pre-deflated (gzip) or raw (none) straight to the file, or
/// through the filter pipeline (bitshuffle).
void write_frame(hid_t ds, const hsize_t* offset, int rank, const Rendered& r, Compression compression, int width,
                 const std::string& filename) {
  herr_t status;
  if (compression == Compression::gzip) {
    status = H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset, r.deflated.size(), r.deflated.data());
  } else if (compression == Compression::none) {
    status = H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset, r.pixels.size() * sizeof(std::uint16_t), r.pixels.data());
  } else {
    h5::Handle file_space(H5Dget_space(ds), H5Sclose);
    hsize_t count[3] = {1, 1, 1};
    count[rank - 1] = static_cast<hsize_t>(width);
    count[rank - 2] = r.pixels.size() / static_cast<hsize_t>(width);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset, nullptr, count, nullptr);
    h5::Handle mem_space(H5Screate_simple(rank, count, nullptr), H5Sclose);
    status = H5Dwrite(ds, H5T_NATIVE_UINT16, mem_space, file_space, H5P_DEFAULT, r.pixels.data());
  }
  if (status < 0) throw OutputError(filename, "cannot write frame data (" + h5::last_error() + ")");
}

std::string frame_file_name(std::int64_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "scan_%05lld.h5", static_cast<long long>(i));
  return name;
}

/// Per-frame file in the APS 34-ID-E layout.
void write_per_frame_file(const std::string& path, const SimConfig& config, const Rendered& r,
                          Compression compression) {
  h5::Handle file = h5::create(path);
  {
  write_provenance(file, config);
  h5::write_attribute(file, "frame", static_cast<std::int64_t>(r.frame.frame));
  {
    h5::Handle entry = open_group(file, "/entry1", path);
    h5::write_attribute(entry, "NX_class", std::string("NXentry"));
    write_provenance(entry, config);
    h5::Handle data = open_group(file, "/entry1/data", path);
    h5::write_attribute(data, "NX_class", std::string("NXdata"));
    h5::write_attribute(data, "signal", std::string("data"));
    h5::Handle sample = open_group(file, "/entry1/sample", path);
    h5::write_attribute(sample, "NX_class", std::string("NXsample"));
    h5::Handle detector = open_group(file, "/entry1/detector", path);
    h5::write_attribute(detector, "NX_class", std::string("NXdetector"));
  }
  const hsize_t dims[2] = {static_cast<hsize_t>(config.height), static_cast<hsize_t>(config.width)};
  h5::Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
  h5::Handle dcpl = compression == Compression::none ? h5::Handle(H5Pcreate(H5P_DATASET_CREATE), H5Pclose)
                                                      : frame_dcpl(2, dims, compression, path);
  h5::Handle ds(H5Dcreate2(file, "/entry1/data/data", H5T_STD_U16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                H5Dclose);
  if (!ds.valid()) throw OutputError(path, "cannot create /entry1/data/data (" + h5::last_error() + ")");
  if (compression == Compression::none) {
    if (H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, r.pixels.data()) < 0)
      throw OutputError(path, "cannot write /entry1/data/data (" + h5::last_error() + ")");
  } else {
    const hsize_t offset[2] = {0, 0};
    write_frame(ds, offset, 2, r, compression, config.width, path);
  }
  write_scalar(file, "/entry1/sample/sampleX", H5T_NATIVE_DOUBLE, &r.frame.x_um, path);
  write_scalar(file, "/entry1/sample/sampleY", H5T_NATIVE_DOUBLE, &r.frame.y_um, path);
  const std::int32_t det[8] = {config.width, config.height, 0, config.width - 1, 0, config.height - 1, 1, 1};
  const char* names[8] = {"Nx", "Ny", "startx", "endx", "starty", "endy", "binx", "biny"};
  for (int k = 0; k < 8; ++k)
    write_scalar(file, std::string("/entry1/detector/") + names[k], H5T_NATIVE_INT32, &det[k], path);
  }
  h5::close_file(file, path);
}

/// The stack file, open while frames are appended.
struct StackFile {
  h5::Handle file;
  h5::Handle data;
};

StackFile create_stack(const std::string& path, const SimConfig& config, std::int64_t n, Compression compression) {
  StackFile s;
  s.file = h5::create(path);
  write_provenance(s.file, config);
  {
    h5::Handle entry = open_group(s.file, "/entry", path);
    h5::write_attribute(entry, "NX_class", std::string("NXentry"));
    h5::write_attribute(entry, "default", std::string("data"));
    write_provenance(entry, config);
    h5::Handle data = open_group(s.file, "/entry/data", path);
    h5::write_attribute(data, "NX_class", std::string("NXdata"));
    h5::write_attribute(data, "signal", std::string("data"));
    h5::Handle sample = open_group(s.file, "/entry/sample", path);
    h5::write_attribute(sample, "NX_class", std::string("NXsample"));
  }
  const hsize_t dims[3] = {static_cast<hsize_t>(n), static_cast<hsize_t>(config.height),
                           static_cast<hsize_t>(config.width)};
  const hsize_t chunk[3] = {1, dims[1], dims[2]};
  h5::Handle space(H5Screate_simple(3, dims, nullptr), H5Sclose);
  h5::Handle dcpl = frame_dcpl(3, chunk, compression, path);
  s.data = h5::Handle(H5Dcreate2(s.file, "/entry/data/data", H5T_STD_U16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                      H5Dclose);
  if (!s.data.valid()) throw OutputError(path, "cannot create /entry/data/data (" + h5::last_error() + ")");
  h5::write_attribute(s.data, "units", std::string("counts"));
  // Raster positions as in TruthFrame (computed directly: a layout per frame costs ~0.3 ms).
  std::vector<double> xs(static_cast<std::size_t>(n)), ys(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    xs[static_cast<std::size_t>(i)] = static_cast<double>(i % config.grid_nx) * config.step_um;
    ys[static_cast<std::size_t>(i)] = static_cast<double>(i / config.grid_nx) * config.step_um;
  }
  h5::write_vector(s.file, "/entry/sample/x", xs, path);
  h5::write_vector(s.file, "/entry/sample/y", ys, path);
  for (const char* p : {"/entry/sample/x", "/entry/sample/y"}) {
    h5::Handle ds = h5::open_dataset(s.file, p, path);
    h5::write_attribute(ds, "units", std::string("um"));
  }
  return s;
}

/// Refuses a per-frame directory holding HDF5 files this scan would not overwrite: a later
/// `laueproc process DIR` would read them as frames.
void check_frame_dir(const std::string& dir, std::int64_t n) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw UsageError("--out " + dir + " exists and is not a directory (layout files wants a directory)");
  fs::create_directories(dir, ec);
  if (ec) throw OutputError(dir, "cannot create the folder (" + ec.message() + ")");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const std::string ext = entry.path().extension().string();
    if (ext != ".h5" && ext != ".hdf5") continue;
    bool ours = false;
    if (name.size() >= 9 && name.compare(0, 5, "scan_") == 0 && ext == ".h5") {
      const std::string digits = name.substr(5, name.size() - 8);
      ours = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
             digits.size() <= 12 && std::stoll(digits) < n && frame_file_name(std::stoll(digits)) == name;
    }
    if (!ours)
      throw UsageError(dir + " already holds " + name + ", which is not a frame of this scan; use an empty directory");
  }
}

}  // namespace

WrittenScan write_scan(const SimConfig& config, const WriteOptions& options,
                       const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const ScanSimulator sim(config);
  const Compression compression = parse_compression(options.compression);
  if (options.out.empty()) throw UsageError("an output path is needed (--out)");
  if (compression == Compression::bitshuffle) require_bitshuffle();
  h5::init();

  const std::int64_t n = sim.n_frames();
  WrittenScan result;
  result.n_frames = n;
  fs::path truth_dir;
  std::vector<std::string> names = {"truth_peaks.csv", "truth_frames.csv"};  // what the scan writes
  if (options.layout == ScanLayout::stack) {
    const fs::path out(options.out);
    std::error_code ec;
    if (fs::is_directory(out, ec)) throw UsageError("--out " + options.out + " is a directory; layout stack wants a file path");
    truth_dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    names.push_back(out.filename().string());
    result.path = options.out;
  } else {
    check_frame_dir(options.out, n);
    truth_dir = options.out;
    result.path = options.out;
    for (std::int64_t i = 0; i < n; ++i) names.push_back(frame_file_name(i));
  }
  result.truth_peaks_csv = (truth_dir / "truth_peaks.csv").string();
  result.truth_frames_csv = (truth_dir / "truth_frames.csv").string();
  if (config.crystal.enabled) {  // physical mode: orientations, hkl, the detector
    result.truth_grains_csv = (truth_dir / "truth_grains.csv").string();
    result.truth_spots_csv = (truth_dir / "truth_spots.csv").string();
    result.geometry_xml = (truth_dir / "geometry.xml").string();
    for (const char* name : {"truth_grains.csv", "truth_spots.csv", "geometry.xml"}) names.emplace_back(name);
  }
  // Nothing is replaced unless asked, and everything is written in a staging folder first, moved
  // into place only once complete: a failed run leaves no file that looks like part of a scan.
  for (const auto& name : names) output::refuse_existing((truth_dir / name).string(), options.overwrite);
  output::StagingFolder staging(truth_dir.string(), options.overwrite);
  const fs::path tmp(staging.path());
  const std::string stack_tmp = (tmp / fs::path(options.out).filename()).string();
  File peaks_csv = open_csv((tmp / "truth_peaks.csv").string(), kTruthPeaksHeader);
  File frames_csv = open_csv((tmp / "truth_frames.csv").string(), kTruthFramesHeader);
  File grains_csv, spots_csv;
  if (config.crystal.enabled) {
    grains_csv = open_csv((tmp / "truth_grains.csv").string(), kTruthGrainsHeader);
    spots_csv = open_csv((tmp / "truth_spots.csv").string(), kTruthSpotsHeader);
    index::write_laue_go_xml((tmp / "geometry.xml").string(), index::to_laue_go(config.crystal.geometry));
  }

  StackFile stack;
  if (options.layout == ScanLayout::stack) {
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    stack = create_stack(stack_tmp, config, n, compression);
  }

  // Workers render frames in any order but at most `depth` ahead of the writer (memory bound).
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min<int>(threads, static_cast<int>(std::min<std::int64_t>(n, 256))));
  const std::int64_t depth = threads + 2;  // frames rendered ahead of the writer, at most
  std::mutex mutex;
  std::condition_variable ready_cv, space_cv;
  std::map<std::int64_t, std::unique_ptr<Rendered>> ready;
  std::int64_t next = 0, written = 0;
  bool abort = false;
  std::exception_ptr worker_error;

  auto worker = [&] {
    for (;;) {
      std::int64_t i;
      {
        std::unique_lock<std::mutex> lock(mutex);
        space_cv.wait(lock, [&] { return abort || next >= n || next < written + depth; });
        if (abort || next >= n) return;
        i = next++;
      }
      try {
        auto r = std::make_unique<Rendered>();
        sim.render(i, r->pixels, &r->truth);
        r->frame = sim.frame_truth(i);
        if (config.crystal.enabled) r->crystal = sim.crystal_truth(i);
        if (compression == Compression::gzip) {
          const uLong bytes = static_cast<uLong>(r->pixels.size() * sizeof(std::uint16_t));
          uLongf size = compressBound(bytes);
          r->deflated.resize(size);
          if (compress2(r->deflated.data(), &size, reinterpret_cast<const Bytef*>(r->pixels.data()), bytes, 1) != Z_OK)
            throw Error("zlib: cannot compress frame " + std::to_string(i));
          r->deflated.resize(size);
          r->deflated.shrink_to_fit();
        }
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(i, std::move(r));
        ready_cv.notify_all();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!worker_error) worker_error = std::current_exception();
        abort = true;
        ready_cv.notify_all();
        space_cv.notify_all();
        return;
      }
    }
  };

  std::vector<std::thread> pool;
  auto stop_pool = [&] {
    {
      std::lock_guard<std::mutex> lock(mutex);
      abort = true;
    }
    space_cv.notify_all();
    for (auto& t : pool)
      if (t.joinable()) t.join();
  };
  try {
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (std::int64_t i = 0; i < n; ++i) {
      std::unique_ptr<Rendered> r;
      {
        std::unique_lock<std::mutex> lock(mutex);
        ready_cv.wait(lock, [&] { return worker_error || ready.count(i) > 0; });
        if (worker_error) std::rethrow_exception(worker_error);
        r = std::move(ready[i]);
        ready.erase(i);
        written = i + 1;
      }
      space_cv.notify_all();
      {
        std::lock_guard<std::mutex> lock(h5::library_mutex());
        if (options.layout == ScanLayout::stack) {
          const hsize_t offset[3] = {static_cast<hsize_t>(i), 0, 0};
          write_frame(stack.data, offset, 3, *r, compression, config.width, stack_tmp);
        } else {
          write_per_frame_file((tmp / frame_file_name(i)).string(), config, *r, compression);
        }
      }
      write_truth(peaks_csv.get(), frames_csv.get(), *r);
      if (grains_csv) {
        for (const auto& g : r->crystal.grains) {
          std::fprintf(grains_csv.get(), "%lld,%d", static_cast<long long>(i), g.grain);
          for (double v : g.ub_b0.m) std::fprintf(grains_csv.get(), ",%.17g", v);
          std::fprintf(grains_csv.get(), "\n");
        }
        for (const auto& sp : r->crystal.spots)
          std::fprintf(spots_csv.get(), "%lld,%d,%d,%d,%d,%d,%.6f\n", static_cast<long long>(i), sp.peak, sp.grain, sp.h,
                       sp.k, sp.l, sp.energy_kev);
      }
      if (progress) progress(i + 1, n);
    }
  } catch (...) {
    stop_pool();
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    stack.data.reset();
    stack.file.reset();
    throw;
  }
  stop_pool();
  {
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    if (stack.file.valid()) {
      h5::check_write(H5Fflush(stack.file, H5F_SCOPE_GLOBAL), options.out, "cannot write");
      stack.data.close(options.out, "/entry/data/data");
      h5::close_file(stack.file, options.out);
    }
  }
  close_csv(peaks_csv, result.truth_peaks_csv);
  close_csv(frames_csv, result.truth_frames_csv);
  if (grains_csv) {
    close_csv(grains_csv, result.truth_grains_csv);
    close_csv(spots_csv, result.truth_spots_csv);
  }
  staging.commit();
  return result;
}

}  // namespace laueproc::sim
