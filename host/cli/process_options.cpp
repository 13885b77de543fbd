#include "cli/process_options.hpp"

#include "laueproc/error.hpp"

namespace laueproc::cli {

void add_config_options(po::options_description& options, ProcessConfig& c, std::string& background_method) {
  po::options_description bg("Background");
  bg.add_options()
      ("background", po::value(&background_method)->default_value("block"),
       "block (two-pass low quantiles of --block px blocks, bicubic) or gaussian (wide low-pass)")
      ("block", with_default(&c.background.block_px), "block edge, px")
      ("percentile", with_default(&c.background.percentile),
       "block quantile in (0,1)")
      ("bg-sigma", with_default(&c.background.gaussian_sigma_px),
       "gaussian method: low-pass sigma, px");
  po::options_description th("Peak pixels");
  th.add_options()
      ("k-high", with_default(&c.threshold.k_high), "seed threshold, noise sigmas")
      ("k-low", with_default(&c.threshold.k_low), "grow threshold, noise sigmas")
      ("min-pixels", with_default(&c.threshold.min_pixels),
       "fewest pixels of a peak")
      ("flat-noise", po::bool_switch()->notifier([&c](bool on) { if (on) c.threshold.local_noise = false; }),
       "one noise sigma per frame instead of sigma^2 = var0 + gain x background")
      ("mask", po::value(&c.threshold.bad_pixel_mask), "bad-pixel mask file (nonzero = bad)")
      ("no-dead-lines", po::bool_switch()->notifier([&c](bool off) { if (off) c.threshold.detect_dead_lines = false; }),
       "do not auto-mask dead rows/columns")
      ("keep-zeros", po::bool_switch()->notifier([&c](bool on) { if (on) c.threshold.zero_is_invalid = false; }),
       "pixels reading 0 are data (photon counters); by default they are masked as no-data")
      ("zero-margin", with_default(&c.threshold.invalid_margin_px),
       "also mask this many px around zero pixels (rim of the active area)");
  po::options_description db("Deblending and moments");
  db.add_options()
      ("min-separation", with_default(&c.deblend.min_separation_px),
       "maxima closer than this (px) stay one peak")
      ("prominence", with_default(&c.deblend.prominence_sigma),
       "significant maximum: prominence in noise sigmas")
      ("no-split", po::bool_switch()->notifier([&c](bool off) { if (off) c.deblend.split = false; }),
       "never split components")
      ("grow", with_default(&c.moments.grow_px), "moment support grown by, px")
      ("saturation", with_default(&c.moments.saturation),
       "detector saturation value, counts")
      ("core-fraction", with_default(&c.moments.core_fraction),
       "bright peaks: a, b from pixels above this fraction of the peak (0 = whole support)")
      ("plain-centroid", po::bool_switch()->notifier([&c](bool on) { if (on) c.moments.windowed_centroid = false; }),
       "centroid = plain intensity moment, not the iterated Gaussian window");
  po::options_description sm("Streaking extent and scenarios");
  sm.add_options()
      ("r-unit", with_default(&c.summary.r_unit_px),
       "radius of a defect-free peak = SE unit 1, px (34-ID-E: 3)")
      ("snr-min", with_default(&c.summary.snr_min), "SE uses peaks above this SNR")
      ("deg-per-px", with_default(&c.summary.deg_per_px),
       "diffraction angle per pixel, degrees")
      ("group-radius", with_default(&c.summary.group_radius_px),
       "peaks closer than this (px) may be one reflection")
      ("se-gnd", with_default(&c.summary.se_gnd), "SE above this: streaked (GND)")
      ("pair-fraction", with_default(&c.summary.pair_fraction),
       "share of split reflections for a tilt boundary")
      ("stacking-fraction", with_default(&c.summary.stacking_fraction),
       "share of multi-maximum reflections for stacking")
      ("min-peaks", with_default(&c.summary.min_peaks),
       "fewer well-measured peaks: scenario unknown");
  options.add(bg).add(th).add(db).add(sm);
}

void finish_config(ProcessConfig& c, const std::string& background_method) {
  if (background_method == "block" || background_method == "block_percentile")
    c.background.method = BackgroundMethod::block_percentile;
  else if (background_method == "gaussian")
    c.background.method = BackgroundMethod::gaussian;
  else
    throw UsageError("--background must be block or gaussian, not '" + background_method + "'");
  auto require = [](bool ok, const char* what) {
    if (!ok) throw UsageError(what);
  };
  require(c.background.block_px >= 4, "--block must be at least 4 px");
  require(c.background.percentile > 0 && c.background.percentile < 1, "--percentile must lie in (0, 1)");
  require(c.background.gaussian_sigma_px > 0, "--bg-sigma must be positive");
  require(c.threshold.k_high > 0 && c.threshold.k_low > 0, "--k-high and --k-low must be positive");
  require(c.threshold.k_low <= c.threshold.k_high, "--k-low must not exceed --k-high");
  require(c.threshold.min_pixels >= 1, "--min-pixels must be at least 1");
  require(c.deblend.min_separation_px > 0, "--min-separation must be positive");
  require(c.moments.grow_px >= 0, "--grow must not be negative");
  require(c.moments.core_fraction >= 0 && c.moments.core_fraction < 1, "--core-fraction must lie in [0, 1)");
  require(c.threshold.invalid_margin_px >= 0, "--zero-margin must not be negative");
  require(c.summary.r_unit_px > 0, "--r-unit must be positive");
  require(c.summary.deg_per_px > 0, "--deg-per-px must be positive");
}

}  // namespace laueproc::cli
