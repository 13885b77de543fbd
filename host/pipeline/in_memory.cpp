#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

#include "laueproc/analyze.hpp"
#include "laueproc/pipeline.hpp"

namespace laueproc {

FrameSummary failed_summary(const FrameMeta& meta, const std::string& reason) {
  FrameSummary s;
  s.frame = meta.index;
  s.has_position = meta.has_position;
  s.x_um = meta.x_um;
  s.y_um = meta.y_um;
  s.status = reason.empty() ? std::string("failed") : reason;
  return s;
}

FrameSummary summarize_analysis(const FrameMeta& meta, const FrameAnalysis& analysis, const SummaryConfig& config) {
  FrameSummary s;
  if (analysis.status != "ok") {
    // An empty or constant frame is data, not a crash: listed with its status and no peaks.
    s = failed_summary(meta, analysis.status);
  } else {
    s = summarize_frame(meta.index, analysis.peaks, config);
    s.has_position = meta.has_position;
    s.x_um = meta.x_um;
    s.y_um = meta.y_um;
  }
  s.background = analysis.background_level;
  s.noise = analysis.noise_sigma;
  return s;
}

FrameResult frame_result(const FrameMeta& meta, FrameAnalysis&& analysis, const SummaryConfig& config) {
  FrameResult r;
  r.summary = summarize_analysis(meta, analysis, config);
  if (analysis.status == "ok") r.peaks = std::move(analysis.peaks);
  return r;
}

namespace {

FrameMeta meta_of(std::int64_t index) {
  FrameMeta meta;
  meta.index = index;
  meta.source = "memory";
  return meta;
}

bool cancelled(const BatchOptions& options) { return options.cancel && options.cancel->load(); }

void count_done(const BatchOptions& options, std::int64_t n) {
  if (options.done) options.done->fetch_add(n);
}

}  // namespace

std::vector<FrameResult> analyze_frames(const std::vector<FrameView>& frames, const ProcessConfig& config,
                                        const BatchOptions& options, std::int64_t first_index) {
  std::vector<FrameResult> results(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i)
    results[i].summary = failed_summary(meta_of(first_index + static_cast<std::int64_t>(i)), "cancelled");
  if (frames.empty()) return results;

  const int requested = options.make_analyzer ? options.workers : resolve_threads(options.threads);
  const int n_workers = std::max(1, std::min<int>(requested, static_cast<int>(frames.size())));
  // Analyzers are made before the threads start, so a backend that cannot start throws here.
  std::vector<std::unique_ptr<BatchAnalyzer>> backends;
  std::vector<std::unique_ptr<CpuFrameAnalyzer>> cpus;
  for (int w = 0; w < n_workers; ++w) {
    if (options.make_analyzer) backends.push_back(options.make_analyzer());
    else cpus.push_back(std::make_unique<CpuFrameAnalyzer>(config, options.mask));
  }
  const std::size_t batch = options.make_analyzer ? std::max<std::size_t>(1, backends.front()->preferred_batch()) : 1;

  std::mutex take_mutex;
  std::size_t next = 0;
  auto take = [&](std::size_t& begin, std::size_t& end) {
    std::lock_guard<std::mutex> lock(take_mutex);
    if (next >= frames.size() || cancelled(options)) return false;
    begin = next;
    end = std::min(frames.size(), next + batch);
    next = end;
    return true;
  };

  // The CPU analyzer reads the caller's pixels in place.
  auto cpu_worker = [&](CpuFrameAnalyzer& analyzer) {
    std::size_t i = 0, end = 0;
    while (take(i, end)) {
      const FrameMeta meta = meta_of(first_index + static_cast<std::int64_t>(i));
      try {
        results[i] = frame_result(meta, analyzer.analyze(frames[i], meta.index), config.summary);
      } catch (const std::exception& e) {
        results[i].summary = failed_summary(meta, std::string("analysis failed: ") + e.what());
      }
      count_done(options, 1);
    }
  };
  // Other backends take owned frames, a batch at a time.
  auto backend_worker = [&](BatchAnalyzer& analyzer) {
    std::vector<Frame> owned(batch);
    std::vector<const Frame*> pointers;
    std::vector<FrameAnalysis> analyses;
    std::size_t begin = 0, end = 0;
    while (take(begin, end)) {
      pointers.clear();
      for (std::size_t i = begin; i < end; ++i) {
        Frame& f = owned[i - begin];
        const FrameView& v = frames[i];
        f.meta = meta_of(first_index + static_cast<std::int64_t>(i));
        f.width = v.width;
        f.height = v.height;
        f.error.clear();
        f.pixels.resize(v.pixel_count());
        for (int y = 0; y < v.height; ++y)
          std::copy(v.data + y * v.stride, v.data + y * v.stride + v.width, f.pixels.data() + std::size_t(y) * v.width);
        pointers.push_back(&f);
      }
      try {
        analyzer.analyze(pointers, analyses);
        for (std::size_t i = begin; i < end; ++i)
          results[i] = frame_result(owned[i - begin].meta, std::move(analyses[i - begin]), config.summary);
      } catch (const std::exception& e) {
        for (std::size_t i = begin; i < end; ++i)
          results[i].summary = failed_summary(owned[i - begin].meta, std::string("analysis failed: ") + e.what());
      }
      count_done(options, static_cast<std::int64_t>(end - begin));
    }
  };

  std::vector<std::thread> threads;
  for (int w = 1; w < n_workers; ++w) {
    if (options.make_analyzer) threads.emplace_back(backend_worker, std::ref(*backends[w]));
    else threads.emplace_back(cpu_worker, std::ref(*cpus[w]));
  }
  // The calling thread is worker 0 (one thread less to start for a single frame).
  if (options.make_analyzer) backend_worker(*backends[0]);
  else cpu_worker(*cpus[0]);
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace laueproc
