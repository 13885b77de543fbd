#pragma once
/// @file
/// @brief Micro-XANES: per-pixel Co K-edge white-line energy (interpolate, fit a polynomial around
/// the absorption maximum, take the energy of the fitted maximum), spectrum readers (XDI, plain
/// text, HDF5 Data Exchange stacks) and result writers.
///
/// Method: mu taken as given; linear interpolation onto a fine
/// grid (grid_step_ev, starting at the lowest energy); maximum of the interpolated spectrum inside
/// the search window; least-squares polynomial of `order` over the grid points within
/// maximum +- half_window_ev (clipped to the data range); white line = energy of the polynomial's
/// maximum inside that fit range. Optional normalisation first (FitSettings::normalise, off by
/// default): pre-edge line subtracted, divided by the edge step, as Larch's pre_edge does (see
/// EdgeNormaliser). Report window, order and normalisation with every result: they move the
/// white line by up to ~1 eV.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace laueproc::xanes {

/// @brief Settings of the white-line fit. Defaults follow the reference method.
struct FitSettings {
  int order = 3;                 ///< polynomial order, 2..6
  double half_window_ev = 3.0;   ///< fit range: interpolated maximum +- this, eV
  double grid_step_ev = 0.1;     ///< interpolation grid step, eV
  /// Search range for the maximum, eV (inclusive); the whole spectrum when empty.
  std::optional<std::pair<double, double>> search_window;
  /// Spectra whose peak-to-peak mu (all energies) is below this are flat_low_signal (mu units).
  /// With normalise, also an edge step below this is flat_low_signal.
  double min_signal = 1e-6;

  // ---- optional normalisation (Larch pre_edge; all off by default) ----
  /// Subtract the pre-edge line and divide by the edge step before the fit (per spectrum).
  /// Needs a search_window starting above the pre-edge (the pre-edge range is clipped below it).
  bool normalise = false;
  /// Edge energy E0, eV (snapped to the nearest sample, as Larch). Empty: per spectrum, the
  /// maximum of dmu/dE (Larch find_e0).
  std::optional<double> e0_ev;
  /// Pre-edge line range [e0 + pre1, e0 + pre2], eV relative to e0. Empty: Larch's defaults,
  /// pre1 = E[1] - e0 rounded to 5 eV (2 eV when e0 is among the first 21 samples), at least
  /// min(E) - e0; pre2 = pre1 / 3 rounded to 5 eV.
  std::optional<double> pre1_ev, pre2_ev;
  /// Post-edge polynomial range [e0 + norm1, e0 + norm2], eV relative to e0. Empty: Larch's
  /// defaults, norm2 = max(E) - e0 rounded to 5 eV (at most max(E) - e0); norm1 = min(150,
  /// norm2 / 3 rounded to 5 eV).
  std::optional<double> norm1_ev, norm2_ev;
  /// Post-edge polynomial degree 0..5. Empty: Larch's default, 0 when norm2 - norm1 < 50 eV,
  /// 1 when < 350 eV, else 2.
  std::optional<int> nnorm;
};

/// @brief How one spectrum was normalised (EdgeNormaliser::apply). Ranges resolved, eV.
struct EdgeNormalisation {
  bool ok = false;            ///< false: pre-edge range < 2 samples, post-edge range too short or step < min_signal
  std::int32_t ie0 = -1;      ///< index of e0 in ascending order (-1: not found)
  double e0_ev = std::numeric_limits<double>::quiet_NaN();     ///< edge energy (a sample), eV
  double pre1_ev = std::numeric_limits<double>::quiet_NaN();   ///< pre-edge range start, relative to e0, eV
  double pre2_ev = std::numeric_limits<double>::quiet_NaN();   ///< pre-edge range end, relative to e0, eV
  double norm1_ev = std::numeric_limits<double>::quiet_NaN();  ///< post-edge range start, relative to e0, eV
  double norm2_ev = std::numeric_limits<double>::quiet_NaN();  ///< post-edge range end, relative to e0, eV
  int nnorm = 0;              ///< post-edge polynomial degree
  int n_pre = 0, n_post = 0;  ///< samples in the pre-edge / post-edge fits
  double pre_at_e0 = std::numeric_limits<double>::quiet_NaN();  ///< pre-edge line at e0, mu units
  double pre_slope = std::numeric_limits<double>::quiet_NaN();  ///< pre-edge line slope, mu units per eV
  double edge_step = std::numeric_limits<double>::quiet_NaN();  ///< post-edge polynomial minus pre-edge line at e0, mu units
};

/// @brief Larch-style pre-edge subtraction and edge-step normalisation of spectra on one set of
/// ascending energies (M. Newville, "Larch: an analysis package for XAFS and related
/// spectroscopies", J. Phys.: Conf. Ser. 430 (2013) 012007; xraylarch larch/xafs/pre_edge.py).
///
/// norm(E) = (mu(E) - L(E)) / step, L the least-squares line over the samples with index in
/// [index_of(e0 + pre1), index_nearest(e0 + pre2)) (Larch's slices), also below the search
/// window's start; step = P(e0) with P the degree-nnorm polynomial fitted to mu - L over
/// [index_of(e0 + norm1), index_nearest(e0 + norm2)). Unlike Larch, a range that holds too few
/// samples (pre-edge < 2, post-edge < nnorm + 1) is not widened: the spectrum is not normalised
/// (ok = false). Cost per spectrum: O(n) (one pass per range and one to scale), plus one O(n)
/// derivative pass when e0 is found per spectrum.
class EdgeNormaliser {
 public:
  /// @brief `sorted_ev` ascending, distinct. Throws std::invalid_argument when the grid cannot
  /// support a normalisation for any e0 (the message names the empty range), on an e0 outside
  /// the data, or bad ranges.
  EdgeNormaliser(std::vector<double> sorted_ev, const FitSettings& settings);
  /// @brief Normalises y (ascending energies, finite) into out (may alias y). When the result is
  /// not ok, out is left unspecified.
  EdgeNormalisation apply(const double* y, double* out) const;
  /// @brief Larch find_e0: index of the largest dmu/dE (numpy.gradient) among samples
  /// nmin..n-nmin (nmin = max(3, n/20)) whose neighbours also exceed 10 % of it; -1 when none.
  std::int32_t find_e0(const double* y) const;

 private:
  struct Ranges {
    std::int32_t p1 = 0, p2 = 0, q1 = 0, q2 = 0;  // pre-edge [p1, p2), post-edge [q1, q2), ascending indices
    int nnorm = 0;
    double pre1 = 0, pre2 = 0, norm1 = 0, norm2 = 0;
  };
  Ranges resolve(std::int32_t ie0) const;
  std::vector<double> e_;      // ascending, eV
  FitSettings s_;
  std::int32_t search_lo_ = 0;  // first sample index inside the search window: the pre-edge stays below
  std::int32_t fixed_ie0_ = -1;  // e0 given: its index
  Ranges fixed_;               // e0 given: its ranges
};

/// @brief Normalises one spectrum (energies in any order, as WhiteLineFitter) with `settings`'
/// ranges; `normalised`, when given, receives norm(E) in the input order. Throws as EdgeNormaliser.
EdgeNormalisation normalise_spectrum(const std::vector<double>& energies_ev, const std::vector<double>& mu,
                                     const FitSettings& settings, std::vector<double>* normalised = nullptr);

/// @brief One line for result files and logs: "none", or the settings of the normalisation
/// ("pre-edge line over [e0-30, e0-10] eV, ...; e0 per spectrum (max dmu/dE)").
std::string describe_normalisation(const FitSettings& settings);

/// @brief Outcome of one spectrum's fit. Stored as int8 in result files (the enumerator values).
enum class FitStatus : std::int8_t {
  ok = 0,
  no_peak_in_window = 1,   ///< fewer than order+1 grid points, or fewer than order+1 measured energies (an
                           ///< under-determined polynomial), in the fit range; or no usable maximum
  max_at_window_edge = 2,  ///< interpolated or fitted maximum at the search/data/fit-range edge; value still reported
  flat_or_low_signal = 3,  ///< peak-to-peak mu below min_signal
  nan_in_spectrum = 4,     ///< a NaN or infinity in mu
};
constexpr int kFitStatusCount = 5;

/// @brief "ok", "no_peak_in_window", "max_at_window_edge", "flat_low_signal", "nan_in_spectrum".
const char* to_string(FitStatus status);

/// @brief One spectrum's white line.
struct FitResult {
  double white_line_ev = std::numeric_limits<double>::quiet_NaN();  ///< energy of the fitted maximum, eV
  double peak_height = std::numeric_limits<double>::quiet_NaN();    ///< polynomial value there, mu units
  double r2 = std::numeric_limits<double>::quiet_NaN();             ///< coefficient of determination over the fit range
  FitStatus status = FitStatus::no_peak_in_window;
};

/// @brief Maximum of p(t) = sum c[j] t^j (j = 0..order) on [t_lo, t_hi]: analytic for order 2
/// and 3, dense sign scan of p' + bisection for 4..6. `interior` is false when the maximum is an
/// end of the interval (no interior local maximum beats the ends).
struct PolyMax {
  double t = 0;
  double value = 0;
  bool interior = false;
};
PolyMax polynomial_maximum(const double* c, int order, double t_lo, double t_hi);

/// @brief Fits many spectra measured at one set of energies.
///
/// Speed: everything except the argmax is linear in the data once the fit range is known. The
/// interpolation onto the grid is a fixed sparse map M, so for each possible position of the
/// maximum the projector P = (X^T X)^-1 X^T M (coefficients straight from the ORIGINAL samples)
/// is precomputed at construction (in long double, on t = (E - E_centre)/half_width in [-1, 1]).
/// The argmax of a piecewise-linear interpolant sampled on the grid is, within each segment
/// between two samples, at the segment's first or last grid point (linear, so monotone), so the
/// argmax is taken over at most two precomputed candidates per segment (only the samples
/// themselves when the grid passes through them, as for integer-eV energies). Per spectrum:
/// one pass for NaN/flat checks, the argmax, a small mat-vec, an analytic vertex and R^2 from
/// a precomputed quadratic form.
///
/// With settings.normalise every spectrum goes through EdgeNormaliser first (a slower per-pixel
/// path, O(n) extra work and a double copy); the white line is then fitted to the normalised
/// spectrum with the same projectors (peak_height in normalised units). A spectrum that cannot
/// be normalised is flat_low_signal. normalise = false runs the unchanged fast path.
class WhiteLineFitter {
 public:
  /// @brief `energies_ev` in any order, any spacing (mu passed to fit() in the same order).
  /// Throws std::invalid_argument on fewer than 2 energies, duplicates, non-finite energies,
  /// bad settings or a search window outside the data.
  explicit WhiteLineFitter(std::vector<double> energies_ev, FitSettings settings = {});

  /// @brief Fits one spectrum: mu[i * stride] belongs to energies_ev[i].
  FitResult fit(const float* mu, std::ptrdiff_t stride = 1) const;
  FitResult fit(const double* mu, std::ptrdiff_t stride = 1) const;

  /// @brief Fits n_pixels spectra stored energy-major (n_energies x n_pixels, as /exchange/data):
  /// data[i * n_pixels + p]. `threads` worker threads (<= 1: the calling thread only).
  void fit_many(const float* data, std::size_t n_pixels, FitResult* out, int threads = 1) const;

  const std::vector<double>& energies() const noexcept { return energies_; }  ///< as given, eV
  const FitSettings& settings() const noexcept { return settings_; }
  std::size_t n_energies() const noexcept { return energies_.size(); }

  /// @brief A grid point that can hold the interpolated maximum: grid index k, left sample i
  /// (ascending order), weight w of sample i+1 (0 when the grid point is the sample itself).
  struct Candidate {
    std::int32_t k = 0;
    std::int32_t i = 0;
    double w = 0;
  };
  /// @brief Precomputed fit range for one candidate maximum (the projector cache entry).
  struct Window {
    std::int32_t k0 = 0, k1 = 0;     // grid range of the fit
    std::int32_t i_lo = 0;           // first original sample (ascending) the fit reads
    std::int32_t n_local = 0;        // samples it reads
    std::size_t coef_offset = 0;     // (order+1) x n_local projector rows in coef_
    std::size_t quad_offset = 0;     // Q diag (n_local), Q off-diag (n_local), s (n_local) in quad_
    double centre_ev = 0;            // E at t = 0
    double half_width_ev = 0;        // E - centre at t = 1
    double gram[36] = {};            // centred Gram of t^1..t^order over the fit grid, order x order
    bool at_search_edge = false;     // the candidate is the first/last grid point searched
    bool too_few = false;            // fewer than order+1 grid points or measured energies
  };

 private:
  template <typename T, bool kCheckSignal = true>
  FitResult fit_sorted(const T* y) const;  // y in ascending-energy order, contiguous
  template <typename T>
  FitResult fit_normalised(const T* y, double* work) const;  // checks raw y, normalises into work (n), fits

  std::vector<double> energies_;      // as given, eV
  FitSettings settings_;
  std::vector<std::size_t> perm_;     // perm_[j] = input index of the j-th lowest energy
  std::vector<double> sorted_;        // ascending energies, eV
  std::vector<Candidate> candidates_;  // argmax candidates inside the search window, ascending
  std::vector<Window> windows_;       // one per candidate
  std::vector<double> coef_;          // projector rows of all windows
  std::vector<double> quad_;          // per window: Q diagonal, Q off-diagonal, s = M^T 1
  bool samples_only_ = false;         // every candidate is an original sample (weight 0)
  std::optional<EdgeNormaliser> normaliser_;  // settings_.normalise only
};

/// @brief Slow, direct oracle: interpolate onto the whole grid, argmax over the grid points in
/// the search window, normal equations in long double on (E - E_max) eV, same vertex search.
/// Used by the tests to check the projector path; same inputs and errors as WhiteLineFitter.
/// With settings.normalise: normalise_spectrum first, then the same direct fit.
FitResult fit_direct(const std::vector<double>& energies_ev, const std::vector<double>& mu,
                     const FitSettings& settings);

// ---- readers -----------------------------------------------------------------

/// @brief Spectra of one text file sharing one energy axis.
struct SpectrumFile {
  std::vector<double> energy_ev;       ///< eV, file order
  std::vector<std::string> names;      ///< one per spectrum ("transmission", "mu", "column 2", ...)
  std::vector<std::vector<double>> mu;  ///< one per spectrum, same length as energy_ev
  bool kev_converted = false;          ///< energies were all < 100 and taken as keV (x1000)
  std::string note;                    ///< how mu was derived and unit conversions, one line
};

/// @brief Reads an XDI file (`# Column.N: name` headers; mu = ln(i0/itrans) for transmission,
/// ifluor/i0 for fluorescence, or mu/xmu/norm columns as given) or plain whitespace/comma
/// separated columns (energy then one or more mu columns; `#` comments, optional header line).
/// Energies all < 100 are taken as keV and multiplied by 1000 (kev_converted, note say so).
/// Throws InputError(file, problem) on a missing file, no data, ragged rows, non-numbers,
/// duplicate energies, or a spectrum that is all NaN.
SpectrumFile read_spectrum_text(const std::string& path);

/// @brief A Data Exchange stack: data[i * ny * nx + iy * nx + ix] at energy_ev[i].
struct Stack {
  std::vector<double> energy_ev;  ///< eV, file order
  std::size_t ny = 0, nx = 0;
  std::vector<float> data;        ///< n_energies x ny x nx
  bool kev_converted = false;     ///< energies were all < 100 and taken as keV (x1000)
  /// Fluorescence (XRF) map ny x nx (counts, any scale), empty when the file has none.
  std::vector<float> xrf;
};

/// @brief Dataset paths of a stack file.
struct StackPaths {
  std::string data = "/exchange/data";      ///< (n_energies, ny, nx), any numeric dtype
  std::string energy = "/exchange/energy";  ///< (n_energies), eV (keV auto-detected: all < 100)
  std::string xrf = "/exchange/xrf";        ///< (ny, nx) fluorescence map, optional
};

/// @brief Reads a whole stack (any numeric dtype converted to float), plus paths.xrf when present
/// (must be ny x nx). Throws InputError on a missing dataset, wrong rank, length mismatch,
/// duplicate or non-finite energies.
Stack read_stack(const std::string& path, const StackPaths& paths = {});

/// @brief Reads a 2-D (ny x nx) map (any numeric dtype) from an HDF5 file, e.g. an XRF map given
/// by `--xrf FILE:PATH`. Throws InputError naming the file, path and both shapes on a mismatch.
std::vector<float> read_map(const std::string& path, const std::string& dataset, std::size_t ny, std::size_t nx);

/// @brief Writes a stack in Data Exchange layout (for tests, simulations, conversions); also
/// paths.xrf when stack.xrf is not empty.
void write_stack(const std::string& path, const Stack& stack, const StackPaths& paths = {});

/// @brief Writes /xanes/{white_line_ev, peak_height, r2, status} as ny x nx maps in an NXdata
/// group with x/y index axes, the energies and every setting plus version/commit as attributes.
/// `results` is row-major ny x nx. `input` is recorded as provenance.
struct ParticleMap;
/// With `particles`, also writes /xanes/particles (int32, 0 outside) and /xanes/mask_signal
/// (float64) with @mask_method, @mask_threshold, @min_particle_pixels, @n_particles.
void write_results(const std::string& path, const std::vector<FitResult>& results, std::size_t ny,
                   std::size_t nx, const std::vector<double>& energies_ev, const FitSettings& settings,
                   const std::string& input, const ParticleMap* particles = nullptr);

/// @brief Writes DIR/pixels.csv: `iy,ix,white_line_ev,peak_height,r2,status,particle`, status as
/// its name; particle from `particles` (ny x nx labels), 0 for every pixel when null. Returns the path.
std::string write_pixels_csv(const std::string& dir, const std::vector<FitResult>& results,
                             std::size_t ny, std::size_t nx,
                             const std::vector<std::int32_t>* particles = nullptr);

// ---- particle masks ----------------------------------------------------------

/// @brief Otsu's threshold (N. Otsu, "A threshold selection method from gray-level histograms",
/// IEEE Trans. SMC 9(1):62-66, 1979): the cut of a `bins`-bin histogram of the finite values
/// (between their min and max) that maximises the between-class variance. Returns the upper edge
/// of the last bin of the low class: "foreground" is value > threshold. NaN when fewer than 2
/// finite values or all equal.
double otsu_threshold(const double* values, std::size_t n, int bins = 256);

/// @brief Particles of a map: pixels above a threshold, 8-connected, specks dropped.
struct ParticleMap {
  std::size_t ny = 0, nx = 0;
  std::vector<std::int32_t> labels;  ///< ny x nx; 0 outside, 1..n_particles in raster order of first pixel
  std::vector<double> signal;        ///< ny x nx map that was thresholded (XRF counts or mu units)
  std::string method;                ///< "xrf-otsu", "xrf-threshold", "edge-jump-otsu", "range-threshold", ...
  double threshold = std::numeric_limits<double>::quiet_NaN();  ///< foreground: signal > threshold
  int min_pixels = 4;                ///< components with fewer pixels were dropped
  int n_particles = 0;
  std::vector<std::int32_t> sizes;   ///< pixels of particle k at [k-1]
};

/// @brief Mask settings: a fixed threshold or Otsu's; minimum particle size in pixels.
struct MaskSettings {
  std::optional<double> threshold;  ///< signal units; Otsu when empty
  int min_particle_pixels = 4;      ///< smaller 8-connected components are dropped ("specks")
};

/// @brief Thresholds `signal` (ny x nx, NaN = background), labels 8-connected components
/// (stages label_components), drops those below min_particle_pixels and renumbers 1..n.
/// `source` names the signal for ParticleMap::method ("xrf", "edge-jump", "range").
ParticleMap label_particles(std::vector<double> signal, std::size_t ny, std::size_t nx,
                            const std::string& source, const MaskSettings& settings);

/// @brief Per pixel: mu at the highest energy minus mu at the lowest (the edge jump), ny x nx.
std::vector<double> edge_jump_map(const Stack& stack);
/// @brief Per pixel: max - min of the spectrum, ny x nx (NaN when a sample is not finite).
std::vector<double> signal_range_map(const Stack& stack);

// ---- simulator ---------------------------------------------------------------

/// @brief Settings of a synthetic micro-XANES scan (Co K edge) with particles and XRF.
struct XanesSimConfig {
  std::size_t nx = 64, ny = 64;           ///< raster, pixels
  std::vector<double> energies_ev;        ///< empty: 7721..7735 eV in 1 eV steps
  int n_particles = 6;                    ///< ellipses placed without overlap (fewer when they do not fit)
  double radius_min_px = 3, radius_max_px = 8;  ///< ellipse semi-axes, pixels
  double wl_lo_ev = 7727, wl_hi_ev = 7731;      ///< range of the particles' mean white lines, eV
  double pixel_wl_sigma_ev = 0.3;         ///< per-pixel white-line scatter around the particle mean, eV
  double noise = 0.01;                    ///< Gaussian noise on mu, fraction of the edge step
  /// Optional per-pixel SE map (ny x nx, NaN allowed). When given, a particle's mean white line
  /// is wl_lo + se_slope_ev * (mean SE over the particle - 1) + N(0, particle_wl_sigma_ev), so
  /// averages correlate across particles while pixels scatter independently of their own SE
  /// (plus pointwise_slope_ev * (SE - particle mean SE), 0 by default).
  std::vector<double> se_map;
  double se_slope_ev = 2.0;               ///< eV per SE unit, across particles
  double particle_wl_sigma_ev = 0.1;      ///< eV, scatter of particle means about the SE line
  double pointwise_slope_ev = 0.0;        ///< eV per SE unit, inside a particle
  std::uint64_t seed = 1;
};

/// @brief A simulated scan and its truth.
struct SimulatedXanes {
  Stack stack;                              ///< data + energies + xrf (ny x nx)
  std::vector<double> true_white_line_ev;   ///< ny x nx maximum of the noise-free spectrum; NaN outside particles
  std::vector<std::int32_t> true_particles; ///< ny x nx, 0 outside, 1..K in placement order
  std::vector<double> particle_wl_ev;       ///< mean white line of particle k at [k-1], eV
};

/// @brief Spectrum model: mu(E) = t * (0.5 + atan((E - wl + 4) / 1.2) / pi + 0.6 exp(-(E - wl)^2 /
/// (2 * 2.2^2))), t in [0.6, 1] the particle thickness profile; outside particles 2 % of an edge
/// at 7729 eV. Noise N(0, noise) added. The truth white line is the maximum of the noise-free mu.
SimulatedXanes simulate_xanes_stack(const XanesSimConfig& config);

/// @brief Writes the stack (Data Exchange, with /exchange/xrf) plus /truth/white_line_ev,
/// /truth/particles and /truth/particle_wl_ev.
void write_simulated_stack(const std::string& path, const SimulatedXanes& sim);

}  // namespace laueproc::xanes
