// FrameStream: reader threads take positions of `order` in turn (a run of frames_per_read()
// consecutive positions at a time, so a chunk holding several frames is decoded once), read them
// into frames from a pool of spare buffers, and file them by position; the consumer takes
// position after position. A reader takes a position only while it is fewer than `depth` ahead
// of the consumer, so memory stays bounded and a slow frame delays, never reorders, the rest.
//
// The order may also come one index at a time from a function (an MPI rank's hand-outs): a
// reader that finds every known position taken asks it for more, one reader at a time.
//
// The source's HDF5 calls take h5::library_mutex(), so other HDF5 users in the process must take
// it too. A source that does not allow concurrent reads gets one reader.
#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "io/h5.hpp"
#include "laueproc/io.hpp"

namespace laueproc {

int resolve_readers(int readers) {
  if (readers > 0) return readers;
  const unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(n, 1, 32));
}

struct FrameStream::Impl {
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

  FrameSource& source;
  std::vector<std::int64_t> order;               // the positions known so far
  std::function<bool(std::int64_t&)> next_index; // more of them; empty: `order` is all
  bool order_done = true;                        // no more positions will come
  bool pulling = false;                          // a reader is asking next_index()
  std::shared_ptr<FrameMemory> memory;           // lends the frames' blocks; null: ordinary memory
  std::size_t depth;  // positions taken but not yet delivered, at most
  std::size_t run;    // positions one reader takes at a time

  std::mutex m;
  std::condition_variable room;       // readers wait here
  std::condition_variable delivered;  // the consumer waits here
  std::map<std::size_t, Frame> ready; // position -> frame read
  std::vector<Frame> spare;           // buffers handed back by the consumer, for reuse
  std::size_t next_take = 0;          // first position no reader has taken
  std::size_t next_deliver = 0;       // the position the consumer waits for
  std::size_t error_at = kNone;       // position whose read threw (scan-level error)
  std::exception_ptr error;
  bool stop = false;                  // the consumer is gone
  int running = 0;                    // readers still working
  std::vector<std::thread> threads;

  Impl(FrameSource& s, std::vector<std::int64_t> o, std::function<bool(std::int64_t&)> n, std::size_t d,
       int readers, std::shared_ptr<FrameMemory> mem)
      : source(s), order(std::move(o)), next_index(std::move(n)), order_done(!next_index), memory(std::move(mem)) {
    const auto r = static_cast<std::size_t>(std::max(1, readers));
    depth = std::max<std::size_t>({d, 1, 2 * r});
    run = static_cast<std::size_t>(std::max<std::int64_t>(1, source.frames_per_read()));
    run = std::min(run, depth);
  }

  void reader() noexcept {
    h5::init();  // this thread's HDF5 error stack stays quiet: errors are reported as Frame::error
    std::vector<Frame> frames;
    for (;;) {
      std::size_t first = 0, count = 0;
      {
        std::unique_lock<std::mutex> lock(m);
        for (;;) {
          room.wait(lock, [&] {
            return stop || error || (next_take >= order.size() && (order_done || !pulling)) ||
                   (next_take < order.size() && next_take + std::min(run, order.size() - next_take) <= next_deliver + depth);
          });
          if (stop || error || next_take < order.size() || order_done) break;
          // Every known position is taken: ask for more, without the lock (the call may block).
          pulling = true;
          lock.unlock();
          std::vector<std::int64_t> more;
          bool ended = false;
          try {
            for (std::int64_t index = 0; more.size() < run;) {
              if (!next_index(index)) {
                ended = true;
                break;
              }
              more.push_back(index);
            }
          } catch (...) {
            lock.lock();
            pulling = false;
            if (!error) {
              error_at = order.size();
              error = std::current_exception();
            }
            break;
          }
          lock.lock();
          pulling = false;
          order.insert(order.end(), more.begin(), more.end());
          order_done = ended;
          room.notify_all();
        }
        if (stop || error || next_take >= order.size()) break;
        first = next_take;
        count = std::min(run, order.size() - first);
        next_take += count;
        frames.resize(count);
        for (auto& f : frames) {
          if (spare.empty()) break;
          f = std::move(spare.back());
          spare.pop_back();
        }
      }
      for (auto& f : frames) f.memory = memory;  // read() borrows the frame's block from it
      std::size_t read = 0;
      try {
        for (; read < count; ++read) source.read(order[first + read], frames[read]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (first + read < error_at) {
          error_at = first + read;
          error = std::current_exception();
        }
      }
      std::lock_guard<std::mutex> lock(m);
      for (std::size_t i = 0; i < read; ++i) ready.emplace(first + i, std::move(frames[i]));
      delivered.notify_all();
      room.notify_all();
    }
    std::lock_guard<std::mutex> lock(m);
    --running;
    delivered.notify_all();
  }
};

FrameStream::FrameStream(FrameSource& source, std::vector<std::int64_t> order, std::size_t depth, int readers,
                         std::shared_ptr<FrameMemory> memory)
    : FrameStream(source, std::move(order), nullptr, depth, readers, std::move(memory)) {}

FrameStream::FrameStream(FrameSource& source, std::function<bool(std::int64_t&)> next_index, std::size_t depth,
                         int readers, std::shared_ptr<FrameMemory> memory)
    : FrameStream(source, {}, std::move(next_index), depth, readers, std::move(memory)) {}

FrameStream::FrameStream(FrameSource& source, std::vector<std::int64_t> order,
                         std::function<bool(std::int64_t&)> next_index, std::size_t depth, int readers,
                         std::shared_ptr<FrameMemory> memory)
    : impl_(std::make_unique<Impl>(source, std::move(order), std::move(next_index), depth,
                                   source.concurrent_reads() ? readers : 1, std::move(memory))) {
  const int n = source.concurrent_reads() ? std::max(1, readers) : 1;
  Impl& s = *impl_;
  s.running = n;
  s.threads.reserve(static_cast<std::size_t>(n));
  try {
    for (int i = 0; i < n; ++i) s.threads.emplace_back([impl = impl_.get()] { impl->reader(); });
  } catch (...) {  // cannot start a thread: stop the ones that run
    {
      std::lock_guard<std::mutex> lock(s.m);
      s.stop = true;
      s.running -= n - static_cast<int>(s.threads.size());
    }
    s.room.notify_all();
    for (auto& t : s.threads) t.join();
    throw;
  }
}

FrameStream::~FrameStream() {
  {
    std::lock_guard<std::mutex> lock(impl_->m);
    impl_->stop = true;
  }
  impl_->room.notify_all();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();  // each reader finishes at most the run it reads
}

bool FrameStream::next(Frame& out) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.m);
  s.delivered.wait(lock, [&] { return s.ready.count(s.next_deliver) || s.error_at == s.next_deliver || s.running == 0; });
  auto it = s.ready.find(s.next_deliver);
  if (it != s.ready.end()) {
    std::swap(out, it->second);
    s.spare.push_back(std::move(it->second));  // the caller's old buffer, for reuse
    s.ready.erase(it);
    ++s.next_deliver;
    s.room.notify_all();
    return true;
  }
  if (s.error && s.error_at == s.next_deliver) {
    std::exception_ptr e = s.error;
    s.error_at = Impl::kNone - 1;  // rethrown once; later calls report the end (error stays set: readers stop)
    std::rethrow_exception(e);
  }
  return false;
}

}  // namespace laueproc
