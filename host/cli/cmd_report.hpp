#pragma once
/// @file
/// @brief `laueproc report`: a self-contained HTML report (maps, statistics, example peaks,
/// XANES and correlation figures, provenance) made by scripts/report.py.

#include <string>
#include <vector>

namespace laueproc::cli {
/// @brief Runs the report subcommand: checks the inputs and python3 (h5py, matplotlib), then
/// runs scripts/report.py (found via $LAUEPROC_SCRIPTS or beside the executable) and returns its
/// exit code (0 done, 2 bad input, 1 other failure).
int cmd_report(const std::vector<std::string>& args);
}  // namespace laueproc::cli
