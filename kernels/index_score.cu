// The indexing scoring kernel: the phased body of math/index_score.hpp launched by phased.cuh.
#include "index_score.cuh"
#include "phased.cuh"

namespace laueproc::kernels {

void launch_index_score(cudaStream_t stream, const math::IndexScoreKernel::Params& params) {
  launch_phased<math::IndexScoreKernel>(stream, grid::Dim{static_cast<unsigned>(params.n_candidates), 1, 1},
                                        grid::Dim{math::IndexScoreKernel::kThreads, 1, 1}, params);
}

}  // namespace laueproc::kernels
