#pragma once
/// @file
/// @brief `laueproc xanes`: per-pixel white-line maps from a stack, or white lines of text spectra.

#include <string>
#include <vector>

namespace laueproc::cli {
/// @brief Runs the xanes subcommand; returns the process exit code.
int cmd_xanes(const std::vector<std::string>& args);
}  // namespace laueproc::cli
