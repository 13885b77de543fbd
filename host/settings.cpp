#include "laueproc/settings.hpp"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "laueproc/error.hpp"

namespace laueproc {

namespace {

// Field accessors: captureless lambdas so the table stays a constant array of plain data.
#define LAUEPROC_FIELD(member) [](ProcessConfig& c) -> SettingField { return &c.member; }

const char* const kBackground = "Background";
const char* const kPixels = "Peak pixels";
const char* const kPeaks = "Deblending and moments";
const char* const kSummary = "Streaking extent and scenarios";

}  // namespace

const std::vector<SettingSpec>& setting_specs() {
  static const std::vector<SettingSpec> specs = {
      {"background", "background.method", false, kBackground,
       "block (two-pass low quantiles of --block px blocks, bicubic) or gaussian (wide low-pass)",
       LAUEPROC_FIELD(background.method)},
      {"block", "background.block_px", false, kBackground, "block edge, px", LAUEPROC_FIELD(background.block_px)},
      {"percentile", "background.percentile", false, kBackground, "block quantile in (0,1)",
       LAUEPROC_FIELD(background.percentile)},
      {"bg-sigma", "background.gaussian_sigma_px", false, kBackground, "gaussian method: low-pass sigma, px",
       LAUEPROC_FIELD(background.gaussian_sigma_px)},
      {"k-high", "threshold.k_high", false, kPixels, "seed threshold, noise sigmas", LAUEPROC_FIELD(threshold.k_high)},
      {"k-low", "threshold.k_low", false, kPixels, "grow threshold, noise sigmas", LAUEPROC_FIELD(threshold.k_low)},
      {"min-pixels", "threshold.min_pixels", false, kPixels, "fewest pixels of a peak",
       LAUEPROC_FIELD(threshold.min_pixels)},
      {"flat-noise", "threshold.local_noise", true, kPixels,
       "one noise sigma per frame instead of sigma^2 = var0 + gain x background", LAUEPROC_FIELD(threshold.local_noise)},
      {"mask", "threshold.bad_pixel_mask", false, kPixels, "bad-pixel mask file (nonzero = bad)",
       LAUEPROC_FIELD(threshold.bad_pixel_mask)},
      {"no-dead-lines", "threshold.detect_dead_lines", true, kPixels, "do not auto-mask dead rows/columns",
       LAUEPROC_FIELD(threshold.detect_dead_lines)},
      {"keep-zeros", "threshold.zero_is_invalid", true, kPixels,
       "pixels reading 0 are data (photon counters); by default they are masked as no-data",
       LAUEPROC_FIELD(threshold.zero_is_invalid)},
      {"zero-margin", "threshold.invalid_margin_px", false, kPixels,
       "also mask this many px around zero pixels (rim of the active area)",
       LAUEPROC_FIELD(threshold.invalid_margin_px)},
      {"no-split", "deblend.split", true, kPeaks, "never split components", LAUEPROC_FIELD(deblend.split)},
      {"min-separation", "deblend.min_separation_px", false, kPeaks, "maxima closer than this (px) stay one peak",
       LAUEPROC_FIELD(deblend.min_separation_px)},
      {"prominence", "deblend.prominence_sigma", false, kPeaks, "significant maximum: prominence in noise sigmas",
       LAUEPROC_FIELD(deblend.prominence_sigma)},
      {"grow", "moments.grow_px", false, kPeaks, "moment support grown by, px", LAUEPROC_FIELD(moments.grow_px)},
      {"saturation", "moments.saturation", false, kPeaks, "detector saturation value, counts",
       LAUEPROC_FIELD(moments.saturation)},
      {"core-fraction", "moments.core_fraction", false, kPeaks,
       "bright peaks: a, b from pixels above this fraction of the peak (0 = whole support)",
       LAUEPROC_FIELD(moments.core_fraction)},
      {"plain-centroid", "moments.windowed_centroid", true, kPeaks,
       "centroid = plain intensity moment, not the iterated Gaussian window",
       LAUEPROC_FIELD(moments.windowed_centroid)},
      {"r-unit", "summary.r_unit_px", false, kSummary, "radius of a defect-free peak = SE unit 1, px (34-ID-E: 3)",
       LAUEPROC_FIELD(summary.r_unit_px)},
      {"snr-min", "summary.snr_min", false, kSummary, "SE uses peaks above this SNR", LAUEPROC_FIELD(summary.snr_min)},
      {"deg-per-px", "summary.deg_per_px", false, kSummary, "diffraction angle per pixel, degrees",
       LAUEPROC_FIELD(summary.deg_per_px)},
      {"group-radius", "summary.group_radius_px", false, kSummary, "peaks closer than this (px) may be one reflection",
       LAUEPROC_FIELD(summary.group_radius_px)},
      {"se-gnd", "summary.se_gnd", false, kSummary, "SE above this: streaked (GND)", LAUEPROC_FIELD(summary.se_gnd)},
      {"pair-fraction", "summary.pair_fraction", false, kSummary, "share of split reflections for a tilt boundary",
       LAUEPROC_FIELD(summary.pair_fraction)},
      {"stacking-fraction", "summary.stacking_fraction", false, kSummary,
       "share of multi-maximum reflections for stacking", LAUEPROC_FIELD(summary.stacking_fraction)},
      {"min-peaks", "summary.min_peaks", false, kSummary, "fewer well-measured peaks: scenario unknown",
       LAUEPROC_FIELD(summary.min_peaks)},
  };
  return specs;
}

#undef LAUEPROC_FIELD

const SettingSpec* find_setting(const std::string& name) {
  std::string option = name;
  for (char& ch : option)
    if (ch == '_') ch = '-';
  for (const auto& spec : setting_specs())
    if (option == spec.option) return &spec;
  return nullptr;
}

namespace {

const SettingSpec& require_setting(const std::string& name) {
  if (const SettingSpec* spec = find_setting(name)) return *spec;
  std::string known;
  for (const auto& spec : setting_specs()) known += std::string(known.empty() ? "" : ", ") + spec.option;
  throw UsageError("unknown setting '" + name + "' (settings: " + known + ")");
}

std::string show(const SettingValue& value) {
  struct Show {
    std::string operator()(bool v) const { return v ? "True" : "False"; }
    std::string operator()(long long v) const { return std::to_string(v); }
    std::string operator()(double v) const {
      std::ostringstream s;
      s << v;
      return s.str();
    }
    std::string operator()(const std::string& v) const { return "'" + v + "'"; }
  };
  return std::visit(Show{}, value);
}

BackgroundMethod parse_background(const std::string& text) {
  if (text == "block" || text == "block_percentile") return BackgroundMethod::block_percentile;
  if (text == "gaussian") return BackgroundMethod::gaussian;
  throw UsageError("--background must be block or gaussian, not '" + text + "'");
}

}  // namespace

void set_setting(ProcessConfig& config, const std::string& name, const SettingValue& value) {
  const SettingSpec& spec = require_setting(name);
  const std::string option = std::string("--") + spec.option;
  auto wrong = [&](const char* wanted) {
    return UsageError(option + " wants " + wanted + ", not " + show(value));
  };
  struct Assign {
    const SettingValue& value;
    const SettingSpec& spec;
    decltype(wrong)& fail;
    void operator()(double* field) const {
      if (auto* i = std::get_if<long long>(&value)) *field = static_cast<double>(*i);
      else if (auto* d = std::get_if<double>(&value)) *field = *d;
      else throw fail("a number");
    }
    void operator()(int* field) const {
      double v = 0;
      if (auto* i = std::get_if<long long>(&value)) v = static_cast<double>(*i);
      else if (auto* d = std::get_if<double>(&value)) v = *d;
      else throw fail("an integer");
      if (!(v == std::floor(v)) || v < INT_MIN || v > INT_MAX) throw fail("an integer");
      *field = static_cast<int>(v);
    }
    void operator()(bool* field) const {
      const bool* on = std::get_if<bool>(&value);
      if (!on) throw fail("True or False");
      *field = spec.inverted ? !*on : *on;
    }
    void operator()(std::string* field) const {
      const std::string* text = std::get_if<std::string>(&value);
      if (!text) throw fail("a file name");
      *field = *text;
    }
    void operator()(BackgroundMethod* field) const {
      const std::string* text = std::get_if<std::string>(&value);
      if (!text) throw fail("block or gaussian");
      *field = parse_background(*text);
    }
  };
  std::visit(Assign{value, spec, wrong}, spec.field(config));
}

SettingValue get_setting(const ProcessConfig& config, const std::string& name) {
  const SettingSpec& spec = require_setting(name);
  ProcessConfig copy = config;  // the accessors take a mutable config; they only point into it
  struct Read {
    const SettingSpec& spec;
    SettingValue operator()(double* v) const { return *v; }
    SettingValue operator()(int* v) const { return static_cast<long long>(*v); }
    SettingValue operator()(bool* v) const { return spec.inverted ? !*v : *v; }
    SettingValue operator()(std::string* v) const { return *v; }
    SettingValue operator()(BackgroundMethod* v) const {
      return std::string(*v == BackgroundMethod::gaussian ? "gaussian" : "block");
    }
  };
  return std::visit(Read{spec}, spec.field(copy));
}

void validate(const ProcessConfig& c) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw UsageError(what);
  };
  // NaN and infinities would pass some range checks below and poison the stages (cell sizes,
  // histogram bins): every real setting must be finite.
  ProcessConfig copy = c;
  for (const auto& spec : setting_specs()) {
    const SettingField field = spec.field(copy);
    if (auto* v = std::get_if<double*>(&field); v && !std::isfinite(**v))
      throw UsageError(std::string("--") + spec.option + " must be a finite number");
  }
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
  require(c.summary.group_radius_px > 0, "--group-radius must be positive");
}

namespace {

std::string format_number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> describe(const ProcessConfig& config) {
  ProcessConfig copy = config;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& spec : setting_specs()) {
    struct Text {
      std::string operator()(double* v) const { return format_number(*v); }
      std::string operator()(int* v) const { return format_number(*v); }
      std::string operator()(bool* v) const { return *v ? "true" : "false"; }
      std::string operator()(std::string* v) const { return *v; }
      std::string operator()(BackgroundMethod* v) const { return to_string(*v); }
    };
    out.emplace_back(spec.key, std::visit(Text{}, spec.field(copy)));
  }
  return out;
}

ProcessConfig config_from_description(const std::vector<std::pair<std::string, std::string>>& described) {
  ProcessConfig config;
  const std::string prefix = "settings.";
  for (const auto& [raw_key, text] : described) {
    const std::string key = raw_key.compare(0, prefix.size(), prefix) == 0 ? raw_key.substr(prefix.size()) : raw_key;
    for (const auto& spec : setting_specs()) {
      if (key != spec.key) continue;
      auto bad = [&] { return UsageError("setting " + key + ": cannot read '" + text + "'"); };
      struct Parse {
        const std::string& text;
        decltype(bad)& fail;
        void operator()(double* v) const {
          errno = 0;
          char* end = nullptr;
          const double d = std::strtod(text.c_str(), &end);
          if (text.empty() || *end != '\0' || errno == ERANGE) throw fail();
          *v = d;
        }
        void operator()(int* v) const {
          errno = 0;
          char* end = nullptr;
          const long n = std::strtol(text.c_str(), &end, 10);
          if (text.empty() || *end != '\0' || errno == ERANGE || n < INT_MIN || n > INT_MAX) throw fail();
          *v = static_cast<int>(n);
        }
        void operator()(bool* v) const {
          if (text == "true" || text == "1") *v = true;
          else if (text == "false" || text == "0") *v = false;
          else throw fail();
        }
        void operator()(std::string* v) const { *v = text; }
        void operator()(BackgroundMethod* v) const { *v = parse_background(text); }
      };
      std::visit(Parse{text, bad}, spec.field(config));
    }
  }
  return config;
}

}  // namespace laueproc
