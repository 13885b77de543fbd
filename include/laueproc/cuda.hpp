#pragma once
/// @file
/// @brief What the CUDA backend can tell without CUDA types: built in, and devices present.
/// "Built with CUDA" is not "a GPU is here": both are asked separately.

#include <string>

namespace laueproc::cuda {

/// @brief Number of usable CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();
/// @brief One line per device: "0: NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"; empty without devices.
std::string describe_devices();

}  // namespace laueproc::cuda
