// Device decode kernels: the phased bodies of unshuffle_body.cuh launched by phased.cuh.
#include "phased.cuh"
#include "unshuffle.cuh"

namespace laueproc::kernels {

void launch_bit_unshuffle(const BitUnshuffleKernel::Params& p, cudaStream_t stream) {
  launch_phased<BitUnshuffleKernel>(stream, grid::Dim{p.n_blocks}, grid::Dim{256}, p);
}

void launch_adler32(const Adler32Kernel::Params& p, cudaStream_t stream) {
  launch_phased<Adler32Kernel>(stream, grid::Dim{p.n_chunks}, grid::Dim{Adler32Kernel::kMaxThreads}, p);
}

}  // namespace laueproc::kernels
