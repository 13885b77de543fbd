#pragma once
/// @file
/// @brief Synthetic Laue scans with ground truth (`laueproc simulate`), for the demo, the tests
/// and the benchmarks.
///
/// Model of one frame (all counts are detector ADU, positions 0-based pixels, pixel centres at
/// integers, x = column, y = row):
/// - smooth background: level L (uniform 100..400 per frame) + a linear gradient (up to +-20 % of
///   L across the frame) + a glass-substrate halo ring (radius 0.30..0.45 of the smaller frame
///   side, Gaussian radial profile of FWHM 0.1 of it, amplitude 0.5..1.2 L, centre within +-5 %);
/// - reflections: 2-D Gaussian spots sampled at pixel centres (for sigma >= 1 px the sampled
///   second moments equal the continuous ones to < 1e-10, so truth a, b are analytic);
/// - noise: Poisson (exact for lambda <= 30, else N(lambda, sqrt(lambda))) plus Gaussian read
///   noise, rounded and clipped to [0, 65535];
/// - detector defects fixed for the whole scan (as on a real panel): one dead row (all 0) and
///   20..50 hot pixels (5000..60000) drawn from the seed alone; spots are never placed on a hot
///   pixel, but may cross the dead row (such peaks are not `isolated`).
/// Every frame is deterministic for (seed, frame index, config) on any compiler: own RNG
/// (splitmix64 -> xoshiro256**), own normal deviates (Marsaglia polar).

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "laueproc/index.hpp"
#include "laueproc/io.hpp"
#include "laueproc/scenario.hpp"

namespace laueproc::sim {

/// @brief Physical spots (`simulate --material/--lattice`): spots sit where a crystal of a known
/// orientation diffracts (energy band, reflection conditions, detector geometry) instead of at
/// random places. The scenarios keep their meaning, made physical:
/// - defect_free: one orientation per crystal, round spots;
/// - gnd: lattice curvature, a continuous rotation of `gnd_spread` about a bending axis drawn
///   per frame: every spot streaks along the path it takes on the detector as the crystal
///   rotates (d pixel / d angle), so streak directions and lengths vary over the pattern;
/// - tilt_boundary: two sub-grains rotated by split_px x deg_per_px about a random axis (0.2-1 deg
///   with the default split range): every spot splits, by a vector that varies over the pattern;
/// - mixed: both; stacking: 3-5 sub-grains stepped by 0.05-0.12 deg alternately about two axes
///   (a V of sub-peaks).
/// The crystal's orientation drifts across the raster (curvature_deg_per_um: KAM ~ that x step).
struct CrystalConfig {
  bool enabled = false;
  index::Material material;
  index::Geometry geometry;            ///< its nx, ny must equal the frame size
  double energy_min_kev = 7, energy_max_kev = 30;  ///< 34-ID-E's band
  double q_max = 2.2;                  ///< reflections up to this |q| (1/Angstrom) make spots
  int grains = 1;                      ///< crystals (particles) in every frame, orientations far apart
  double second_grain_fraction = 0.0;  ///< share of frames with one more crystal (beside the particle)
  double curvature_deg_per_um = 0.02;  ///< orientation gradient across the raster
  double gnd_spread_min_deg = 0.1, gnd_spread_max_deg = 0.4;  ///< curvature within one frame
  double spurious_fraction = 0.0;      ///< extra round spots at random places (not indexable)
};

/// @brief Truth of a physical frame: each crystal's UB B0 and each spot's reflection.
struct CrystalTruth {
  struct GrainTruth {
    int grain = 0;
    index::Mat3 ub_b0;
  };
  struct SpotTruth {
    int peak = 0;            ///< truth peak (truth_peaks.csv)
    int grain = -1;          ///< -1: spurious
    int h = 0, k = 0, l = 0;
    double energy_kev = 0;
  };
  std::vector<GrainTruth> grains;    ///< crystals; a tilt boundary's second sub-grain is a grain of its own
  std::vector<SpotTruth> spots;
  index::Vec3 bend_axis;             ///< GND curvature axis (lab), gnd and mixed frames
  double gnd_spread_deg = 0;         ///< rotation spread about it
  double tilt_deg = 0;               ///< tilt boundary misorientation (tilt_boundary, mixed)
};

/// @brief Everything that defines a simulated scan (all of it is stored as provenance).
struct SimConfig {
  int width = 2048, height = 2048;  ///< frame size, pixels
  int grid_nx = 5, grid_ny = 5;     ///< raster points; frames = nx*ny, frame i at ix = i % nx, iy = i / nx
  double step_um = 0.5;             ///< raster step, micrometres (x_um = ix*step, y_um = iy*step)
  std::uint64_t seed = 1;
  /// Relative odds per frame of defect_free, gnd, tilt_boundary, mixed, stacking.
  std::array<double, 5> scenario_weights = {1, 1, 1, 1, 1};
  std::optional<Scenario> only;     ///< force one scenario for all frames (not unknown)
  int min_reflections = 25, max_reflections = 60;  ///< per frame; fewer when the frame is too small to place them apart
  double sigma_px = 1.5;            ///< defect-free spot sigma (a = b = 2 sigma = 3 px = SE unit 1)
  double min_separation_px = 25.0;  ///< reflections' spots at least this far apart (and their 3-sigma footprints apart)
  double edge_margin_px = 16.0;     ///< spot centres at least this far (and 4 sigma + 2) from the frame edges
  double gnd_ratio_min = 1.5, gnd_ratio_max = 5.0;  ///< GND axis ratio major/minor, uniform per peak
  double split_min_px = 10.0, split_max_px = 50.0;  ///< tilt-boundary split length (0.2..1.0 deg at 0.02 deg/px)
  double split_ratio_min = 0.3;     ///< second spot amplitude / first, uniform in [min, 1]
  int stacking_min_sub = 3, stacking_max_sub = 5;   ///< sub-peaks per stacking blob
  double stacking_spacing_min_px = 3.0, stacking_spacing_max_px = 6.0;  ///< sub-peak spacing along a V arm
  double amplitude_min_snr = 30.0;  ///< faintest spot peak height, in noise sigmas
  double amplitude_max = 100000.0;  ///< brightest spot peak height (counts): above 65535, so some saturate
  double background_min = 100.0, background_max = 400.0;  ///< level L per frame, counts
  double gradient_fraction = 0.2;   ///< gradient amplitude across the frame, fraction of L
  double halo_min = 0.5, halo_max = 1.2;  ///< halo ring amplitude, fraction of L
  double read_noise = 3.0;          ///< Gaussian read noise sigma, counts
  int hot_pixels_min = 20, hot_pixels_max = 50;  ///< hot pixels per scan (same pixels in every frame)
  bool dead_row = true;             ///< one dead row per scan (all 0)
  double deg_per_px = 0.02;         ///< misorientation_deg = split_px * deg_per_px
  double r_unit_px = 3.0;           ///< se_true unit: a*b / r_unit^2
  CrystalConfig crystal;            ///< physical spots when enabled
};

/// @brief Name/value pairs of every SimConfig setting (provenance attributes, CSV-free).
std::vector<std::pair<std::string, std::string>> describe(const SimConfig& config);

/// @brief What a correct peak finder should report for one separated spot.
/// x, y: intensity-weighted centroid of the spot's noise-free, unclipped components (px).
/// a, b, theta_deg: from the analytic second moments of the Gaussian mixture (covariance =
/// sum w_i (Sigma_i + mu_i mu_i^T) - mu mu^T, w_i = integrated intensities), a = 2 sqrt(l1),
/// b = 2 sqrt(l2), theta = major axis from +x toward +y, degrees in [-90, 90).
/// amplitude: highest noise-free value above background at a pixel centre of the spot's box,
/// including the other spot of the same reflection (counts, unclipped).
/// saturated: background + amplitude >= 65535 (spot heights in 0.9..1.08 x 65535 are never
/// drawn, so saturated spots do clip and unsaturated spots never do, whatever the noise).
/// isolated: not saturated, no other truth peak centre within 20 px, centre farther than
/// 4 px + 1.5 a (the 3-sigma footprint + 4 px) from the dead row, and that footprint inside the frame.
struct TruthPeak {
  std::int64_t frame = 0;   ///< frame index
  int peak = 0;             ///< truth peak number in the frame
  int reflection = 0;       ///< reflection it belongs to (split spots share one)
  double x = 0, y = 0;      ///< centroid, px
  double amplitude = 0;     ///< peak height above background, counts
  double a = 0, b = 0;      ///< semi-axes 2 sqrt(eigenvalues), px
  double theta_deg = 0;     ///< major-axis angle, degrees [-90, 90)
  int n_sub = 1;            ///< Gaussian components merged in this spot (stacking: 3..5)
  bool saturated = false;
  bool isolated = false;
};

/// @brief Per-frame ground truth.
struct TruthFrame {
  std::int64_t frame = 0;
  int ix = 0, iy = 0;              ///< raster indices
  double x_um = 0, y_um = 0;       ///< sample position, micrometres
  Scenario scenario = Scenario::defect_free;
  int n_reflections = 0;           ///< reflections placed
  int n_peaks = 0;                 ///< truth peaks (tilt/mixed: 2 per reflection)
  double se_true = 0;              ///< mean over unsaturated truth peaks of a*b / r_unit^2 (r_unit = 3 px)
  double split_dx = 0, split_dy = 0, split_px = 0;  ///< split vector (px), tilt_boundary/mixed only, else 0
  double misorientation_deg = 0;   ///< split_px * deg_per_px
  double background_mean = 0;      ///< mean of the smooth background over the frame, counts
  double noise_sigma = 0;          ///< sqrt(background_mean + read_noise^2), counts
};

/// @brief Renders frames of a simulated scan. Thread-safe: every method is const and renders
/// with per-call state (a per-thread scratch buffer), deterministic per (config, frame).
class ScanSimulator {
 public:
  /// @brief Throws UsageError when the config is invalid (sizes, weights, ranges).
  explicit ScanSimulator(SimConfig config);
  const SimConfig& config() const { return config_; }
  std::int64_t n_frames() const;
  /// @brief Truth of frame i without rendering pixels (microseconds).
  TruthFrame frame_truth(std::int64_t i) const;
  /// @brief Truth peaks of frame i without rendering pixels.
  std::vector<TruthPeak> truth_peaks(std::int64_t i) const;
  /// @brief Renders frame i (width*height uint16, row-major) and, if truth != nullptr, its truth peaks.
  void render(std::int64_t i, std::vector<std::uint16_t>& pixels, std::vector<TruthPeak>* truth) const;
  /// @brief The noise-free, unclipped model of frame i (background + spots), float counts; for tests.
  void render_model(std::int64_t i, std::vector<float>& model, bool with_background = true) const;
  /// @brief Crystals and spot hkl of frame i (physical mode; empty otherwise).
  CrystalTruth crystal_truth(std::int64_t i) const;
  /// @brief The scan's dead row (-1 when SimConfig::dead_row is false).
  int dead_row() const { return dead_row_; }
  /// @brief The scan's hot pixels as (x, y, value).
  struct HotPixel { int x, y; std::uint16_t value; };
  const std::vector<HotPixel>& hot_pixels() const { return hot_; }

 private:
  SimConfig config_;
  int dead_row_ = -1;
  std::vector<HotPixel> hot_;
};

/// @brief Where and how write_scan writes.
struct WriteOptions {
  ScanLayout layout = ScanLayout::stack;
  std::string out;                  ///< stack: file path; per_frame_files: directory
  std::string compression = "none"; ///< none | gzip (level 1) | bitshuffle (+LZ4, filter 32008)
  int threads = 0;                  ///< render threads; 0 = all cores
  bool overwrite = false;           ///< replace existing files of the scan (else OutputError)
};

/// @brief What write_scan wrote.
struct WrittenScan {
  std::string path;             ///< what to pass to `laueproc process` (stack file or directory)
  std::string truth_peaks_csv;  ///< frame,peak,reflection,x,y,amplitude,a,b,theta_deg,n_sub,saturated,isolated
  std::string truth_frames_csv; ///< frame,ix,iy,x_um,y_um,scenario,n_reflections,n_peaks,se_true,split_dx,split_dy,split_px,misorientation_deg,background,noise
  std::int64_t n_frames = 0;
  std::string truth_grains_csv; ///< physical mode: frame,grain,ub11..ub33
  std::string truth_spots_csv;  ///< physical mode: frame,peak,grain,h,k,l,energy_kev
  std::string geometry_xml;     ///< physical mode: the detector, as LaueGo XML (for laueproc index)
};

/// @brief CSV header lines (without newline), exactly as written.
extern const char* const kTruthPeaksHeader;
extern const char* const kTruthFramesHeader;
extern const char* const kTruthGrainsHeader;
extern const char* const kTruthSpotsHeader;

/// @brief Renders every frame on `threads` threads (compressing there too) while the calling
/// thread writes them in order: stack -> /entry/data/data (N x ny x nx uint16, one frame per
/// chunk) with /entry/sample/{x,y} (um); per_frame_files -> scan_00000.h5... in the APS
/// 34-ID-E layout (/entry1/data/data, /entry1/sample/sampleX|sampleY, /entry1/detector/Nx|Ny).
/// The truth CSVs go beside the stack file or into the directory. Everything is written in a
/// staging folder there and moved into place once complete (a failed run leaves nothing);
/// existing files of the scan are replaced only with `overwrite` (else OutputError). Throws
/// Error (e.g. bitshuffle filter not available), OutputError (cannot write) or UsageError (bad
/// options). `progress` runs on the calling thread.
WrittenScan write_scan(const SimConfig& config, const WriteOptions& options,
                       const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});

}  // namespace laueproc::sim
