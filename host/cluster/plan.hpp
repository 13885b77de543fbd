#pragma once
/// @file
/// @brief Splitting a scan over processes: shards of a job array (`process --shard i/N`), the
/// hand-out of frames to MPI ranks (static blocks or dynamic chunks), and frame lists written
/// as ranges for messages. No MPI here: every piece is tested on its own.

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace laueproc::cluster {

/// @brief Shard `index` (0-based) of `count`; count = 0: not sharded.
struct Shard {
  int index = 0;
  int count = 0;
  bool active() const { return count > 0; }
};

/// @brief Parses "i/N" (0 <= i < N, e.g. "3/8" or $SLURM_ARRAY_TASK_ID/8); throws UsageError.
Shard parse_shard(const std::string& text);

/// @brief Block `index` of `count` over n items, as [first, last): consecutive blocks whose sizes
/// differ by at most one.
std::pair<std::int64_t, std::int64_t> block_range(std::int64_t n, int index, int count);

/// @brief Name under which a shard's result sink writes (its journal is this + ".journal"):
/// `<out>.shard-<i>-of-<N>`.
std::string shard_results_name(const std::string& out, Shard shard);

/// @brief The shard journals of results file `out` (`<out>.shard-<i>-of-<N>.journal`), in shard
/// order, and N. Throws Error when shards of different N lie there (two different splits).
std::vector<std::string> find_shard_journals(const std::string& out, int& count);

/// @brief Sorted frames as ranges, "3-7, 12, 20-23"; after `max_ranges` ranges, "... (N more)".
std::string describe_frames(std::vector<std::int64_t> frames, std::size_t max_ranges = 6);

/// @brief How the frames are handed to MPI ranks.
enum class Distribution {
  static_blocks,  ///< rank r computes the r-th contiguous block of the frames to do
  dynamic,        ///< rank 0 hands out the next chunk to whichever rank asks
};
Distribution parse_distribution(const std::string& text);  ///< "static" or "dynamic"; UsageError
const char* to_string(Distribution d);

/// @brief Rank 0's ledger: which frames are left, which rank holds which. Thread-safe (rank 0's
/// own workers and its message thread both ask).
class Dispatcher {
 public:
  /// @brief `todo`: the frames to compute (increasing), shared by `ranks` ranks.
  Dispatcher(std::vector<std::int64_t> todo, int ranks, Distribution mode);

  /// @brief Up to `wanted` frames for `rank`, increasing: the next chunk of the whole list
  /// (dynamic) or of the rank's own block (static). Empty: nothing left for it, or closed.
  std::vector<std::int64_t> hand_out(int rank, std::int64_t wanted);
  /// @brief `frame`, handed to `rank`, came back done.
  void returned(int rank, std::int64_t frame);
  /// @brief Frames handed to `rank` that have not come back, increasing.
  std::vector<std::int64_t> outstanding(int rank) const;
  /// @brief Hands out nothing more (the run stops: an error or an interrupt).
  void close();
  int ranks() const { return static_cast<int>(held_.size()); }

 private:
  mutable std::mutex mutex_;
  std::vector<std::int64_t> todo_;
  Distribution mode_;
  std::size_t next_ = 0;                                     // dynamic: next index into todo_
  std::vector<std::pair<std::size_t, std::size_t>> blocks_;  // static: [cursor, end) per rank
  std::vector<std::set<std::int64_t>> held_;                 // per rank: handed out, not back
  bool closed_ = false;
};

}  // namespace laueproc::cluster
