#include "laueproc/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "io/h5.hpp"
#include "laueproc/analyze.hpp"
#include "laueproc/backend.hpp"
#include "laueproc/error.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

namespace {

// A backend that fails this many batches in a row is broken (device lost...): stop the run.
constexpr int kMaxConsecutiveFailures = 3;

/// Why a frame that was read cannot be analysed or placed, or "" when it can. Such a frame is
/// failed with this reason (listed in /frames, counted in the exit code 3), never dropped:
/// - smaller than one background block: the background would be the frame's own low quantile
///   and the whole frame one "peak" (3 x 5 px frames were reported as one ok peak);
/// - without a finite raster position in a scan placed by its positions: it cannot go on any
///   map, so it is named rather than silently missing from them (--grid places frames by index).
std::string frame_problem(const Frame& frame, const ProcessConfig& config, bool needs_position) {
  const int block = std::max(1, config.background.block_px);
  if (frame.width < block || frame.height < block)
    return "frame too small: " + std::to_string(frame.width) + " x " + std::to_string(frame.height) +
           " px, less than one " + std::to_string(block) + " px background block";
  if (needs_position && !frame.meta.has_position)
    return "no raster position: x/y missing or NaN (" + frame.meta.source + ", frame " +
           std::to_string(frame.meta.index_in_file) + " of the file); --grid NXxNY places frames by index";
  return {};
}

}  // namespace

AnalyzeReport analyze_stream(FrameSource& source, const ProcessConfig& config, const PipelineOptions& options,
                             FrameFeed& feed, bool ordered, const std::function<void(FrameResult&&)>& deliver) {
  AnalyzeReport report;
  const bool needs_position = options.grid.nx == 0 && source.info().has_positions;
  const int n_workers = std::max(1, options.make_analyzer ? options.workers : resolve_threads(options.threads));
  // Analyzers are made here, not in the workers, so a backend that cannot start fails the run at
  // once with its own message.
  std::vector<std::unique_ptr<BatchAnalyzer>> analyzers;
  for (int i = 0; i < n_workers; ++i)
    analyzers.push_back(options.make_analyzer ? options.make_analyzer() : make_cpu_analyzer(config, options.mask));
  const std::size_t batch = std::max<std::size_t>(1, analyzers.front()->preferred_batch());
  report.backend = analyzers.front()->name();
  // Results may finish out of order; this many may wait for an earlier frame before workers pause.
  const std::size_t window = std::max<std::size_t>(static_cast<std::size_t>(n_workers) * 4 + 4, 2 * batch);

  // Reader threads decode while the workers analyse; frames arrive in feed order whatever the
  // count, in the backend's memory (the CUDA backend's pinned blocks: no copy before the upload).
  FrameStream stream(source, [&feed](std::int64_t& frame) { return feed.next(frame); },
                     std::max<std::size_t>(options.read_ahead, batch), resolve_readers(options.readers),
                     analyzers.front()->frame_memory());
  std::mutex mutex;
  std::condition_variable ready;      // a result arrived, or the input ended (writer waits)
  std::condition_variable room;       // the writer made room (workers wait)
  std::map<std::size_t, FrameResult> pending;  // slot (position in feed order) -> result
  std::size_t next_slot_to_take = 0;  // guarded by input_mutex
  std::size_t delivered = 0;          // guarded by mutex; in ordered mode also the next slot to deliver
  bool input_done = false;            // guarded by mutex: the feed ended after `slots_total` slots
  std::size_t slots_total = 0;
  std::exception_ptr failure;
  bool stop = false;
  auto fail = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failure) failure = e;
    stop = true;
    ready.notify_all();
    room.notify_all();
  };

  std::mutex input_mutex;  // one worker at a time takes frames from the stream
  auto worker = [&](BatchAnalyzer& analyzer) {
    std::vector<Frame> frames(batch);  // buffers reused batch after batch
    std::vector<std::size_t> slots;
    std::vector<const Frame*> readable;
    std::vector<std::string> problems;  // per slot: why a read frame is not analysed
    std::vector<FrameAnalysis> results;
    int consecutive_failures = 0;
    for (;;) {
      slots.clear();
      {
        std::lock_guard<std::mutex> input_lock(input_mutex);
        while (slots.size() < batch) {
          {
            std::unique_lock<std::mutex> lock(mutex);
            auto has_room = [&] { return stop || next_slot_to_take < delivered + window; };
            // A partial batch goes ahead rather than wait: the writer may be waiting for it.
            if (!slots.empty() && !has_room()) break;
            room.wait(lock, has_room);
            if (stop || input_done) break;
          }
          bool got = false;
          try {
            got = stream.next(frames[slots.size()]);
          } catch (...) {
            fail(std::current_exception());
            return;
          }
          if (!got) {
            std::lock_guard<std::mutex> lock(mutex);
            input_done = true;
            slots_total = next_slot_to_take;
            ready.notify_all();
            break;
          }
          slots.push_back(next_slot_to_take++);
        }
      }
      if (slots.empty()) return;

      readable.clear();
      problems.assign(slots.size(), std::string());
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (!frames[i].ok()) continue;
        problems[i] = frame_problem(frames[i], config, needs_position);
        if (problems[i].empty()) readable.push_back(&frames[i]);
      }
      for (const Frame* f : readable)
        if (f->is_encoded() && !analyzer.accepts_encoded()) {  // a wiring mistake: stop, never guess
          fail(std::make_exception_ptr(Error("frame " + std::to_string(f->meta.index) +
                                             " arrived still compressed (read for a device decoder), but the " +
                                             analyzer.name() + " backend cannot decode it: internal error")));
          return;
        }
      std::string batch_error;
      try {
        analyzer.analyze(readable, results);
        consecutive_failures = 0;
      } catch (const std::exception& e) {
        // A batch the backend cannot handle is reported on its frames, not fatal to a long run...
        batch_error = std::string("analysis failed: ") + e.what();
        if (++consecutive_failures >= kMaxConsecutiveFailures) {  // ...unless the backend is broken
          fail(std::current_exception());
          return;
        }
      }
      std::vector<FrameResult> outcomes(slots.size());
      for (std::size_t i = 0, r = 0; i < slots.size(); ++i) {
        const Frame& frame = frames[i];
        if (!frame.ok())
          outcomes[i].summary = failed_summary(frame.meta, frame.error);
        else if (!problems[i].empty())
          outcomes[i].summary = failed_summary(frame.meta, problems[i]);
        else if (!batch_error.empty())
          outcomes[i].summary = failed_summary(frame.meta, batch_error);
        else
          outcomes[i] = frame_result(frame.meta, std::move(results[r++]), config.summary);
      }
      std::lock_guard<std::mutex> lock(mutex);
      for (std::size_t i = 0; i < slots.size(); ++i) pending.emplace(slots[i], std::move(outcomes[i]));
      ready.notify_all();
    }
  };

  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(n_workers));
  for (auto& analyzer : analyzers) workers.emplace_back(worker, std::ref(*analyzer));

  // The calling thread delivers: in slot order, or whatever is done first.
  try {
    for (;;) {
      if (options.cancel && options.cancel->load()) {  // Ctrl-C: stop cleanly after the delivered frames
        report.interrupted = true;
        break;
      }
      FrameResult outcome;
      {
        std::unique_lock<std::mutex> lock(mutex);
        auto deliverable = [&] { return ordered ? pending.count(delivered) > 0 : !pending.empty(); };
        ready.wait(lock, [&] { return stop || deliverable() || (input_done && delivered == slots_total); });
        if (!deliverable()) break;  // the end of the input, or stopped by a failure
        auto it = ordered ? pending.find(delivered) : pending.begin();
        outcome = std::move(it->second);
        pending.erase(it);
      }
      const std::int64_t n_peaks = static_cast<std::int64_t>(outcome.peaks.size());
      const std::int64_t frame = outcome.summary.frame;
      const std::string status = outcome.summary.status;
      deliver(std::move(outcome));
      report.peaks += n_peaks;
      ++report.frames_processed;
      if (status != "ok") {
        ++report.frames_failed;
        if (report.failures.size() < 10) report.failures.push_back("frame " + std::to_string(frame) + ": " + status);
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++delivered;
      }
      room.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failure) failure = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  room.notify_all();
  ready.notify_all();
  feed.cancel();  // a feed blocked for more frames lets the read-ahead thread, and a worker waiting on it, go
  for (auto& t : workers) t.join();
  if (failure) std::rethrow_exception(failure);
  return report;
}

void count_into(RunReport& run, const AnalyzeReport& analyzed) {
  run.frames_processed = analyzed.frames_processed;
  run.frames_failed = analyzed.frames_failed;
  run.peaks = analyzed.peaks;
  run.backend = analyzed.backend;
  run.failures = analyzed.failures;
  run.interrupted = analyzed.interrupted;
}

void finish_results(ResultSink& sink, std::vector<FrameSummary>& frames, const GridSpec& grid) {
  assign_grid(frames, grid);
  const ScanMaps maps = build_maps(frames, grid);
  std::lock_guard<std::mutex> h5_lock(h5::library_mutex());
  sink.finish(maps, frames);
}

RunReport run_pipeline(FrameSource& source, const ProcessConfig& config, const PipelineOptions& options,
                       ResultSink& sink) {
  const auto start = std::chrono::steady_clock::now();
  RunReport report;
  report.frames_total = source.info().n_frames;

  std::vector<FrameSummary> summaries = sink.resumed_frames();
  std::unordered_set<std::int64_t> done;
  for (const auto& s : summaries) done.insert(s.frame);
  report.frames_resumed = static_cast<std::int64_t>(summaries.size());

  std::vector<std::int64_t> order;
  order.reserve(static_cast<std::size_t>(report.frames_total));
  for (std::int64_t i = 0; i < report.frames_total; ++i)
    if (!done.count(i)) order.push_back(i);

  ListFeed feed(std::move(order));
  const AnalyzeReport analyzed = analyze_stream(source, config, options, feed, true, [&](FrameResult&& result) {
    {
      // The sink writes HDF5 while the read-ahead thread reads: one HDF5 caller at a time.
      std::lock_guard<std::mutex> h5_lock(h5::library_mutex());
      sink.add(result.summary, result.peaks);
    }
    summaries.push_back(std::move(result.summary));
    if (options.progress) options.progress(static_cast<std::int64_t>(summaries.size()), report.frames_total);
  });
  count_into(report, analyzed);
  if (report.interrupted) {  // the sink keeps its journal for --resume; no maps for a partial scan
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  }

  std::sort(summaries.begin(), summaries.end(),
            [](const FrameSummary& a, const FrameSummary& b) { return a.frame < b.frame; });
  finish_results(sink, summaries, options.grid);
  report.frames = std::move(summaries);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace laueproc
