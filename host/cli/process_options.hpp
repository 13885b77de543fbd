#pragma once
/// @file
/// @brief The options of `laueproc process` that map onto ProcessConfig, shared with `demo`.

#include <string>

#include "cli/cli.hpp"
#include "laueproc/config.hpp"

namespace laueproc::cli {

/// @brief Adds every stage setting to `options`, bound to `config` (defaults shown in --help).
void add_config_options(po::options_description& options, ProcessConfig& config, std::string& background_method);
/// @brief Applies the parsed background method name and checks ranges (laueproc::validate); throws UsageError.
void finish_config(ProcessConfig& config, const std::string& background_method);

}  // namespace laueproc::cli
