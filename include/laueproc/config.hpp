#pragma once
/// @file
/// @brief Every setting of `laueproc process`, with its default and the reason for it.
/// This struct is the one place where configuration reaches the pipeline: the CLI fills it,
/// the stages read it, and the results file stores all of it (see describe()).

#include <string>
#include <utility>
#include <vector>

namespace laueproc {

enum class BackgroundMethod {
  block_percentile,  ///< low percentile of ~32 px blocks, smoothed, interpolated back (default)
  gaussian,          ///< wide Gaussian low-pass of the frame with peaks clipped (cuFFT on GPU)
};

struct BackgroundConfig {
  BackgroundMethod method = BackgroundMethod::block_percentile;
  int block_px = 32;             ///< block edge; peaks (< ~15 px) cover a minority of any block
  double percentile = 0.30;      ///< low quantile: under the peaks, above the noise floor's lows
  double gaussian_sigma_px = 24; ///< low-pass width for the gaussian method
};

struct ThresholdConfig {
  double k_high = 6.0;     ///< seed: residual > k_high * sigma (6 sigma: ~1e-9 false seeds/px)
  double k_low = 3.0;      ///< grow seeds down to k_low * sigma (hysteresis)
  int min_pixels = 4;      ///< a peak needs at least this many pixels above k_low
  /// Thresholds follow the noise where it is: sigma^2 = var0 + gain x background, fitted per
  /// frame (shot noise grows with the background: the real Ge frame's noise is 24 % above the
  /// frame-wide sigma at its centre). Off: one sigma for the whole frame.
  bool local_noise = true;
  std::string bad_pixel_mask;  ///< optional HDF5/raw mask file, nonzero = bad
  bool detect_dead_lines = true;  ///< auto-mask rows/columns that are constant or zero
  /// Pixels reading exactly 0 carry no data on offset detectors (outside a disc-shaped active
  /// area, dead pixels): masked, with a margin, so the rim never makes peaks. Off for photon counters.
  bool zero_is_invalid = true;
  int invalid_margin_px = 3;      ///< also mask this far around zero pixels (not around dead lines)
};

struct DeblendConfig {
  double min_separation_px = 7.0;   ///< maxima closer than this stay one peak (stacking)
  double prominence_sigma = 5.0;    ///< a maximum counts when it rises this many sigma above its saddle
  bool split = true;                ///< split components with several well-resolved maxima
};

struct MomentConfig {
  int grow_px = 2;               ///< support grown around the component, so the cut does not bias a,b
  int saturation = 65535;        ///< raw value at which the detector saturates
  /// Bright peaks (peak >= k_low sigma / core_fraction): second moments over the pixels above
  /// core_fraction x peak, scaled to the untruncated Gaussian's, so the long tails of a
  /// detector's point-spread function do not inflate a and b. 0 = always the whole support.
  double core_fraction = 0.1;
  /// Centroid by an iterated Gaussian window (as SExtractor's XWIN): converges to the centre of
  /// a symmetric spot whatever its wings, where the plain moment centroid drifts with them.
  bool windowed_centroid = true;
};

struct SummaryConfig {
  double r_unit_px = 3.0;        ///< "unit 1": radius of a defect-free peak (34-ID-E: 3 px)
  double snr_min = 10.0;         ///< peaks used for SE must have peak_value >= snr_min * sigma
  double deg_per_px = 0.02;      ///< diffraction angle per pixel (34-ID-E: ~0.02 deg)
  double group_radius_px = 60.0; ///< peaks closer than this may belong to one reflection (1.2 deg)
  double se_gnd = 1.5;           ///< SE above this (and peaks elongated) means streaked: GND
  double pair_fraction = 0.5;    ///< share of reflections split by a common vector => tilt boundary
  double stacking_fraction = 0.25;///< share of reflections with >= 3 sub-peaks => stacking (docs/scenarios.md)
  int min_peaks = 3;             ///< fewer well-measured peaks: scenario unknown
};

struct ProcessConfig {
  BackgroundConfig background;
  ThresholdConfig threshold;
  DeblendConfig deblend;
  MomentConfig moments;
  SummaryConfig summary;
};

/// @brief Every setting as (dotted name, value) pairs, for the results file's attributes (built from
/// the table in laueproc/settings.hpp, which also reads them back: config_from_description()).
std::vector<std::pair<std::string, std::string>> describe(const ProcessConfig& config);

std::string to_string(BackgroundMethod method);

}  // namespace laueproc
