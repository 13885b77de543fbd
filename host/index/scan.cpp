// Indexing a whole scan (threads), and the orientation maps: grains per frame (single-crystal
// mask), particles of one orientation, misorientation to the particle mean, KAM, IPF colours.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "laueproc/error.hpp"
#include "laueproc/index.hpp"

namespace laueproc::index {

namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

ScanIndex index_scan(const ScanPeaks& scan, const Indexer& indexer, int threads, const MapSettings& settings,
                     const std::function<void(std::int64_t, std::int64_t)>& progress) {
  ScanIndex out;
  const std::size_t n = scan.frames.size();
  out.results.resize(n);
  for (const FramePeaks& f : scan.frames) {
    out.frames.push_back(f.frame);
    out.peak_ids.push_back(f.peak_ids);
    out.ix.push_back(f.ix);
    out.iy.push_back(f.iy);
  }
  out.x_um = scan.x_um;
  out.y_um = scan.y_um;

  // Frames are independent: a shared counter hands them out; each result lands in its slot, so
  // the output does not depend on the thread count.
  unsigned workers = threads > 0 ? static_cast<unsigned>(threads) : std::max(1u, std::thread::hardware_concurrency());
  workers = static_cast<unsigned>(std::min<std::size_t>(workers, std::max<std::size_t>(n, 1)));
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        out.results[i] = indexer.index(scan.frames[i].spots);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      done.fetch_add(1);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < workers; ++t) pool.emplace_back(work);
  if (progress && workers > 1) {
    while (done.load() < n && !error) {
      progress(static_cast<std::int64_t>(done.load()), static_cast<std::int64_t>(n));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (progress) progress(static_cast<std::int64_t>(n), static_cast<std::int64_t>(n));

  // ---- maps ----
  const Material& mat = indexer.material();
  OrientationMaps& m = out.maps;
  m.nx = std::max(1, scan.nx);
  m.ny = std::max(1, scan.ny);
  const std::size_t cells = static_cast<std::size_t>(m.nx) * static_cast<std::size_t>(m.ny);
  m.n_grains.assign(cells, -1);
  m.single_crystal.assign(cells, 0);
  m.particle.assign(cells, 0);
  m.misorientation_deg.assign(cells, kNaNf);
  m.kam_deg.assign(cells, kNaNf);
  m.ipf_rgb.assign(cells * 3, kNaNf);
  std::vector<int> frame_at(cells, -1);  // result index of the cell's frame (lowest frame wins)
  for (std::size_t i = 0; i < n; ++i) {
    const int ix = out.ix[i], iy = out.iy[i];
    if (ix < 0 || iy < 0 || ix >= m.nx || iy >= m.ny) continue;
    const std::size_t c = static_cast<std::size_t>(iy) * static_cast<std::size_t>(m.nx) + static_cast<std::size_t>(ix);
    if (frame_at[c] >= 0 && out.frames[static_cast<std::size_t>(frame_at[c])] <= out.frames[i]) continue;
    frame_at[c] = static_cast<int>(i);
  }
  auto main_grain = [&](std::size_t c) -> const Grain* {
    const int i = frame_at[c];
    if (i < 0 || out.results[static_cast<std::size_t>(i)].grains.empty()) return nullptr;
    return &out.results[static_cast<std::size_t>(i)].grains[0];
  };
  for (std::size_t c = 0; c < cells; ++c) {
    if (frame_at[c] < 0) continue;
    const auto ng = out.results[static_cast<std::size_t>(frame_at[c])].grains.size();
    m.n_grains[c] = static_cast<std::int8_t>(std::min<std::size_t>(ng, 127));
    m.single_crystal[c] = ng == 1 ? 1 : 0;
    if (const Grain* g = main_grain(c)) {
      const auto rgb = ipf_colour(g->ub_b0, mat, settings.ipf_direction);
      for (int k = 0; k < 3; ++k) m.ipf_rgb[c * 3 + static_cast<std::size_t>(k)] = static_cast<float>(rgb[static_cast<std::size_t>(k)]);
    }
  }
  // Particles: 4-connected cells whose main grains are within the threshold of each other.
  const int nx = m.nx, ny = m.ny;
  auto neighbours = [&](std::size_t c, auto&& visit) {
    const int x = static_cast<int>(c % static_cast<std::size_t>(nx)), y = static_cast<int>(c / static_cast<std::size_t>(nx));
    const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
    for (int k = 0; k < 4; ++k) {
      const int xx = x + dx[k], yy = y + dy[k];
      if (xx < 0 || yy < 0 || xx >= nx || yy >= ny) continue;
      visit(static_cast<std::size_t>(yy) * static_cast<std::size_t>(nx) + static_cast<std::size_t>(xx));
    }
  };
  int n_particles = 0;
  std::vector<Mat3> particle_mean;
  for (std::size_t seed = 0; seed < cells; ++seed) {
    if (m.particle[seed] || !main_grain(seed)) continue;
    const int label = ++n_particles;
    std::vector<std::size_t> stack{seed}, members;
    m.particle[seed] = label;
    while (!stack.empty()) {
      const std::size_t c = stack.back();
      stack.pop_back();
      members.push_back(c);
      neighbours(c, [&](std::size_t o) {
        if (m.particle[o] || !main_grain(o)) return;
        if (misorientation_deg(main_grain(c)->ub_b0, main_grain(o)->ub_b0, mat) > settings.particle_threshold_deg) return;
        m.particle[o] = label;
        stack.push_back(o);
      });
    }
    // Mean orientation: every member's rotation brought next to the first's, summed, and the
    // nearest rotation of the sum taken (exact for small spreads).
    const Mat3 b0_inv = math::inverse(mat.b0);
    const Mat3 first = main_grain(members[0])->ub_b0;
    Mat3 sum;
    for (std::size_t c : members) {
      const Mat3 u = nearest_rotation(closest_equivalent(first, main_grain(c)->ub_b0, mat) * b0_inv);
      for (int k = 0; k < 9; ++k) sum.m[k] += u.m[k];
    }
    const Mat3 mean = nearest_rotation(sum) * mat.b0;
    particle_mean.push_back(mean);
    for (std::size_t c : members)
      m.misorientation_deg[c] = static_cast<float>(misorientation_deg(mean, main_grain(c)->ub_b0, mat));
  }
  for (std::size_t c = 0; c < cells; ++c) {
    if (!m.particle[c]) continue;
    double sum = 0;
    int cnt = 0;
    neighbours(c, [&](std::size_t o) {
      if (m.particle[o] != m.particle[c]) return;
      sum += misorientation_deg(main_grain(c)->ub_b0, main_grain(o)->ub_b0, mat);
      ++cnt;
    });
    if (cnt) m.kam_deg[c] = static_cast<float>(sum / cnt);
  }
  // Per-grain values for grains.csv: the main grain carries its cell's; other grains their
  // misorientation to the same particle mean (KAM is a property of the main grain's cell).
  out.grain_misorientation_deg.resize(n);
  out.grain_kam_deg.resize(n);
  std::vector<int> cell_of(n, -1);
  for (std::size_t c = 0; c < cells; ++c)
    if (frame_at[c] >= 0) cell_of[static_cast<std::size_t>(frame_at[c])] = static_cast<int>(c);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& grains = out.results[i].grains;
    out.grain_misorientation_deg[i].assign(grains.size(), kNaN);
    out.grain_kam_deg[i].assign(grains.size(), kNaN);
    const int c = cell_of[i];
    if (c < 0 || !m.particle[static_cast<std::size_t>(c)]) continue;
    const Mat3& mean = particle_mean[static_cast<std::size_t>(m.particle[static_cast<std::size_t>(c)] - 1)];
    for (std::size_t g = 0; g < grains.size(); ++g)
      out.grain_misorientation_deg[i][g] = misorientation_deg(mean, grains[g].ub_b0, mat);
    if (!grains.empty()) out.grain_kam_deg[i][0] = m.kam_deg[static_cast<std::size_t>(c)];
  }
  return out;
}

}  // namespace laueproc::index
