#include "cluster/plan.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

#include "laueproc/error.hpp"

namespace laueproc::cluster {

namespace fs = std::filesystem;

Shard parse_shard(const std::string& text) {
  static const std::regex pattern(R"(\s*(\d{1,9})\s*/\s*(\d{1,9})\s*)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern))
    throw UsageError("--shard wants i/N with 0 <= i < N (e.g. 3/8), not '" + text + "'");
  Shard s{std::stoi(m[1]), std::stoi(m[2])};
  if (s.count < 1 || s.index >= s.count)
    throw UsageError("--shard " + text + ": the shard index must lie in 0 .. N-1");
  return s;
}

std::pair<std::int64_t, std::int64_t> block_range(std::int64_t n, int index, int count) {
  const auto first = [&](int i) { return n * i / count; };  // n * count stays far below 2^63
  return {first(index), first(index + 1)};
}

std::string shard_results_name(const std::string& out, Shard shard) {
  return out + ".shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
}

std::vector<std::string> find_shard_journals(const std::string& out, int& count) {
  const fs::path results(out);
  const fs::path folder = results.parent_path().empty() ? fs::path(".") : results.parent_path();
  const std::string prefix = results.filename().string() + ".shard-";
  static const std::regex tail(R"((\d+)-of-(\d+)\.journal)");
  std::map<int, std::string> by_index;
  count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    std::smatch m;
    const std::string rest = name.substr(prefix.size());
    if (!std::regex_match(rest, m, tail)) continue;
    const int n = std::stoi(m[2]);
    if (count != 0 && n != count)
      throw Error(out + ": shard journals of two splits lie there (of " + std::to_string(count) + " and of " +
                  std::to_string(n) + "); remove the ones of the old split");
    count = n;
    by_index[std::stoi(m[1])] = (results.parent_path() / name).string();
  }
  std::vector<std::string> paths;
  for (auto& [index, path] : by_index) paths.push_back(std::move(path));
  return paths;
}

std::string describe_frames(std::vector<std::int64_t> frames, std::size_t max_ranges) {
  std::sort(frames.begin(), frames.end());
  frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
  std::string out;
  std::size_t ranges = 0, i = 0;
  while (i < frames.size()) {
    std::size_t j = i;
    while (j + 1 < frames.size() && frames[j + 1] == frames[j] + 1) ++j;
    if (ranges == max_ranges) {
      std::size_t rest = 0;
      for (std::size_t k = i; k < frames.size(); ++k) rest += k == i || frames[k] != frames[k - 1] + 1;
      out += ", ... (" + std::to_string(rest) + " more ranges)";
      break;
    }
    if (!out.empty()) out += ", ";
    out += std::to_string(frames[i]);
    if (j > i) out += "-" + std::to_string(frames[j]);
    ++ranges;
    i = j + 1;
  }
  return out.empty() ? std::string("none") : out;
}

Distribution parse_distribution(const std::string& text) {
  if (text == "static") return Distribution::static_blocks;
  if (text == "dynamic") return Distribution::dynamic;
  throw UsageError("--distribute must be static or dynamic, not '" + text + "'");
}

const char* to_string(Distribution d) { return d == Distribution::static_blocks ? "static" : "dynamic"; }

Dispatcher::Dispatcher(std::vector<std::int64_t> todo, int ranks, Distribution mode)
    : todo_(std::move(todo)), mode_(mode), held_(static_cast<std::size_t>(std::max(1, ranks))) {
  if (mode_ == Distribution::static_blocks) {
    const int n = static_cast<int>(held_.size());
    for (int r = 0; r < n; ++r) {
      auto [first, last] = block_range(static_cast<std::int64_t>(todo_.size()), r, n);
      blocks_.emplace_back(static_cast<std::size_t>(first), static_cast<std::size_t>(last));
    }
  }
}

std::vector<std::int64_t> Dispatcher::hand_out(int rank, std::int64_t wanted) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::int64_t> frames;
  if (closed_ || rank < 0 || rank >= ranks() || wanted <= 0) return frames;
  std::size_t& cursor = mode_ == Distribution::dynamic ? next_ : blocks_[static_cast<std::size_t>(rank)].first;
  const std::size_t end = mode_ == Distribution::dynamic ? todo_.size() : blocks_[static_cast<std::size_t>(rank)].second;
  const std::size_t take = std::min(end - cursor, static_cast<std::size_t>(wanted));
  frames.assign(todo_.begin() + static_cast<std::ptrdiff_t>(cursor),
                todo_.begin() + static_cast<std::ptrdiff_t>(cursor + take));
  cursor += take;
  held_[static_cast<std::size_t>(rank)].insert(frames.begin(), frames.end());
  return frames;
}

void Dispatcher::returned(int rank, std::int64_t frame) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (rank >= 0 && rank < ranks()) held_[static_cast<std::size_t>(rank)].erase(frame);
}

std::vector<std::int64_t> Dispatcher::outstanding(int rank) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (rank < 0 || rank >= ranks()) return {};
  const auto& held = held_[static_cast<std::size_t>(rank)];
  return std::vector<std::int64_t>(held.begin(), held.end());
}

void Dispatcher::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
}

}  // namespace laueproc::cluster
