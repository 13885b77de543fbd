#pragma once
/// @file
/// @brief `laueproc mask`: learns a static hot-pixel map from a scan (HotPixelFinder) and writes
/// it as a PGM for `laueproc process --mask`.

#include <string>
#include <vector>

namespace laueproc::cli {
/// @brief Runs the mask subcommand; returns the exit code (0 done; errors are thrown as
/// InputError / UsageError and turned into one line by main).
int cmd_mask(const std::vector<std::string>& args);
}  // namespace laueproc::cli
