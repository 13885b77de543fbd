#pragma once
/// @file
/// @brief Frames held in memory (no scan, no results file): what `laueproc process` computes for
/// each frame (peaks and the frame's summary), for one frame or a batch on worker threads. The
/// Python module (`laueproc.analyze`, `analyze_batch`) is a thin layer over these, and the
/// pipeline summarises its frames with the same summarize_analysis(), so both give the same rows.

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "laueproc/backend.hpp"
#include "laueproc/config.hpp"
#include "laueproc/frame.hpp"
#include "laueproc/stages.hpp"
#include "laueproc/summary.hpp"

namespace laueproc {

/// @brief One frame's row of /frames (frames.csv) and its rows of /peaks.
struct FrameResult {
  FrameSummary summary;
  PeakList peaks;
};

/// @brief The summary the pipeline writes for an analysed frame: SE and scenario from the peaks,
/// position from `meta`, background and noise from the analysis; a frame whose analysis status is
/// not "ok" (empty or constant frame) is listed with that status, no SE and scenario unknown.
FrameSummary summarize_analysis(const FrameMeta& meta, const FrameAnalysis& analysis, const SummaryConfig& config);

/// @brief summarize_analysis() with the frame's peaks (moved out of `analysis`; none unless "ok").
FrameResult frame_result(const FrameMeta& meta, FrameAnalysis&& analysis, const SummaryConfig& config);

/// @brief The summary of a frame that could not be read or analysed: position from `meta`,
/// status = `reason` ("failed" when empty).
FrameSummary failed_summary(const FrameMeta& meta, const std::string& reason);

/// @brief How analyze_frames() runs (none of it changes the results).
struct BatchOptions {
  int threads = 0;                        ///< CPU worker threads; 0 = all cores
  const BadPixelMask* mask = nullptr;     ///< static bad-pixel mask (null: none)
  /// Another backend (e.g. CUDA): one analyzer per worker, `workers` of them; frames are copied
  /// into Frame buffers for it. Empty: CpuFrameAnalyzer on the caller's pixels (no copy).
  std::function<std::unique_ptr<BatchAnalyzer>()> make_analyzer;
  int workers = 1;
  /// Set to stop early: frames not yet started get the status "cancelled".
  const std::atomic<bool>* cancel = nullptr;
  /// Counts finished frames (for a progress display polled from another thread); may be null.
  std::atomic<std::int64_t>* done = nullptr;
};

/// @brief Analyses `frames` (frame i gets index first_index + i) on worker threads and summarises
/// each as the pipeline does. A frame the backend throws on is listed with status
/// "analysis failed: ..." rather than failing the batch. Results in input order, identical for
/// any thread count.
std::vector<FrameResult> analyze_frames(const std::vector<FrameView>& frames, const ProcessConfig& config,
                                        const BatchOptions& options = {}, std::int64_t first_index = 0);

}  // namespace laueproc
