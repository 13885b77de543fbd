#pragma once
/// @file
/// @brief `laueproc process` as a library call: frames stream in, are analysed on worker
/// threads, summarised, and reach the result sink in frame order.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "laueproc/analyze.hpp"
#include "laueproc/config.hpp"
#include "laueproc/io.hpp"
#include "laueproc/output.hpp"
#include "laueproc/summary.hpp"

namespace laueproc {

class BadPixelMask;
class BatchAnalyzer;

/// @brief How the run is carried out (none of it changes the results).
struct PipelineOptions {
  int threads = 0;              ///< CPU worker threads; 0 = all cores
  std::size_t read_ahead = 8;   ///< frames read ahead of the workers (at least 2 per reader)
  int readers = 0;              ///< reader threads reading and decoding frames; 0 = all cores
  GridSpec grid;                ///< explicit raster grid (--grid); else inferred from positions
  const BadPixelMask* mask = nullptr;
  /// Another backend (e.g. CUDA): makes one analyzer per worker; `workers` of them. Empty: the
  /// CPU backend with `threads` workers.
  std::function<std::unique_ptr<BatchAnalyzer>()> make_analyzer;
  int workers = 1;
  /// Set (e.g. by a SIGINT handler) to stop after the frames already written; the run can be
  /// resumed from its journal.
  const std::atomic<bool>* cancel = nullptr;
  /// Called from the writing thread after each frame: (frames done, frames in total).
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// @brief What a run did.
struct RunReport {
  std::int64_t frames_total = 0;    ///< frames in the scan
  std::int64_t frames_resumed = 0;  ///< already complete in the journal (--resume)
  std::int64_t frames_processed = 0;///< analysed in this run
  std::int64_t frames_failed = 0;   ///< could not be read or analysed (listed in /frames with status)
  std::int64_t peaks = 0;           ///< peaks written in this run
  double seconds = 0;               ///< wall time of this run
  std::string backend;              ///< the backend's name ("cpu", "cuda:0 (...)")
  std::vector<std::string> failures;///< "frame N: reason", the first few
  std::vector<FrameSummary> frames; ///< every frame's summary (resumed ones too), in frame order
  bool interrupted = false;         ///< stopped by PipelineOptions::cancel: results are partial
};

/// @brief Resolves threads = 0 to the number of cores.
int resolve_threads(int threads);

/// @brief The provenance `laueproc process` stores in its outputs: version, commit, UTC start,
/// input files, and every setting (describe(config) followed by scan.input, scan.dataset and
/// scan.grid). The CLI and the Python module both build it here, so their files carry the same
/// settings and run fingerprint.
RunInfo make_run_info(const std::string& input, const ScanInfo& scan, const ProcessConfig& config,
                      const GridSpec& grid, const std::string& backend, int threads,
                      const std::string& command_line);

/// @brief Runs the CPU pipeline over every frame of `source` that the sink does not already
/// hold, then assigns the raster grid, builds the maps and finishes the sink. The output is
/// identical for any thread count: frames reach the sink in frame order.
RunReport run_pipeline(FrameSource& source, const ProcessConfig& config, const PipelineOptions& options,
                       ResultSink& sink);

// ---- the pieces run_pipeline() is made of, for drivers that split a scan (MPI ranks, shards) ----

/// @brief Where the frames to analyse come from, one index at a time. next() is called on the
/// read-ahead thread and may block (an MPI rank waiting for its next hand-out); cancel(), called
/// when the run stops early, must make a blocked or later next() return false.
class FrameFeed {
 public:
  virtual ~FrameFeed() = default;
  virtual bool next(std::int64_t& frame) = 0;
  virtual void cancel() {}
};

/// @brief A feed over a fixed list of frames.
class ListFeed final : public FrameFeed {
 public:
  explicit ListFeed(std::vector<std::int64_t> frames) : frames_(std::move(frames)) {}
  bool next(std::int64_t& frame) override {
    if (next_ >= frames_.size()) return false;
    frame = frames_[next_++];
    return true;
  }

 private:
  std::vector<std::int64_t> frames_;
  std::size_t next_ = 0;
};

/// @brief What analyze_stream() did.
struct AnalyzeReport {
  std::int64_t frames_processed = 0;  ///< delivered
  std::int64_t frames_failed = 0;     ///< delivered with status != "ok"
  std::int64_t peaks = 0;             ///< peaks delivered
  std::string backend;                ///< the backend's name
  std::vector<std::string> failures;  ///< "frame N: reason", the first few
  bool interrupted = false;           ///< stopped by PipelineOptions::cancel
};

/// @brief Copies what analyze_stream() counted (frames processed and failed, peaks, backend,
/// failures, interrupted) into a run's report.
void count_into(RunReport& run, const AnalyzeReport& analyzed);

/// @brief The pipeline without its sink: analyses the frames `feed` gives on worker threads and
/// hands each result to `deliver` on the calling thread: in feed order when `ordered`, else as
/// soon as it is done (a remote writer orders them). Stops early when options.cancel is set
/// (report.interrupted); rethrows the first error of the reader, a broken backend or `deliver`.
/// options.progress is not called (the caller knows what "done" means).
AnalyzeReport analyze_stream(FrameSource& source, const ProcessConfig& config, const PipelineOptions& options,
                             FrameFeed& feed, bool ordered, const std::function<void(FrameResult&&)>& deliver);

/// @brief After the last frame: assigns the raster grid to `frames` (every frame of the scan, in
/// frame order), builds the maps and finishes the sink.
void finish_results(ResultSink& sink, std::vector<FrameSummary>& frames, const GridSpec& grid);

}  // namespace laueproc
