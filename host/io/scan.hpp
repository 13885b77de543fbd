#pragma once
/// @file
/// @brief Internals of the frame input shared with the `info` command and the tests: default
/// dataset paths, the natural file order, the expansion of a scan path into files, and a cheap
/// summary of the raster positions.

#include <cstdint>
#include <string>
#include <vector>

#include "laueproc/io.hpp"

namespace laueproc::io {

/// @brief NeXus stack image paths, tried in this order when ScanOptions::dataset is empty.
inline const char* const kStackDatasets[] = {"/entry/data/data", "/entry1/data/data", "/exchange/data"};
/// @brief APS 34-ID-E per-frame paths (LaueGo reads the same).
inline constexpr const char* kPerFrameDataset = "/entry1/data/data";
inline constexpr const char* kPerFrameX = "/entry1/sample/sampleX";  // micrometres
inline constexpr const char* kPerFrameY = "/entry1/sample/sampleY";  // micrometres
inline constexpr const char* kStackX = "/entry/sample/x";            // micrometres, length N
inline constexpr const char* kStackY = "/entry/sample/y";

/// @brief True when `a` comes before `b` in natural order: by the last run of digits in the
/// file name (numerically, any length), then by the whole path. Names without digits go first.
bool natural_less(const std::string& a, const std::string& b);

/// @brief Files of a per-frame scan given as a directory (all *.h5/*.hdf5), a glob pattern or a
/// text list (one path per line, relative to the list's folder; '#' starts a comment), in
/// natural order. Throws InputError for an empty scan or a listed file that does not exist.
std::vector<std::string> expand_frame_files(const std::string& path);

/// @brief Range of the raster positions of a scan (micrometres).
struct PositionRange {
  bool present = false;
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
  std::int64_t sampled = 0;  ///< frames (stack) or files (per-frame) looked at
};

/// @brief Reads the positions of a stack, or of at most `max_files` evenly spaced per-frame files
/// (a scan can hold 10^5 files), without reading pixels.
PositionRange position_range(const ScanInfo& info, const ScanOptions& options, std::int64_t max_files = 64);

}  // namespace laueproc::io
