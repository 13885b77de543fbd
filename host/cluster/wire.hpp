#pragma once
/// @file
/// @brief The bytes MPI ranks exchange: frame results (bit-exact: doubles travel as their bytes,
/// so a result computed on rank 3 is written exactly as rank 0 would have computed it), frame
/// lists and per-rank reports. No MPI here; the ranks of one job run the same binary.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "laueproc/pipeline.hpp"

namespace laueproc::cluster::wire {

/// @brief What one rank did, sent to rank 0 when it stops.
struct RankReport {
  std::int64_t frames = 0;       ///< frames it delivered
  std::int64_t failed = 0;       ///< of which with status != "ok"
  std::int64_t peaks = 0;
  double seconds = 0;            ///< from its start to its last delivery
  double cpu_seconds = 0;        ///< CPU time of the whole rank (all its threads): its share of the work
  bool interrupted = false;      ///< stopped by a signal or by rank 0's stop
  int error_code = 0;            ///< 0, or the exit code its error calls for (2 input/usage, 1 other)
  std::string error;             ///< the error, one line
  std::string backend;
  std::string host;
  std::vector<std::string> failures;  ///< "frame N: reason", the first few
};

void put_result(std::string& out, const FrameResult& result);
void put_frames(std::string& out, const std::vector<std::int64_t>& frames);
void put_report(std::string& out, const RankReport& report);

/// @brief Each reads one item from the front of `in` and advances it; false when `in` is too
/// short or malformed.
bool get_result(std::string_view& in, FrameResult& result);
bool get_frames(std::string_view& in, std::vector<std::int64_t>& frames);
bool get_report(std::string_view& in, RankReport& report);

}  // namespace laueproc::cluster::wire
