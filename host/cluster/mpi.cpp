// The MPI driver of `laueproc process`: see mpi.hpp and docs/cluster.md.
#ifdef LAUEPROC_HAVE_MPI

#include "cluster/mpi.hpp"

#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "io/h5.hpp"
#include "laueproc/error.hpp"

namespace laueproc::cluster {

namespace {

enum Tag : int {
  kRequest = 1,  // rank -> 0: int64 frames wanted
  kWork = 2,     // 0 -> rank: frame list; empty = nothing more
  kResult = 3,   // rank -> 0: one finished frame
  kDone = 4,     // rank -> 0: its RankReport; it sends nothing after
  kStop = 5,     // 0 -> rank: ask for nothing more, finish the frames in hand
};

// Results may wait this long for rank 0's writer before rank 0 holds back new hand-outs.
constexpr std::size_t kMaxQueued = 4096;
// Message threads poll (MPI has no wait that also sees a local stop): 100 us after activity,
// backing off to 2 ms while idle, so a rank whose frames take 30 ms spends ~0.1 % of a core here.
class Backoff {
 public:
  void active() { sleep_ = kShortest; }
  void idle() {
    std::this_thread::sleep_for(sleep_);
    sleep_ = std::min(sleep_ * 2, kLongest);
  }

 private:
  static constexpr std::chrono::microseconds kShortest{100}, kLongest{2000};
  std::chrono::microseconds sleep_ = kShortest;
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds of this process, all threads (a rank's share of the work, whatever else the
// machine runs).
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int exit_code_of(const std::exception& e) {
  return dynamic_cast<const InputError*>(&e) || dynamic_cast<const UsageError*>(&e) ? 2 : 1;
}

void send(const std::string& bytes, int dest, int tag) {
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD);
}

bool probe(int source, MPI_Status& status) {
  int flag = 0;
  MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status);
  return flag != 0;
}

std::string receive(const MPI_Status& status) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::string bytes(static_cast<std::size_t>(count), '\0');
  MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return bytes;
}

[[noreturn]] void protocol_error(int from, const char* what) {
  throw Error("MPI: malformed " + std::string(what) + " message from rank " + std::to_string(from));
}

// ---- rank 0 ------------------------------------------------------------------------------------

// Shared by rank 0's message thread, its own workers and its writer (the calling thread).
struct Root {
  MpiSession& session;
  Dispatcher& dispatcher;
  const DistributedOptions& options;

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<FrameResult> queue;  // finished frames for the writer, in arrival order
  int producers = 2;              // rank 0's own engine and the message thread
  std::atomic<bool> stopping{false};
  bool interrupted = false;
  int failed_rank = -1;           // the first failure
  int failed_code = 0;
  std::string failed_message;
  std::vector<int> silent;        // ranks that never reported after the stop
  std::vector<wire::RankReport> reports;

  Root(MpiSession& s, Dispatcher& d, const DistributedOptions& o)
      : session(s), dispatcher(d), options(o), reports(static_cast<std::size_t>(s.size())) {}

  void push(FrameResult&& result) {
    std::lock_guard<std::mutex> lock(mutex);
    queue.push_back(std::move(result));
    cv.notify_all();
  }
  std::size_t queued() {
    std::lock_guard<std::mutex> lock(mutex);
    return queue.size();
  }
  void producer_done() {
    std::lock_guard<std::mutex> lock(mutex);
    --producers;
    cv.notify_all();
  }
  bool pop(FrameResult& result) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return !queue.empty() || producers == 0; });
    if (queue.empty()) return false;
    result = std::move(queue.front());
    queue.pop_front();
    return true;
  }
  void fail(int rank, int code, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (failed_rank < 0) {
        failed_rank = rank;
        failed_code = code;
        failed_message = message;
      }
    }
    stop();
  }
  void stop() {
    stopping = true;
    dispatcher.close();
  }
  // SIGINT/SIGTERM: stop handing out; say once which frames each rank holds (the launcher may
  // kill us next, e.g. because another rank died).
  void check_interrupt() {
    if (!options.interrupt || !options.interrupt->load() || interrupt_seen.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      interrupted = true;
    }
    stop();
    std::fprintf(stderr, "laueproc process: interrupted; stopping every rank after the frames in hand (%s)\n",
                 holdings().c_str());
  }
  std::atomic<bool> interrupt_seen{false};
  // Every rank's frames in hand, for a stop that may be followed by a kill.
  std::string holdings() const {
    std::string s;
    for (int r = 0; r < session.size(); ++r) {
      const auto held = dispatcher.outstanding(r);
      if (held.empty()) continue;
      s += (s.empty() ? "" : "; ") + session.who(r) + ": " + describe_frames(held);
    }
    return s.empty() ? std::string("none") : s;
  }

  void messages();  // the message thread
};

void Root::messages() {
  const int size = session.size();
  std::vector<bool> reported(static_cast<std::size_t>(size), false);
  reported[0] = true;
  int n_reported = 1;
  std::vector<std::pair<int, std::int64_t>> deferred;  // requests held back while the writer catches up
  std::vector<std::pair<MPI_Request, std::unique_ptr<std::string>>> sends;
  bool stop_sent = false;
  Clock::time_point stop_at;

  auto isend = [&](int dest, int tag, std::string bytes) {
    auto buffer = std::make_unique<std::string>(std::move(bytes));
    MPI_Request request;
    MPI_Isend(buffer->data(), static_cast<int>(buffer->size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD, &request);
    sends.emplace_back(request, std::move(buffer));
  };
  auto answer = [&](int rank, std::int64_t wanted) {
    std::string bytes;
    wire::put_frames(bytes, dispatcher.hand_out(rank, wanted));
    isend(rank, kWork, std::move(bytes));
  };

  Backoff backoff;
  while (n_reported < size) {
    bool idle = true;
    check_interrupt();
    if (stopping && !stop_sent) {
      for (int r = 1; r < size; ++r)
        if (!reported[static_cast<std::size_t>(r)]) isend(r, kStop, std::string());
      for (auto [rank, wanted] : deferred) answer(rank, wanted);  // closed: empty answers
      deferred.clear();
      stop_sent = true;
      stop_at = Clock::now();
    }
    if (stop_sent && seconds_since(stop_at) > options.stop_grace_s) {
      std::lock_guard<std::mutex> lock(mutex);
      for (int r = 1; r < size; ++r)
        if (!reported[static_cast<std::size_t>(r)]) silent.push_back(r);
      break;
    }
    if (!deferred.empty() && queued() < kMaxQueued / 2) {
      for (auto [rank, wanted] : deferred) answer(rank, wanted);
      deferred.clear();
      idle = false;
    }
    MPI_Status status;
    if (probe(MPI_ANY_SOURCE, status)) {
      idle = false;
      const std::string bytes = receive(status);
      std::string_view in(bytes);
      const int from = status.MPI_SOURCE;
      if (status.MPI_TAG == kRequest) {
        std::vector<std::int64_t> wanted;
        if (!wire::get_frames(in, wanted) || wanted.size() != 1) protocol_error(from, "request");
        if (!stopping && queued() >= kMaxQueued)
          deferred.emplace_back(from, wanted[0]);
        else
          answer(from, wanted[0]);
      } else if (status.MPI_TAG == kResult) {
        FrameResult result;
        if (!wire::get_result(in, result)) protocol_error(from, "result");
        dispatcher.returned(from, result.summary.frame);
        push(std::move(result));
      } else if (status.MPI_TAG == kDone) {
        wire::RankReport report;
        if (!wire::get_report(in, report)) protocol_error(from, "report");
        if (!reported[static_cast<std::size_t>(from)]) {
          reported[static_cast<std::size_t>(from)] = true;
          ++n_reported;
        }
        if (report.error_code != 0) fail(from, report.error_code, report.error);
        std::lock_guard<std::mutex> lock(mutex);
        reports[static_cast<std::size_t>(from)] = std::move(report);
      }
    }
    for (auto it = sends.begin(); it != sends.end();) {
      int flag = 0;
      MPI_Test(&it->first, &flag, MPI_STATUS_IGNORE);
      it = flag ? sends.erase(it) : it + 1;
    }
    if (idle)
      backoff.idle();
    else
      backoff.active();
  }
  // Sends still open go to ranks that no longer listen (a silent rank): cancel them.
  const Clock::time_point drain = Clock::now();
  while (!sends.empty() && seconds_since(drain) < 1.0) {
    for (auto it = sends.begin(); it != sends.end();) {
      int flag = 0;
      MPI_Test(&it->first, &flag, MPI_STATUS_IGNORE);
      it = flag ? sends.erase(it) : it + 1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (auto& [request, buffer] : sends) {
    MPI_Cancel(&request);
    MPI_Request_free(&request);
  }
  sends.clear();
}

// Rank 0's own share of the frames, taken from the ledger like any rank's.
class LedgerFeed final : public FrameFeed {
 public:
  LedgerFeed(Root& root, std::int64_t chunk) : root_(root), dispatcher_(root.dispatcher), chunk_(chunk) {}
  bool next(std::int64_t& frame) override {
    root_.check_interrupt();  // also when rank 0 runs alone, or after the other ranks are done
    if (next_ >= buffer_.size()) {
      buffer_ = dispatcher_.hand_out(0, chunk_);
      next_ = 0;
      if (buffer_.empty()) return false;
    }
    frame = buffer_[next_++];
    return true;
  }

 private:
  Root& root_;
  Dispatcher& dispatcher_;
  std::int64_t chunk_;
  std::vector<std::int64_t> buffer_;
  std::size_t next_ = 0;
};

wire::RankReport report_of(const AnalyzeReport& a, const std::string& host, double seconds) {
  wire::RankReport r;
  r.frames = a.frames_processed;
  r.failed = a.frames_failed;
  r.peaks = a.peaks;
  r.seconds = seconds;
  r.cpu_seconds = process_cpu_seconds();
  r.interrupted = a.interrupted;
  r.backend = a.backend;
  r.host = host;
  r.failures = a.failures;
  return r;
}

DistributedReport run_root(MpiSession& session, FrameSource& source, const ProcessConfig& config,
                           const PipelineOptions& options, ResultSink& sink, const DistributedOptions& distributed) {
  const auto start = Clock::now();
  DistributedReport out;
  RunReport& run = out.run;
  run.frames_total = source.info().n_frames;
  std::vector<FrameSummary> summaries = sink.resumed_frames();
  run.frames_resumed = static_cast<std::int64_t>(summaries.size());
  std::vector<std::int64_t> todo;
  {
    std::vector<bool> done(static_cast<std::size_t>(run.frames_total), false);
    for (const auto& s : summaries) done[static_cast<std::size_t>(s.frame)] = true;
    for (std::int64_t i = 0; i < run.frames_total; ++i)
      if (!done[static_cast<std::size_t>(i)]) todo.push_back(i);
  }
  Dispatcher dispatcher(std::move(todo), session.size(), distributed.mode);
  Root root(session, dispatcher, distributed);

  std::thread messages([&root] {
    try {
      root.messages();
    } catch (const std::exception& e) {  // a broken exchange: nobody can be trusted to answer
      root.fail(0, 1, e.what());
      root.session.abandon();
    }
    root.producer_done();
  });
  std::thread engine([&] {
    PipelineOptions local = options;
    local.cancel = nullptr;  // rank 0 stops through the ledger: its workers finish the frames in hand
    local.progress = nullptr;
    LedgerFeed feed(root, distributed.frames_per_request);
    const auto t0 = Clock::now();
    try {
      const AnalyzeReport a = analyze_stream(source, config, local, feed, false, [&](FrameResult&& result) {
        dispatcher.returned(0, result.summary.frame);
        root.push(std::move(result));
      });
      root.reports[0] = report_of(a, session.host(), seconds_since(t0));
    } catch (const std::exception& e) {
      root.reports[0].host = session.host();
      root.fail(0, exit_code_of(e), e.what());
    }
    root.producer_done();
  });

  // The writer: every frame goes to the sink as it arrives (journalled at once; the views wait
  // for the frames before it).
  std::vector<FrameSummary> added;
  FrameResult result;
  bool writing = true;
  while (root.pop(result)) {
    if (!writing) continue;  // after a write failure, only drain
    try {
      {
        std::lock_guard<std::mutex> h5_lock(h5::library_mutex());
        sink.add(result.summary, result.peaks);
      }
      run.peaks += static_cast<std::int64_t>(result.peaks.size());
      added.push_back(std::move(result.summary));
      if (distributed.progress) distributed.progress(sink.recorded_count(), run.frames_total);
    } catch (const std::exception& e) {
      root.fail(0, exit_code_of(e), e.what());
      writing = false;
    }
  }
  engine.join();
  messages.join();

  out.ranks = root.reports;
  run.backend = root.reports[0].backend;
  run.frames_processed = static_cast<std::int64_t>(added.size());
  std::sort(added.begin(), added.end(), [](const FrameSummary& a, const FrameSummary& b) { return a.frame < b.frame; });
  for (const auto& s : added) {
    if (s.status == "ok") continue;
    ++run.frames_failed;
    if (run.failures.size() < 10) run.failures.push_back("frame " + std::to_string(s.frame) + ": " + s.status);
  }
  summaries.insert(summaries.end(), added.begin(), added.end());
  const std::string kept = std::to_string(sink.recorded_count()) + " of " + std::to_string(run.frames_total) +
                           " frames are in the journal: run the same command with --resume to finish";
  auto finish_time = [&] {
    run.seconds = seconds_since(start);
    out.ranks[0].cpu_seconds = process_cpu_seconds();  // rank 0's share includes writing every frame
  };

  if (root.failed_rank >= 0) {
    out.exit_code = root.failed_code;
    out.error = session.who(root.failed_rank) + " failed: " + root.failed_message + " (frames it held: " +
                describe_frames(dispatcher.outstanding(root.failed_rank)) + "); " + kept;
    finish_time();
    return out;
  }
  if (!root.silent.empty()) {
    session.abandon();  // finalizing would wait for them
    std::string who;
    for (int r : root.silent)
      who += (who.empty() ? "" : "; ") + session.who(r) + " (frames it held: " +
             describe_frames(dispatcher.outstanding(r)) + ")";
    out.exit_code = 1;
    out.error = "no report from " + who + " after the stop: it died or hangs; " + kept;
    finish_time();
    return out;
  }
  if (root.interrupted) {
    run.interrupted = true;
    out.exit_code = 130;
    finish_time();
    return out;
  }
  std::sort(summaries.begin(), summaries.end(),
            [](const FrameSummary& a, const FrameSummary& b) { return a.frame < b.frame; });
  finish_results(sink, summaries, options.grid);
  run.frames = std::move(summaries);
  finish_time();
  return out;
}

// ---- ranks 1 .. N-1 ----------------------------------------------------------------------------

// A rank's link to rank 0: the feed its workers pull frames from, and the outbox of finished
// frames; one message thread does every MPI call.
class WorkerLink final : public FrameFeed {
 public:
  WorkerLink(std::int64_t chunk, const std::atomic<bool>* interrupt) : chunk_(chunk), interrupt_(interrupt) {}

  bool next(std::int64_t& frame) override {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !frames_.empty() || ended_ || cancelled_; });
    if (frames_.empty()) return false;
    frame = frames_.front();
    frames_.pop_front();
    in_hand_.insert(frame);
    return true;
  }
  void cancel() override {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void deliver(FrameResult&& result) {
    std::string bytes;
    wire::put_result(bytes, result);
    std::lock_guard<std::mutex> lock(mutex_);
    in_hand_.erase(result.summary.frame);
    outbox_.push_back(std::move(bytes));
  }
  std::vector<std::int64_t> in_hand() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::int64_t> held(in_hand_.begin(), in_hand_.end());
    held.insert(held.end(), frames_.begin(), frames_.end());
    return held;
  }
  void finish(const wire::RankReport& report) {
    std::lock_guard<std::mutex> lock(mutex_);
    report_ = report;
    ended_ = true;
    finishing_ = true;
  }

  void messages() {
    Backoff backoff;
    for (;;) {
      bool idle = true;
      if (interrupt_ && interrupt_->load()) end_input();
      std::deque<std::string> out;
      bool ask = false, done = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        out.swap(outbox_);
        // Double buffering: ask for the next chunk as soon as the last one starts to be used.
        if (!ended_ && !request_out_ && static_cast<std::int64_t>(frames_.size()) < std::max<std::int64_t>(1, last_chunk_)) {
          request_out_ = true;
          ask = true;
        }
        done = finishing_ && out.empty() && !request_out_;  // a pending request is always answered: wait for it
      }
      for (const std::string& bytes : out) send(bytes, 0, kResult);
      if (!out.empty()) idle = false;
      if (done) break;
      if (ask) {
        std::string bytes;
        wire::put_frames(bytes, {chunk_});
        send(bytes, 0, kRequest);
        idle = false;
      }
      MPI_Status status;
      if (probe(0, status)) {
        idle = false;
        const std::string bytes = receive(status);
        std::string_view in(bytes);
        if (status.MPI_TAG == kWork) {
          std::vector<std::int64_t> frames;
          if (!wire::get_frames(in, frames)) protocol_error(0, "work");
          std::lock_guard<std::mutex> lock(mutex_);
          request_out_ = false;
          if (!ended_) {  // frames handed out after a stop stay in rank 0's ledger as not done
            frames_.insert(frames_.end(), frames.begin(), frames.end());
            last_chunk_ = static_cast<std::int64_t>(frames.size());
            if (frames.empty()) ended_ = true;
          }
          cv_.notify_all();
        } else if (status.MPI_TAG == kStop) {
          end_input();
        }
      }
      if (idle)
        backoff.idle();
      else
        backoff.active();
    }
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wire::put_report(bytes, report_);
    }
    send(bytes, 0, kDone);
  }

 private:
  void end_input() {
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    cv_.notify_all();
  }

  const std::int64_t chunk_;
  const std::atomic<bool>* interrupt_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::int64_t> frames_;  // handed out, not yet taken by the workers
  std::set<std::int64_t> in_hand_;   // taken, not yet delivered
  std::deque<std::string> outbox_;
  std::int64_t last_chunk_ = 0;
  bool ended_ = false, cancelled_ = false, request_out_ = false, finishing_ = false;
  wire::RankReport report_;
};

DistributedReport run_worker(MpiSession& session, FrameSource& source, const ProcessConfig& config,
                             const PipelineOptions& options, const DistributedOptions& distributed) {
  DistributedReport out;
  WorkerLink link(distributed.frames_per_request, distributed.interrupt);
  std::thread messages([&link] { link.messages(); });  // an MPI error aborts the job (MPI_ERRORS_ARE_FATAL)
  PipelineOptions local = options;
  local.cancel = nullptr;  // a stop ends the feed; the frames in hand are finished and sent
  local.progress = nullptr;
  wire::RankReport mine;
  const auto t0 = Clock::now();
  try {
    const AnalyzeReport a = analyze_stream(source, config, local, link, false,
                                           [&link](FrameResult&& result) { link.deliver(std::move(result)); });
    mine = report_of(a, session.host(), seconds_since(t0));
  } catch (const std::exception& e) {
    mine.host = session.host();
    mine.error_code = exit_code_of(e);
    mine.error = e.what();
    mine.seconds = seconds_since(t0);
    std::fprintf(stderr, "laueproc process: %s: error: %s (frames in hand: %s); rank 0 stops the job\n",
                 session.who(session.rank()).c_str(), e.what(), describe_frames(link.in_hand()).c_str());
  }
  link.finish(mine);
  messages.join();
  out.exit_code = mine.error_code;
  out.run.frames_processed = mine.frames;
  out.run.frames_failed = mine.failed;
  out.run.peaks = mine.peaks;
  out.run.backend = mine.backend;
  out.run.seconds = mine.seconds;
  return out;
}

}  // namespace

// ---- session -----------------------------------------------------------------------------------

MpiSession::MpiSession() {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    throw Error("MPI: MPI_Init_thread failed");
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    throw Error("MPI: this MPI library does not allow calls from a second thread (MPI_THREAD_SERIALIZED)");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  host_.assign(name, static_cast<std::size_t>(std::max(0, length)));
  // Every rank's host, for messages naming a rank.
  constexpr int kHostChars = 64;
  std::string mine(kHostChars, '\0');
  mine.replace(0, std::min<std::size_t>(host_.size(), kHostChars - 1), host_.substr(0, kHostChars - 1));
  std::string all(static_cast<std::size_t>(kHostChars) * static_cast<std::size_t>(size_), '\0');
  MPI_Allgather(mine.data(), kHostChars, MPI_CHAR, all.data(), kHostChars, MPI_CHAR, MPI_COMM_WORLD);
  for (int r = 0; r < size_; ++r) hosts_.emplace_back(all.c_str() + static_cast<std::size_t>(r) * kHostChars);
}

MpiSession::~MpiSession() {
  if (abandoned_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

std::string MpiSession::who(int rank) const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(size_) + " (" +
         (rank >= 0 && rank < static_cast<int>(hosts_.size()) ? hosts_[static_cast<std::size_t>(rank)] : "?") + ")";
}

std::pair<int, std::string> MpiSession::agree(int code, const std::string& message) {
  std::vector<int> codes(static_cast<std::size_t>(size_), 0);
  MPI_Allgather(&code, 1, MPI_INT, codes.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int first = -1;
  for (int r = 0; r < size_ && first < 0; ++r)
    if (codes[static_cast<std::size_t>(r)] != 0) first = r;
  if (first < 0) return {0, std::string()};
  long long length = rank_ == first ? static_cast<long long>(message.size()) : 0;
  MPI_Bcast(&length, 1, MPI_LONG_LONG, first, MPI_COMM_WORLD);
  std::string text = rank_ == first ? message : std::string(static_cast<std::size_t>(length), '\0');
  MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, first, MPI_COMM_WORLD);
  return {codes[static_cast<std::size_t>(first)], size_ > 1 ? who(first) + ": " + text : text};
}

std::int64_t MpiSession::broadcast(std::int64_t value) {
  long long v = value;
  MPI_Bcast(&v, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  return v;
}

DistributedReport run_distributed(MpiSession& session, FrameSource& source, const ProcessConfig& config,
                                  const PipelineOptions& options, ResultSink* sink,
                                  const DistributedOptions& distributed) {
  if (session.rank() == 0) {
    if (!sink) throw Error("MPI: rank 0 needs the result sink");
    return run_root(session, source, config, options, *sink, distributed);
  }
  return run_worker(session, source, config, options, distributed);
}

}  // namespace laueproc::cluster

#endif  // LAUEPROC_HAVE_MPI
