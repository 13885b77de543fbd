// Simulated LiCoO2 spot lists with analytic truth: one grain, two grains far apart, a 0.5 deg tilt
// boundary, each with 5 % spurious spots; both the BM32 geometry of the Ge frame (wide angle,
// ~150 spots per grain, as LaueTools' test lists) and a 34-ID-E-like top detector.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "laueproc/index.hpp"

namespace laueproc::index {
namespace {

const std::string kDir = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/";

struct Case {
  Geometry geo;
  Material mat = *builtin_material("LiCoO2");
  std::vector<Mat3> truth;  // UB B0
  std::vector<SyntheticSpot> spots;
};

Case make_case(const Geometry& geo, const std::vector<Mat3>& rotations, std::uint64_t seed, double spurious = 0.05) {
  Case c;
  c.geo = geo;
  for (const Mat3& r : rotations) c.truth.push_back(r * c.mat.b0);
  SyntheticOptions o;
  o.spurious_fraction = spurious;
  o.seed = seed;
  c.spots = synthetic_spots(geo, c.mat, c.truth, o);
  return c;
}

std::vector<SpotInput> inputs(const Case& c) {
  std::vector<SpotInput> v;
  for (const auto& s : c.spots) v.push_back(s.spot);
  return v;
}

/// Runs the engine; returns per truth grain the orientation error (deg) of the closest found grain.
std::vector<double> run(const Case& c, FrameIndex& r, double* ms = nullptr) {
  Indexer indexer(c.geo, c.mat, IndexSettings{});
  const auto in = inputs(c);
  const auto t0 = std::chrono::steady_clock::now();
  r = indexer.index(in);
  if (ms) *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> err;
  for (const Mat3& t : c.truth) {
    double best = 1e9;
    for (const Grain& g : r.grains) best = std::min(best, misorientation_deg(t, g.ub_b0, c.mat));
    err.push_back(best);
  }
  return err;
}

/// Every indexed real spot has its true hkl (up to the symmetry operation relating the grain's
/// matrix to the truth's), spurious spots stay unindexed (or at most one by chance).
void check_spots(const Case& c, const FrameIndex& r) {
  int wrong = 0, spurious_indexed = 0, real = 0, indexed_real = 0;
  for (std::size_t i = 0; i < c.spots.size(); ++i) {
    const SyntheticSpot& t = c.spots[i];
    const IndexedSpot& s = r.spots[i];
    if (t.grain < 0) {
      spurious_indexed += s.grain >= 0;
      continue;
    }
    ++real;
    if (s.grain < 0) continue;
    ++indexed_real;
    const Mat3& m = r.grains[static_cast<std::size_t>(s.grain)].ub_b0;
    const Mat3 sym = math::inverse(c.truth[static_cast<std::size_t>(t.grain)]) *
                     closest_equivalent(m, c.truth[static_cast<std::size_t>(t.grain)], c.mat);
    const Vec3 mapped = math::inverse(sym) * Vec3{double(t.h), double(t.k), double(t.l)};
    if (std::lround(mapped.x) != s.h || std::lround(mapped.y) != s.k || std::lround(mapped.z) != s.l) ++wrong;
  }
  EXPECT_LE(wrong, real / 50) << "spots given another hkl than their truth";
  EXPECT_LE(spurious_indexed, 1);
  EXPECT_GE(indexed_real, real * 9 / 10) << indexed_real << " of " << real << " real spots indexed";
}

Geometry bm32() { return read_geometry(kDir + "calibGe111.det"); }

TEST(IndexLiCoO2, OneGrainWithSpuriousSpotsNoFalseGrain) {  // 5 and 10 % spurious spots
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const Case c = make_case(bm32(), {random_rotation(100 + seed)}, seed, seed <= 2 ? 0.05 : 0.10);  // 5 and 10 % spurious
    FrameIndex r;
    double ms = 0;
    const auto err = run(c, r, &ms);
    std::printf("one grain, seed %llu: %zu spots, %zu grain(s), error %.4f deg, %.1f ms\n",
                static_cast<unsigned long long>(seed), c.spots.size(), r.grains.size(), err[0], ms);
    ASSERT_EQ(r.grains.size(), 1u) << "seed " << seed;
    EXPECT_LE(err[0], 0.02) << "seed " << seed;
    check_spots(c, r);
  }
}

TEST(IndexLiCoO2, TwoGrainsFarApart) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const Case c = make_case(bm32(), {random_rotation(200 + seed), random_rotation(300 + seed)}, seed);
    ASSERT_GT(misorientation_deg(c.truth[0], c.truth[1], c.mat), 10.0);
    FrameIndex r;
    double ms = 0;
    const auto err = run(c, r, &ms);
    std::printf("two grains, seed %llu: %zu spots, %zu grains, errors %.4f %.4f deg, %.1f ms, %d candidates\n",
                static_cast<unsigned long long>(seed), c.spots.size(), r.grains.size(), err[0], err[1], ms, r.n_candidates);
    EXPECT_EQ(r.grains.size(), 2u) << "seed " << seed;
    EXPECT_LE(err[0], 0.02);
    EXPECT_LE(err[1], 0.02);
    check_spots(c, r);
  }
}

TEST(IndexLiCoO2, TiltBoundaryOfHalfADegree) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const Mat3 r0 = random_rotation(400 + seed);
    const Mat3 tilt = axis_angle(math::normalized(random_rotation(500 + seed).column(0)), 0.5);
    const Case c = make_case(bm32(), {r0, tilt * r0}, seed);
    FrameIndex r;
    const auto err = run(c, r);
    ASSERT_EQ(r.grains.size(), 2u) << "seed " << seed;
    const double mis = misorientation_deg(r.grains[0].ub_b0, r.grains[1].ub_b0, c.mat);
    std::printf("tilt boundary, seed %llu: errors %.4f %.4f deg, misorientation %.4f deg (truth 0.5)\n",
                static_cast<unsigned long long>(seed), err[0], err[1], mis);
    EXPECT_LE(err[0], 0.02);
    EXPECT_LE(err[1], 0.02);
    EXPECT_NEAR(mis, 0.5, 0.05);
  }
}

TEST(IndexLiCoO2, TopDetectorLikeApsOneGrain) {
  const Geometry top = top_detector(2048, 2048, 0.2, 510.0);
  int found = 0;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const Case c = make_case(top, {random_rotation(600 + seed)}, seed);
    if (c.spots.size() < 15) continue;  // an orientation with too few spots on a 45 deg detector
    FrameIndex r;
    const auto err = run(c, r);
    std::printf("34-ID-E-like, seed %llu: %zu spots, %zu grain(s), error %.4f deg\n",
                static_cast<unsigned long long>(seed), c.spots.size(), r.grains.size(), err[0]);
    ASSERT_EQ(r.grains.size(), 1u);
    EXPECT_LE(err[0], 0.02);
    ++found;
  }
  EXPECT_GE(found, 2);
}

TEST(IndexLiCoO2, TooFewSpotsGiveNoGrain) {
  const Case c = make_case(bm32(), {}, 7, 0.0);
  std::vector<SpotInput> noise;
  for (int i = 0; i < 40; ++i) noise.push_back({50.0 + 47.3 * i, 100.0 + 31.7 * ((i * 7) % 40), 1.0 + i});
  Indexer indexer(c.geo, c.mat, IndexSettings{});
  EXPECT_TRUE(indexer.index(noise).grains.empty()) << "random spots must not make a grain";
  EXPECT_TRUE(indexer.index({}).grains.empty());
}

}  // namespace
}  // namespace laueproc::index
