// The GPU scoring kernel's body (math/index_score.hpp) run by the CPU grid executor, against a
// plain serial loop over the same per-spot function the engine calls.
#include <gtest/gtest.h>

#include "kernels/cpu_grid.hpp"
#include "laueproc/index.hpp"
#include "laueproc/math/index_score.hpp"

namespace laueproc::index {
namespace {

const std::string kDir = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/";

TEST(IndexScoreKernel, PhasedBodyMatchesTheSerialScoreInBothOrders) {
  const Geometry geo = read_geometry(kDir + "calibGe111.det");
  const Material ge = *builtin_material("Ge");
  const IndexSettings settings;
  const Indexer indexer(geo, ge, settings);
  const LaueToolsDet det = read_lauetools_det(kDir + "calibGe111.det");
  std::vector<Vec3> spots;
  for (const SpotInput& s : read_peak_list(kDir + "Ge_blanc_0000_LT_5.dat")) spots.push_back(geo.pixel_to_scattering(s.x, s.y));
  std::vector<unsigned char> active(spots.size(), 1);
  for (std::size_t i = 0; i < active.size(); i += 7) active[i] = 0;  // some spots taken by an earlier grain
  // Candidates: the true orientation (its rotation), near misses and random ones; C = U^T.
  std::vector<Mat3> candidates;
  const Mat3 u = nearest_rotation(*det.orientation);
  candidates.push_back(math::transpose(u));
  for (int k = 0; k < 5; ++k) candidates.push_back(math::transpose(axis_angle({1, 0.3 * k, -0.2}, 0.05 * k) * u));
  for (std::uint64_t seed = 1; seed <= 200; ++seed) candidates.push_back(math::transpose(random_rotation(seed)));

  math::ScoreSettings ss;
  ss.tol_rad = settings.match_tolerance_deg * 3.14159265358979323846 / 180.0;
  ss.cos_tol = std::cos(ss.tol_rad);
  ss.e_min = settings.energy_min_kev;
  ss.e_max = settings.energy_max_kev;
  ss.q_max = settings.q_max;
  math::IndexScoreKernel::Params p;
  p.table = indexer.direction_table();
  p.candidates = candidates.data();
  p.n_candidates = static_cast<int>(candidates.size());
  p.spots = spots.data();
  p.active = active.data();
  p.n_spots = static_cast<int>(spots.size());
  p.settings = ss;
  for (auto order : {testing::GridOrder::forward, testing::GridOrder::reverse}) {
    std::vector<double> score(candidates.size(), -1);
    std::vector<int> count(candidates.size(), -1);
    p.score = score.data();
    p.count = count.data();
    testing::run_grid_on_cpu<math::IndexScoreKernel>(grid::Dim{static_cast<unsigned>(candidates.size()), 1, 1},
                                                     grid::Dim{math::IndexScoreKernel::kThreads, 1, 1}, p, order);
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      double s = 0;
      int n = 0;
      for (std::size_t i = 0; i < spots.size(); ++i) {
        if (!active[i]) continue;
        int d = -1;
        const double w = math::score_spot(p.table, candidates[c], spots[i], ss, &d);
        if (d >= 0) s += w, ++n;
      }
      EXPECT_EQ(count[c], n) << "candidate " << c;
      EXPECT_NEAR(score[c], s, 1e-9 * (1 + s)) << "candidate " << c;  // summation order differs
    }
    // The true orientation explains nearly every active spot; random ones a few.
    EXPECT_GE(count[0], 78);
    for (std::size_t c = 6; c < candidates.size(); ++c) EXPECT_LT(count[c], 20) << "candidate " << c;
  }
}

}  // namespace
}  // namespace laueproc::index
