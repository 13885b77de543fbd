/// @file
/// @brief The pipeline's launches on a CUDA stream (kernels/frame_pipeline.cuh with a GPU
/// launcher) and the cuFFT Gaussian convolution. Nothing here decides anything about a frame:
/// the kernel bodies do, and CI runs them on the CPU grid executor.

#include "pipeline.cuh"

#include <cufft.h>
#include <cxxabi.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "cuda/cuda_util.hpp"
#include "frame_pipeline.cuh"
#include "phased.cuh"

namespace laueproc::kernels {
namespace {

template <class K>
std::string kernel_name() {
  int status = 0;
  char* name = abi::__cxa_demangle(typeid(K).name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name ? name : typeid(K).name();
  std::free(name);
  return out;
}

struct GpuLauncher {
  cudaStream_t stream;
  GaussianFft* fft;
  template <class K>
  void run(grid::Dim grid_dim, grid::Dim block_dim, const typename K::Params& params) {
    launch_phased<K>(stream, grid_dim, block_dim, params);
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) cuda::throw_cuda_error(status, ("launch of " + kernel_name<K>()).c_str(), __FILE__, __LINE__);
  }
  bool gaussian_convolution(const BatchView& v) {
    if (!fft) return false;
    fft->run(stream, v);
    return true;
  }
};

// cuFFT, loaded when first needed (dlopen): libcufft is ~280 MB, so the program does not link
// it; the separable filter (the default) needs nothing. Without it, GaussianFft throws.
struct CufftApi {
  decltype(&cufftPlanMany) plan_many = nullptr;
  decltype(&cufftExecR2C) exec_r2c = nullptr;
  decltype(&cufftExecC2R) exec_c2r = nullptr;
  decltype(&cufftSetStream) set_stream = nullptr;
  decltype(&cufftDestroy) destroy = nullptr;
  std::string error;

  static const CufftApi& get() {
    static const CufftApi api = [] {
      CufftApi a;
      void* lib = nullptr;
      for (const char* name : {"libcufft.so.12", "libcufft.so.13", "libcufft.so", "/usr/local/cuda/lib64/libcufft.so.12",
                               "/usr/local/cuda/lib64/libcufft.so"})
        if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
      if (!lib) {
        a.error = "cuFFT not available (libcufft.so.12 not found on the library path): use the separable Gaussian filter";
        return a;
      }
      auto sym = [&](auto& fn, const char* name) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
        if (!fn && a.error.empty()) a.error = std::string("cuFFT: symbol ") + name + " missing";
      };
      sym(a.plan_many, "cufftPlanMany");
      sym(a.exec_r2c, "cufftExecR2C");
      sym(a.exec_c2r, "cufftExecC2R");
      sym(a.set_stream, "cufftSetStream");
      sym(a.destroy, "cufftDestroy");
      return a;
    }();
    if (!api.error.empty()) throw Error(api.error);
    return api;
  }
};

void check_cufft(cufftResult r, const char* what) {
  if (r != CUFFT_SUCCESS) throw Error(std::string(what) + " failed: cufftResult " + std::to_string(static_cast<int>(r)));
}

// Smallest n >= m whose only prime factors are 2, 3, 5 and 7 (cuFFT's fast sizes).
int fft_size(int m) {
  for (int n = m < 1 ? 1 : m;; ++n) {
    int r = n;
    for (int p : {2, 3, 5, 7})
      while (r % p == 0) r /= p;
    if (r == 1) return n;
  }
}

}  // namespace

void launch_batch(cudaStream_t stream, const BatchView& v, GaussianFft* fft) {
  GpuLauncher L{stream, fft};
  launch_frame_pipeline(L, v);
}

void launch_front_end(cudaStream_t stream, const BatchView& v, GaussianFft* fft) {
  GpuLauncher L{stream, fft};
  launch_front_end(L, v);
}

struct GaussianFft::Impl {
  int nx = 0, ny = 0, frames = 0, dw = 0, dh = 0, radius = -1;
  cufftHandle forward = 0, inverse = 0;
  bool planned = false;
  cuda::DeviceBuffer<float> real, spectrum, kernel;

  ~Impl() { destroy(); }
  void destroy() {
    if (planned) {
      CufftApi::get().destroy(forward);
      CufftApi::get().destroy(inverse);
    }
    planned = false;
  }

  // Plans, buffers and the kernel's spectrum for this batch's shape (kept while it does not change).
  void ensure(const BatchView& v) {
    const BatchShape& s = v.shape;
    const int r = v.config.gauss_radius;
    if (planned && s.dw == dw && s.dh == dh && s.frames == frames && r == radius) return;
    destroy();
    dw = s.dw;
    dh = s.dh;
    frames = s.frames;
    radius = r;
    nx = fft_size(dw + r);
    ny = fft_size(dh + r);
    const int half = nx / 2 + 1;
    real.allocate(2ull * frames * nx * ny);
    spectrum.allocate(2ull * 2 * frames * ny * half);
    kernel.allocate(static_cast<std::size_t>(ny) * half);
    // The kernel's spectrum, in double: separable, real (symmetric taps), scaled by 1 / (nx ny).
    std::vector<float> taps(static_cast<std::size_t>(2 * r + 1));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(taps.data(), v.gauss_kernel, taps.size() * sizeof(float), cudaMemcpyDeviceToHost));
    auto spectrum_1d = [&](int n, int u) {
      double acc = 0;
      for (int k = -r; k <= r; ++k) acc += taps[static_cast<std::size_t>(k + r)] * std::cos(2.0 * M_PI * u * k / n);
      return acc;
    };
    std::vector<double> kx(static_cast<std::size_t>(half)), ky(static_cast<std::size_t>(ny));
    for (int u = 0; u < half; ++u) kx[static_cast<std::size_t>(u)] = spectrum_1d(nx, u);
    for (int w = 0; w < ny; ++w) ky[static_cast<std::size_t>(w)] = spectrum_1d(ny, w);
    std::vector<float> k2(static_cast<std::size_t>(ny) * half);
    for (int w = 0; w < ny; ++w)
      for (int u = 0; u < half; ++u)
        k2[static_cast<std::size_t>(w) * half + u] =
            static_cast<float>(kx[static_cast<std::size_t>(u)] * ky[static_cast<std::size_t>(w)] / (1.0 * nx * ny));
    LAUEPROC_CUDA_CHECK(cudaMemcpy(kernel.get(), k2.data(), k2.size() * sizeof(float), cudaMemcpyHostToDevice));
    const CufftApi& api = CufftApi::get();
    int n[2] = {ny, nx};
    check_cufft(api.plan_many(&forward, 2, n, nullptr, 1, 0, nullptr, 1, 0, CUFFT_R2C, 2 * frames), "cufftPlanMany R2C");
    if (api.plan_many(&inverse, 2, n, nullptr, 1, 0, nullptr, 1, 0, CUFFT_C2R, 2 * frames) != CUFFT_SUCCESS) {
      api.destroy(forward);
      throw Error("cufftPlanMany C2R failed");
    }
    planned = true;
  }
};

GaussianFft::GaussianFft() : impl_(std::make_unique<Impl>()) {}

std::string GaussianFft::unavailable() {
  try {
    CufftApi::get();
    return {};
  } catch (const Error& e) {
    return e.what();
  }
}
GaussianFft::~GaussianFft() = default;

void GaussianFft::run(cudaStream_t stream, const BatchView& v) {
  const CufftApi& api = CufftApi::get();
  Impl& m = *impl_;
  m.ensure(v);
  const FftLayout layout{m.nx, m.ny, m.real.get(), m.spectrum.get(), m.kernel.get()};
  GpuLauncher L{stream, nullptr};
  const unsigned F = static_cast<unsigned>(v.shape.frames);
  L.run<GaussPad>({blocks_for(m.nx, kGaussThreads), static_cast<unsigned>(m.ny), F}, {kGaussThreads}, {v, layout});
  check_cufft(api.set_stream(m.forward, stream), "cufftSetStream");
  check_cufft(api.set_stream(m.inverse, stream), "cufftSetStream");
  check_cufft(api.exec_r2c(m.forward, m.real.get(), reinterpret_cast<cufftComplex*>(m.spectrum.get())), "cufftExecR2C");
  L.run<GaussSpectrum>({blocks_for(m.nx / 2 + 1, kGaussThreads), static_cast<unsigned>(m.ny), 2 * F}, {kGaussThreads},
                       {layout});
  check_cufft(api.exec_c2r(m.inverse, reinterpret_cast<cufftComplex*>(m.spectrum.get()), m.real.get()), "cufftExecC2R");
  L.run<GaussUnpad>({blocks_for(v.shape.dw, kGaussThreads), static_cast<unsigned>(v.shape.dh), F}, {kGaussThreads},
                    {v, layout});
}

}  // namespace laueproc::kernels
