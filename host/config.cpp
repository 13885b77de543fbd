#include "laueproc/config.hpp"

#include <sstream>

namespace laueproc {

std::string to_string(BackgroundMethod method) {
  switch (method) {
    case BackgroundMethod::block_percentile: return "block_percentile";
    case BackgroundMethod::gaussian: return "gaussian";
  }
  return "unknown";
}

namespace {
std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}
}  // namespace

std::vector<std::pair<std::string, std::string>> describe(const ProcessConfig& c) {
  return {
      {"background.method", to_string(c.background.method)},
      {"background.block_px", num(c.background.block_px)},
      {"background.percentile", num(c.background.percentile)},
      {"background.gaussian_sigma_px", num(c.background.gaussian_sigma_px)},
      {"threshold.k_high", num(c.threshold.k_high)},
      {"threshold.k_low", num(c.threshold.k_low)},
      {"threshold.min_pixels", num(c.threshold.min_pixels)},
      {"threshold.local_noise", c.threshold.local_noise ? "true" : "false"},
      {"threshold.bad_pixel_mask", c.threshold.bad_pixel_mask},
      {"threshold.detect_dead_lines", c.threshold.detect_dead_lines ? "true" : "false"},
      {"threshold.zero_is_invalid", c.threshold.zero_is_invalid ? "true" : "false"},
      {"threshold.invalid_margin_px", num(c.threshold.invalid_margin_px)},
      {"deblend.split", c.deblend.split ? "true" : "false"},
      {"deblend.min_separation_px", num(c.deblend.min_separation_px)},
      {"deblend.prominence_sigma", num(c.deblend.prominence_sigma)},
      {"moments.grow_px", num(c.moments.grow_px)},
      {"moments.saturation", num(c.moments.saturation)},
      {"moments.core_fraction", num(c.moments.core_fraction)},
      {"moments.windowed_centroid", c.moments.windowed_centroid ? "true" : "false"},
      {"summary.r_unit_px", num(c.summary.r_unit_px)},
      {"summary.snr_min", num(c.summary.snr_min)},
      {"summary.deg_per_px", num(c.summary.deg_per_px)},
      {"summary.group_radius_px", num(c.summary.group_radius_px)},
      {"summary.se_gnd", num(c.summary.se_gnd)},
      {"summary.pair_fraction", num(c.summary.pair_fraction)},
      {"summary.stacking_fraction", num(c.summary.stacking_fraction)},
      {"summary.min_peaks", num(c.summary.min_peaks)},
  };
}

}  // namespace laueproc
