#pragma once
/// @file
/// @brief The result sink of `laueproc process`: the results HDF5 file, optional CSV files and
/// the crash-safe journal that lets `--resume` continue an interrupted run.
///
/// Design (details in docs/output.md):
/// - The journal `<results_h5>.journal` is the truth. It is an append-only text file: one header
///   line with the run fingerprint, "I" lines with the run's provenance, then per frame its peaks
///   ("P" lines) and its frame record ("F" line, written last and flushed). Numbers are printed
///   in the shortest form that reads back to the identical double, so a resumed run's outputs
///   are bit-identical to an uninterrupted run's. A frame counts as complete only once its F
///   line ends with '\n'.
/// - The results file and peaks.csv are written incrementally and flushed every
///   kFlushFrames frames or kFlushSeconds seconds; they are only views of the journal, always in
///   frame order. A killed HDF5 writer may leave the .h5 unreadable, so `--resume` rebuilds the
///   .h5 and the CSVs from the journal, then continues appending.
/// - With SinkOptions::frames_total set, frames may arrive in any order (MPI ranks finish them
///   in any order): each is journalled at once, and the views wait for the frames before it
///   (held in memory up to SinkOptions::held_bytes, beyond that read back from the journal when their turn
///   comes).
/// - frames.csv and the ix/iy columns of /frames need the raster grid, known only when every
///   frame is in: finish() writes them. Frame summaries stay in memory (small); peaks are
///   streamed and never all held.
/// - Until finish(), the results and peaks.csv are written as `results.h5.partial` and
///   `peaks.csv.partial`: a run that fails or is killed never leaves a file under a final name.
///   finish() completes the file (maps, finished_utc, complete = 1), renames every output onto
///   its final name (an older result is replaced only then) and removes the journal last.
///   Destroying the sink without finish() leaves the journal and the .partial files in place.
/// - The journal is locked (flock) before it is read or written: a second sink on the same
///   results fails at once and changes nothing. Existing outputs are not replaced unless
///   SinkOptions::overwrite (or resume) is given.
///
/// Not thread-safe: one thread (the pipeline's writer) calls add() in frame order.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "laueproc/peak.hpp"
#include "laueproc/summary.hpp"

namespace laueproc {

namespace output {
struct JournalHead;
class OutputLock;
}

/// @brief Provenance of a run, stored as attributes of the results file's root.
struct RunInfo {
  std::string program_version;  ///< laueproc::version()
  std::string git_commit;       ///< laueproc::git_commit()
  std::string command_line;     ///< the full command as typed
  std::string started_utc;      ///< ISO 8601, e.g. "2026-01-31T12:00:00Z" (see utc_timestamp())
  std::string backend;          ///< "cpu" or "cuda"
  int threads = 0;              ///< worker threads used
  std::vector<std::string> input_files;  ///< frame files (or the one stacked file), as given
  std::string dataset;          ///< dataset path inside the input files, e.g. "/entry1/data/data"
  /// Every setting as (dotted name, value): laueproc::describe(ProcessConfig) + scan options.
  std::vector<std::pair<std::string, std::string>> settings;
  /// How the run was carried out when not by one process, e.g. "mpi: 4 ranks" or "merged from
  /// 8 shards" (root attribute run_mode); not part of the fingerprint.
  std::string run_mode;
};

/// @brief Where the sink writes.
struct SinkOptions {
  std::string results_h5;  ///< results file (required); its journal is results_h5 + ".journal"
  std::string csv_dir;     ///< folder for peaks.csv and frames.csv; empty = no CSV
  bool resume = false;     ///< continue the run recorded in the journal (--resume)
  bool overwrite = false;  ///< replace existing outputs / an interrupted run's journal (--overwrite)
  /// Frames in the scan, 0 .. frames_total - 1. When > 0, add() takes them in any order (each
  /// once) and the views are written in frame order; 0: add() wants increasing frames.
  std::int64_t frames_total = 0;
  bool journal = true;     ///< false: no journal of its own (merge: the adopted journals are the truth)
  bool views = true;       ///< false: the journal only, no results file or CSV (one shard of a job array)
  /// Journals of other processes (the shards of a job array) whose frames count as done; read
  /// like a resumed journal, left in place (the caller removes them after finish()).
  std::vector<std::string> adopt;
  /// Any-order mode: bytes of peaks kept in memory while their frames wait for an earlier one;
  /// beyond it they are read back from the journal.
  std::size_t held_bytes = std::size_t{64} << 20;
};

/// @brief The current UTC time as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_timestamp();

/// @brief 16 hex digits identifying what a run computes: a 64-bit FNV-1a hash of the settings,
/// the input files and the dataset (not of the command line, time, threads or backend, which
/// do not change the results). `--resume` refuses a journal with another fingerprint.
std::string run_fingerprint(const RunInfo& info);

/// @brief Writes the results of `laueproc process` as frames complete; see the file comment.
class ResultSink {
 public:
  /// H5Fflush / CSV flush at least this often. /peaks goes out in whole chunks (its last, partly
  /// filled one when the run ends or stops), /frames rows at each flush; flushing every 64
  /// frames compressed partial chunks again and again (benchmarks/bench_sink). The journal, not
  /// the views, is what survives a kill.
  static constexpr int kFlushFrames = 2048;
  static constexpr double kFlushSeconds = 5.0;   ///< ... or after this many seconds
  static constexpr int kSyncFrames = 256;        ///< fsync the journal this often (power loss)
  static constexpr std::size_t kStatusChars = 64;///< /frames status field size (incl. '\0')

  /// @brief Locks and opens the outputs. resume = false: OutputError when the results file, the
  /// CSVs or an interrupted run's journal exist, unless overwrite (they are then replaced when
  /// this run finishes; the journal at once). resume = true: the journal is read back (a torn,
  /// damaged or edited tail is dropped with a warning and redone), the .partial outputs are
  /// rebuilt from it, and writing continues. Throws OutputError (one line, with the path) when
  /// another process holds the lock, an output cannot be created, the journal belongs to
  /// another run (different fingerprint) or resume is asked for a run that already completed;
  /// The frames of the adopted journals are read back too (a frame in two journals is an error).
  /// UsageError when results_h5 is empty or resume and overwrite are both set.
  ResultSink(SinkOptions options, RunInfo info);
  ~ResultSink();  ///< without finish(): flushes, leaves journal + partial outputs; never throws
  ResultSink(const ResultSink&) = delete;
  ResultSink& operator=(const ResultSink&) = delete;

  /// @brief Frames already complete in the journal (resume = true) and the adopted journals,
  /// in frame order; the pipeline skips them.
  const std::vector<FrameSummary>& resumed_frames() const { return resumed_; }
  /// @brief Peaks of the resumed frames.
  std::int64_t resumed_peak_count() const { return resumed_peaks_; }
  /// @brief Every frame written to the views so far (resumed + added), in frame order: the
  /// input of grid assignment and of the maps once every frame is in.
  const std::vector<FrameSummary>& frames() const { return frames_; }
  /// @brief Frames recorded (resumed + added), including those still waiting for an earlier
  /// frame before they reach the views.
  std::int64_t recorded_count() const { return recorded_count_; }
  /// @brief Peaks written to the views so far (resumed included).
  std::int64_t peak_count() const { return peak_count_; }

  /// @brief Records one frame and its peaks, failed frames included (status != "ok", no peaks).
  /// Every peak's `frame` must equal `frame.frame`. Frames come in increasing order, or in any
  /// order within 0 .. frames_total - 1 when SinkOptions::frames_total is set (each once). The
  /// frame is durable (survives a kill) when add() returns.
  void add(const FrameSummary& frame, const PeakList& peaks);

  /// @brief Completes the run: rewrites /frames with ix, iy from `frames` (the same frames as
  /// frames(), in the same order, after grid assignment), writes frames.csv and the maps, the
  /// final attributes (finished_utc, complete = 1), closes the file and removes the journal
  /// (not the adopted ones). Throws Error while a recorded frame still waits for an earlier one.
  void finish(const ScanMaps& maps, const std::vector<FrameSummary>& frames);
  /// @brief As above, with ix, iy taken from the frames as added, or where those are -1,
  /// from the nearest map axis value (frames with a position) or the raster order
  /// ix = frame % nx, iy = frame / nx (frames without).
  void finish(const ScanMaps& maps);

  /// @brief Path of the journal (`results_h5 + ".journal"`).
  const std::string& journal_path() const { return journal_path_; }
  /// @brief Where the results are written until finish() (`results_h5 + ".partial"`).
  const std::string& partial_path() const { return partial_h5_path_; }

 private:
  struct H5State;  // HDF5 handles and row buffers (keeps hdf5.h out of this header)
  struct Journals; // the journal writer and the readers of journalled frames
  struct HeldFrames; // recorded frames waiting for an earlier one (any-order mode)
  struct FileCloser {
    void operator()(std::FILE* f) const noexcept;
  };
  using File = std::unique_ptr<std::FILE, FileCloser>;

  void open_fresh();
  bool acceptable(const FrameSummary& frame) const;
  output::JournalHead journal_head(const std::string& started_utc) const;
  void resume_from_journal();
  void adopt_journals();
  void create_results(const std::string& started_utc, const std::string& resumed_utc);
  void check_frame(const FrameSummary& frame, const PeakList& peaks);
  void record(FrameSummary frame, const PeakList& peaks, int source, std::int64_t offset);
  void append_outputs(const FrameSummary& frame, const PeakList& peaks);
  void maybe_flush(bool force);
  std::string provenance_text() const;
  void close_outputs() noexcept;

  SinkOptions options_;
  RunInfo info_;
  std::string fingerprint_;
  std::string journal_path_, partial_h5_path_;
  std::string peaks_csv_path_, frames_csv_path_, provenance_path_, peaks_partial_path_;
  std::unique_ptr<output::OutputLock> lock_;  // on the journal, held while the sink lives
  std::vector<FrameSummary> resumed_;
  std::vector<FrameSummary> frames_;
  std::int64_t resumed_peaks_ = 0;
  std::int64_t peak_count_ = 0;
  std::int64_t recorded_count_ = 0;
  std::int64_t last_recorded_ = -1;     // increasing mode: the last frame recorded
  std::vector<bool> recorded_;          // any-order mode: which frames are recorded
  std::int64_t next_view_ = 0;          // any-order mode: the next frame the views wait for
  std::unique_ptr<HeldFrames> held_;
  std::unique_ptr<H5State> h5_;
  std::unique_ptr<Journals> journals_;
  File peaks_csv_;
  std::string line_;  // reused formatting buffer (no allocation per peak)
  int frames_since_flush_ = 0;
  std::chrono::steady_clock::time_point last_flush_;
  bool finished_ = false;
  bool journal_started_ = false;  // this sink (re)wrote the journal from its header
};

}  // namespace laueproc
