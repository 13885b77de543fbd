// Bad inputs, as a user meets them (issue 8): each gives a clear line naming the file (and the
// frame), the right exit code, and never a silently wrong result. The truth of each case is
// built by the test: the frame it broke, the column it removed, the file it made unreadable.
#include <gtest/gtest.h>
#include <hdf5.h>

#include "e2e/program.hpp"
#include "io/fixtures.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace laueproc::e2e;
namespace fs = std::filesystem;
namespace h5 = laueproc::h5;

const std::string kXanesDir = std::string(LAUEPROC_TEST_DATA_DIR) + "/xanes/";

class TrustInput : public TempDirTest {};

/// Rows of a CSV after its header; the first field (frame) as the key.
std::vector<std::string> csv_rows(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<std::string> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) rows.push_back(line);
  return rows;
}

bool row_ok(const std::string& row) { return row.find(",ok,") != std::string::npos; }

/// ix, iy of a frames.csv row.
std::pair<int, int> cell_of(const std::string& row) {
  std::istringstream f(row);
  std::string frame, ix, iy;
  std::getline(f, frame, ',');
  std::getline(f, ix, ',');
  std::getline(f, iy, ',');
  return {std::stoi(ix), std::stoi(iy)};
}

// ---- row 5: an XDI file without an energy column -------------------------------------------

TEST_F(TrustInput, XdiWithoutEnergyColumnIsAnError) {
  // The real Co foil spectrum with its energy column taken out: i0 and itrans remain (rows
  // repeating an i0 value dropped, so that i0 could pass for energies, as it did).
  std::ifstream in(kXanesDir + "co_metal_rt.xdi");
  ASSERT_TRUE(in.good());
  std::ostringstream out;
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# Column.1:", 0) == 0) continue;
    if (line.rfind("# Column.2:", 0) == 0) line = "# Column.1:" + line.substr(11);
    else if (line.rfind("# Column.3:", 0) == 0) line = "# Column.2:" + line.substr(11);
    else if (!line.empty() && line[0] != '#') {
      std::istringstream f(line);
      std::string e, i0, it;
      f >> e >> i0 >> it;
      if (!seen.insert(i0).second) continue;
      line = i0 + " " + it;
    }
    out << line << "\n";
  }
  const std::string broken = dir_ + "/no_energy.xdi";
  std::ofstream(broken) << out.str();
  auto r = run("xanes " + broken);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find(broken), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("energy"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("white line"), std::string::npos) << "no white line from i0 taken as energies: " << r.out;
  // The original still works.
  auto good = run("xanes " + kXanesDir + "co_metal_rt.xdi");
  EXPECT_EQ(good.code, 0) << good.out;
}

// ---- row 6: frames without a position ---------------------------------------------------------

TEST_F(TrustInput, NanPositionFailsItsFrameByName) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 3x3 --size 256 --seed 8 --quiet").code, 0);
  {
    h5::Handle f(H5Fopen((dir_ + "/scan.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(f.valid());
    h5::Handle ds(H5Dopen2(f, "/entry/sample/x", H5P_DEFAULT), H5Dclose);
    std::vector<double> x(9);
    ASSERT_GE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data()), 0);
    x[4] = std::numeric_limits<double>::quiet_NaN();
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data()), 0);
  }
  auto r = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/r.h5 --csv " + dir_ + "/csv --quiet");
  EXPECT_EQ(r.code, 3) << "a frame failed: " << r.out;
  EXPECT_NE(r.out.find("frame 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("position"), std::string::npos) << r.out;
  const auto rows = csv_rows(dir_ + "/csv/frames.csv");
  ASSERT_EQ(rows.size(), 9u);
  for (int i = 0; i < 9; ++i) {
    if (i == 4) {
      EXPECT_FALSE(row_ok(rows[4])) << rows[4];
      EXPECT_NE(rows[4].find("no raster position"), std::string::npos) << rows[4];
      EXPECT_NE(rows[4].find(dir_ + "/scan.h5"), std::string::npos) << "names the file: " << rows[4];
    } else {
      EXPECT_TRUE(row_ok(rows[i])) << rows[i];
      EXPECT_GE(cell_of(rows[i]).first, 0) << "on the map: " << rows[i];
    }
  }
  // Placed by index (--grid), the position is not needed: every frame is analysed.
  auto grid = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/g.h5 --grid 3x3 --quiet");
  EXPECT_EQ(grid.code, 0) << grid.out;
}

TEST_F(TrustInput, PerFrameFileWithoutPositionFailsItsFrameByName) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/files --layout files --grid 4x1 --size 256 --seed 2 --quiet").code, 0);
  const std::string victim = dir_ + "/files/scan_00002.h5";
  {
    h5::Handle f(H5Fopen(victim.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(f.valid());
    ASSERT_GE(H5Ldelete(f, "/entry1/sample/sampleX", H5P_DEFAULT), 0);
  }
  auto r = run("process " + dir_ + "/files --out " + dir_ + "/r.h5 --csv " + dir_ + "/csv --quiet");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("frame 2"), std::string::npos) << r.out;
  const auto rows = csv_rows(dir_ + "/csv/frames.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_NE(rows[2].find("no raster position"), std::string::npos) << rows[2];
  EXPECT_NE(rows[2].find(victim), std::string::npos) << rows[2];
  for (int i : {0, 1, 3}) EXPECT_TRUE(row_ok(rows[static_cast<std::size_t>(i)])) << rows[static_cast<std::size_t>(i)];
}

// ---- row 7: frames too small to analyse -------------------------------------------------------

TEST_F(TrustInput, TinyFramesFailInsteadOfBeingOnePeak) {
  for (auto [ny, nx] : {std::pair{3, 5}, {4, 4}, {2, 8}}) {
    // A bright spot on a flat background: what the old code reported as one "ok" peak.
    std::vector<std::uint16_t> data(static_cast<std::size_t>(2 * ny * nx), 100);
    data[1] = data[static_cast<std::size_t>(ny * nx) + 1] = 5000;
    const std::string name = dir_ + "/tiny_" + std::to_string(ny) + "x" + std::to_string(nx);
    laueproc::test::write_stack(name + ".h5", data, 2, ny, nx);
    auto r = run("process " + name + ".h5 --out " + name + "_r.h5 --csv " + name + " --quiet");
    EXPECT_EQ(r.code, 3) << r.out;
    EXPECT_NE(r.out.find("too small"), std::string::npos) << r.out;
    const auto rows = csv_rows(name + "/frames.csv");
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) {
      EXPECT_FALSE(row_ok(row)) << row;
      EXPECT_NE(row.find("too small"), std::string::npos) << row;
    }
    EXPECT_TRUE(csv_rows(name + "/peaks.csv").empty()) << "no peaks from a frame too small to analyse";
  }
}

// ---- row 8: a per-file scan whose first file differs -------------------------------------------

TEST_F(TrustInput, OddFirstFileFailsOnlyItsOwnFrame) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/files --layout files --grid 5x1 --size 128 --seed 6 --quiet").code, 0);
  const std::string odd = dir_ + "/files/scan_00000.h5";
  fs::remove(odd);
  laueproc::test::write_per_frame(odd, laueproc::test::pattern_stack(1, 96, 96), 96, 96, 0.0, 0.0);
  auto r = run("process " + dir_ + "/files --out " + dir_ + "/r.h5 --csv " + dir_ + "/csv --quiet");
  EXPECT_EQ(r.code, 3) << r.out;
  const auto rows = csv_rows(dir_ + "/csv/frames.csv");
  ASSERT_EQ(rows.size(), 5u) << r.out;
  EXPECT_FALSE(row_ok(rows[0])) << rows[0];
  EXPECT_NE(rows[0].find(odd), std::string::npos) << rows[0];
  EXPECT_NE(rows[0].find("differs"), std::string::npos) << rows[0];
  for (std::size_t i = 1; i < 5; ++i) EXPECT_TRUE(row_ok(rows[i])) << rows[i];
}

// ---- row 9: unreadable files and absurd sizes ---------------------------------------------------

/// Runs `laueproc ARGS` as user nobody when root (root reads any file), else as is.
Result run_unprivileged(const std::string& args) {
  if (geteuid() != 0) return run(args);
  return run_prepared(args, [] { return setgid(65534) == 0 && setuid(65534) == 0; });
}

TEST_F(TrustInput, UnreadableFileSaysPermissionDenied) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/scan.h5 --grid 2x1 --size 128 --quiet").code, 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);  // the folder is open, the file is not
  ASSERT_EQ(chmod((dir_ + "/scan.h5").c_str(), 0), 0);
  const std::string never = "/tmp/laueproc-never-written-" + std::to_string(getpid());
  for (const std::string args : {"info " + dir_ + "/scan.h5", "process " + dir_ + "/scan.h5 --out " + never + ".h5",
                                 "mask " + dir_ + "/scan.h5 --out " + never + ".pgm"}) {
    auto r = run_unprivileged(args);
    ASSERT_NE(r.code, 126) << "cannot drop to user nobody";
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_EQ(count_lines(r.out), 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find("Permission denied"), std::string::npos) << args << ": " << r.out;
    EXPECT_EQ(r.out.find("not an HDF5 file"), std::string::npos) << args << ": " << r.out;
  }
}

/// A chunked dataset of `dims` with nothing written (HDF5 allocates chunks when written): a valid
/// file whose header promises absurd sizes, as a damaged or hostile one can.
void write_huge_dataset(hid_t f, const std::string& path, hid_t type, const std::vector<hsize_t>& dims) {
  std::vector<hsize_t> chunk(dims.size(), 1);
  chunk.back() = std::min<hsize_t>(dims.back(), 64);
  h5::make_groups(f, path.substr(0, path.rfind('/')), "fixture");
  h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  h5::Handle ds(H5Dcreate2(f, path.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  ASSERT_TRUE(ds.valid()) << path;
}

TEST_F(TrustInput, AbsurdSizesAreAClearErrorNotAnAllocationFailure) {
  const hsize_t big = hsize_t{1} << 22;
  {  // frames of 2^22 x 2^22 pixels
    h5::Handle f = h5::create(dir_ + "/frames.h5");
    write_huge_dataset(f, "/entry/data/data", H5T_NATIVE_UINT16, {2, big, big});
  }
  {  // positions: 2^40 values for 2 frames
    h5::Handle f = h5::create(dir_ + "/positions.h5");
    laueproc::test::write_dataset(f, "/entry/data/data", H5T_NATIVE_UINT16,
                                  laueproc::test::pattern_stack(2, 64, 64).data(), {2, 64, 64});
    write_huge_dataset(f, "/entry/sample/x", H5T_NATIVE_DOUBLE, {hsize_t{1} << 40});
    write_huge_dataset(f, "/entry/sample/y", H5T_NATIVE_DOUBLE, {hsize_t{1} << 40});
  }
  {  // a XANES stack of 2^20 energies of 2^20 x 2^20 pixels
    h5::Handle f = h5::create(dir_ + "/stack.h5");
    write_huge_dataset(f, "/exchange/data", H5T_NATIVE_FLOAT, {big, big, big});
    std::vector<double> e(16);
    for (std::size_t i = 0; i < e.size(); ++i) e[i] = 7700 + static_cast<double>(i);
    laueproc::test::write_dataset(f, "/exchange/energy", H5T_NATIVE_DOUBLE, e.data(), {16});
  }
  for (const std::string args : {"process " + dir_ + "/frames.h5 --quiet --out " + dir_ + "/r1.h5",
                                 "process " + dir_ + "/positions.h5 --quiet --out " + dir_ + "/r2.h5",
                                 "info " + dir_ + "/frames.h5", "xanes " + dir_ + "/stack.h5 --out " + dir_ + "/x.h5"}) {
    auto r = run(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_EQ(count_lines(r.out), 1) << args << ": " << r.out;
    EXPECT_EQ(r.out.find("bad_alloc"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("max_size"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(dir_), std::string::npos) << "names the file: " << r.out;
  }
}

// ---- row 10: the conversion note ------------------------------------------------------------------

TEST_F(TrustInput, ConversionNoteNamesTheFileAndItsDtype) {
  ASSERT_EQ(run("simulate --out " + dir_ + "/files --layout files --grid 4x1 --size 128 --seed 5 --quiet").code, 0);
  // scan_00002.h5 rewritten as float32 with 7 pixels above 65535.
  const std::string odd = dir_ + "/files/scan_00002.h5";
  std::vector<float> image(128 * 128, 120.0f);
  for (int k = 0; k < 7; ++k) image[static_cast<std::size_t>(1000 + 13 * k)] = 70000.0f;
  fs::remove(odd);
  {
    h5::Handle f = h5::create(odd);
    laueproc::test::write_dataset(f, "/entry1/data/data", H5T_NATIVE_FLOAT, image.data(), {128, 128});
    const double x = 1.0, y = 0.0;
    laueproc::test::write_dataset(f, "/entry1/sample/sampleX", H5T_NATIVE_DOUBLE, &x, {});
    laueproc::test::write_dataset(f, "/entry1/sample/sampleY", H5T_NATIVE_DOUBLE, &y, {});
  }
  auto r = run("process " + dir_ + "/files --out " + dir_ + "/r.h5 --quiet");
  EXPECT_EQ(r.code, 0) << r.out;
  const auto notes = [&] {
    std::vector<std::string> v;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);)
      if (l.find("note") != std::string::npos) v.push_back(l);
    return v;
  }();
  ASSERT_EQ(notes.size(), 1u) << r.out;
  EXPECT_NE(notes[0].find(odd), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("float32"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("clipped 7 pixels"), std::string::npos) << notes[0];
  EXPECT_EQ(notes[0].find("uint16 to uint16"), std::string::npos) << notes[0];
  EXPECT_EQ(notes[0].find("scan_00000"), std::string::npos) << notes[0];
}

// ---- row 11: an under-determined white-line fit ------------------------------------------------

TEST_F(TrustInput, ThreePointSpectrumIsNotOkAtOrderSix) {
  const std::string path = dir_ + "/three.txt";
  std::ofstream(path) << "# energy mu\n7720 0.10\n7725 1.00\n7730 0.50\n";
  auto r = run("xanes " + path + " --order 6 --half-window 10");
  EXPECT_EQ(r.code, 0) << r.out;
  const std::string line = r.out.substr(r.out.find("white line"));
  EXPECT_EQ(line.find(" ok"), std::string::npos) << r.out;
  EXPECT_NE(line.find("no_peak_in_window"), std::string::npos) << r.out;
  // Order 2 through 3 points is determined: it fits.
  auto two = run("xanes " + path + " --order 2 --half-window 10");
  EXPECT_NE(two.out.find(" ok"), std::string::npos) << two.out;
}

}  // namespace
