#pragma once
/// @file
/// @brief Correlating streaking-extent (SE) maps from `laueproc process` with white-line maps from
/// `laueproc xanes`, per particle and across particles, for one or more states (e.g. pristine,
/// delithiated). File layout: notes in docs/xanes.md and the correlation contract.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace laueproc::correlate {

// ---- statistics (NaN-free inputs; the callers filter) ----------------------------------------

/// @brief Pearson's r; NaN when n < 2 or either variance is 0. Two-pass (mean, then co-moments).
double pearson(const double* x, const double* y, std::size_t n);
/// @brief Spearman's rho: Pearson's r of the ranks, tied values sharing their average rank.
double spearman(const double* x, const double* y, std::size_t n);
/// @brief Ranks 1..n, ties get the average of the ranks they span.
std::vector<double> average_ranks(const double* v, std::size_t n);

/// @brief Ordinary least squares y = intercept + slope * x with standard errors
/// (s^2 = SSR / (n - 2); se(slope) = s / sqrt(Sxx); se(intercept) = s sqrt(1/n + xbar^2 / Sxx)).
struct LineFit {
  double slope = std::numeric_limits<double>::quiet_NaN();
  double intercept = std::numeric_limits<double>::quiet_NaN();
  double slope_stderr = std::numeric_limits<double>::quiet_NaN();      ///< NaN when n < 3
  double intercept_stderr = std::numeric_limits<double>::quiet_NaN();  ///< NaN when n < 3
  std::size_t n = 0;
};
/// @brief Least-squares line; slope/intercept NaN when n < 2 or all x equal.
LineFit fit_line(const double* x, const double* y, std::size_t n);

/// @brief Mean, median, sample standard deviation (n - 1; NaN when n < 2). `v` is reordered.
struct Summary {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double median = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();
};
Summary summarise(std::vector<double>& v);

/// @brief Fixed-bin histogram: bins equal bins on [lo, hi] (the last bin closed); values outside
/// are not counted.
struct Histogram {
  std::vector<double> edges;          ///< bins + 1 edges
  std::vector<std::int64_t> counts;   ///< bins
};
Histogram histogram(const std::vector<double>& v, double lo, double hi, int bins);

// ---- maps and alignment ----------------------------------------------------------------------

/// @brief How the SE raster maps onto the XANES raster. The analysis runs on the XANES grid:
/// scale > 1: the SE grid is `scale` times finer, each XANES pixel takes the mean of the finite SE
/// values of its scale x scale block; scale < -1 (written "1/S" on the command line): the XANES
/// grid is S times finer, each XANES pixel takes SE of pixel (ix / S, iy / S). Then XANES pixel
/// (ix, iy) reads the rescaled SE at (ix + dx, iy + dy); outside it is NaN.
struct Alignment {
  int dx = 0, dy = 0;   ///< grid cells of the XANES grid
  int scale = 1;        ///< 1, S > 1 (SE finer) or -S (XANES finer)
  bool given = false;   ///< offset or scale given: grids may differ in shape
};

/// @brief One state (e.g. "pristine"): its process results and its XANES results.
struct StateInput {
  std::string name;          ///< <= 31 characters (fixed 32-byte strings in the file)
  std::string process_path;  ///< results.h5 of `laueproc process` (/maps/se/se)
  std::string xanes_path;    ///< xanes.h5 of `laueproc xanes` (/xanes/white_line_ev, status, particles)
  std::string index_path;    ///< single-crystal mask source (/maps/single_crystal/single_crystal); empty:
                             ///< the process results file (written there by process --index)
};

/// @brief Settings of a correlation run.
struct Settings {
  Alignment align;
  int bins = 20;                 ///< histogram bins per quantity (same edges for every particle)
  bool own_particles = false;    ///< each state uses its own /xanes/particles (default: the first state's)
  int min_pixels_across = 1;     ///< particles with fewer valid pixels are left out of the across fit
  /// SE only where indexing found exactly one crystal (laueproc index / process --index): raster
  /// points where two or more crystals meet the beam are screened out, as the seed study did.
  bool single_crystal_only = false;
};

/// @brief One (state, particle) row of /correlation/particles.
struct ParticleRow {
  std::string state;
  std::int32_t particle = 0;
  std::int32_t n_pixels = 0;   ///< pixels with finite SE and white line, status ok
  Summary se, wl;              ///< SE (unit 1) and white line (eV)
  double pointwise_r = std::numeric_limits<double>::quiet_NaN();  ///< NaN when < 3 pixels
  std::int32_t pointwise_n = 0;
  Histogram se_hist, wl_hist;
};

/// @brief Across-particle statistics of one state (particle means).
struct AcrossRow {
  std::string state;
  std::int32_t n = 0;  ///< particles used
  double pearson_r = std::numeric_limits<double>::quiet_NaN();
  double spearman_rho = std::numeric_limits<double>::quiet_NaN();
  LineFit line;        ///< wl_mean_ev = intercept + slope * se_mean
};

/// @brief Shift of one particle's means between two states.
struct ShiftRow {
  std::string from_state, to_state;
  std::int32_t particle = 0;
  double d_se_mean = std::numeric_limits<double>::quiet_NaN();
  double d_wl_mean_ev = std::numeric_limits<double>::quiet_NaN();
};

/// @brief Shift of the pooled (all particles) distributions between two states.
struct OverallShift {
  std::string from_state, to_state;
  double d_se_mean = 0, d_se_median = 0, d_wl_mean_ev = 0, d_wl_median_ev = 0;
};

/// @brief Everything a correlation run computes.
struct Result {
  std::vector<StateInput> states;
  Settings settings;
  std::size_t ny = 0, nx = 0;           ///< XANES grid of the first state
  std::vector<ParticleRow> particles;   ///< state-major, particles ascending
  std::vector<AcrossRow> across;        ///< one per state
  std::vector<ShiftRow> shifts;         ///< first state -> each later state, per particle
  std::vector<OverallShift> overall;    ///< first state -> each later state
  std::vector<double> se_edges, wl_edges;  ///< shared histogram edges
};

/// @brief Reads /maps/se/se of a `laueproc process` results file (float32 -> double, NaN where
/// no frame). Throws InputError on a missing file/dataset, wrong rank, or an all-NaN map.
std::vector<double> read_se_map(const std::string& path, std::size_t& ny, std::size_t& nx);

/// @brief Reads every state's maps, aligns them, computes the statistics. Throws InputError
/// (one line, naming the file) on missing files or datasets, mismatched grids (both files and
/// shapes), an all-NaN SE or white-line map, or no particles.
Result run(const std::vector<StateInput>& states, const Settings& settings = {});

/// @brief Writes /correlation (particles table, across/<state>, histograms/<state>/particle_<k>,
/// shifts) with provenance attributes (program, version, git_commit, command_line, inputs).
void write_hdf5(const std::string& path, const Result& result, const std::string& command_line);

/// @brief Writes DIR/particles.csv and DIR/across.csv (and DIR/shifts.csv with 2+ states).
void write_csv(const std::string& dir, const Result& result);

}  // namespace laueproc::correlate
