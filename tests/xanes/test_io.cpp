// XANES readers and writers: HDF5 stack round trip, results file, pixels.csv, text errors.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"

namespace xa = laueproc::xanes;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("laueproc_xanes_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::vector<double> read_2d(const std::string& file, const std::string& path) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(s, dims, nullptr);
  std::vector<double> v(dims[0] * dims[1]);
  H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
  return v;
}

}  // namespace

TEST(XanesIo, StackRoundTripFitAndMaps) {
  auto dir = temp_dir("stack");
  xa::Stack st;
  st.ny = 4;
  st.nx = 5;
  // Energies stored out of order on purpose; white line moves with the pixel.
  for (int k = 14; k >= 0; --k) st.energy_ev.push_back(7721.0 + k);
  st.data.resize(st.energy_ev.size() * st.ny * st.nx);
  std::vector<double> truth(st.ny * st.nx);
  for (std::size_t p = 0; p < st.ny * st.nx; ++p) {
    double wl = 7726.0 + 0.2 * static_cast<double>(p);
    truth[p] = wl;
    for (std::size_t i = 0; i < st.energy_ev.size(); ++i) {
      double e = st.energy_ev[i];
      st.data[i * st.ny * st.nx + p] = static_cast<float>(1.0 - 0.05 * (e - wl) * (e - wl));  // parabola
    }
  }
  st.data[3 * st.ny * st.nx + 7] = NAN;  // one bad pixel
  const std::string in = (dir / "stack.h5").string();
  xa::write_stack(in, st);
  auto back = xa::read_stack(in);
  ASSERT_EQ(back.ny, 4u);
  ASSERT_EQ(back.nx, 5u);
  ASSERT_EQ(back.energy_ev, st.energy_ev);
  EXPECT_FALSE(back.kev_converted);

  xa::FitSettings s;
  s.order = 2;
  xa::WhiteLineFitter fitter(back.energy_ev, s);
  std::vector<xa::FitResult> res(back.ny * back.nx);
  fitter.fit_many(back.data.data(), res.size(), res.data(), 2);
  for (std::size_t p = 0; p < res.size(); ++p) {
    if (p == 7) {
      EXPECT_EQ(res[p].status, xa::FitStatus::nan_in_spectrum);
      continue;
    }
    // A parabola sampled at 1 eV and linearly interpolated is not a parabola: ~1 meV bias.
    EXPECT_NEAR(res[p].white_line_ev, truth[p], 0.005) << p;
    EXPECT_GT(res[p].r2, 0.99);
  }
  const std::string out = (dir / "xanes.h5").string();
  xa::write_results(out, res, back.ny, back.nx, back.energy_ev, s, in);
  auto wl = read_2d(out, "/xanes/white_line_ev");
  ASSERT_EQ(wl.size(), 20u);
  EXPECT_NEAR(wl[3], truth[3], 0.005);
  EXPECT_TRUE(std::isnan(wl[7]));
  auto status = read_2d(out, "/xanes/status");
  EXPECT_EQ(status[7], static_cast<double>(xa::FitStatus::nan_in_spectrum));
  EXPECT_EQ(status[3], 0.0);

  auto csv = xa::write_pixels_csv((dir / "csv").string(), res, back.ny, back.nx);
  std::ifstream f(csv);
  std::string header, row;
  std::getline(f, header);
  EXPECT_EQ(header, "iy,ix,white_line_ev,peak_height,r2,status,particle");
  for (int i = 0; i < 8; ++i) std::getline(f, row);
  EXPECT_EQ(row.rfind("1,2,", 0), 0u) << row;
  EXPECT_NE(row.find("nan_in_spectrum,0"), std::string::npos) << row;
  fs::remove_all(dir);
}

TEST(XanesIo, StackErrorsNameTheProblem) {
  auto dir = temp_dir("stackerr");
  xa::Stack st;
  st.ny = 1;
  st.nx = 2;
  st.energy_ev = {7.721, 7.722, 7.722};
  st.data.assign(6, 1.0f);
  const std::string p = (dir / "dup.h5").string();
  xa::write_stack(p, st);
  try {
    xa::read_stack(p);
    FAIL() << "duplicates accepted";
  } catch (const laueproc::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate energy 7722"), std::string::npos) << e.what();
  }
  EXPECT_THROW(xa::read_stack(p, {"/exchange/nope", "/exchange/energy"}), laueproc::InputError);
  EXPECT_THROW(xa::read_stack((dir / "missing.h5").string()), laueproc::InputError);
  fs::remove_all(dir);
}

TEST(XanesIo, TextFormatsAndErrors) {
  auto dir = temp_dir("text");
  write_text(dir / "two.txt", "# energy mu\n7.721 1.0\n7.722 1.5\n7.723 1.2\n");
  auto two = xa::read_spectrum_text((dir / "two.txt").string());
  EXPECT_TRUE(two.kev_converted);
  EXPECT_NEAR(two.energy_ev[1], 7722.0, 1e-9);
  ASSERT_EQ(two.mu.size(), 1u);

  write_text(dir / "fl.xdi",
             "# XDI/1.0\n# Column.1: energy eV\n# Column.2: i0\n# Column.3: ifluor\n#----\n"
             "7721 2 1\n7722 2 3\n7723 4 2\n");
  auto fl = xa::read_spectrum_text((dir / "fl.xdi").string());
  ASSERT_EQ(fl.names.at(0), "fluorescence");
  EXPECT_DOUBLE_EQ(fl.mu[0][1], 1.5);

  write_text(dir / "dup.txt", "7721 1\n7722 2\n7721 3\n");
  try {
    xa::read_spectrum_text((dir / "dup.txt").string());
    FAIL();
  } catch (const laueproc::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate energy 7721 eV at lines 1 and 3"), std::string::npos) << e.what();
  }
  write_text(dir / "ragged.txt", "7721 1\n7722 2 3\n");
  EXPECT_THROW(xa::read_spectrum_text((dir / "ragged.txt").string()), laueproc::InputError);
  write_text(dir / "nan.txt", "7721 nan\n7722 nan\n");
  EXPECT_THROW(xa::read_spectrum_text((dir / "nan.txt").string()), laueproc::InputError);
  write_text(dir / "empty.txt", "# nothing\n");
  EXPECT_THROW(xa::read_spectrum_text((dir / "empty.txt").string()), laueproc::InputError);
  EXPECT_THROW(xa::read_spectrum_text((dir / "absent.txt").string()), laueproc::InputError);
  fs::remove_all(dir);
}

// Named columns without an energy: an error naming the file (i0 was taken as the energy);
// the energy found by its name anywhere, and the first column of an unnamed file still is.
TEST(XanesIo, EnergyColumnByNameOrAnError) {
  fs::path dir = temp_dir("energy");
  write_text(dir / "no_energy.xdi",
             "# XDI/1.0\n# Column.1: i0\n# Column.2: itrans\n# ///\n100 50\n101 40\n102 45\n103 47\n");
  try {
    xa::read_spectrum_text((dir / "no_energy.xdi").string());
    FAIL() << "a spectrum without energies must be refused";
  } catch (const laueproc::InputError& e) {
    EXPECT_EQ(e.file(), (dir / "no_energy.xdi").string());
    EXPECT_NE(std::string(e.what()).find("no energy column (columns: i0, itrans)"), std::string::npos) << e.what();
  }
  write_text(dir / "header.txt", "i0 itrans\n100 50\n101 40\n102 45\n");
  EXPECT_THROW(xa::read_spectrum_text((dir / "header.txt").string()), laueproc::InputError);
  // Energy in the last column, named with its unit.
  write_text(dir / "last.txt", "mu Energy(eV)\n0.1 7701\n0.9 7702\n0.4 7703\n");
  auto last = xa::read_spectrum_text((dir / "last.txt").string());
  ASSERT_EQ(last.energy_ev.size(), 3u);
  EXPECT_EQ(last.energy_ev[1], 7702);
  ASSERT_EQ(last.mu.size(), 1u);
  EXPECT_EQ(last.mu[0][1], 0.9);
  // No names at all: the first column is the energy.
  write_text(dir / "plain.txt", "7701 0.1\n7702 0.9\n7703 0.4\n");
  EXPECT_EQ(xa::read_spectrum_text((dir / "plain.txt").string()).energy_ev[0], 7701);
  fs::remove_all(dir);
}
