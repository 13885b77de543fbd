#pragma once
/// @file
/// @brief One progress line on stderr (frames/s and ETA), redrawn in place, only on a terminal.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace laueproc::cli {

class ProgressLine {
 public:
  ProgressLine(std::string what, bool enabled) : what_(std::move(what)), enabled_(enabled) {}
  ~ProgressLine() { done(); }

  void update(std::int64_t done, std::int64_t total) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    if (first_done_ < 0) first_done_ = done;
    double rate = elapsed > 0 ? static_cast<double>(done - first_done_ + 1) / elapsed : 0;
    double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    std::fprintf(stderr, "\r%s: %lld/%lld frames  %.1f frames/s  ETA %.0f s   ", what_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), rate, eta);
    std::fflush(stderr);
    drawn_ = true;
  }
  void done() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  std::string what_;
  bool enabled_;
  bool drawn_ = false;
  std::int64_t first_done_ = -1;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace laueproc::cli
