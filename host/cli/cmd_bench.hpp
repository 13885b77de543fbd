#pragma once
/// @file
/// @brief `laueproc bench`: measures this machine (CPU and CUDA analysis rates, bandwidth
/// floors, file read rate) on simulated frames held in memory; keys in docs/bench.md.

#include <string>
#include <vector>

namespace laueproc::cli {
/// @brief Runs the bench subcommand; returns the process exit code.
int cmd_bench(const std::vector<std::string>& args);
}  // namespace laueproc::cli
