// The indexing scoring kernel on the GPU against the CPU executor's run of the same body
// (tests/index/test_score_kernel.cpp); skips without a device.
#include <gtest/gtest.h>

#include "cuda/cuda_util.hpp"
#include "index_score.cuh"
#include "kernels/cpu_grid.hpp"
#include "laueproc/cuda.hpp"
#include "laueproc/index.hpp"

namespace laueproc {
namespace {

template <typename T>
cuda::DeviceBuffer<T> upload(const T* host, std::size_t n) {
  cuda::DeviceBuffer<T> d(n);
  if (n) LAUEPROC_CUDA_CHECK(cudaMemcpy(d.get(), host, n * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

TEST(IndexScoreGpu, KernelMatchesTheCpuExecutor) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::string dir = std::string(LAUEPROC_TEST_DATA_DIR) + "/laue/";
  const index::Geometry geo = index::read_geometry(dir + "calibGe111.det");
  const index::Indexer indexer(geo, *index::builtin_material("Ge"), index::IndexSettings{});
  std::vector<index::Vec3> spots;
  for (const auto& s : index::read_peak_list(dir + "Ge_blanc_0000_LT_5.dat")) spots.push_back(geo.pixel_to_scattering(s.x, s.y));
  std::vector<index::Mat3> candidates;
  candidates.push_back(math::transpose(index::nearest_rotation(*index::read_lauetools_det(dir + "calibGe111.det").orientation)));
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) candidates.push_back(math::transpose(index::random_rotation(seed)));
  math::IndexScoreKernel::Params host;
  host.table = indexer.direction_table();
  host.candidates = candidates.data();
  host.n_candidates = static_cast<int>(candidates.size());
  host.spots = spots.data();
  host.n_spots = static_cast<int>(spots.size());
  host.settings.tol_rad = 0.2 * 3.14159265358979323846 / 180.0;
  host.settings.cos_tol = std::cos(host.settings.tol_rad);
  host.settings.q_max = 3.2;
  std::vector<double> cpu_score(candidates.size());
  std::vector<int> cpu_count(candidates.size());
  host.score = cpu_score.data();
  host.count = cpu_count.data();
  testing::run_grid_on_cpu<math::IndexScoreKernel>(grid::Dim{static_cast<unsigned>(candidates.size()), 1, 1},
                                                   grid::Dim{math::IndexScoreKernel::kThreads, 1, 1}, host);

  const auto sizes = indexer.table_sizes();
  auto dir_d = upload(host.table.dir, 3 * sizes.dirs);
  auto q1_d = upload(host.table.q1, sizes.dirs);
  auto allowed_d = upload(host.table.allowed, sizes.dirs);
  auto start_d = upload(host.table.bin_start, sizes.bin_starts);
  auto items_d = upload(host.table.bin_items, sizes.bin_items);
  auto cand_d = upload(candidates.data(), candidates.size());
  auto spots_d = upload(spots.data(), spots.size());
  cuda::DeviceBuffer<double> score_d(candidates.size());
  cuda::DeviceBuffer<int> count_d(candidates.size());
  math::IndexScoreKernel::Params dev = host;
  dev.table.dir = dir_d.get();
  dev.table.q1 = q1_d.get();
  dev.table.allowed = allowed_d.get();
  dev.table.bin_start = start_d.get();
  dev.table.bin_items = items_d.get();
  dev.candidates = cand_d.get();
  dev.spots = spots_d.get();
  dev.score = score_d.get();
  dev.count = count_d.get();
  kernels::launch_index_score(nullptr, dev);
  LAUEPROC_CUDA_CHECK(cudaGetLastError());
  LAUEPROC_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> gpu_score(candidates.size());
  std::vector<int> gpu_count(candidates.size());
  LAUEPROC_CUDA_CHECK(cudaMemcpy(gpu_score.data(), score_d.get(), gpu_score.size() * sizeof(double), cudaMemcpyDeviceToHost));
  LAUEPROC_CUDA_CHECK(cudaMemcpy(gpu_count.data(), count_d.get(), gpu_count.size() * sizeof(int), cudaMemcpyDeviceToHost));
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    EXPECT_EQ(gpu_count[c], cpu_count[c]) << c;
    EXPECT_NEAR(gpu_score[c], cpu_score[c], 1e-9 * (1 + cpu_score[c])) << c;
  }
  EXPECT_GE(gpu_count[0], 90);
}

}  // namespace
}  // namespace laueproc
