#pragma once
/// @file
/// @brief The settings of `laueproc process` by name. One table gives every setting its option
/// name (`--k-high` on the command line, `k_high=` in Python), its key in results files
/// (`threshold.k_high`, see describe()), its type, help text and place in ProcessConfig. The CLI
/// builds its options from it, the Python module its keyword arguments and laueproc.Settings,
/// describe() the results file's attributes; validate() is the one range check for all of them.

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "laueproc/config.hpp"

namespace laueproc {

/// @brief Where a setting lives inside a ProcessConfig.
using SettingField = std::variant<double*, int*, bool*, std::string*, BackgroundMethod*>;

/// @brief One setting of `process`.
struct SettingSpec {
  const char* option;  ///< option name without "--" ("k-high"); Python spells it with '_' ("k_high")
  const char* key;     ///< name in results files and describe() ("threshold.k_high")
  /// bool settings: the option is a switch that turns a default-on behaviour off, so the option
  /// reads the opposite of the field (--flat-noise = !threshold.local_noise).
  bool inverted;
  const char* group;   ///< section of --help
  const char* help;
  SettingField (*field)(ProcessConfig&);
};

/// @brief Every setting, in the order describe() lists them.
const std::vector<SettingSpec>& setting_specs();

/// @brief The setting whose option is `name` ("k-high" or "k_high"); nullptr when none is.
const SettingSpec* find_setting(const std::string& name);

/// @brief A setting's value as the option reads it: a number, a switch (bool) or text.
using SettingValue = std::variant<bool, long long, double, std::string>;

/// @brief Sets the option `name` ("k-high" or "k_high"). Integers are accepted for real settings,
/// integral doubles for integer ones. Throws UsageError (one line naming the option) for an
/// unknown name or a value of the wrong type; ranges are checked by validate().
void set_setting(ProcessConfig& config, const std::string& name, const SettingValue& value);
/// @brief The option `name`'s current value (switches inverted as the option reads them).
SettingValue get_setting(const ProcessConfig& config, const std::string& name);

/// @brief Checks every range; throws UsageError with the command line's message
/// ("--k-low must not exceed --k-high"), so the CLI and the Python module say the same.
void validate(const ProcessConfig& config);

/// @brief The inverse of describe(): a ProcessConfig from (key, value) pairs as stored in a results
/// file (keys with or without the "settings." prefix; other keys, e.g. "scan.input", are ignored).
/// Settings missing from `described` keep their defaults. Throws UsageError on an unparsable value.
ProcessConfig config_from_description(const std::vector<std::pair<std::string, std::string>>& described);

}  // namespace laueproc
