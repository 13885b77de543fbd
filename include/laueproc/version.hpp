#pragma once
/// @file
/// @brief Program version and the git commit it was built from (provenance for every output).

namespace laueproc {
const char* version();     ///< e.g. "0.1.0"
const char* git_commit();  ///< `git describe --always --dirty`, or "unknown" outside a checkout
}  // namespace laueproc
