#pragma once
/// @file
/// @brief The seam between the pipeline and a compute backend: a batch of frames in, one
/// FrameAnalysis per frame out. The CPU backend analyses one frame at a time per worker; the
/// CUDA backend takes batches so that copies overlap kernels. Neither knows files or the CLI.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "laueproc/config.hpp"
#include "laueproc/frame.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

/// @brief One per worker thread (it owns scratch buffers, streams...); not thread-safe itself.
class BatchAnalyzer {
 public:
  virtual ~BatchAnalyzer() = default;
  /// @brief Frames the backend likes to get per call (1 for the CPU).
  virtual std::size_t preferred_batch() const = 0;
  /// @brief Analyses `frames` (all ok(), any sizes) into `out` (resized to frames.size()), in order.
  /// Peaks carry Peak::frame = the frame's meta.index. Throws laueproc::Error on backend failure.
  virtual void analyze(const std::vector<const Frame*>& frames, std::vector<FrameAnalysis>& out) = 0;
  /// @brief "cpu", or "cuda:0 (NVIDIA H100 ...)".
  virtual std::string name() const = 0;
  /// @brief Memory the reader should read this backend's frames into (the CUDA backend: pinned
  /// blocks its device copies from), or null for ordinary memory (the CPU backend).
  virtual std::shared_ptr<FrameMemory> frame_memory() const { return nullptr; }
  /// @brief True when analyze() decodes frames that arrive still compressed (Frame::is_encoded(),
  /// ScanOptions::keep_encoded). The pipeline refuses to hand such frames to any other backend.
  virtual bool accepts_encoded() const { return false; }
};

/// @brief The CPU reference backend (CpuFrameAnalyzer), batch size 1.
std::unique_ptr<BatchAnalyzer> make_cpu_analyzer(const ProcessConfig& config, const BadPixelMask* mask = nullptr);

}  // namespace laueproc
