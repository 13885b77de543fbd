// The settings table (laueproc/settings.hpp): names, describe() and its inverse, validation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "laueproc/error.hpp"
#include "laueproc/settings.hpp"

namespace laueproc {
namespace {

TEST(Settings, DescribeKeepsTheKeysAndOrderOfEarlierResultsFiles) {
  // Results files and journals written before the table existed carry these keys in this order
  // (the run fingerprint hashes them), so they must not change.
  const std::vector<std::string> keys = {
      "background.method", "background.block_px", "background.percentile", "background.gaussian_sigma_px",
      "threshold.k_high", "threshold.k_low", "threshold.min_pixels", "threshold.local_noise",
      "threshold.bad_pixel_mask", "threshold.detect_dead_lines", "threshold.zero_is_invalid",
      "threshold.invalid_margin_px", "deblend.split", "deblend.min_separation_px", "deblend.prominence_sigma",
      "moments.grow_px", "moments.saturation", "moments.core_fraction", "moments.windowed_centroid",
      "summary.r_unit_px", "summary.snr_min", "summary.deg_per_px", "summary.group_radius_px", "summary.se_gnd",
      "summary.pair_fraction", "summary.stacking_fraction", "summary.min_peaks"};
  const auto described = describe(ProcessConfig{});
  ASSERT_EQ(described.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(described[i].first, keys[i]);
  EXPECT_EQ(described[0].second, "block_percentile");
  EXPECT_EQ(described[2].second, "0.29999999999999999");  // 17 digits: reads back exactly
  EXPECT_EQ(described[7].second, "true");
}

TEST(Settings, DescriptionReadsBackToTheSameConfig) {
  ProcessConfig c;
  c.background.method = BackgroundMethod::gaussian;
  c.background.percentile = 0.1 + 0.2;
  c.threshold.k_low = 1.0 / 3.0;
  c.threshold.min_pixels = 7;
  c.threshold.local_noise = false;
  c.threshold.bad_pixel_mask = "dir/mask file.pgm";
  c.deblend.split = false;
  c.summary.min_peaks = 0;
  auto described = describe(c);
  described.emplace_back("scan.input", "x.h5");  // ignored
  const ProcessConfig back = config_from_description(described);
  EXPECT_EQ(describe(back), describe(c));
  EXPECT_EQ(back.background.percentile, 0.1 + 0.2);
  EXPECT_EQ(back.threshold.k_low, 1.0 / 3.0);
  EXPECT_THROW(config_from_description({{"settings.threshold.min_pixels", "4.5"}}), UsageError);
  EXPECT_THROW(config_from_description({{"threshold.local_noise", "maybe"}}), UsageError);
}

TEST(Settings, OptionsByNameWithSwitchesInverted) {
  ProcessConfig c;
  set_setting(c, "k-high", 8LL);
  set_setting(c, "k_low", 2.5);
  set_setting(c, "flat-noise", true);
  set_setting(c, "background", std::string("gaussian"));
  set_setting(c, "min_pixels", 5.0);  // an integral double is an integer
  EXPECT_EQ(c.threshold.k_high, 8.0);
  EXPECT_EQ(c.threshold.k_low, 2.5);
  EXPECT_FALSE(c.threshold.local_noise);
  EXPECT_EQ(c.background.method, BackgroundMethod::gaussian);
  EXPECT_EQ(c.threshold.min_pixels, 5);
  EXPECT_EQ(std::get<bool>(get_setting(c, "flat_noise")), true);
  EXPECT_EQ(std::get<std::string>(get_setting(c, "background")), "gaussian");
  EXPECT_EQ(find_setting("no-such"), nullptr);
  auto message = [&](const char* name, const SettingValue& v) {
    try {
      set_setting(c, name, v);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("min-pixels", 4.5), "--min-pixels wants an integer, not 4.5");
  EXPECT_EQ(message("flat-noise", 1LL), "--flat-noise wants True or False, not 1");
  EXPECT_EQ(message("k-high", std::string("6")), "--k-high wants a number, not '6'");
  EXPECT_EQ(message("background", std::string("median")), "--background must be block or gaussian, not 'median'");
  EXPECT_EQ(message("k-hihg", 6.0).rfind("unknown setting 'k-hihg' (settings: background, block,", 0), 0u);
}

TEST(Settings, ValidateGivesTheCommandLineMessages) {
  auto message = [](void (*change)(ProcessConfig&)) {
    ProcessConfig c;
    change(c);
    try {
      validate(c);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("valid");
  };
  EXPECT_EQ(message([](ProcessConfig&) {}), "valid");
  EXPECT_EQ(message([](ProcessConfig& c) { c.threshold.k_low = 9; }), "--k-low must not exceed --k-high");
  EXPECT_EQ(message([](ProcessConfig& c) { c.background.block_px = 3; }), "--block must be at least 4 px");
  EXPECT_EQ(message([](ProcessConfig& c) { c.summary.group_radius_px = 0; }), "--group-radius must be positive");
  EXPECT_EQ(message([](ProcessConfig& c) { c.summary.se_gnd = std::nan(""); }), "--se-gnd must be a finite number");
  EXPECT_EQ(message([](ProcessConfig& c) { c.deblend.prominence_sigma = std::numeric_limits<double>::infinity(); }),
            "--prominence must be a finite number");
}

}  // namespace
}  // namespace laueproc
