#pragma once
/// @file
/// @brief Laue indexing: detector geometry, materials, the indexing engine (orientations and hkl
/// of every crystal in the beam), per-scan orientation maps. Method, conventions and validation:
/// docs/indexing.md.
///
/// Conventions (checked against the real Ge frame in tests/index):
/// - pixels are laueproc's: 0-based, x = column, y = row (LaueTools' .dat is 1-based: X = x + 1);
/// - lab frame of LaueTools: x along the incident beam, z up towards a top detector, y = z x x,
///   sample at the origin, ki = (1, 0, 0);
/// - orientation M = UB B0: q_lab = M (h, k, l)^T, columns a*, b*, c* in the lab frame
///   (1/Angstrom, no 2 pi). B0: a* along x, c* in the x-z plane (upper triangular).

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "laueproc/math/index_score.hpp"
#include "laueproc/math/laue.hpp"

namespace laueproc::index {

using math::Mat3;
using math::Vec3;

// ---- detector geometry -------------------------------------------------------------------------

/// @brief The internal detector model: a flat pixel grid in the lab frame. The point of pixel
/// (x, y) (0-based, pixel centre) is origin + x pitch_x e_x + y pitch_y e_y (mm, from the sample).
struct Geometry {
  Vec3 origin;             ///< pixel (0, 0), mm
  Vec3 e_x{0, 1, 0};       ///< unit vector along a row (increasing column)
  Vec3 e_y{1, 0, 0};       ///< unit vector along a column (increasing row)
  double pitch_x = 0.1, pitch_y = 0.1;  ///< mm
  int nx = 2048, ny = 2048;             ///< pixels
  std::string source;      ///< file it came from ("" when built in code)
  std::string kind;        ///< "lauetools-det", "laue-go-xml" or "built-in"

  /// @brief Unit outgoing direction kf of pixel (x, y).
  Vec3 pixel_to_kf(double x, double y) const;
  /// @brief Unit scattering direction of pixel (x, y).
  Vec3 pixel_to_scattering(double x, double y) const;
  /// @brief Where the ray along kf meets the detector plane; false when it points away.
  bool kf_to_pixel(Vec3 kf, double& x, double& y) const;
  /// @brief Distance sample -> detector plane (mm) and the pixel at the foot of the normal.
  double distance_mm() const;
  void normal_foot(double& x, double& y) const;
  /// @brief Degrees of scattering angle per pixel at the normal's foot (2theta per px).
  double deg_per_px() const;
};

/// @brief A LaueTools .det calibration: `dd xcen ycen xbet xgam pixelsize dim1 dim2`, xcen/ycen
/// 1-based, angles in degrees; plus the orientation matrix of its header when present.
struct LaueToolsDet {
  double dd = 0, xcen = 0, ycen = 0, xbet = 0, xgam = 0, pixelsize = 0;
  int dim1 = 0, dim2 = 0;
  std::optional<Mat3> orientation;  ///< "Orientation Matrix" of the header (LaueTools' UB, rows as printed)
  std::string material;             ///< "# Material : Ge" when present
};

/// @brief An APS 34-ID-E geometry (LaueGo's geoN XML, one detector): pixel (i, j) (0-based) is at
/// rot(R) ({i px - px (Nx-1)/2, j py - py (Ny-1)/2, 0} + P) in the beam-line frame (X outboard,
/// Y up, Z along the beam); rot(R) rotates by |R| radians about R.
struct LaueGoGeometry {
  int nx = 2048, ny = 2048;
  double size_x_mm = 409.6, size_y_mm = 409.6;
  Vec3 rotation;     ///< R, radians
  Vec3 translation;  ///< P, mm
};

LaueToolsDet read_lauetools_det(const std::string& path);
LaueGoGeometry read_laue_go_xml(const std::string& path, int detector = 0);
/// @brief Reads a .det or a LaueGo geometry XML (decided by content); throws InputError.
Geometry read_geometry(const std::string& path);

Geometry to_geometry(const LaueToolsDet& det);
Geometry to_geometry(const LaueGoGeometry& geo);
/// @brief The same detector in LaueGo's model (frame change (x, y, z)_LT = (Z, X, Y)_beamline);
/// exact when the model's pixel axes are orthogonal (always for .det and LaueGo sources).
LaueGoGeometry to_laue_go(const Geometry& g);
/// @brief Writes a LaueGo geoN XML file (one detector, N="0"); read_geometry reads it back.
void write_laue_go_xml(const std::string& path, const LaueGoGeometry& g);
/// @brief A multi-line description for `laueproc geometry`.
std::string describe(const Geometry& g);

// ---- materials ---------------------------------------------------------------------------------

struct Lattice {
  double a = 1, b = 1, c = 1, alpha = 90, beta = 90, gamma = 90;  ///< Angstrom, degrees
};

/// @brief Which reflections are allowed. Centring from the space-group number (P, A, C, I, F,
/// R obverse in hexagonal axes); extra = "diamond" (Fd-3m with atoms on 8a: all odd, or all even
/// with h + k + l = 4n) or "d-glide" (Fd-3m general: 0kl k + l = 4n, h00 h = 4n). Other glides and
/// screws are not modelled: such groups then predict a few spots that are absent, which only
/// lowers match fractions.
struct ReflectionRule {
  char centring = 'P';
  enum class Extra { none, diamond, fd3m_glide } extra = Extra::none;
  bool allowed(int h, int k, int l) const;
  std::string describe() const;
};

struct Material {
  std::string name;
  Lattice lattice;
  int space_group = 1;
  ReflectionRule rule;
  Mat3 b0;                      ///< reciprocal basis, columns a*, b*, c* (1/Angstrom)
  /// Proper rotations, as integer hkl matrices S (M and M S give the same spot pattern): the
  /// metric's rotations that keep the allowed reflections allowed (24 for Fd-3m, 6 for R-3m).
  std::vector<std::array<int, 9>> symmetry;
};

/// @brief B0 (upper triangular: a* along x, c* in the x-z plane).
Mat3 reciprocal_basis(const Lattice& lattice);
/// @brief Builds a material; throws UsageError on a bad lattice or space group (1..230).
Material make_material(const std::string& name, const Lattice& lattice, int space_group,
                       ReflectionRule::Extra extra = ReflectionRule::Extra::none);
/// @brief Built-in materials: LiCoO2, LiNiO2, NMC811, Ge, Si (case-insensitive); nullopt otherwise.
std::optional<Material> builtin_material(const std::string& name);
std::vector<std::string> builtin_material_names();
/// @brief "a,b,c,alpha,beta,gamma" -> Lattice; throws UsageError.
Lattice parse_lattice(const std::string& text);

// ---- the engine --------------------------------------------------------------------------------

struct IndexSettings {
  double energy_min_kev = 5, energy_max_kev = 23;
  int max_grains = 3;
  /// Largest |q| (1/Angstrom) of a reflection the engine predicts (d >= 1/q_max).
  double q_max = 3.2;
  /// Pair-matching: the brightest spots used for angle pairs, and the reference reflections
  /// (|q| of the lowest allowed harmonic <= q_pair) their angles are compared with.
  int n_brightest = 15;
  double q_pair = 0.0;          ///< 0 = automatic: the n_pair_directions lowest-|q| directions (whole shells)
  int n_pair_directions = 300;
  double pair_tolerance_deg = 0.15;   ///< angle between two spots vs. the table
  double match_tolerance_deg = 0.20;  ///< scattering-direction tolerance while scoring
  double final_tolerance_deg = 0.08;  ///< after refinement (assigns hkl to spots)
  int min_matched = 7;          ///< a grain needs at least this many spots
  double min_matched_fraction = 0.0;  ///< ... and this share of the remaining spots
  bool refine_strain = true;    ///< 8-parameter least squares (rotation + deviatoric strain)
  int max_candidates = 4000;    ///< candidate orientations scored per grain at most
};

/// @brief A peak to index: laueproc pixel coordinates, intensity (brightest first for pairs).
struct SpotInput {
  double x = 0, y = 0, intensity = 0;
};

struct Grain {
  Mat3 ub_b0;                   ///< UB B0 (lab), strained when refine_strain
  Mat3 rotation;                ///< nearest rotation U (polar decomposition of UB), B0 convention above
  int n_indexed = 0;
  double mean_dev_px = std::numeric_limits<double>::quiet_NaN();
  double mean_dev_deg = std::numeric_limits<double>::quiet_NaN();  ///< scattering-direction residual
  std::array<double, 6> deviatoric_strain{};  ///< e_xx, e_yy, e_zz, e_yz, e_xz, e_xy (crystal frame of B0)
};

struct IndexedSpot {
  int grain = -1;               ///< -1: not indexed
  int h = 0, k = 0, l = 0;      ///< lowest allowed harmonic in the energy band
  double energy_kev = std::numeric_limits<double>::quiet_NaN();
  double dev_px = std::numeric_limits<double>::quiet_NaN();
};

struct FrameIndex {
  std::vector<Grain> grains;
  std::vector<IndexedSpot> spots;  ///< one per input spot, same order
  int n_candidates = 0;            ///< orientations scored (all grains)
};

/// @brief The indexing engine for one (geometry, material, settings): the reference tables are
/// built once; index() is const and thread-safe.
class Indexer {
 public:
  Indexer(Geometry geometry, Material material, IndexSettings settings);
  ~Indexer();
  Indexer(Indexer&&) noexcept;
  Indexer& operator=(Indexer&&) noexcept;
  const Geometry& geometry() const;
  const Material& material() const;
  const IndexSettings& settings() const;
  FrameIndex index(const std::vector<SpotInput>& spots) const;
  /// @brief Reference directions in the table (for the docs and tests).
  std::size_t n_reference_directions() const;
  /// @brief The reference-direction table as the scoring kernel reads it (host pointers, valid
  /// while the Indexer lives); sizes of its arrays for a device copy.
  math::DirectionTableView direction_table() const;
  struct TableSizes {
    std::size_t dirs, bin_starts, bin_items;
  };
  TableSizes table_sizes() const;
  struct Tables;  ///< reference tables (host/index/engine.cpp)
  const Tables& tables() const { return *t_; }

 private:
  std::unique_ptr<Tables> t_;
};

// ---- predictions (simulator, tests) ------------------------------------------------------------

struct PredictedSpot {
  int h = 0, k = 0, l = 0;      ///< lowest allowed harmonic in the band
  double x = 0, y = 0;          ///< pixel (0-based)
  double energy_kev = 0;
  Vec3 q_unit;                  ///< unit scattering direction
  int n_harmonics = 1;          ///< allowed harmonics in the band with |q| <= q_max
};

/// @brief Every allowed reflection of orientation M that diffracts in the band with |q| <= q_max
/// and lands on the detector, one per spot (harmonics merged into the lowest one).
std::vector<PredictedSpot> predict_spots(const Geometry& g, const Material& material, const Mat3& ub_b0,
                                         double energy_min_kev, double energy_max_kev, double q_max);

/// @brief A uniformly random rotation (Shoemake's quaternion method), deterministic per seed.
Mat3 random_rotation(std::uint64_t seed);
/// @brief Rotation by angle_deg about the unit lab axis.
Mat3 axis_angle(Vec3 axis, double angle_deg);

/// @brief Synthetic spot lists with truth (engine tests and benchmarks; `simulate --material`
/// renders the same predictions into frames).
struct SyntheticOptions {
  double energy_min_kev = 5, energy_max_kev = 23;
  double q_max = 2.5;                ///< reflections predicted up to this |q|
  double spurious_fraction = 0.0;    ///< extra random spots, as a share of the real ones
  double position_sigma_px = 0.1;    ///< Gaussian centroid error
  double margin_px = 10;             ///< spots this close to the frame edge are dropped
  std::uint64_t seed = 1;
};
struct SyntheticSpot {
  SpotInput spot;                    ///< what the engine sees
  int grain = -1;                    ///< -1: spurious
  int h = 0, k = 0, l = 0;
  double energy_kev = 0;
};
/// @brief Predicted spots of every orientation (intensity falling with |q|, random factor), a
/// position error, spurious spots; shuffled so that input order says nothing.
std::vector<SyntheticSpot> synthetic_spots(const Geometry& g, const Material& material,
                                           const std::vector<Mat3>& orientations, const SyntheticOptions& options);
/// @brief A 34-ID-E-like geometry when no file is given: detector on top (2theta = 90 deg at its
/// centre), `distance_mm` from the sample, square pixels of `pitch_mm`.
Geometry top_detector(int nx, int ny, double pitch_mm, double distance_mm);

// ---- orientation arithmetic --------------------------------------------------------------------

/// @brief Nearest rotation to A (polar decomposition, A = U P).
Mat3 nearest_rotation(const Mat3& a);
/// @brief Smallest rotation angle (deg) taking orientation M1 to M2 over the material's symmetry.
double misorientation_deg(const Mat3& m1, const Mat3& m2, const Material& material);
/// @brief The symmetry-equivalent of M2 closest to M1 (M2 S).
Mat3 closest_equivalent(const Mat3& m1, const Mat3& m2, const Material& material);
/// @brief Inverse-pole-figure colour (r, g, b in 0..1) of the lab direction `lab_dir` in the
/// crystal: standard-triangle colouring for cubic materials, (0001)-(2-1-10)-(10-10) for hexagonal
/// axes; other lattices get the cubic-style colouring of the direction's |components|.
std::array<double, 3> ipf_colour(const Mat3& ub_b0, const Material& material, Vec3 lab_dir);

// ---- peak lists --------------------------------------------------------------------------------

/// @brief A LaueTools .dat peak list (1-based pixels, converted to 0-based) or a LaueGo peaksearch
/// list (0-based), decided by content. Throws InputError.
std::vector<SpotInput> read_peak_list(const std::string& path);

// ---- scans: many frames, maps, files --------------------------------------------------------

/// @brief One frame's peaks to index, with its place on the raster.
struct FramePeaks {
  std::int64_t frame = 0;
  int ix = -1, iy = -1;                ///< raster cell (-1: unknown)
  std::vector<SpotInput> spots;
  std::vector<std::int32_t> peak_ids;  ///< the `peak` column for indexed.csv (row of a list, or /peaks peak)
};

/// @brief Peaks of a `laueproc process` results file (/peaks, /frames ix iy) and its raster
/// (/maps nx, ny and axes), or a peak list (one frame). Throws InputError.
struct ScanPeaks {
  std::vector<FramePeaks> frames;
  int nx = 1, ny = 1;
  std::vector<double> x_um, y_um;      ///< map axes (length nx, ny)
  bool from_results = false;
};
ScanPeaks read_scan_peaks(const std::string& path);

/// @brief Per-frame orientation maps over the raster (row-major iy * nx + ix).
struct OrientationMaps {
  int nx = 0, ny = 0;
  std::vector<std::int8_t> n_grains;      ///< -1 where no frame
  std::vector<std::uint8_t> single_crystal;  ///< 1 where exactly one grain was indexed
  std::vector<std::int32_t> particle;     ///< 0 none; 1.. connected regions of one orientation
  std::vector<float> misorientation_deg;  ///< main grain to its particle's mean orientation (NaN: none)
  std::vector<float> kam_deg;             ///< kernel average misorientation to 4-neighbours (NaN: none)
  std::vector<float> ipf_rgb;             ///< ny * nx * 3, colour of the beam direction (x) in the crystal
};

/// @brief Everything `laueproc index` computes for a scan.
struct ScanIndex {
  std::vector<std::int64_t> frames;       ///< frame numbers, as FramePeaks
  std::vector<FrameIndex> results;        ///< one per frame
  std::vector<std::vector<std::int32_t>> peak_ids;
  std::vector<int> ix, iy;
  OrientationMaps maps;
  std::vector<double> x_um, y_um;
  /// Per frame and grain: misorientation to the particle mean and KAM (main grain; NaN otherwise).
  std::vector<std::vector<double>> grain_misorientation_deg, grain_kam_deg;
};

/// @brief Maps settings: neighbours closer than this belong to one particle and enter the KAM.
struct MapSettings {
  double particle_threshold_deg = 5.0;
  Vec3 ipf_direction{1, 0, 0};  ///< lab direction coloured (default: the incident beam)
};

/// @brief Indexes every frame on `threads` threads (0 = all cores; results do not depend on it),
/// then builds the maps. `progress(done, total)` runs on the calling thread.
ScanIndex index_scan(const ScanPeaks& scan, const Indexer& indexer, int threads, const MapSettings& maps = {},
                     const std::function<void(std::int64_t, std::int64_t)>& progress = {});

/// @brief Provenance of an index run (root attributes of the file, provenance.txt of the CSVs).
struct IndexProvenance {
  std::string command_line, input, geometry_file;
  std::vector<std::pair<std::string, std::string>> settings;
};
std::vector<std::pair<std::string, std::string>> describe(const IndexSettings& s, const Material& m);

/// @brief Writes /index (grains and indexed tables) and the maps (/maps/<name> NXdata) into
/// `path`: a new file (create = true, with root provenance) or an existing results file (the
/// groups are added; index provenance goes on /index). Throws Error.
void write_index_h5(const std::string& path, const ScanIndex& index, const IndexProvenance& provenance, bool create);
/// @brief DIR/grains.csv, DIR/indexed.csv and DIR/index_provenance.txt.
void write_index_csv(const std::string& dir, const ScanIndex& index, const IndexProvenance& provenance);
extern const char* const kGrainsCsvHeader;
extern const char* const kIndexedCsvHeader;

}  // namespace laueproc::index
