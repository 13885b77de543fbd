// FrameStream: one read-ahead thread fills a bounded queue; the consumer swaps frames out, and
// the buffers it hands back are reused, so a long run allocates `depth + 2` frames in all.
//
// While a stream runs, only its thread calls the source (and so HDF5). The source's HDF5 calls
// take h5::library_mutex(), so other HDF5 users in the process must take it too.
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "io/h5.hpp"
#include "laueproc/io.hpp"

namespace laueproc {

struct FrameStream::Impl {
  FrameSource& source;
  std::function<bool(std::int64_t&)> next_index;
  std::size_t depth;

  std::mutex m;
  std::condition_variable not_full;   // reader waits here
  std::condition_variable not_empty;  // consumer waits here
  std::deque<Frame> queue;            // frames read, in order
  std::vector<Frame> spare;           // buffers handed back by the consumer, for reuse
  std::exception_ptr error;
  bool stop = false;  // consumer is gone
  bool done = false;  // reader has finished (or failed)
  std::thread thread;

  Impl(FrameSource& s, std::function<bool(std::int64_t&)> n, std::size_t d)
      : source(s), next_index(std::move(n)), depth(d == 0 ? 1 : d) {}

  void run() noexcept {
    try {
      for (;;) {
        Frame f;
        {
          std::lock_guard<std::mutex> lock(m);
          if (stop) break;
          if (!spare.empty()) {
            f = std::move(spare.back());
            spare.pop_back();
          }
        }
        std::int64_t index = 0;
        if (!next_index(index)) break;
        source.read(index, f);
        std::unique_lock<std::mutex> lock(m);
        not_full.wait(lock, [&] { return stop || queue.size() < depth; });
        if (stop) break;
        queue.push_back(std::move(f));
        not_empty.notify_one();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(m);
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(m);
    done = true;
    not_empty.notify_all();
  }
};

FrameStream::FrameStream(FrameSource& source, std::vector<std::int64_t> order, std::size_t depth)
    : FrameStream(source,
                  [order = std::move(order), next = std::size_t{0}](std::int64_t& index) mutable {
                    if (next >= order.size()) return false;
                    index = order[next++];
                    return true;
                  },
                  depth) {}

FrameStream::FrameStream(FrameSource& source, std::function<bool(std::int64_t&)> next_index, std::size_t depth)
    : impl_(std::make_unique<Impl>(source, std::move(next_index), depth)) {
  impl_->thread = std::thread([impl = impl_.get()] {
    h5::init();  // this thread's HDF5 error stack stays quiet: errors are reported as Frame::error
    impl->run();
  });
}

FrameStream::~FrameStream() {
  {
    std::lock_guard<std::mutex> lock(impl_->m);
    impl_->stop = true;
  }
  impl_->not_full.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();  // the reader finishes at most the frame it reads
}

bool FrameStream::next(Frame& out) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.m);
  s.not_empty.wait(lock, [&] { return !s.queue.empty() || s.done; });
  if (!s.queue.empty()) {
    std::swap(out, s.queue.front());
    s.spare.push_back(std::move(s.queue.front()));  // the caller's old buffer, for reuse
    s.queue.pop_front();
    s.not_full.notify_one();
    return true;
  }
  if (s.error) {
    std::exception_ptr e = s.error;
    s.error = nullptr;  // rethrown once; later calls report the end
    std::rethrow_exception(e);
  }
  return false;
}

}  // namespace laueproc
