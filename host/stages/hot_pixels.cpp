/// @file
/// @brief Static hot-pixel map learned from the frames of a scan (HotPixelFinder) and the PGM
/// writer of bad-pixel masks. The rule is described in docs/masks.md.

#include <algorithm>
#include <cmath>
#include <fstream>

#include "laueproc/error.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

namespace {

// Second-lowest of four values: min of (max of the pair minima, min of the pair maxima).
inline float second_lowest(float a, float b, float c, float d) {
  const float lo1 = std::min(a, b), hi1 = std::max(a, b), lo2 = std::min(c, d), hi2 = std::max(c, d);
  return std::min(std::max(lo1, lo2), std::min(hi1, hi2));
}

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Reflected coordinate for the 4-neighbours of border pixels (x = -1 -> 1, x = w -> w - 2).
inline int reflect(int v, int n) {
  if (v < 0) return n > 1 ? -v : 0;
  if (v >= n) return n > 1 ? 2 * (n - 1) - v : n - 1;
  return v;
}

// Runs the per-frame rule on every pixel of `frame` and calls on_flag(index, excess) for each
// flagged pixel (excess = raw - local background, counts). Two steps: a branch-free outlier
// pre-test on all pixels (4 loads, no sqrt: d > abs && d^2 > k^2 (n2 + rf^2)), then the rare
// candidates get the zero-neighbour check and the spikiness test against the ring background.
template <typename OnFlag>
void scan_frame(const FrameView& f, const HotPixelConfig& c, std::vector<std::uint8_t>& cand, OnFlag on_flag) {
  const int w = f.width, h = f.height;
  if (w < 3 || h < 3) return;  // no neighbourhood to compare with
  const float k2 = static_cast<float>(c.k * c.k), rf2 = static_cast<float>(c.read_floor * c.read_floor);
  const float abs_floor = static_cast<float>(c.abs_floor);
  auto px = [&f](int x, int y) { return static_cast<float>(f.data[static_cast<std::ptrdiff_t>(y) * f.stride + x]); };
  auto outlier = [&](float raw, float n2) {
    const float d = raw - n2;
    return d > abs_floor && d * d > k2 * (n2 + rf2);
  };
  // Local background: lower median of the 16 pixels at Chebyshev distance 2 (clamped at the
  // edges), far enough that a hot cluster of <= 3x3 does not reach it.
  auto ring_background = [&](int x, int y) {
    float ring[16];
    int n = 0;
    for (int d = -2; d <= 2; ++d) {
      ring[n++] = px(clampi(x + d, 0, w - 1), clampi(y - 2, 0, h - 1));
      ring[n++] = px(clampi(x + d, 0, w - 1), clampi(y + 2, 0, h - 1));
    }
    for (int d = -1; d <= 1; ++d) {
      ring[n++] = px(clampi(x - 2, 0, w - 1), clampi(y + d, 0, h - 1));
      ring[n++] = px(clampi(x + 2, 0, w - 1), clampi(y + d, 0, h - 1));
    }
    std::nth_element(ring, ring + 7, ring + 16);
    return ring[7];
  };
  // Spike test: a real spot, even of sigma 0.5 px centred on a pixel corner, lifts the
  // second-lowest 4-neighbour of its brightest pixel by >= 4.8 % of that pixel's excess; a hot
  // pixel (or a member of a hot pair, L or 2x2 block) leaves it at the background.
  const float fraction = static_cast<float>(c.spike_fraction);
  auto spiky = [&](int x, int y, float& excess) {
    const float b = ring_background(x, y);
    const float n2 = second_lowest(px(reflect(x - 1, w), y), px(reflect(x + 1, w), y), px(x, reflect(y - 1, h)),
                                   px(x, reflect(y + 1, h)));
    excess = px(x, y) - b;
    return excess > 0 && n2 - b < fraction * excess;
  };

  // The candidate test, on every row (border pixels through reflected neighbours).
  cand.resize(static_cast<std::size_t>(w));
  for (int y = 0; y < h; ++y) {
    const std::uint16_t* row = f.data + static_cast<std::ptrdiff_t>(y) * f.stride;
    const std::uint16_t* up = f.data + static_cast<std::ptrdiff_t>(reflect(y - 1, h)) * f.stride;
    const std::uint16_t* dn = f.data + static_cast<std::ptrdiff_t>(reflect(y + 1, h)) * f.stride;
    std::uint8_t* cd = cand.data();
    int hits = 0;
    for (int x = 1; x < w - 1; ++x) {  // interior columns: branch-free, vectorisable
      const float raw = row[x];
      const float n2 = second_lowest(row[x - 1], row[x + 1], up[x], dn[x]);
      const float d = raw - n2;
      const std::uint8_t o = (d > abs_floor) & (d * d > k2 * (n2 + rf2));
      cd[x] = o;
      hits += o;
    }
    cd[0] = outlier(row[0], second_lowest(row[1], row[1], up[0], dn[0]));
    cd[w - 1] = outlier(row[w - 1], second_lowest(row[w - 2], row[w - 2], up[w - 1], dn[w - 1]));
    hits += cd[0] + cd[w - 1];
    if (hits == 0) continue;

    for (int x = 0; x < w; ++x) {
      if (!cd[x]) continue;
      // No-data neighbours (0: outside the active area, dead lines) would make any pixel an outlier.
      bool zero = false;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if (xx >= 0 && yy >= 0 && xx < w && yy < h && f.data[static_cast<std::ptrdiff_t>(yy) * f.stride + xx] == 0)
            zero = true;
        }
      if (zero) continue;
      const float raw = px(x, y);
      float excess = 0;
      if (!spiky(x, y, excess)) continue;
      // The flank of a sharp spot (e.g. the diagonal pixel of a sigma 0.5 px spot) falls off like a
      // cliff on its far side and looks spiky too; it is told apart by a brighter 8-neighbour that is
      // smooth (the spot's core). In a hot cluster the brighter neighbours are spiky themselves.
      bool dominated = false;
      for (int dy = -1; dy <= 1 && !dominated; ++dy)
        for (int dx = -1; dx <= 1 && !dominated; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if ((dx || dy) && xx >= 0 && yy >= 0 && xx < w && yy < h && px(xx, yy) >= raw) {
            float e = 0;
            dominated = !spiky(xx, yy, e);
          }
        }
      if (!dominated)
        on_flag(static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x), excess);
    }
  }
}

}  // namespace

HotPixelFinder::HotPixelFinder(const HotPixelConfig& config) : config_(config) {
  if (!(config.k > 0) || !(config.read_floor >= 0) || !(config.abs_floor >= 0) || !(config.spike_fraction >= 0) ||
      !(config.spike_fraction < 1))
    throw UsageError("hot pixel map: need k > 0, read_floor >= 0, abs_floor >= 0 and 0 <= spike_fraction < 1");
}

void HotPixelFinder::flag_frame(const FrameView& frame, const HotPixelConfig& config, std::vector<std::uint8_t>& flags) {
  flags.assign(frame.pixel_count(), 0);
  std::vector<std::uint8_t> cand;
  scan_frame(frame, config, cand, [&flags](std::size_t i, float) { flags[i] = 1; });
}

bool HotPixelFinder::add(const FrameView& frame) {
  if (frames_ == 0) {
    if (frame.width <= 0 || frame.height <= 0) throw InputError("hot pixel map", "empty frame");
    width_ = frame.width;
    height_ = frame.height;
    const std::size_t n = frame.pixel_count();
    counts_.assign(n, 0);
    excess_sum_.assign(n, 0.0f);
    if (config_.flag_stuck) {
      min_.assign(n, 0xFFFF);
      max_.assign(n, 0);
    }
  } else if (frame.width != width_ || frame.height != height_) {
    throw InputError("hot pixel map", "frame is " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                                          ", the first was " + std::to_string(width_) + "x" + std::to_string(height_));
  }
  if (frames_ >= 0xFFFF) return false;  // uint16 counters: enough frames for any fraction
  ++frames_;
  std::uint16_t* counts = counts_.data();
  float* sums = excess_sum_.data();
  scan_frame(frame, config_, flags_, [counts, sums](std::size_t i, float excess) {
    ++counts[i];
    sums[i] += excess;
  });
  if (config_.flag_stuck)
    for (int y = 0; y < height_; ++y) {
      const std::uint16_t* row = frame.data + static_cast<std::ptrdiff_t>(y) * frame.stride;
      std::uint16_t* lo = min_.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width_);
      std::uint16_t* hi = max_.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width_);
      for (int x = 0; x < width_; ++x) {
        lo[x] = std::min(lo[x], row[x]);
        hi[x] = std::max(hi[x], row[x]);
      }
    }
  return true;
}

double HotPixelFinder::mean_excess(std::size_t index) const {
  if (index >= counts_.size() || counts_[index] == 0) return 0.0;
  return static_cast<double>(excess_sum_[index]) / counts_[index];
}

BadPixelMask HotPixelFinder::result(double min_fraction) const {
  if (!(min_fraction > 0 && min_fraction <= 1))
    throw UsageError("hot pixel map: min fraction must be in (0, 1], not " + std::to_string(min_fraction));
  stuck_ = 0;
  std::vector<std::uint8_t> bad(counts_.size(), 0);
  if (frames_ == 0) return BadPixelMask(width_, height_, std::move(bad));
  // Smallest count that reaches the fraction (the epsilon keeps 0.9 * 10 = 9, not 10).
  const auto need = static_cast<std::uint16_t>(
      std::max(1.0, std::ceil(min_fraction * static_cast<double>(frames_) - 1e-9)));
  for (std::size_t i = 0; i < counts_.size(); ++i) bad[i] = counts_[i] >= need;
  if (config_.flag_stuck && frames_ >= 2) {
    // Only meaningful when the frames differ at all (a frame repeated N times is all "stuck").
    bool varied = false;
    for (std::size_t i = 0; i < min_.size() && !varied; ++i) varied = min_[i] != max_[i];
    if (varied)
      for (std::size_t i = 0; i < min_.size(); ++i)
        if (min_[i] == max_[i] && min_[i] != 0 && !bad[i]) {
          bad[i] = 1;
          ++stuck_;
        }
  }
  return BadPixelMask(width_, height_, std::move(bad));
}

void save_mask_pgm(const BadPixelMask& mask, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw OutputError(path, "cannot create the mask file");
  out << "P5\n# laueproc bad-pixel mask: 255 = bad, 0 = good\n" << mask.width() << " " << mask.height() << "\n255\n";
  std::vector<char> bytes(mask.pixels().size());
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = mask.pixels()[i] ? static_cast<char>(255) : 0;
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();  // the last buffered bytes are written here: check after closing
  if (!out) throw OutputError(path, "cannot write the mask file (disk full?)");
}

}  // namespace laueproc
