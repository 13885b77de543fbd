// Tests of the result sink: HDF5 layout read back with HDF5 C calls, CSV text, journal,
// kill + --resume giving outputs identical to an uninterrupted run, and error messages.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "laueproc/output.hpp"
#include "output/chunk_compressor.hpp"
#include "output/journal.hpp"
#include "output/records.hpp"

namespace fs = std::filesystem;
using namespace laueproc;

namespace {

constexpr int kFrames = 20, kNx = 5, kNy = 4;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "laueproc_output_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

RunInfo make_info(double k_high = 6.0) {
  RunInfo info;
  info.program_version = "0.1.0";
  info.git_commit = "abc1234";
  info.command_line = "laueproc process in.h5 -o out.h5";
  info.started_utc = "2026-01-31T12:00:00Z";
  info.backend = "cpu";
  info.threads = 2;
  info.input_files = {"/data/scan_0001.h5", "/data/scan_0002.h5"};
  info.dataset = "/entry1/data/data";
  std::ostringstream k;
  k << k_high;
  info.settings = {{"threshold.k_high", k.str()}, {"background.method", "block_percentile"}};
  return info;
}

// Frame 5 failed (no peaks); others have (frame % 4) peaks with values that need 17 digits.
bool failed(int i) { return i == 5; }

FrameSummary make_frame(int i) {
  FrameSummary f;
  f.frame = i;
  f.has_position = i != 11;  // one frame without a position
  f.x_um = (i % kNx) * 2.0 + 0.001 * i;
  f.y_um = (i / kNx) * 3.0 - 0.1;
  f.n_peaks = failed(i) ? 0 : i % 4;
  f.n_used = f.n_peaks / 2;
  f.se = failed(i) ? kNaN : 1.0 / 3.0 + i;
  f.se_median = failed(i) ? kNaN : 0.1 * i;
  f.scenario = failed(i) ? Scenario::unknown : static_cast<Scenario>(i % 5);
  f.split_px = i * 0.7;
  f.split_dx = -i * 0.3;
  f.split_dy = 1e-300 * i;
  f.misorientation_deg = i * 0.7 * 0.02;
  f.pair_fraction = i / 20.0;
  f.stacking_fraction = 1.0 / (i + 1);
  f.elongation = std::sqrt(static_cast<double>(i));
  f.background = 100.0 + i;
  f.noise = failed(i) ? kNaN : 3.25;
  if (failed(i)) f.status = "read error: truncated, \"bad\" file";
  return f;
}

PeakList make_peaks(int i) {
  PeakList peaks;
  if (failed(i)) return peaks;
  for (int k = 0; k < i % 4; ++k) {
    Peak p;
    p.frame = i;
    p.peak = k;
    p.x = 10.123456789 * k + i / 3.0;
    p.y = 200.0 - i / 7.0;
    p.intensity = 1234.5 * (k + 1);
    p.peak_value = 99.0 + k;
    p.npix = 9 + k;
    p.mxx = 2.25;
    p.myy = 1.0 / 9.0;
    p.mxy = -0.5;
    p.a = 3.0;
    p.b = 2.0 / 3.0;
    p.theta_deg = -89.999;
    p.n_maxima = 1 + k;
    p.saturated = k == 1;
    p.edge = k == 2;
    p.snr = 33.0;
    peaks.push_back(p);
  }
  return peaks;
}

std::int64_t total_peaks() {
  std::int64_t n = 0;
  for (int i = 0; i < kFrames; ++i) n += static_cast<std::int64_t>(make_peaks(i).size());
  return n;
}

ScanMaps make_maps() {
  ScanMaps m;
  m.nx = kNx;
  m.ny = kNy;
  for (int x = 0; x < kNx; ++x) m.x_um.push_back(2.0 * x);
  for (int y = 0; y < kNy; ++y) m.y_um.push_back(3.0 * y);
  for (int i = 0; i < kNx * kNy; ++i) {
    m.se.push_back(static_cast<float>(i) * 0.5f);
    m.se_median.push_back(static_cast<float>(i));
    m.n_peaks.push_back(static_cast<float>(i % 4));
    m.background.push_back(100.0f + static_cast<float>(i));
    m.noise.push_back(3.25f);
    m.scenario.push_back(static_cast<std::int8_t>(i % 6 == 5 ? -1 : i % 5));
  }
  return m;
}

std::vector<FrameSummary> with_grid(const std::vector<FrameSummary>& frames) {
  std::vector<FrameSummary> out = frames;
  for (auto& f : out) {
    f.ix = static_cast<int>(f.frame % kNx);
    f.iy = static_cast<int>(f.frame / kNx);
  }
  return out;
}

SinkOptions options_in(const TempDir& dir, bool resume = false) {
  return SinkOptions{dir / "out/results.h5", dir / "csv", resume};
}

void add_frames(ResultSink& sink, int from, int to) {
  for (int i = from; i < to; ++i) sink.add(make_frame(i), make_peaks(i));
}

void finish(ResultSink& sink) { sink.finish(make_maps(), with_grid(sink.frames())); }

void full_run(const TempDir& dir) {
  ResultSink sink(options_in(dir), make_info());
  add_frames(sink, 0, kFrames);
  finish(sink);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// ---- HDF5 read-back helpers -------------------------------------------------------------------
struct Raw {
  hsize_t rows = 0;
  std::size_t row_size = 0;
  std::vector<unsigned char> bytes;
};

Raw read_raw(hid_t file, const char* name) {
  Raw r;
  h5::Handle ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  EXPECT_TRUE(ds.valid()) << name;
  if (!ds.valid()) return r;
  h5::Handle type(H5Dget_type(ds), H5Tclose);
  h5::Handle space(H5Dget_space(ds), H5Sclose);
  r.rows = static_cast<hsize_t>(H5Sget_simple_extent_npoints(space));
  r.row_size = H5Tget_size(type);
  r.bytes.assign(r.rows * r.row_size, 0);
  if (r.rows > 0) EXPECT_GE(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, r.bytes.data()), 0);
  return r;
}

std::vector<std::string> member_names(hid_t file, const char* name) {
  h5::Handle ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  h5::Handle type(H5Dget_type(ds), H5Tclose);
  std::vector<std::string> names;
  int n = H5Tget_nmembers(type);
  for (int i = 0; i < n; ++i) {
    char* s = H5Tget_member_name(type, static_cast<unsigned>(i));
    names.emplace_back(s);
    H5free_memory(s);
  }
  return names;
}

// One numeric field of a compound table, read through a one-member memory type.
template <typename T>
std::vector<T> read_field(hid_t file, const char* table, const char* field, hid_t mem) {
  h5::Handle ds(H5Dopen2(file, table, H5P_DEFAULT), H5Dclose);
  h5::Handle space(H5Dget_space(ds), H5Sclose);
  std::vector<T> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  h5::Handle type(H5Tcreate(H5T_COMPOUND, sizeof(T)), H5Tclose);
  H5Tinsert(type, field, 0, mem);
  if (!v.empty()) EXPECT_GE(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0) << field;
  return v;
}

std::int64_t int_attr(hid_t obj, const char* name) {
  std::int64_t v = -999;
  if (H5Aexists(obj, name) <= 0) return v;
  h5::Handle a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  H5Aread(a, H5T_NATIVE_INT64, &v);
  return v;
}

std::vector<hsize_t> dims_of(hid_t file, const char* name) {
  h5::Handle ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) return {};
  h5::Handle space(H5Dget_space(ds), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return d;
}

template <typename T>
std::vector<T> read_all(hid_t file, const char* name, hid_t mem) {
  h5::Handle ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  h5::Handle space(H5Dget_space(ds), H5Sclose);
  std::vector<T> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  if (!v.empty()) EXPECT_GE(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0) << name;
  return v;
}

// Asserts that two results files hold equal datasets (byte for byte) and equal settings.
void expect_same_results(const std::string& a_path, const std::string& b_path) {
  h5::Handle a = h5::open_read(a_path), b = h5::open_read(b_path);
  for (const char* name : {"/peaks", "/frames"}) {
    Raw ra = read_raw(a, name), rb = read_raw(b, name);
    EXPECT_EQ(ra.rows, rb.rows) << name;
    EXPECT_EQ(ra.row_size, rb.row_size) << name;
    EXPECT_TRUE(ra.bytes == rb.bytes) << name << " differs";
  }
  for (const char* name : {"/maps/se/se", "/maps/noise/noise", "/maps/se/x_um", "/maps/scenario/scenario"}) {
    Raw ra = read_raw(a, name), rb = read_raw(b, name);
    EXPECT_TRUE(ra.bytes == rb.bytes) << name << " differs";
  }
  h5::Handle ra(H5Gopen2(a, "/", H5P_DEFAULT), H5Gclose), rb(H5Gopen2(b, "/", H5P_DEFAULT), H5Gclose);
  EXPECT_EQ(int_attr(ra, "complete"), 1);
  EXPECT_EQ(int_attr(rb, "complete"), 1);
  for (const char* name : {"settings.threshold.k_high", "run_fingerprint", "input_files", "started_utc"})
    EXPECT_EQ(h5::read_string_attribute(ra, name), h5::read_string_attribute(rb, name)) << name;
}

void expect_same_csv(const TempDir& a, const TempDir& b) {
  for (const char* name : {"csv/peaks.csv", "csv/frames.csv"}) {
    std::string ta = slurp(a / name), tb = slurp(b / name);
    EXPECT_FALSE(ta.empty()) << name;
    EXPECT_EQ(ta, tb) << name;
  }
}

}  // namespace

// ---- a complete run ----------------------------------------------------------------------------

TEST(ResultSink, WritesTheResultsFileLayout) {
  TempDir dir;
  full_run(dir);
  const std::string path = dir / "out/results.h5";
  EXPECT_FALSE(fs::exists(path + ".journal")) << "finish() removes the journal";
  h5::Handle file = h5::open_read(path);

  EXPECT_EQ(member_names(file, "/peaks"),
            (std::vector<std::string>{"frame", "peak", "x", "y", "intensity", "peak_value", "npix", "a", "b",
                                      "theta_deg", "n_maxima", "saturated", "mxx", "myy", "mxy", "edge", "snr"}));
  std::vector<std::string> frame_fields = member_names(file, "/frames");
  std::vector<std::string> expected_frames = {"frame", "ix", "iy", "x_um", "y_um", "n_peaks", "se", "se_median",
                                              "scenario", "split_px", "misorientation_deg", "background", "noise",
                                              "status"};
  ASSERT_GE(frame_fields.size(), expected_frames.size());
  EXPECT_EQ(std::vector<std::string>(frame_fields.begin(), frame_fields.begin() + 14), expected_frames);
  for (const char* extra : {"n_used", "split_dx", "split_dy", "pair_fraction", "stacking_fraction", "elongation"})
    EXPECT_NE(std::find(frame_fields.begin(), frame_fields.end(), extra), frame_fields.end()) << extra;

  // Peak values, exactly.
  auto px = read_field<double>(file, "/peaks", "x", H5T_NATIVE_DOUBLE);
  auto pframe = read_field<std::int64_t>(file, "/peaks", "frame", H5T_NATIVE_INT64);
  auto psat = read_field<std::uint8_t>(file, "/peaks", "saturated", H5T_NATIVE_UINT8);
  ASSERT_EQ(static_cast<std::int64_t>(px.size()), total_peaks());
  std::size_t row = 0;
  for (int i = 0; i < kFrames; ++i)
    for (const Peak& p : make_peaks(i)) {
      EXPECT_EQ(pframe[row], p.frame);
      EXPECT_EQ(px[row], p.x);
      EXPECT_EQ(psat[row], p.saturated ? 1 : 0);
      ++row;
    }

  // Frames: ix/iy rewritten at finish, NaN kept, enum scenario, status text.
  auto ix = read_field<std::int32_t>(file, "/frames", "ix", H5T_NATIVE_INT32);
  auto iy = read_field<std::int32_t>(file, "/frames", "iy", H5T_NATIVE_INT32);
  auto se = read_field<double>(file, "/frames", "se", H5T_NATIVE_DOUBLE);
  auto xum = read_field<double>(file, "/frames", "x_um", H5T_NATIVE_DOUBLE);
  ASSERT_EQ(ix.size(), static_cast<std::size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    EXPECT_EQ(ix[i], i % kNx);
    EXPECT_EQ(iy[i], i / kNx);
    if (failed(i)) EXPECT_TRUE(std::isnan(se[i]));
    else EXPECT_EQ(se[i], make_frame(i).se);
    if (i == 11) EXPECT_TRUE(std::isnan(xum[i])) << "no position: x_um is NaN";
    else EXPECT_EQ(xum[i], make_frame(i).x_um);
  }
  {
    h5::Handle ds(H5Dopen2(file, "/frames", H5P_DEFAULT), H5Dclose);
    h5::Handle type(H5Dget_type(ds), H5Tclose);
    int idx = H5Tget_member_index(type, "scenario");
    h5::Handle st(H5Tget_member_type(type, static_cast<unsigned>(idx)), H5Tclose);
    ASSERT_EQ(H5Tget_class(st), H5T_ENUM);
    char name[32] = {};
    std::int8_t v = 2;
    ASSERT_GE(H5Tenum_nameof(st, &v, name, sizeof name), 0);
    EXPECT_STREQ(name, "tilt_boundary");
    auto scen = read_field<std::int8_t>(file, "/frames", "scenario", st);
    EXPECT_EQ(scen[3], 3);
    EXPECT_EQ(scen[5], static_cast<std::int8_t>(Scenario::unknown));
    struct Status {
      char s[ResultSink::kStatusChars];
    };
    h5::Handle str(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(str, ResultSink::kStatusChars);
    H5Tset_cset(str, H5T_CSET_UTF8);
    auto status = read_field<Status>(file, "/frames", "status", str);
    EXPECT_STREQ(status[0].s, "ok");
    EXPECT_STREQ(status[5].s, "read error: truncated, \"bad\" file");
  }

  // Maps: 2-D (ny, nx), NeXus attributes, axes.
  for (const char* m : {"/maps/se/se", "/maps/se_median/se_median", "/maps/n_peaks/n_peaks",
                        "/maps/background/background", "/maps/noise/noise", "/maps/scenario/scenario"})
    EXPECT_EQ(dims_of(file, m), (std::vector<hsize_t>{kNy, kNx})) << m;
  EXPECT_EQ(dims_of(file, "/maps/se/x_um"), (std::vector<hsize_t>{kNx}));
  EXPECT_EQ(dims_of(file, "/maps/se/y_um"), (std::vector<hsize_t>{kNy}));
  auto se_map = read_all<float>(file, "/maps/se/se", H5T_NATIVE_FLOAT);
  EXPECT_EQ(se_map, make_maps().se);
  auto scen_map = read_all<std::int8_t>(file, "/maps/scenario/scenario", H5T_NATIVE_INT8);
  EXPECT_EQ(scen_map, make_maps().scenario);
  {
    h5::Handle g(H5Gopen2(file, "/maps/se", H5P_DEFAULT), H5Gclose);
    EXPECT_EQ(h5::read_string_attribute(g, "NX_class"), std::string("NXdata"));
    EXPECT_EQ(h5::read_string_attribute(g, "signal"), std::string("se"));
    h5::Handle a(H5Aopen(g, "axes", H5P_DEFAULT), H5Aclose);
    h5::Handle t(H5Aget_type(a), H5Tclose);
    std::size_t w = H5Tget_size(t);
    std::string buf(2 * w, '\0');
    ASSERT_GE(H5Aread(a, t, buf.data()), 0);
    EXPECT_STREQ(buf.c_str(), "y_um");
    EXPECT_STREQ(buf.c_str() + w, "x_um");
    h5::Handle ds(H5Dopen2(file, "/maps/scenario/scenario", H5P_DEFAULT), H5Dclose);
    EXPECT_GT(H5Aexists(ds, "scenario_names"), 0);
  }

  // Provenance.
  h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose);
  EXPECT_EQ(int_attr(root, "complete"), 1);
  EXPECT_EQ(int_attr(root, "threads"), 2);
  EXPECT_EQ(int_attr(root, "n_peaks"), total_peaks());
  EXPECT_EQ(h5::read_string_attribute(root, "program"), std::string("laueproc"));
  EXPECT_EQ(h5::read_string_attribute(root, "version"), std::string("0.1.0"));
  EXPECT_EQ(h5::read_string_attribute(root, "git_commit"), std::string("abc1234"));
  EXPECT_EQ(h5::read_string_attribute(root, "backend"), std::string("cpu"));
  EXPECT_EQ(h5::read_string_attribute(root, "dataset"), std::string("/entry1/data/data"));
  EXPECT_EQ(h5::read_string_attribute(root, "input_files"), std::string("/data/scan_0001.h5\n/data/scan_0002.h5"));
  EXPECT_EQ(h5::read_string_attribute(root, "settings.threshold.k_high"), std::string("6"));
  EXPECT_EQ(h5::read_string_attribute(root, "settings.background.method"), std::string("block_percentile"));
  EXPECT_EQ(h5::read_string_attribute(root, "started_utc"), std::string("2026-01-31T12:00:00Z"));
  auto finished = h5::read_string_attribute(root, "finished_utc");
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(finished->size(), 20u);
  EXPECT_EQ(h5::read_string_attribute(root, "default"), std::string("maps"));
}

TEST(ResultSink, WritesCsvRowsExactly) {
  TempDir dir;
  full_run(dir);
  auto peaks = lines_of(slurp(dir / "csv/peaks.csv"));
  ASSERT_EQ(static_cast<std::int64_t>(peaks.size()), total_peaks() + 1);
  EXPECT_EQ(peaks[0].rfind("frame,peak,x,y,intensity,peak_value,npix,a,b,theta_deg,n_maxima,saturated", 0), 0u);
  EXPECT_EQ(peaks[0], "frame,peak,x,y,intensity,peak_value,npix,a,b,theta_deg,n_maxima,saturated,mxx,myy,mxy,edge,snr");
  // Frame 1 has one peak; frame 2 two. Values written as the shortest exact decimal.
  EXPECT_EQ(peaks[1], "1,0,0.3333333333333333,199.85714285714286,1234.5,99,9,3,0.6666666666666666,-89.999,1,0,"
                      "2.25,0.1111111111111111,-0.5,0,33");
  EXPECT_EQ(peaks[3], "2,1,10.790123455666667,199.71428571428572,2469,100,10,3,0.6666666666666666,-89.999,2,1,"
                      "2.25,0.1111111111111111,-0.5,0,33");

  auto frames = lines_of(slurp(dir / "csv/frames.csv"));
  ASSERT_EQ(frames.size(), static_cast<std::size_t>(kFrames + 1));
  EXPECT_EQ(frames[0].rfind("frame,ix,iy,x_um,y_um,n_peaks,se,se_median,scenario,split_px,misorientation_deg,"
                            "background,noise,status",
                            0),
            0u);
  EXPECT_EQ(frames[1], "0,0,0,0,-0.1,0,0.3333333333333333,0,defect_free,0,0,100,3.25,ok,0,0,0,0,1,0,1");
  EXPECT_EQ(frames[6], "5,0,1,0.005,2.9,0,nan,nan,unknown,3.5,0.07,105,nan,"
                       "\"read error: truncated, \"\"bad\"\" file\",0,-1.5,5e-300,0.25,"
                       "0.16666666666666666,2.23606797749979,1");
  EXPECT_EQ(frames[12].substr(0, 16), "11,1,2,nan,nan,3") << "no position: x_um, y_um are nan";
}

// ---- kill and --resume -------------------------------------------------------------------------

TEST(ResultSink, ResumeAfterDestructionWithoutFinishIsIdentical) {
  TempDir ref, run;
  full_run(ref);
  {
    ResultSink sink(options_in(run), make_info());
    add_frames(sink, 0, 7);
  }  // "killed": no finish()
  const std::string path = run / "out/results.h5";
  ASSERT_TRUE(fs::exists(path + ".journal"));
  EXPECT_FALSE(fs::exists(path)) << "a run that did not finish leaves no file under the results' name";
  EXPECT_FALSE(fs::exists(run / "csv/peaks.csv"));
  EXPECT_TRUE(fs::exists(run / "csv/peaks.csv.partial"));
  {
    h5::Handle f = h5::open_read(path + ".partial");  // the partial file is readable and says so
    h5::Handle root(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose);
    EXPECT_EQ(int_attr(root, "complete"), 0);
  }
  ResultSink sink(options_in(run, true), make_info());
  ASSERT_EQ(sink.resumed_frames().size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(sink.resumed_frames()[i].frame, i);
  EXPECT_EQ(sink.resumed_frames()[5].status, make_frame(5).status);
  EXPECT_TRUE(std::isnan(sink.resumed_frames()[5].se));
  EXPECT_EQ(sink.resumed_frames()[4].se, make_frame(4).se);
  std::int64_t resumed_peaks = 0;
  for (int i = 0; i < 7; ++i) resumed_peaks += static_cast<std::int64_t>(make_peaks(i).size());
  EXPECT_EQ(sink.resumed_peak_count(), resumed_peaks);
  add_frames(sink, 7, kFrames);
  finish(sink);
  expect_same_results(ref / "out/results.h5", path);
  expect_same_csv(ref, run);
  EXPECT_FALSE(fs::exists(path + ".journal"));
}

TEST(ResultSink, ResumeAfterSigkillIsIdentical) {
  TempDir ref, run;
  full_run(ref);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // child: write 7 frames, then die without any cleanup
    try {
      ResultSink sink(options_in(run), make_info());
      add_frames(sink, 0, 7);
    } catch (...) {
      _exit(3);
    }
    ::kill(getpid(), SIGKILL);
    _exit(4);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

  ResultSink sink(options_in(run, true), make_info());
  ASSERT_EQ(sink.resumed_frames().size(), 7u);
  add_frames(sink, 7, kFrames);
  finish(sink);
  expect_same_results(ref / "out/results.h5", run / "out/results.h5");
  expect_same_csv(ref, run);
}

TEST(ResultSink, TornJournalTailIsDropped) {
  TempDir ref, run;
  full_run(ref);
  {
    ResultSink sink(options_in(run), make_info());
    add_frames(sink, 0, 7);
  }
  const std::string journal = run / "out/results.h5.journal";
  {
    // Frame 7's peaks made it, its F line did not; then a line torn mid-number.
    std::string tail;
    for (const Peak& p : make_peaks(7)) output::append_journal_peak(tail, p);
    tail += "F 7 3 -1 -1 1 14.007 5.9 3 1 7.33";
    std::ofstream out(journal, std::ios::app | std::ios::binary);
    out << tail;
  }
  ResultSink sink(options_in(run, true), make_info());
  ASSERT_EQ(sink.resumed_frames().size(), 7u);
  EXPECT_EQ(sink.resumed_frames().back().frame, 6);
  add_frames(sink, 7, kFrames);
  finish(sink);
  expect_same_results(ref / "out/results.h5", run / "out/results.h5");
  expect_same_csv(ref, run);
}

TEST(ResultSink, GarbageLineEndsTheResumedPart) {
  TempDir run;
  {
    ResultSink sink(options_in(run), make_info());
    add_frames(sink, 0, 4);
  }
  {
    std::ofstream out(run / "out/results.h5.journal", std::ios::app | std::ios::binary);
    out << "F 4 0 garbage\n";
  }
  ResultSink sink(options_in(run, true), make_info());
  EXPECT_EQ(sink.resumed_frames().size(), 4u);
  add_frames(sink, 4, 6);  // the journal was cut after frame 3, so frame 4 appends cleanly
  EXPECT_EQ(sink.frames().size(), 6u);
}

TEST(ResultSink, ResumeRefusesAJournalOfAnotherRun) {
  TempDir run;
  {
    ResultSink sink(options_in(run), make_info(6.0));
    add_frames(sink, 0, 7);
  }
  try {
    ResultSink sink(options_in(run, true), make_info(5.0));
    FAIL() << "resume with other settings must fail";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("results.h5.journal"), std::string::npos) << what;
    EXPECT_NE(what.find("different run"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line";
  }
  // The refused journal is untouched: resuming with the right settings still works.
  ResultSink sink(options_in(run, true), make_info(6.0));
  EXPECT_EQ(sink.resumed_frames().size(), 7u);
}

TEST(ResultSink, FingerprintIgnoresTimeThreadsAndBackend) {
  RunInfo a = make_info(), b = make_info();
  b.started_utc = "2030-01-01T00:00:00Z";
  b.threads = 64;
  b.backend = "cuda";
  b.command_line += " --resume";
  EXPECT_EQ(run_fingerprint(a), run_fingerprint(b));
  b.input_files.push_back("/data/scan_0003.h5");
  EXPECT_NE(run_fingerprint(a), run_fingerprint(b));
  EXPECT_NE(run_fingerprint(make_info(6.0)), run_fingerprint(make_info(6.5)));
  EXPECT_EQ(run_fingerprint(a).size(), 16u);
}

TEST(ResultSink, ResumeWithoutJournalStartsOverAndRefusesACompleteRun) {
  TempDir run;
  {
    ResultSink sink(options_in(run, true), make_info());  // nothing to resume: fresh start
    EXPECT_TRUE(sink.resumed_frames().empty());
    add_frames(sink, 0, kFrames);
    finish(sink);
  }
  try {
    ResultSink sink(options_in(run, true), make_info());
    FAIL() << "resuming a complete run must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already complete"), std::string::npos) << e.what();
  }
}

TEST(ResultSink, FreshRunRefusesAnOldJournalUnlessOverwrite) {
  TempDir run;
  {
    ResultSink sink(options_in(run), make_info());
    add_frames(sink, 0, 7);
  }
  const std::string journal = run / "out/results.h5.journal";
  const std::string before = slurp(journal);
  try {
    ResultSink sink(options_in(run), make_info());
    FAIL() << "a fresh run must not replace an interrupted run's journal";
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(journal), before) << "the refused run changed nothing";
  SinkOptions o = options_in(run);
  o.overwrite = true;
  ResultSink sink(o, make_info());
  EXPECT_TRUE(sink.resumed_frames().empty());
  add_frames(sink, 0, 2);  // frame 0 again: accepted, the old journal is gone
  EXPECT_EQ(sink.frames().size(), 2u);
}

// ---- errors ------------------------------------------------------------------------------------

TEST(ResultSink, UnwritableOutputPathIsOneLineError) {
  TempDir dir;
  { std::ofstream(dir / "blocker") << "a file, not a folder"; }
  const std::string bad = dir / "blocker/sub/results.h5";
  try {
    ResultSink sink(SinkOptions{bad, "", false}, make_info());
    FAIL() << "creating under a file must fail";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(dir / "blocker/sub"), std::string::npos) << what;
    EXPECT_NE(what.find("cannot create output folder"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
  try {
    ResultSink sink(SinkOptions{dir / "ok/results.h5", dir / "blocker/csv", false}, make_info());
    FAIL() << "a CSV folder under a file must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "blocker/csv"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ResultSink(SinkOptions{"", "", false}, make_info()), UsageError);
}

TEST(ResultSink, RejectsFramesOutOfOrderAndForeignPeaks) {
  TempDir dir;
  ResultSink sink(options_in(dir), make_info());
  sink.add(make_frame(3), make_peaks(3));
  EXPECT_THROW(sink.add(make_frame(2), make_peaks(2)), Error);
  EXPECT_THROW(sink.add(make_frame(4), make_peaks(3)), Error);
  EXPECT_THROW(sink.finish(make_maps(), {}), Error) << "finish() needs the same frames";
}

TEST(ResultSink, FinishWithoutGridUsesNearestAxis) {
  TempDir dir;
  {
    ResultSink sink(options_in(dir), make_info());
    add_frames(sink, 0, kFrames);
    sink.finish(make_maps());
  }
  h5::Handle file = h5::open_read(dir / "out/results.h5");
  auto ix = read_field<std::int32_t>(file, "/frames", "ix", H5T_NATIVE_INT32);
  auto iy = read_field<std::int32_t>(file, "/frames", "iy", H5T_NATIVE_INT32);
  for (int i = 0; i < kFrames; ++i) {
    EXPECT_EQ(ix[i], i % kNx) << i;
    EXPECT_EQ(iy[i], i / kNx) << i;
  }
}

// ---- records -----------------------------------------------------------------------------------

TEST(Records, JournalRoundTripIsBitExact) {
  const double values[] = {0.1 + 0.2, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                           std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                           1.0 / 3.0, -123456789.123456789};
  for (double v : values) {
    Peak p;
    p.frame = 1234567890123;
    p.x = v;
    p.snr = -v;
    std::string line;
    output::append_journal_peak(line, p);
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    Peak q;
    ASSERT_TRUE(output::parse_journal_peak(line, q)) << line;
    EXPECT_EQ(std::memcmp(&p.x, &q.x, sizeof(double)), 0) << line;
    EXPECT_EQ(std::memcmp(&p.snr, &q.snr, sizeof(double)), 0) << line;
    EXPECT_EQ(q.frame, p.frame);
  }
  FrameSummary f = make_frame(5);
  f.status = "";  // an empty status survives too
  std::string line;
  output::append_journal_frame(line, f, 0);
  line.pop_back();
  FrameSummary g;
  std::int64_t n = -1;
  ASSERT_TRUE(output::parse_journal_frame(line, g, n)) << line;
  EXPECT_EQ(n, 0);
  EXPECT_EQ(g.status, "");
  EXPECT_TRUE(std::isnan(g.se));
  EXPECT_EQ(g.split_dy, f.split_dy);
  FrameSummary h;
  EXPECT_FALSE(output::parse_journal_frame("F 1 0 -1 -1 1 2 3", h, n)) << "truncated";
  Peak q;
  EXPECT_FALSE(output::parse_journal_peak("P 1 0 1.5 2.5 x", q));
}

// ---- frames in any order, shards ---------------------------------------------------------------

namespace {

// A fixed shuffle of 0 .. kFrames - 1 (what ranks finishing in any order look like).
std::vector<int> shuffled_frames() {
  std::vector<int> order(kFrames);
  for (int i = 0; i < kFrames; ++i) order[static_cast<std::size_t>(i)] = (i * 7 + 3) % kFrames;  // 7 is prime to 20
  return order;
}

SinkOptions any_order_in(const TempDir& dir, bool resume = false, std::size_t held_bytes = std::size_t{64} << 20) {
  SinkOptions o = options_in(dir, resume);
  o.frames_total = kFrames;
  o.held_bytes = held_bytes;
  return o;
}

}  // namespace

TEST(ResultSink, FramesInAnyOrderGiveTheSameResults) {
  TempDir ref;
  full_run(ref);
  // In memory, and with no memory at all (every waiting frame read back from the journal).
  for (std::size_t held : {std::size_t{64} << 20, std::size_t{0}}) {
    TempDir run;
    ResultSink sink(any_order_in(run, false, held), make_info());
    for (int i : shuffled_frames()) sink.add(make_frame(i), make_peaks(i));
    EXPECT_EQ(sink.recorded_count(), kFrames);
    finish(sink);
    expect_same_results(ref / "out/results.h5", run / "out/results.h5");
    expect_same_csv(ref, run);
  }
}

TEST(ResultSink, FramesInAnyOrderResumeToTheSameResults) {
  TempDir ref, run;
  full_run(ref);
  const std::vector<int> order = shuffled_frames();
  {
    ResultSink sink(any_order_in(run), make_info());
    for (int k = 0; k < 12; ++k) sink.add(make_frame(order[k]), make_peaks(order[k]));
  }  // killed: no finish()
  ResultSink sink(any_order_in(run, true, 0), make_info());
  ASSERT_EQ(sink.resumed_frames().size(), 12u);
  for (std::size_t k = 1; k < sink.resumed_frames().size(); ++k)
    EXPECT_LT(sink.resumed_frames()[k - 1].frame, sink.resumed_frames()[k].frame) << "in frame order";
  for (int k = kFrames - 1; k >= 12; --k) sink.add(make_frame(order[k]), make_peaks(order[k]));
  finish(sink);
  expect_same_results(ref / "out/results.h5", run / "out/results.h5");
  expect_same_csv(ref, run);
}

TEST(ResultSink, AnyOrderRefusesRepeatsAndStrangersAndAnIncompleteFinish) {
  TempDir run;
  ResultSink sink(any_order_in(run), make_info());
  sink.add(make_frame(4), make_peaks(4));
  EXPECT_THROW(sink.add(make_frame(4), make_peaks(4)), Error) << "twice";
  FrameSummary outside = make_frame(1);
  outside.frame = kFrames;
  EXPECT_THROW(sink.add(outside, {}), Error) << "outside the scan";
  for (int i = 0; i < kFrames; ++i)
    if (i != 3 && i != 4) sink.add(make_frame(i), make_peaks(i));
  try {
    sink.finish(make_maps(), with_grid(sink.frames()));
    FAIL() << "finish() with frame 3 missing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("frame 3 is missing"), std::string::npos) << e.what();
  }
}

// Shards of a job array write journals only; a merge sink adopts them: the same results.
TEST(ResultSink, ShardJournalsMergeToTheSameResults) {
  TempDir ref, run;
  full_run(ref);
  const std::string out = run / "out/results.h5";
  for (int shard = 0; shard < 2; ++shard) {
    SinkOptions o{out + ".shard-" + std::to_string(shard) + "-of-2", run / "csv", false};
    o.frames_total = kFrames;
    o.views = false;
    ResultSink sink(o, make_info());
    for (int i = shard * kFrames / 2; i < (shard + 1) * kFrames / 2; ++i) sink.add(make_frame(i), make_peaks(i));
  }
  EXPECT_FALSE(fs::exists(out)) << "a shard writes no results file";
  const std::vector<std::string> journals = {out + ".shard-1-of-2.journal", out + ".shard-0-of-2.journal"};

  output::JournalReader head(journals[0]);  // self-describing: the merge needs nothing else
  EXPECT_EQ(head.head().frames_total, kFrames);
  EXPECT_EQ(head.head().csv_dir, run / "csv");
  EXPECT_EQ(head.head().info.command_line, make_info().command_line);
  EXPECT_EQ(head.head().info.input_files, make_info().input_files);
  EXPECT_EQ(head.head().info.settings, make_info().settings);
  EXPECT_EQ(run_fingerprint(head.head().info), run_fingerprint(make_info()));

  SinkOptions merge{out, run / "csv", false};
  merge.frames_total = kFrames;
  merge.journal = false;
  merge.adopt = journals;
  {
    ResultSink sink(merge, make_info());
    EXPECT_EQ(sink.resumed_frames().size(), static_cast<std::size_t>(kFrames));
    EXPECT_EQ(sink.resumed_peak_count(), total_peaks());
    finish(sink);
  }
  expect_same_results(ref / "out/results.h5", out);
  expect_same_csv(ref, run);
  EXPECT_TRUE(fs::exists(journals[0])) << "adopted journals stay for the caller to remove";

  // The same shard twice, or a shard of other settings: refused, naming the journal.
  merge.overwrite = true;  // the merged file exists now
  SinkOptions twice = merge;
  twice.adopt = {journals[0], journals[0]};
  EXPECT_THROW(ResultSink(twice, make_info()), Error);
  try {
    ResultSink sink(merge, make_info(5.0));
    FAIL() << "other settings";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("different run"), std::string::npos) << e.what();
  }
}

// ---- /peaks in whole chunks, compressed off the writer ------------------------------------------

namespace {

// 50 peaks per frame with full-precision values: 300 frames fill 3 chunks of 4096 rows and part of
// a fourth.
PeakList many_peaks(int frame) {
  PeakList peaks;
  for (int k = 0; k < 50; ++k) {
    Peak p;
    p.frame = frame;
    p.peak = k;
    p.x = std::sqrt(2.0) * (frame * 50 + k);
    p.y = 1.0 / (k + 3.0) + frame;
    p.intensity = std::exp(0.001 * (frame * 50 + k));
    p.npix = 5 + k;
    p.snr = 0.1 * k;
    p.saturated = (k % 7) == 0;
    peaks.push_back(p);
  }
  return peaks;
}

FrameSummary many_frame(int i) {
  FrameSummary f;
  f.frame = i;
  f.n_peaks = 50;
  return f;
}

}  // namespace

TEST(ResultSink, PeaksInWholeChunksReadBackExactly) {
  constexpr int kMany = 300;
  for (bool any_order : {false, true}) {
    TempDir dir;
    SinkOptions o = options_in(dir);
    if (any_order) o.frames_total = kMany;
    {
      ResultSink sink(o, make_info());
      for (int k = 0; k < kMany; ++k) {
        const int i = any_order ? (k * 7 + 3) % kMany : k;  // 7 is prime to 300
        sink.add(many_frame(i), many_peaks(i));
      }
      std::vector<FrameSummary> frames = sink.frames();
      for (auto& f : frames) f.ix = f.iy = 0;
      ScanMaps maps;
      sink.finish(maps, frames);
    }
    h5::Handle file = h5::open_read(dir / "out/results.h5");
    const auto x = read_field<double>(file, "/peaks", "x", H5T_NATIVE_DOUBLE);
    const auto intensity = read_field<double>(file, "/peaks", "intensity", H5T_NATIVE_DOUBLE);
    const auto frame = read_field<std::int64_t>(file, "/peaks", "frame", H5T_NATIVE_INT64);
    const auto npix = read_field<std::int32_t>(file, "/peaks", "npix", H5T_NATIVE_INT32);
    ASSERT_EQ(x.size(), static_cast<std::size_t>(kMany * 50));
    for (int i = 0; i < kMany; ++i) {
      const PeakList want = many_peaks(i);
      for (int k = 0; k < 50; ++k) {
        const std::size_t row = static_cast<std::size_t>(i * 50 + k);
        ASSERT_EQ(frame[row], i) << row;
        ASSERT_EQ(x[row], want[static_cast<std::size_t>(k)].x) << row;
        ASSERT_EQ(intensity[row], want[static_cast<std::size_t>(k)].intensity) << row;
        ASSERT_EQ(npix[row], want[static_cast<std::size_t>(k)].npix) << row;
      }
    }
    // Stored gzip + shuffle, as before: any HDF5 reader decodes it.
    h5::Handle ds(H5Dopen2(file, "/peaks", H5P_DEFAULT), H5Dclose);
    h5::Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    EXPECT_EQ(H5Pget_nfilters(dcpl), 2);
  }
}

// Killed after whole chunks went out: the partial file holds every row added; resume matches.
TEST(ResultSink, PeaksInWholeChunksSurviveAStopAndResume) {
  TempDir ref, run;
  constexpr int kMany = 200;
  auto add_range = [](ResultSink& sink, int from, int to) {
    for (int i = from; i < to; ++i) sink.add(many_frame(i), many_peaks(i));
  };
  auto finish_all = [](ResultSink& sink) {
    std::vector<FrameSummary> frames = sink.frames();
    for (auto& f : frames) f.ix = f.iy = 0;
    sink.finish(ScanMaps{}, frames);
  };
  {
    ResultSink sink(options_in(ref), make_info());
    add_range(sink, 0, kMany);
    finish_all(sink);
  }
  {
    ResultSink sink(options_in(run), make_info());
    add_range(sink, 0, 130);  // 6500 rows: one whole chunk and part of the next
  }
  {
    h5::Handle partial = h5::open_read(run / "out/results.h5.partial");
    EXPECT_EQ(read_field<double>(partial, "/peaks", "x", H5T_NATIVE_DOUBLE).size(), 130u * 50u);
  }
  ResultSink sink(options_in(run, true), make_info());
  add_range(sink, 130, kMany);
  finish_all(sink);
  h5::Handle a = h5::open_read(ref / "out/results.h5"), b = h5::open_read(run / "out/results.h5");
  Raw ra = read_raw(a, "/peaks"), rb = read_raw(b, "/peaks");
  EXPECT_EQ(ra.rows, 200u * 50u);
  EXPECT_TRUE(ra.bytes == rb.bytes);
}

TEST(ChunkCompressor, ShuffleDeflateRoundTripsAndSkipsWhatDoesNotShrink) {
  std::vector<unsigned char> rows(110 * 4096);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<unsigned char>((i % 110) < 8 ? i / 110 : i % 7);
  std::uint32_t mask = 99;
  const auto stored = output::shuffle_deflate(rows, 110, 4, mask);
  EXPECT_EQ(mask, 0u);
  EXPECT_LT(stored.size(), rows.size() / 4);
  EXPECT_EQ(output::inflate_unshuffle(stored, rows.size(), 110, mask), rows);

  std::vector<unsigned char> noise(110 * 100 + 13);  // a tail shorter than an element too
  std::uint64_t state = 88172645463325252ull;
  for (auto& b : noise) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    b = static_cast<unsigned char>(state);
  }
  const auto kept = output::shuffle_deflate(noise, 110, 4, mask);
  EXPECT_EQ(mask, 0x2u) << "incompressible: deflate skipped, as HDF5's optional filter";
  EXPECT_EQ(output::inflate_unshuffle(kept, noise.size(), 110, mask), noise);
}
