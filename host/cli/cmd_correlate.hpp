#pragma once
/// @file
/// @brief `laueproc correlate`: SE maps against white-line maps, per particle and across particles.

#include <string>
#include <vector>

namespace laueproc::cli {
/// @brief Runs the correlate subcommand; returns the process exit code.
int cmd_correlate(const std::vector<std::string>& args);
}  // namespace laueproc::cli
