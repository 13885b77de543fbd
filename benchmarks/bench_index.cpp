// Indexing speed: the real Ge list (97 LaueTools peaks), simulated LiCoO2 lists of one and two
// grains (~100 and ~200 spots, 5 % spurious) in the BM32 geometry of the Ge frame, and a scan of
// 64 two-grain frames on 1 and 2 threads. Figures: benchmarks/RESULTS.md.
#include <benchmark/benchmark.h>

#include "laueproc/index.hpp"

namespace {

using namespace laueproc::index;

const std::string kDir = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/";

struct Setup {
  Geometry geo = read_geometry(kDir + "calibGe111.det");
  Material ge = *builtin_material("Ge");
  Material lco = *builtin_material("LiCoO2");
};

const Setup& setup() {
  static const Setup s;
  return s;
}

std::vector<SpotInput> licoo2(int grains, std::uint64_t seed) {
  std::vector<Mat3> truth;
  for (int g = 0; g < grains; ++g) truth.push_back(random_rotation(seed * 10 + static_cast<std::uint64_t>(g)) * setup().lco.b0);
  SyntheticOptions o;
  o.spurious_fraction = 0.05;
  o.seed = seed;
  std::vector<SpotInput> spots;
  for (const auto& s : synthetic_spots(setup().geo, setup().lco, truth, o)) spots.push_back(s.spot);
  return spots;
}

void BM_IndexGeLaueToolsList(benchmark::State& state) {
  const Indexer indexer(setup().geo, setup().ge, IndexSettings{});
  const auto spots = read_peak_list(kDir + "Ge_blanc_0000_LT_5.dat");
  int indexed = 0;
  for (auto _ : state) {
    const FrameIndex r = indexer.index(spots);
    indexed = r.grains.empty() ? 0 : r.grains[0].n_indexed;
    benchmark::DoNotOptimize(indexed);
  }
  state.counters["spots"] = static_cast<double>(spots.size());
  state.counters["indexed"] = indexed;
}
BENCHMARK(BM_IndexGeLaueToolsList)->Unit(benchmark::kMillisecond);

void BM_IndexLiCoO2(benchmark::State& state) {
  const int grains = static_cast<int>(state.range(0));
  const Indexer indexer(setup().geo, setup().lco, IndexSettings{});
  std::vector<std::vector<SpotInput>> lists;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) lists.push_back(licoo2(grains, seed));
  std::size_t i = 0, spots = 0, found = 0, runs = 0;
  for (auto _ : state) {
    const auto& l = lists[i++ % lists.size()];
    const FrameIndex r = indexer.index(l);
    spots += l.size();
    found += r.grains.size();
    ++runs;
  }
  state.counters["spots"] = static_cast<double>(spots) / static_cast<double>(runs);
  state.counters["grains_found"] = static_cast<double>(found) / static_cast<double>(runs);
}
BENCHMARK(BM_IndexLiCoO2)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_IndexScanThreads(benchmark::State& state) {
  const Indexer indexer(setup().geo, setup().lco, IndexSettings{});
  ScanPeaks scan;
  scan.nx = 8;
  scan.ny = 8;
  for (int i = 0; i < 8; ++i) scan.x_um.push_back(i), scan.y_um.push_back(i);
  for (int f = 0; f < 64; ++f) {
    FramePeaks fp;
    fp.frame = f;
    fp.ix = f % 8;
    fp.iy = f / 8;
    fp.spots = licoo2(2, 100 + static_cast<std::uint64_t>(f));
    scan.frames.push_back(fp);
  }
  for (auto _ : state) benchmark::DoNotOptimize(index_scan(scan, indexer, static_cast<int>(state.range(0))));
  state.counters["frames_per_s"] = benchmark::Counter(64.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_IndexScanThreads)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_IndexerTables(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Indexer(setup().geo, setup().lco, IndexSettings{}).n_reference_directions());
}
BENCHMARK(BM_IndexerTables)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
