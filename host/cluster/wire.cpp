#include "cluster/wire.hpp"

#include <cstring>
#include <type_traits>

namespace laueproc::cluster::wire {

namespace {

template <typename T>
void put(std::string& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void put_string(std::string& out, const std::string& s) {
  put(out, static_cast<std::uint64_t>(s.size()));
  out += s;
}

template <typename T>
bool get(std::string_view& in, T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (in.size() < sizeof value) return false;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return true;
}

bool get_string(std::string_view& in, std::string& s) {
  std::uint64_t n = 0;
  if (!get(in, n) || in.size() < n) return false;
  s.assign(in.data(), static_cast<std::size_t>(n));
  in.remove_prefix(static_cast<std::size_t>(n));
  return true;
}

// The summary field by field: it holds a std::string, and its layout is no contract.
template <typename Io, typename S>
bool summary_fields(Io&& io, S& f) {
  return io(f.frame) && io(f.ix) && io(f.iy) && io(f.has_position) && io(f.x_um) && io(f.y_um) && io(f.n_peaks) &&
         io(f.n_used) && io(f.se) && io(f.se_median) && io(f.scenario) && io(f.split_px) && io(f.split_dx) &&
         io(f.split_dy) && io(f.misorientation_deg) && io(f.pair_fraction) && io(f.stacking_fraction) &&
         io(f.elongation) && io(f.background) && io(f.noise);
}

}  // namespace

void put_result(std::string& out, const FrameResult& r) {
  summary_fields([&out](const auto& v) { put(out, v); return true; }, r.summary);
  put_string(out, r.summary.status);
  put(out, static_cast<std::uint64_t>(r.peaks.size()));
  static_assert(std::is_trivially_copyable_v<Peak>);
  out.append(reinterpret_cast<const char*>(r.peaks.data()), r.peaks.size() * sizeof(Peak));
}

bool get_result(std::string_view& in, FrameResult& r) {
  if (!summary_fields([&in](auto& v) { return get(in, v); }, r.summary) || !get_string(in, r.summary.status))
    return false;
  std::uint64_t n = 0;
  if (!get(in, n) || in.size() / sizeof(Peak) < n) return false;
  r.peaks.resize(static_cast<std::size_t>(n));
  std::memcpy(r.peaks.data(), in.data(), r.peaks.size() * sizeof(Peak));
  in.remove_prefix(r.peaks.size() * sizeof(Peak));
  return true;
}

void put_frames(std::string& out, const std::vector<std::int64_t>& frames) {
  put(out, static_cast<std::uint64_t>(frames.size()));
  out.append(reinterpret_cast<const char*>(frames.data()), frames.size() * sizeof(std::int64_t));
}

bool get_frames(std::string_view& in, std::vector<std::int64_t>& frames) {
  std::uint64_t n = 0;
  if (!get(in, n) || in.size() / sizeof(std::int64_t) < n) return false;
  frames.resize(static_cast<std::size_t>(n));
  std::memcpy(frames.data(), in.data(), frames.size() * sizeof(std::int64_t));
  in.remove_prefix(frames.size() * sizeof(std::int64_t));
  return true;
}

void put_report(std::string& out, const RankReport& r) {
  put(out, r.frames);
  put(out, r.failed);
  put(out, r.peaks);
  put(out, r.seconds);
  put(out, r.cpu_seconds);
  put(out, r.interrupted);
  put(out, r.error_code);
  put_string(out, r.error);
  put_string(out, r.backend);
  put_string(out, r.host);
  put(out, static_cast<std::uint64_t>(r.failures.size()));
  for (const auto& f : r.failures) put_string(out, f);
}

bool get_report(std::string_view& in, RankReport& r) {
  std::uint64_t n = 0;
  if (!(get(in, r.frames) && get(in, r.failed) && get(in, r.peaks) && get(in, r.seconds) && get(in, r.cpu_seconds) &&
        get(in, r.interrupted) &&
        get(in, r.error_code) && get_string(in, r.error) && get_string(in, r.backend) && get_string(in, r.host) &&
        get(in, n)))
    return false;
  r.failures.clear();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string f;
    if (!get_string(in, f)) return false;
    r.failures.push_back(std::move(f));
  }
  return true;
}

}  // namespace laueproc::cluster::wire
