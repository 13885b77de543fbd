#pragma once
/// @file
/// @brief `mpirun -n N laueproc process ...` / `srun laueproc process ...`: the ranks split the
/// frames and rank 0 writes the one results file (docs/cluster.md). Built with -DLAUEPROC_MPI.
///
/// - Rank 0 keeps the ledger (cluster::Dispatcher) and hands frames out on request: the next
///   chunk of the whole scan (dynamic, the default) or of the asking rank's own block (static).
///   It analyses frames too.
/// - Every rank sends each finished frame (summary + peaks, bit-exact bytes) to rank 0 at once;
///   rank 0 journals it on arrival (any order) and writes the views in frame order, through the
///   same ResultSink as a single process: the tables are those of a single run, for any number
///   of ranks. A killed job loses only the frames no rank had finished (or that were in flight).
/// - A rank whose analysis fails reports to rank 0, which stops handing out, lets the others
///   finish what they hold, keeps every finished frame, and fails the job naming the rank and
///   the frames it held. A rank that dies outright is named by the launcher; rank 0, stopped
///   with the job, names the frames each rank still held, and the ranks that no longer answer.
///
/// MPI is called from one thread per rank (a message thread), so MPI_THREAD_SERIALIZED is enough.

#ifdef LAUEPROC_HAVE_MPI

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/plan.hpp"
#include "cluster/wire.hpp"
#include "laueproc/pipeline.hpp"

namespace laueproc::cluster {

/// @brief MPI_Init_thread .. MPI_Finalize, and who we are.
class MpiSession {
 public:
  MpiSession();   ///< throws Error when MPI cannot start or lacks MPI_THREAD_SERIALIZED
  ~MpiSession();  ///< MPI_Finalize, unless abandon()ed
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  ///< among the ranks on this node
  int local_size() const { return local_size_; }
  const std::string& host() const { return host_; }
  /// @brief "rank 2 of 4 (node17)".
  std::string who(int rank) const;

  /// @brief Collective, after each rank's setup: `code` 0 or the exit code of its error. Every
  /// rank gets the lowest failing rank's code and its message ("rank r of N (host): ..." when
  /// N > 1), or {0, ""}.
  std::pair<int, std::string> agree(int code, const std::string& message);
  /// @brief Collective: rank 0's value on every rank.
  std::int64_t broadcast(std::int64_t value);
  /// @brief Skip MPI_Finalize at the end: a rank no longer answers, and finalizing would wait for it.
  void abandon() { abandoned_ = true; }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string host_;
  std::vector<std::string> hosts_;  // every rank's
  bool abandoned_ = false;
};

struct DistributedOptions {
  Distribution mode = Distribution::dynamic;
  std::int64_t frames_per_request = 1;  ///< the chunk this rank asks for (rank 0 answers with up to that)
  const std::atomic<bool>* interrupt = nullptr;  ///< set by SIGINT/SIGTERM: stop after the frames in hand
  std::function<void(std::int64_t, std::int64_t)> progress;  ///< rank 0: (frames recorded, total)
  double stop_grace_s = 10;  ///< after a stop, rank 0 waits this long for every rank's report
};

struct DistributedReport {
  RunReport run;                         ///< rank 0: the whole run; other ranks: their own part
  std::vector<wire::RankReport> ranks;   ///< rank 0: what each rank did (index = rank)
  int exit_code = 0;                     ///< 0; 130 interrupted; else the failure's code
  std::string error;                     ///< rank 0: the failure, one line, naming rank and frames
};

/// @brief Runs this rank's part. Rank 0 passes the sink (opened with frames_total = scan frames,
/// so it takes frames in any order) and gets the whole run; finished results are written
/// (finish_results) only when every frame is in. Other ranks pass nullptr.
DistributedReport run_distributed(MpiSession& session, FrameSource& source, const ProcessConfig& config,
                                  const PipelineOptions& options, ResultSink* sink,
                                  const DistributedOptions& distributed);

}  // namespace laueproc::cluster

#endif  // LAUEPROC_HAVE_MPI
