// White-line fit throughput: spectra/s for 15-energy float32 spectra (7721..7735 eV, 1 eV), the
// beamline's micro-XANES layout, energy-major as /exchange/data. Baseline: the direct oracle
// (full-grid interpolation + long-double normal equations per spectrum) in the same run.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "laueproc/xanes.hpp"

namespace xa = laueproc::xanes;

namespace {

struct Data {
  std::vector<double> energies;
  std::vector<float> stack;  // 15 x n_pixels
  std::size_t n_pixels;
  explicit Data(std::size_t n) : n_pixels(n) {
    for (int k = 0; k <= 14; ++k) energies.push_back(7721.0 + k);
    stack.resize(energies.size() * n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<double> pos(7726.0, 7731.0);
    std::normal_distribution<double> noise(0.0, 0.01);
    for (std::size_t p = 0; p < n; ++p) {
      double wl = pos(rng);
      for (std::size_t i = 0; i < energies.size(); ++i) {
        double e = energies[i];
        double mu = 0.5 + std::atan(e - 7722.0) / M_PI + 0.6 * std::exp(-0.5 * (e - wl) * (e - wl) / 6.25);
        stack[i * n + p] = static_cast<float>(mu + noise(rng));
      }
    }
  }
};

const Data& data() {
  static const Data d(1 << 20);
  return d;
}

void BM_FitMany(benchmark::State& state) {
  const Data& d = data();
  xa::FitSettings s;
  s.order = static_cast<int>(state.range(0));
  xa::WhiteLineFitter fitter(d.energies, s);
  std::vector<xa::FitResult> out(d.n_pixels);
  const int threads = static_cast<int>(state.range(1));
  for (auto _ : state) {
    fitter.fit_many(d.stack.data(), d.n_pixels, out.data(), threads);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(d.n_pixels));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(d.stack.size() * sizeof(float)));
}
BENCHMARK(BM_FitMany)->ArgNames({"order", "threads"})->Args({3, 1})->Args({3, 2})->Args({2, 2})->Args({6, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Direct(benchmark::State& state) {
  const Data& d = data();
  xa::FitSettings s;
  std::vector<double> mu(d.energies.size());
  std::size_t p = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < mu.size(); ++i) mu[i] = d.stack[i * d.n_pixels + p];
    benchmark::DoNotOptimize(xa::fit_direct(d.energies, mu, s));
    p = (p + 1) % d.n_pixels;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Direct);

}  // namespace

BENCHMARK_MAIN();
