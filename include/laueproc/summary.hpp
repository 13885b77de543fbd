#pragma once
/// @file
/// @brief Per-frame summaries (streaking extent, defect scenario) and scan maps, computed from
/// peak lists alone (no pixels, no files), so the CPU and CUDA backends share them.
/// The rules and the reasons for them are in docs/scenarios.md.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "laueproc/config.hpp"
#include "laueproc/peak.hpp"
#include "laueproc/scenario.hpp"

namespace laueproc {

/// @brief Everything the maps and the results file report about one frame.
struct FrameSummary {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

  std::int64_t frame = 0;      ///< frame index in the scan
  int ix = -1;                 ///< raster column, -1 until assign_grid()
  int iy = -1;                 ///< raster row, -1 until assign_grid()
  bool has_position = false;   ///< x_um/y_um are known
  double x_um = 0.0;           ///< sample X, micrometres
  double y_um = 0.0;           ///< sample Y, micrometres
  int n_peaks = 0;             ///< all peaks found
  int n_used = 0;              ///< well-measured peaks used for SE (not saturated/edge, snr >= snr_min)
  double se = kNaN;            ///< streaking extent: mean of a*b / r_unit^2 over used peaks (unit 1 = round r_unit spot)
  double se_median = kNaN;     ///< median of a*b / r_unit^2 over used peaks
  Scenario scenario = Scenario::unknown;
  double split_px = 0.0;       ///< |common split vector| (px), tilt_boundary and mixed only
  double split_dx = 0.0;       ///< split vector, x (px); sign canonical: dx > 0, or dx == 0 and dy > 0
  double split_dy = 0.0;       ///< split vector, y (px)
  double misorientation_deg = 0.0;  ///< split_px * deg_per_px (deg), tilt_boundary and mixed only
  double pair_fraction = 0.0;  ///< share of reflections split by the common vector (0..1)
  double stacking_fraction = 0.0;   ///< share of bright candidates (not edge, snr >= snr_min) with n_maxima >= 3
  double elongation = 0.0;     ///< median a/b over used peaks (>= 1; 0 when none)
  double background = kNaN;    ///< mean background (counts), filled by the pipeline
  double noise = kNaN;         ///< noise sigma (counts), filled by the pipeline
  std::string status = "ok";   ///< "ok" or why the frame failed
};

/// @brief A peak that enters SE and the shape statistics: not saturated, not at an edge or
/// mask, snr >= config.snr_min, finite a and b.
bool is_used_peak(const Peak& peak, const SummaryConfig& config);

/// @brief The frame-wide split vector found by split detection (see find_common_split()).
struct SplitEstimate {
  bool found = false;       ///< a consensus vector with enough support exists
  double dx = 0.0;          ///< consensus vector (px), canonical sign
  double dy = 0.0;
  int support = 0;          ///< neighbour displacements within tolerance of the vector
  int n_candidates = 0;     ///< peaks considered (not edge, snr >= snr_min / 2, finite centroid)
  int n_pairs = 0;          ///< disjoint peak pairs displaced by the vector
  double pair_fraction = 0.0;  ///< n_pairs / reflections: share of reflections split; reflections =
                               ///< n_pairs + unpaired candidates with snr >= snr_min
};

/// @brief Finds the dominant displacement vector between neighbouring peaks (cell list within
/// group_radius_px, vote on a 2 px histogram of displacements, mean-shift refinement) and the
/// share of reflections split by it. Thread-safe (per-thread scratch), no allocation after warm-up.
SplitEstimate find_common_split(const PeakList& peaks, const SummaryConfig& config);

/// @brief SE, shape evidence and scenario of one frame. `status` is "ok"; ix/iy stay -1.
FrameSummary summarize_frame(std::int64_t frame, const PeakList& peaks, const SummaryConfig& config);

/// @brief An explicit raster grid (--grid NXxNY); nx = ny = 0 means "infer from positions".
struct GridSpec {
  int nx = 0;          ///< columns (fast axis); with ny == 0, ny = ceil(frames / nx)
  int ny = 0;          ///< rows (slow axis)
  bool snake = false;  ///< odd rows run right to left (serpentine raster)
};

/// @brief Assigns ix, iy to every summary.
/// - Explicit grid: row-major, ix = frame % nx, iy = frame / nx (mirrored on odd rows when snake).
///   A frame outside nx*ny throws UsageError.
/// - Else, when positions exist: the distinct x and the distinct y positions are clustered (a
///   cluster break is a sorted-position gap above half the raster step and above 20 nm; jitter
///   up to ~13 % of the step is tolerated); ix/iy = whole steps from the first cluster (a
///   skipped column stays empty), or the cluster rank if the spacing is irregular. Independent
///   of scan order (raster, snake). Frames without a position get -1.
/// - Else (no positions, or all frames at one position: a time series): a line, ix = frame -
///   first frame, iy = 0.
void assign_grid(std::vector<FrameSummary>& frames, const GridSpec& grid = {});

/// @brief Per-quantity maps over the raster, ny*nx row-major (index iy*nx + ix).
struct ScanMaps {
  int nx = 0;
  int ny = 0;
  std::vector<double> x_um;  ///< column coordinates, length nx: mean sample X of the column
                             ///< (column index when no frame has a position; NaN for an empty column)
  std::vector<double> y_um;  ///< row coordinates, length ny (as x_um)
  std::vector<float> se, se_median, n_peaks, background, noise;  ///< NaN where no frame
  std::vector<std::int8_t> scenario;  ///< Scenario value, -1 where no frame
};

/// @brief Places assigned summaries (ix, iy >= 0) in maps. nx/ny = the grid's when given, else
/// max index + 1. When several frames share a cell, the lowest frame index wins.
ScanMaps build_maps(const std::vector<FrameSummary>& frames, const GridSpec& grid = {});

}  // namespace laueproc
