// The result sink: journal, results HDF5 file, CSVs. See include/laueproc/output.hpp and
// docs/output.md for the layout and the crash/resume design.
#include "laueproc/output.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>

#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "output/chunk_compressor.hpp"
#include "output/journal.hpp"
#include "output/output_guard.hpp"
#include "output/records.hpp"

namespace laueproc {

namespace fs = std::filesystem;
using output::append_csv_frame;
using output::append_csv_peak;

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string run_fingerprint(const RunInfo& info) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64 (Fowler, Noll, Vo)
  auto feed = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // field separator: ("ab","c") and ("a","bc") hash apart
    h *= 1099511628211ull;
  };
  for (const auto& [name, value] : info.settings) {
    feed(name);
    feed(value);
  }
  feed("inputs");
  for (const auto& file : info.input_files) feed(file);
  feed(info.dataset);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

// ---- HDF5 row layouts --------------------------------------------------------------------------
struct PeakRow {
  std::int64_t frame;
  std::int32_t peak;
  double x, y, intensity, peak_value;
  std::int32_t npix;
  double a, b, theta_deg;
  std::int32_t n_maxima;
  std::uint8_t saturated;
  double mxx, myy, mxy;
  std::uint8_t edge;
  double snr;
};

struct FrameRow {
  std::int64_t frame;
  std::int32_t ix, iy;
  double x_um, y_um;
  std::int32_t n_peaks;
  double se, se_median;
  std::int8_t scenario;
  double split_px, misorientation_deg, background, noise;
  char status[ResultSink::kStatusChars];
  std::int32_t n_used;
  double split_dx, split_dy, pair_fraction, stacking_fraction, elongation;
  std::uint8_t has_position;
};

constexpr hsize_t kPeakChunk = 4096;   // rows; ~0.5 MB, within HDF5's default 1 MB chunk cache
constexpr hsize_t kFrameChunk = 1024;
constexpr int kDeflateLevel = 4;

bool deflate_available() { return H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0; }

// HDF5 failures of the writers: an output problem (OutputError, exit 2).
constexpr auto ck = &h5::check_write;
constexpr auto own = &h5::wrap_write;

h5::Handle scenario_enum_type(const std::string& path) {
  h5::Handle t = own(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose, path, "cannot create the scenario type");
  for (std::size_t i = 0; i < kScenarioNames.size(); ++i) {
    auto v = static_cast<std::int8_t>(i);
    std::string name(kScenarioNames[i]);
    ck(H5Tenum_insert(t, name.c_str(), &v), path, "cannot create the scenario type");
  }
  return t;
}

h5::Handle peak_type(const std::string& p) {
  h5::Handle t = own(H5Tcreate(H5T_COMPOUND, sizeof(PeakRow)), H5Tclose, p, "cannot create the peak type");
  auto add = [&](const char* name, std::size_t off, hid_t type) {
    ck(H5Tinsert(t, name, off, type), p, std::string("cannot add field ") + name);
  };
  add("frame", HOFFSET(PeakRow, frame), H5T_NATIVE_INT64);
  add("peak", HOFFSET(PeakRow, peak), H5T_NATIVE_INT32);
  add("x", HOFFSET(PeakRow, x), H5T_NATIVE_DOUBLE);
  add("y", HOFFSET(PeakRow, y), H5T_NATIVE_DOUBLE);
  add("intensity", HOFFSET(PeakRow, intensity), H5T_NATIVE_DOUBLE);
  add("peak_value", HOFFSET(PeakRow, peak_value), H5T_NATIVE_DOUBLE);
  add("npix", HOFFSET(PeakRow, npix), H5T_NATIVE_INT32);
  add("a", HOFFSET(PeakRow, a), H5T_NATIVE_DOUBLE);
  add("b", HOFFSET(PeakRow, b), H5T_NATIVE_DOUBLE);
  add("theta_deg", HOFFSET(PeakRow, theta_deg), H5T_NATIVE_DOUBLE);
  add("n_maxima", HOFFSET(PeakRow, n_maxima), H5T_NATIVE_INT32);
  add("saturated", HOFFSET(PeakRow, saturated), H5T_NATIVE_UINT8);
  add("mxx", HOFFSET(PeakRow, mxx), H5T_NATIVE_DOUBLE);
  add("myy", HOFFSET(PeakRow, myy), H5T_NATIVE_DOUBLE);
  add("mxy", HOFFSET(PeakRow, mxy), H5T_NATIVE_DOUBLE);
  add("edge", HOFFSET(PeakRow, edge), H5T_NATIVE_UINT8);
  add("snr", HOFFSET(PeakRow, snr), H5T_NATIVE_DOUBLE);
  return t;
}

h5::Handle frame_type(const std::string& p) {
  h5::Handle t = own(H5Tcreate(H5T_COMPOUND, sizeof(FrameRow)), H5Tclose, p, "cannot create the frame type");
  h5::Handle scen = scenario_enum_type(p);
  h5::Handle str = own(H5Tcopy(H5T_C_S1), H5Tclose, p, "cannot create the status type");
  ck(H5Tset_size(str, ResultSink::kStatusChars), p, "cannot size the status type");
  ck(H5Tset_strpad(str, H5T_STR_NULLTERM), p, "cannot create the status type");
  ck(H5Tset_cset(str, H5T_CSET_UTF8), p, "cannot create the status type");  // file names in reasons
  auto add = [&](const char* name, std::size_t off, hid_t type) {
    ck(H5Tinsert(t, name, off, type), p, std::string("cannot add field ") + name);
  };
  add("frame", HOFFSET(FrameRow, frame), H5T_NATIVE_INT64);
  add("ix", HOFFSET(FrameRow, ix), H5T_NATIVE_INT32);
  add("iy", HOFFSET(FrameRow, iy), H5T_NATIVE_INT32);
  add("x_um", HOFFSET(FrameRow, x_um), H5T_NATIVE_DOUBLE);
  add("y_um", HOFFSET(FrameRow, y_um), H5T_NATIVE_DOUBLE);
  add("n_peaks", HOFFSET(FrameRow, n_peaks), H5T_NATIVE_INT32);
  add("se", HOFFSET(FrameRow, se), H5T_NATIVE_DOUBLE);
  add("se_median", HOFFSET(FrameRow, se_median), H5T_NATIVE_DOUBLE);
  add("scenario", HOFFSET(FrameRow, scenario), scen);
  add("split_px", HOFFSET(FrameRow, split_px), H5T_NATIVE_DOUBLE);
  add("misorientation_deg", HOFFSET(FrameRow, misorientation_deg), H5T_NATIVE_DOUBLE);
  add("background", HOFFSET(FrameRow, background), H5T_NATIVE_DOUBLE);
  add("noise", HOFFSET(FrameRow, noise), H5T_NATIVE_DOUBLE);
  add("status", HOFFSET(FrameRow, status), str);
  add("n_used", HOFFSET(FrameRow, n_used), H5T_NATIVE_INT32);
  add("split_dx", HOFFSET(FrameRow, split_dx), H5T_NATIVE_DOUBLE);
  add("split_dy", HOFFSET(FrameRow, split_dy), H5T_NATIVE_DOUBLE);
  add("pair_fraction", HOFFSET(FrameRow, pair_fraction), H5T_NATIVE_DOUBLE);
  add("stacking_fraction", HOFFSET(FrameRow, stacking_fraction), H5T_NATIVE_DOUBLE);
  add("elongation", HOFFSET(FrameRow, elongation), H5T_NATIVE_DOUBLE);
  add("has_position", HOFFSET(FrameRow, has_position), H5T_NATIVE_UINT8);
  return t;
}

PeakRow to_row(const Peak& p) {
  PeakRow r{};
  r.frame = p.frame;
  r.peak = p.peak;
  r.x = p.x;
  r.y = p.y;
  r.intensity = p.intensity;
  r.peak_value = p.peak_value;
  r.npix = p.npix;
  r.a = p.a;
  r.b = p.b;
  r.theta_deg = p.theta_deg;
  r.n_maxima = p.n_maxima;
  r.saturated = p.saturated ? 1 : 0;
  r.mxx = p.mxx;
  r.myy = p.myy;
  r.mxy = p.mxy;
  r.edge = p.edge ? 1 : 0;
  r.snr = p.snr;
  return r;
}

FrameRow to_row(const FrameSummary& f) {
  FrameRow r{};  // zeroed: the status field is NUL-padded
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.frame = f.frame;
  r.ix = f.ix;
  r.iy = f.iy;
  r.x_um = f.has_position ? f.x_um : nan;
  r.y_um = f.has_position ? f.y_um : nan;
  r.n_peaks = f.n_peaks;
  r.se = f.se;
  r.se_median = f.se_median;
  r.scenario = static_cast<std::int8_t>(f.scenario);
  r.split_px = f.split_px;
  r.misorientation_deg = f.misorientation_deg;
  r.background = f.background;
  r.noise = f.noise;
  std::memcpy(r.status, f.status.data(), std::min(f.status.size(), sizeof r.status - 1));
  r.n_used = f.n_used;
  r.split_dx = f.split_dx;
  r.split_dy = f.split_dy;
  r.pair_fraction = f.pair_fraction;
  r.stacking_fraction = f.stacking_fraction;
  r.elongation = f.elongation;
  r.has_position = f.has_position ? 1 : 0;
  return r;
}

h5::Handle create_table(hid_t file, const char* name, hid_t mem_type, hsize_t chunk, const std::string& path) {
  h5::Handle file_type = own(H5Tcopy(mem_type), H5Tclose, path, "cannot copy a row type");
  ck(H5Tpack(file_type), path, "cannot pack a row type");  // no padding bytes in the file
  hsize_t dims = 0, maxdims = H5S_UNLIMITED;
  h5::Handle space = own(H5Screate_simple(1, &dims, &maxdims), H5Sclose, path, "cannot create a dataspace");
  h5::Handle dcpl = own(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path, "cannot create a property list");
  ck(H5Pset_chunk(dcpl, 1, &chunk), path, "cannot set the chunk size");
  if (deflate_available()) {  // the order output::shuffle_deflate() follows for /peaks chunks
    ck(H5Pset_shuffle(dcpl), path, "cannot set the shuffle filter");
    ck(H5Pset_deflate(dcpl, kDeflateLevel), path, "cannot set gzip compression");
  }
  return own(H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose, path,
             std::string("cannot create ") + name);
}

template <typename Row>
void append_rows(hid_t ds, hid_t mem_type, hsize_t& n_rows, const std::vector<Row>& rows, const std::string& path,
                 const char* name) {
  if (rows.empty()) return;
  hsize_t count = rows.size(), start = n_rows, total = n_rows + count;
  ck(H5Dset_extent(ds, &total), path, std::string("cannot extend ") + name);
  h5::Handle fspace = own(H5Dget_space(ds), H5Sclose, path, std::string("cannot get the space of ") + name);
  ck(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &count, nullptr), path, "cannot select rows");
  h5::Handle mspace = own(H5Screate_simple(1, &count, nullptr), H5Sclose, path, "cannot create a dataspace");
  ck(H5Dwrite(ds, mem_type, mspace, fspace, H5P_DEFAULT, rows.data()), path, std::string("cannot write ") + name);
  n_rows = total;
}

template <typename T>
void write_2d(hid_t group, const std::string& name, hid_t type, const std::vector<T>& values, int ny, int nx,
              const std::string& path) {
  if (values.size() != static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny))
    throw Error(path + ": map " + name + " has " + std::to_string(values.size()) + " values, expected " +
                std::to_string(nx) + " x " + std::to_string(ny));
  hsize_t dims[2] = {static_cast<hsize_t>(ny), static_cast<hsize_t>(nx)};
  h5::Handle space = own(H5Screate_simple(2, dims, nullptr), H5Sclose, path, "cannot create a dataspace");
  h5::Handle ds = own(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                      path, "cannot create map " + name);
  if (!values.empty())
    ck(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path, "cannot write map " + name);
}

void write_axis(hid_t group, const char* name, const std::vector<double>& values, int n, const std::string& path) {
  if (values.size() != static_cast<std::size_t>(n))
    throw Error(path + ": map axis " + name + " has " + std::to_string(values.size()) + " values, expected " +
                std::to_string(n));
  hsize_t dims = values.size();
  h5::Handle space = own(H5Screate_simple(1, &dims, nullptr), H5Sclose, path, "cannot create a dataspace");
  h5::Handle ds = own(H5Dcreate2(group, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      H5Dclose, path, std::string("cannot create axis ") + name);
  if (!values.empty())
    ck(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path,
       std::string("cannot write axis ") + name);
  h5::write_attribute(ds, "units", std::string("um"));
}

std::FILE* open_file(const std::string& path, const char* mode, const char* what) {
  std::FILE* f = std::fopen(path.c_str(), mode);
  if (!f) throw OutputError(path, std::string("cannot ") + what + " (" + std::strerror(errno) + ")");
  return f;
}

[[noreturn]] void write_failed(const std::string& path) {
  throw OutputError(path, std::string("write failed (") + std::strerror(errno) + ")");
}

void write_all(std::FILE* f, const std::string& data, const std::string& path) {
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f) != data.size()) write_failed(path);
}

// fflush + fsync + fclose, each checked: the last buffered bytes reach the disk here.
void close_checked(std::FILE* f, const std::string& path) {
  if (std::fflush(f) != 0) {
    const int err = errno;
    std::fclose(f);
    errno = err;
    write_failed(path);
  }
  try {
    output::sync_fd(fileno(f), path);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  if (std::fclose(f) != 0) write_failed(path);
}

// Writes `text` to `path` whole: a temporary file renamed onto it once complete.
void write_text_file(const std::string& path, const std::string& text) {
  output::AtomicFile out(path, true);  // the caller decided about an existing file
  std::FILE* f = open_file(out.temp_path(), "wb", "create the file");
  try {
    write_all(f, text, path);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  close_checked(f, path);
  out.commit();
}

void warn(const std::string& message) { std::cerr << "laueproc: warning: " << message << "\n"; }

}  // namespace

// ---- HDF5 state -------------------------------------------------------------------------------
// ---- HDF5 state -------------------------------------------------------------------------------
// /peaks goes to the file in whole chunks, compressed on a thread of its own (ChunkCompressor)
// and stored with H5Dwrite_chunk, the last, partly filled one too (padded), when the table is
// complete (final flush). So each chunk is compressed once, off the writer. Without the deflate
// filter, rows go through H5Dwrite.
struct ResultSink::H5State {
  std::string path;
  h5::Handle peak_mem, frame_mem;
  h5::Handle peak_file;  // the packed row type of /peaks in the file
  h5::Handle file, peaks, frames;
  hsize_t peak_rows = 0, frame_rows = 0;  // peak_rows: in whole chunks, until the final flush
  std::vector<PeakRow> peak_buf;          // the rows after peak_rows
  std::vector<FrameRow> frame_buf;
  std::unique_ptr<output::ChunkCompressor> compressor;  // null without the deflate filter
  std::vector<unsigned char> convert_buf, background_buf;  // rows to the file layout, reused

  void write_chunk(output::ChunkCompressor::Chunk& c) {
    const hsize_t offset = c.offset;
    ck(H5Dwrite_chunk(peaks, H5P_DEFAULT, c.filter_mask, &offset, c.bytes.size(), c.bytes.data()), path,
       "cannot write /peaks");
  }
  // A full chunk of rows in peak_buf: to the compressor (or, without one, through H5Dwrite).
  // The last, partly filled chunk (when the table is complete) goes there too, padded with the
  // fill value (zero bytes) to the whole chunk HDF5 stores at the edge of a dataset: HDF5's own
  // write of it (zlib, on this thread, at the close) cost more than all earlier chunks together
  // on short runs.
  void store_full_chunk(bool last = false) {
    if (!compressor) {
      append_rows(peaks, peak_mem, peak_rows, peak_buf, path, "/peaks");
      peak_buf.clear();
      return;
    }
    const std::size_t n = peak_buf.size(), mem_size = sizeof(PeakRow), file_size = H5Tget_size(peak_file);
    convert_buf.resize(n * std::max(mem_size, file_size));
    background_buf.resize(n * std::max(mem_size, file_size));  // compound conversions need one
    std::memcpy(convert_buf.data(), peak_buf.data(), n * mem_size);
    ck(H5Tconvert(peak_mem, peak_file, n, convert_buf.data(), background_buf.data(), H5P_DEFAULT), path,
       "cannot convert /peaks rows");
    output::ChunkCompressor::Chunk chunk;
    chunk.offset = peak_rows;
    chunk.bytes.assign(convert_buf.begin(), convert_buf.begin() + static_cast<std::ptrdiff_t>(n * file_size));
    if (last) chunk.bytes.resize(kPeakChunk * file_size, 0);
    const hsize_t extent = peak_rows + n;
    ck(H5Dset_extent(peaks, &extent), path, "cannot extend /peaks");
    peak_rows = extent;
    peak_buf.clear();
    compressor->submit(std::move(chunk), [this](output::ChunkCompressor::Chunk& c) { write_chunk(c); });
  }
  // Rows so far to the file. Not final: /frames rows and the chunks compressed by now; final
  // (the table is complete, or the run stops): every chunk, then the partly filled last one.
  void flush_rows(bool final) {
    if (compressor) {
      auto write = [this](output::ChunkCompressor::Chunk& c) { write_chunk(c); };
      if (final && !peak_buf.empty() && peak_rows % kPeakChunk == 0) store_full_chunk(true);
      if (final)
        compressor->drain(write);
      else
        compressor->collect(write);
    }
    if (final || !compressor) {
      append_rows(peaks, peak_mem, peak_rows, peak_buf, path, "/peaks");
      peak_buf.clear();
    }
    append_rows(frames, frame_mem, frame_rows, frame_buf, path, "/frames");
    frame_buf.clear();
  }
};

// ---- journals ----------------------------------------------------------------------------------
struct ResultSink::Journals {
  std::optional<output::JournalWriter> writer;                  // our own journal
  std::vector<std::unique_ptr<output::JournalReader>> readers;  // journals frames are read back from
  int own_reader = -1;  // index of our own journal's reader in `readers`; -1 until one is needed

  output::JournalReader& reader(int source, const std::string& own_path) {
    if (source == kOwnJournal) {
      if (own_reader < 0) {
        readers.push_back(std::make_unique<output::JournalReader>(own_path));
        own_reader = static_cast<int>(readers.size()) - 1;
      }
      source = own_reader;
    }
    return *readers[static_cast<std::size_t>(source)];
  }
  static constexpr int kOwnJournal = -1;
};

// A frame recorded before an earlier one (any-order mode): it waits for the views.
struct ResultSink::HeldFrames {
  struct Frame {
    FrameSummary summary;
    PeakList peaks;      // empty unless in_memory
    bool in_memory = true;
    int source = Journals::kOwnJournal;  // where to read it back otherwise
    std::int64_t offset = -1;
  };
  std::map<std::int64_t, Frame> frames;
  std::size_t bytes = 0;  // peaks held in memory
};

void ResultSink::FileCloser::operator()(std::FILE* f) const noexcept { std::fclose(f); }

ResultSink::ResultSink(SinkOptions options, RunInfo info)
    : options_(std::move(options)), info_(std::move(info)), fingerprint_(run_fingerprint(info_)),
      held_(std::make_unique<HeldFrames>()), journals_(std::make_unique<Journals>()) {
  if (options_.results_h5.empty()) throw UsageError("the results file name is empty");
  if (options_.resume && options_.overwrite) throw UsageError("--resume and --overwrite exclude each other");
  if (!options_.journal && !options_.views) throw UsageError("a result sink needs a journal or views");
  if (options_.frames_total < 0) throw UsageError("frames_total must not be negative");
  journal_path_ = options_.results_h5 + ".journal";
  partial_h5_path_ = options_.results_h5 + ".partial";
  if (!options_.csv_dir.empty() && options_.views) {
    peaks_csv_path_ = (fs::path(options_.csv_dir) / "peaks.csv").string();
    frames_csv_path_ = (fs::path(options_.csv_dir) / "frames.csv").string();
    provenance_path_ = (fs::path(options_.csv_dir) / "provenance.txt").string();
    peaks_partial_path_ = peaks_csv_path_ + ".partial";
  }
  if (options_.frames_total > 0) recorded_.assign(static_cast<std::size_t>(options_.frames_total), false);
  last_flush_ = std::chrono::steady_clock::now();
  {
    std::error_code ec;
    if (fs::is_directory(options_.results_h5, ec))
      throw OutputError(options_.results_h5, "is a folder; give the results file name");
  }
  output::make_parent_folder(options_.results_h5);
  // The lock comes first: a second process on the same results stops here, before it reads,
  // truncates or writes anything (opening the journal to lock it does not change it). A sink
  // without a journal of its own (a merge) locks the same name, so a run and a merge exclude
  // each other too.
  lock_ = std::make_unique<output::OutputLock>(
      journal_path_, options_.results_h5,
      "another laueproc process is writing these results (its journal " + journal_path_ +
          " is locked); wait for it to end, or give another --out");
  struct stat st {};
  const bool existing_journal = ::fstat(lock_->fd(), &st) == 0 && st.st_size > 0;
  const bool have_journal = options_.journal && existing_journal;
  try {
    if (options_.resume && have_journal) {
      resume_from_journal();
    } else {
      if (options_.resume) {
        std::error_code ec;
        if (options_.views && fs::exists(options_.results_h5, ec)) {
          bool complete = false;
          try {
            h5::Handle f = h5::open_read(options_.results_h5);
            h5::Handle root = own(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose, options_.results_h5, "cannot open /");
            if (H5Aexists(root, "complete") > 0) {
              h5::Handle a = own(H5Aopen(root, "complete", H5P_DEFAULT), H5Aclose, options_.results_h5, "complete");
              std::int64_t v = 0;
              complete = H5Aread(a, H5T_NATIVE_INT64, &v) >= 0 && v == 1;
            }
          } catch (const Error&) {
            // unreadable: not a run to resume; it is replaced when this run completes
          }
          if (complete)
            throw OutputError(options_.results_h5,
                              "this run is already complete; nothing to resume (give --overwrite to redo it)");
        }
        if (options_.journal) warn("no journal " + journal_path_ + " to resume; starting from the first frame");
      } else if (!options_.overwrite) {
        // Nothing is replaced unless asked: an earlier run's results, an interrupted run's journal
        // or an unrelated file given as --out by mistake.
        if (existing_journal)
          throw OutputError(journal_path_,
                            "journal of an interrupted run: give --resume to continue it, or --overwrite to start over");
        if (options_.views) {
          output::refuse_existing(options_.results_h5, false,
                                  "give --overwrite to replace it (or --resume to continue an interrupted run)");
          for (const std::string* p : {&peaks_csv_path_, &frames_csv_path_})
            if (!p->empty()) output::refuse_existing(*p, false);
        }
      } else if (existing_journal) {
        warn("starting over: replacing the journal of an interrupted run, " + journal_path_);
      }
      open_fresh();
    }
    adopt_journals();
    std::sort(resumed_.begin(), resumed_.end(),
              [](const FrameSummary& a, const FrameSummary& b) { return a.frame < b.frame; });
    if (options_.views) maybe_flush(true);
  } catch (...) {
    // A fresh start that failed (a CSV folder that cannot be made, a refused output...) leaves
    // nothing behind: no journal a later run would take for an interrupted one, no .partial.
    // A failed resume leaves the journal as it was.
    const bool fresh = journal_started_;
    h5_.reset();
    peaks_csv_.reset();
    journals_.reset();
    std::error_code ec;
    if (fresh) {
      fs::remove(partial_h5_path_, ec);
      if (!peaks_partial_path_.empty()) fs::remove(peaks_partial_path_, ec);
    }
    if (fresh || lock_->created()) lock_->remove_and_release();
    throw;
  }
}

ResultSink::~ResultSink() {
  if (!finished_) close_outputs();
}

output::JournalHead ResultSink::journal_head(const std::string& started_utc) const {
  output::JournalHead head;
  head.fingerprint = fingerprint_;
  head.started_utc = started_utc;
  head.info = info_;
  head.has_info = true;
  head.frames_total = options_.frames_total;
  head.csv_dir = options_.csv_dir;
  return head;
}

void ResultSink::create_results(const std::string& started_utc, const std::string& resumed_utc) {
  const std::string& path = partial_h5_path_;
  auto st = std::make_unique<H5State>();
  st->path = path;
  st->peak_mem = peak_type(path);
  st->frame_mem = frame_type(path);
  st->file = h5::create(path);
  h5::Handle root = own(H5Gopen2(st->file, "/", H5P_DEFAULT), H5Gclose, path, "cannot open /");
  auto attr = [&](const std::string& name, const std::string& value) { h5::write_attribute(root, name, value); };
  attr("NX_class", "NXroot");
  attr("program", "laueproc");
  attr("version", info_.program_version);
  attr("git_commit", info_.git_commit);
  attr("command_line", info_.command_line);
  attr("started_utc", started_utc);
  if (!resumed_utc.empty()) attr("resumed_utc", resumed_utc);
  attr("backend", info_.backend);
  h5::write_attribute(root, "threads", static_cast<std::int64_t>(info_.threads));
  attr("dataset", info_.dataset);
  if (!info_.run_mode.empty()) attr("run_mode", info_.run_mode);
  std::string inputs;
  for (const auto& f : info_.input_files) inputs += (inputs.empty() ? "" : "\n") + f;
  attr("input_files", inputs);
  h5::write_attribute(root, "n_input_files", static_cast<std::int64_t>(info_.input_files.size()));
  attr("run_fingerprint", fingerprint_);
  for (const auto& [name, value] : info_.settings) attr("settings." + name, value);
  h5::write_attribute(root, "complete", std::int64_t{0});
  st->peaks = create_table(st->file, "/peaks", st->peak_mem, kPeakChunk, path);
  st->frames = create_table(st->file, "/frames", st->frame_mem, kFrameChunk, path);
  st->peak_buf.reserve(kPeakChunk);
  st->peak_file = own(H5Tcopy(st->peak_mem), H5Tclose, path, "cannot copy a row type");
  ck(H5Tpack(st->peak_file), path, "cannot pack a row type");
  if (deflate_available())
    st->compressor = std::make_unique<output::ChunkCompressor>(H5Tget_size(st->peak_file), kDeflateLevel);
  h5_ = std::move(st);

  if (!options_.csv_dir.empty()) {
    output::make_folder(options_.csv_dir);
    peaks_csv_.reset(open_file(peaks_partial_path_, "wb", "create the CSV file"));
    std::setvbuf(peaks_csv_.get(), nullptr, _IOFBF, 1 << 20);
    write_all(peaks_csv_.get(), std::string(output::kPeaksCsvHeader), peaks_partial_path_);
  }
}


void ResultSink::open_fresh() {
  journal_started_ = true;  // from here on, a failure removes what this sink started
  if (options_.journal)  // under the lock
    journals_->writer.emplace(output::JournalWriter::create(journal_path_, journal_head(info_.started_utc)));
  if (options_.views) create_results(info_.started_utc, "");
}

bool ResultSink::acceptable(const FrameSummary& frame) const {
  if (options_.frames_total > 0)
    return frame.frame >= 0 && frame.frame < options_.frames_total && !recorded_[static_cast<std::size_t>(frame.frame)];
  return frame.frame > last_recorded_;
}

void ResultSink::resume_from_journal() {
  auto reader = std::make_unique<output::JournalReader>(journal_path_);
  if (!reader->empty() && reader->head().fingerprint != fingerprint_)
    throw OutputError(journal_path_, "journal of a different run (settings or input files differ: fingerprint " +
                                         reader->head().fingerprint + ", this run " + fingerprint_ +
                                         "); give --overwrite to start over");
  const std::string started = reader->head().started_utc.empty() ? info_.started_utc : reader->head().started_utc;
  if (options_.views) create_results(started, info_.started_utc);
  journals_->readers.push_back(std::move(reader));
  journals_->own_reader = static_cast<int>(journals_->readers.size()) - 1;
  output::JournalReader& in = *journals_->readers.back();

  FrameSummary f;
  PeakList peaks;
  std::int64_t offset = 0, n_read = 0, last_frame = -1;
  std::string damage;
  while (in.next(f, peaks, offset)) {
    if (!acceptable(f)) {  // a frame number out of place: damage, treated like a torn line
      damage = "frame " + std::to_string(f.frame) + " out of place";
      break;
    }
    resumed_.push_back(f);
    resumed_peaks_ += static_cast<std::int64_t>(peaks.size());
    last_frame = f.frame;
    ++n_read;
    record(std::move(f), peaks, Journals::kOwnJournal, offset);
  }
  if (damage.empty()) damage = in.damage();
  if (!damage.empty())
    warn("dropped the end of " + journal_path_ + " from " + damage + " on, after " +
         (n_read == 0 ? std::string("its header") : "frame " + std::to_string(last_frame)) +
         "; later frames are processed again");

  // The interrupted run wrote its CSV elsewhere (or this run writes none): its partial peaks.csv
  // would be left stale beside no frames.csv; it is removed.
  const std::string journal_csv = in.head().csv_dir;
  if (!journal_csv.empty() && journal_csv != options_.csv_dir) {
    const std::string stale = (fs::path(journal_csv) / "peaks.csv.partial").string();
    std::error_code ec;
    if (fs::remove(stale, ec))
      warn("removed " + stale + ", the partial CSV of the interrupted run (this run writes " +
           (options_.csv_dir.empty() ? std::string("no CSV") : "its CSV to " + options_.csv_dir) + ")");
  }
  // Cut the journal after its last complete frame, then append. A journal without frames
  // (killed at once) is written anew, so its header and info lines are whole.
  if (in.empty() || n_read == 0) {
    journals_->writer.emplace(output::JournalWriter::create(journal_path_, journal_head(started)));
  } else {
    journals_->writer.emplace(output::JournalWriter::append(journal_path_, in.good_size()));
    if (journal_csv != options_.csv_dir) journals_->writer->write_csv_folder(options_.csv_dir);
  }
}

void ResultSink::adopt_journals() {
  for (const std::string& path : options_.adopt) {
    auto reader = std::make_unique<output::JournalReader>(path);
    if (reader->empty()) continue;  // killed before its header: holds no frame
    if (reader->head().fingerprint != fingerprint_)
      throw OutputError(path, "journal of a different run (settings or input files differ: fingerprint " +
                                  reader->head().fingerprint + ", this run " + fingerprint_ + ")");
    journals_->readers.push_back(std::move(reader));
    const int source = static_cast<int>(journals_->readers.size()) - 1;
    output::JournalReader& in = *journals_->readers.back();
    FrameSummary f;
    PeakList peaks;
    std::int64_t offset = 0, last_frame = -1;
    while (in.next(f, peaks, offset)) {
      if (!acceptable(f))
        throw OutputError(path, "frame " + std::to_string(f.frame) +
                                    (options_.frames_total > 0 && (f.frame < 0 || f.frame >= options_.frames_total)
                                         ? " lies outside the scan's " + std::to_string(options_.frames_total) + " frames"
                                         : " is recorded in another journal too"));
      resumed_.push_back(f);
      resumed_peaks_ += static_cast<std::int64_t>(peaks.size());
      last_frame = f.frame;
      record(std::move(f), peaks, source, offset);
    }
    if (!in.damage().empty())
      warn("dropped the end of " + path + " from " + in.damage() + " on, after " +
           (last_frame < 0 ? std::string("its header") : "frame " + std::to_string(last_frame)));
  }
}


void ResultSink::record(FrameSummary frame, const PeakList& peaks, int source, std::int64_t offset) {
  ++recorded_count_;
  if (options_.frames_total > 0) {
    recorded_[static_cast<std::size_t>(frame.frame)] = true;
  } else {
    last_recorded_ = frame.frame;
    append_outputs(frame, peaks);  // increasing mode: straight to the views
    return;
  }
  if (frame.frame != next_view_) {  // an earlier frame is still missing: wait for it
    HeldFrames::Frame held;
    const std::size_t bytes = peaks.size() * sizeof(Peak);
    // Peaks stay in memory within the budget, or when there is no journal to read them back from.
    held.in_memory = options_.views && (held_->bytes + bytes <= options_.held_bytes || offset < 0);
    if (held.in_memory) {
      held.peaks = peaks;
      held_->bytes += bytes;
    }
    held.source = source;
    held.offset = offset;
    const std::int64_t key = frame.frame;
    held.summary = std::move(frame);
    held_->frames.emplace(key, std::move(held));
    return;
  }
  append_outputs(frame, peaks);
  ++next_view_;
  // The frames that waited for this one follow it into the views.
  PeakList read_back;
  FrameSummary ignored;
  for (auto it = held_->frames.begin(); it != held_->frames.end() && it->first == next_view_;
       it = held_->frames.erase(it), ++next_view_) {
    HeldFrames::Frame& h = it->second;
    if (h.in_memory) {
      append_outputs(h.summary, h.peaks);
      held_->bytes -= h.peaks.size() * sizeof(Peak);
    } else if (options_.views) {
      journals_->reader(h.source, journal_path_).read_at(h.offset, ignored, read_back);
      append_outputs(h.summary, read_back);
    } else {
      append_outputs(h.summary, {});
    }
  }
}

void ResultSink::append_outputs(const FrameSummary& frame, const PeakList& peaks) {
  if (options_.views) {
    for (const Peak& p : peaks) {
      h5_->peak_buf.push_back(to_row(p));
      if (h5_->peak_buf.size() >= kPeakChunk) h5_->store_full_chunk();
    }
    h5_->frame_buf.push_back(to_row(frame));
    if (peaks_csv_) {
      line_.clear();
      for (const Peak& p : peaks) append_csv_peak(line_, p);
      write_all(peaks_csv_.get(), line_, peaks_partial_path_);
    }
  }
  frames_.push_back(frame);
  peak_count_ += static_cast<std::int64_t>(peaks.size());
}

void ResultSink::maybe_flush(bool force) {
  if (!options_.views) return;  // the journal flushes itself per frame
  ++frames_since_flush_;
  auto now = std::chrono::steady_clock::now();
  if (!force && frames_since_flush_ < kFlushFrames &&
      std::chrono::duration<double>(now - last_flush_).count() < kFlushSeconds)
    return;
  h5_->flush_rows(false);
  ck(H5Fflush(h5_->file, H5F_SCOPE_GLOBAL), h5_->path, "cannot write");
  if (peaks_csv_ && std::fflush(peaks_csv_.get()) != 0) write_failed(peaks_partial_path_);
  frames_since_flush_ = 0;
  last_flush_ = now;
}

void ResultSink::check_frame(const FrameSummary& frame, const PeakList& peaks) {
  if (finished_) throw Error(options_.results_h5 + ": add() after finish()");
  if (options_.frames_total > 0) {
    if (frame.frame < 0 || frame.frame >= options_.frames_total)
      throw Error(options_.results_h5 + ": frame " + std::to_string(frame.frame) + " lies outside the scan's " +
                  std::to_string(options_.frames_total) + " frames");
    if (recorded_[static_cast<std::size_t>(frame.frame)])
      throw Error(options_.results_h5 + ": frame " + std::to_string(frame.frame) + " added twice");
  } else if (frame.frame <= last_recorded_) {
    throw Error(options_.results_h5 + ": frame " + std::to_string(frame.frame) + " added after frame " +
                std::to_string(last_recorded_) + " (frames must come in increasing order)");
  }
  for (const Peak& p : peaks)
    if (p.frame != frame.frame)
      throw Error(options_.results_h5 + ": a peak of frame " + std::to_string(p.frame) + " given with frame " +
                  std::to_string(frame.frame));
}

void ResultSink::add(const FrameSummary& frame_in, const PeakList& peaks) {
  check_frame(frame_in, peaks);
  FrameSummary frame = frame_in;
  frame.status = output::sanitize_status(std::move(frame.status));
  // The journal first: once its F line is flushed the frame survives a kill.
  const std::int64_t offset = journals_->writer ? journals_->writer->write(frame, peaks) : -1;
  record(std::move(frame), peaks, Journals::kOwnJournal, offset);
  maybe_flush(false);
}


std::string ResultSink::provenance_text() const {
  std::string p = "# laueproc process: how peaks.csv and frames.csv were made (same as the root attributes of " +
                  options_.results_h5 + ")\n";
  p += "version: " + info_.program_version + "\ngit_commit: " + info_.git_commit + "\ncommand_line: " +
       info_.command_line + "\nstarted_utc: " + info_.started_utc + "\nbackend: " + info_.backend +
       "\ndataset: " + info_.dataset + "\n";
  for (const auto& [name, value] : info_.settings) p += "settings." + name + ": " + value + "\n";
  for (const auto& f : info_.input_files) p += "input_file: " + f + "\n";
  return p;
}

void ResultSink::finish(const ScanMaps& maps) {
  std::vector<FrameSummary> frames = frames_;
  for (FrameSummary& f : frames) {
    if (f.ix >= 0 && f.iy >= 0) continue;
    if (f.has_position && !maps.x_um.empty() && !maps.y_um.empty()) {
      auto nearest = [](const std::vector<double>& axis, double v) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < axis.size(); ++i)
          if (std::abs(axis[i] - v) < std::abs(axis[best] - v)) best = i;
        return static_cast<int>(best);
      };
      f.ix = nearest(maps.x_um, f.x_um);
      f.iy = nearest(maps.y_um, f.y_um);
    } else if (maps.nx > 0 && f.frame >= 0 && f.frame < static_cast<std::int64_t>(maps.nx) * maps.ny) {
      f.ix = static_cast<int>(f.frame % maps.nx);
      f.iy = static_cast<int>(f.frame / maps.nx);
    }
  }
  finish(maps, frames);
}

void ResultSink::finish(const ScanMaps& maps, const std::vector<FrameSummary>& frames) {
  if (finished_) throw Error(options_.results_h5 + ": finish() called twice");
  if (!options_.views) throw Error(options_.results_h5 + ": finish() on a sink that writes the journal only");
  if (!held_->frames.empty())
    throw Error(options_.results_h5 + ": frame " + std::to_string(next_view_) + " is missing (frame " +
                std::to_string(held_->frames.begin()->first) + " and " + std::to_string(held_->frames.size() - 1) +
                " more wait for it); the run is incomplete");
  if (frames.size() != frames_.size())
    throw Error(options_.results_h5 + ": finish() got " + std::to_string(frames.size()) + " frames, the sink holds " +
                std::to_string(frames_.size()));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].frame != frames_[i].frame)
      throw Error(options_.results_h5 + ": finish() got frame " + std::to_string(frames[i].frame) + " where frame " +
                  std::to_string(frames_[i].frame) + " was added");
    frames_[i].ix = frames[i].ix;
    frames_[i].iy = frames[i].iy;
  }
  const std::string& path = h5_->path;
  hid_t file = h5_->file;

  // /frames again, whole, now that ix/iy are known.
  h5_->flush_rows(true);
  if (!frames_.empty()) {
    std::vector<FrameRow> rows;
    rows.reserve(frames_.size());
    for (const FrameSummary& f : frames_) rows.push_back(to_row(f));
    ck(H5Dwrite(h5_->frames, h5_->frame_mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), path,
       "cannot rewrite /frames");
  }

  {
    // /maps: one NXdata per quantity so that silx/NeXus viewers show each as an image.
    h5::Handle entry = own(H5Gcreate2(file, "/maps", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, path,
                           "cannot create /maps");
    h5::write_attribute(entry, "NX_class", std::string("NXentry"));
    h5::write_attribute(entry, "default", std::string("se"));
    h5::write_attribute(entry, "nx", static_cast<std::int64_t>(maps.nx));
    h5::write_attribute(entry, "ny", static_cast<std::int64_t>(maps.ny));
    auto nxdata = [&](const std::string& name) {
      h5::Handle g = own(H5Gcreate2(entry, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, path,
                         "cannot create /maps/" + name);
      h5::write_attribute(g, "NX_class", std::string("NXdata"));
      h5::write_attribute(g, "signal", name);
      h5::write_string_array_attribute(g, "axes", {"y_um", "x_um"}, path);
      h5::write_attribute(g, "y_um_indices", std::int64_t{0});
      h5::write_attribute(g, "x_um_indices", std::int64_t{1});
      write_axis(g, "x_um", maps.x_um, maps.nx, path);
      write_axis(g, "y_um", maps.y_um, maps.ny, path);
      return g;
    };
    for (auto [name, values] : {std::pair<const char*, const std::vector<float>*>{"se", &maps.se},
                                {"se_median", &maps.se_median},
                                {"n_peaks", &maps.n_peaks},
                                {"background", &maps.background},
                                {"noise", &maps.noise}}) {
      h5::Handle g = nxdata(name);
      write_2d(g, name, H5T_NATIVE_FLOAT, *values, maps.ny, maps.nx, path);
    }
    {
      h5::Handle g = nxdata("scenario");
      write_2d(g, "scenario", H5T_NATIVE_INT8, maps.scenario, maps.ny, maps.nx, path);
      h5::Handle ds = own(H5Dopen2(g, "scenario", H5P_DEFAULT), H5Dclose, path, "cannot open /maps/scenario");
      std::vector<std::string> names(kScenarioNames.begin(), kScenarioNames.end());
      h5::write_string_array_attribute(ds, "scenario_names", names, path);
      std::string legend;
      for (std::size_t i = 0; i < names.size(); ++i) legend += (i ? "," : "") + std::to_string(i) + "=" + names[i];
      h5::write_attribute(ds, "description", "scenario code per raster point: " + legend + "; -1 = no frame");
    }

    h5::Handle root = own(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, path, "cannot open /");
    h5::write_attribute(root, "default", std::string("maps"));
    h5::write_attribute(root, "finished_utc", utc_timestamp());
    h5::write_attribute(root, "n_frames", static_cast<std::int64_t>(frames_.size()));
    h5::write_attribute(root, "n_peaks", peak_count_);
    h5::write_attribute(root, "complete", std::int64_t{1});
  }
  // Flush while the tables are open (their chunk caches are written here, checked), then close
  // everything, the file last and checked: a full disk shows here, not in a destructor.
  ck(H5Fflush(file, H5F_SCOPE_GLOBAL), path, "cannot write");
  h5_->peaks.close(path, "/peaks");
  h5_->frames.close(path, "/frames");
  h5_->peak_mem.reset();
  h5_->frame_mem.reset();
  h5_->peak_file.reset();
  h5::close_file(h5_->file, path);
  h5_.reset();

  // The CSVs, complete, under temporary names; then every output moves onto its final name.
  if (peaks_csv_) close_checked(peaks_csv_.release(), peaks_partial_path_);
  if (!frames_csv_path_.empty()) {
    std::string text(output::kFramesCsvHeader);
    for (const FrameSummary& f : frames_) append_csv_frame(text, f);
    write_text_file(frames_csv_path_, text);
    // CSV files cannot carry attributes: the provenance the results file holds goes beside them.
    write_text_file(provenance_path_, provenance_text());
    output::rename_file(peaks_partial_path_, peaks_csv_path_, true);
  }
  // The data reaches the disk before the new names, the names before the journal goes: a power
  // loss at any point leaves either the journal (resume) or complete results, never neither.
  output::sync_file(partial_h5_path_, options_.results_h5);
  output::rename_file(partial_h5_path_, options_.results_h5, true);
  const std::string results_folder = fs::path(options_.results_h5).parent_path().string();
  output::sync_folder(results_folder);
  if (!frames_csv_path_.empty()) {  // peaks.csv's rename, unless that folder was just synced
    const std::string csv_folder = fs::path(peaks_csv_path_).parent_path().string();
    if (csv_folder != results_folder) output::sync_folder(csv_folder);
  }
  // Last, the journal: until it is gone an interruption above is resumed (and redone) in full.
  // (A merge's lock file goes too; the adopted journals are the caller's to remove.)
  journals_.reset();  // about to be removed: its last bytes need not reach the disk
  lock_->remove_and_release();
  finished_ = true;
}

void ResultSink::close_outputs() noexcept {
  try {
    if (h5_) {
      h5_->flush_rows(true);
      H5Fflush(h5_->file, H5F_SCOPE_GLOBAL);
    }
  } catch (...) {
    // the journal holds every frame anyway; --resume rebuilds the outputs
  }
  h5_.reset();  // results.h5.partial stays: complete = 0, a view of the journal
  peaks_csv_.reset();
  journals_.reset();
  lock_.reset();  // releases the lock; the journal stays for --resume
}

}  // namespace laueproc
