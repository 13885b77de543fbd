/// @file
/// @brief The CPU's windowed centroid and its exp (see window_centroid.hpp).

#include "stages/window_centroid.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "laueproc/math/component.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LAUEPROC_FAST_EXP_X86 1
#endif

namespace laueproc::detail {
namespace {

#if LAUEPROC_FAST_EXP_X86
// glibc's exp (sysdeps/ieee754/dbl-64/e_exp.c, glibc >= 2.28; EXP_TABLE_BITS 7):
// exp(x) = 2^(k/128) exp(r), k = round(x 128/ln2), r = x - k ln2/128, 2^(k/128) = H (1 + T) from
// the table, exp(r) - 1 by a degree-5 polynomial. The constants are those of glibc's __exp_data;
// the table is computed by scripts/gen_exp_table.py. The multiply-adds are fused exactly where
// glibc's FMA variant (__exp_fma, picked by glibc on CPUs with FMA and AVX2) fuses them.
constexpr std::uint64_t kInvLn2N = 0x40671547652b82feull;    // 128 / ln 2
constexpr std::uint64_t kNegLn2HiN = 0xbf762e42fefa0000ull;  // -ln 2 / 128, high part
constexpr std::uint64_t kNegLn2LoN = 0xbd0cf79abc9e3b3aull;  // and the rest
constexpr std::uint64_t kC2 = 0x3fdffffffffffdbdull, kC3 = 0x3fc555555555543cull;
constexpr std::uint64_t kC4 = 0x3fa55555cf172b91ull, kC5 = 0x3f81111167a4d017ull;
constexpr std::uint64_t kShift = 0x4338000000000000ull;  // 0x1.8p52: rounds to an integer
// AVX2 + FMA code that fuses nothing but its explicit _mm256_fmadd_pd: GCC contracts a * b + c
// into an FMA wherever the target has one, in C++ even with -std=c++17 (only ISO C turns that
// off), which would round differently from the scalar code this must reproduce.
#define LAUEPROC_EXACT_AVX2_FMA __attribute__((target("avx2,fma"), optimize("fp-contract=off")))

alignas(32) constexpr std::uint64_t kTable[256] = {
    0x0000000000000000ull, 0x3ff0000000000000ull, 0x3c9b3b4f1a88bf6eull, 0x3feff63da9fb3335ull,
    0xbc7160139cd8dc5dull, 0x3fefec9a3e778061ull, 0xbc905e7a108766d1ull, 0x3fefe315e86e7f85ull,
    0x3c8cd2523567f613ull, 0x3fefd9b0d3158574ull, 0xbc8bce8023f98efaull, 0x3fefd06b29ddf6deull,
    0x3c60f74e61e6c861ull, 0x3fefc74518759bc8ull, 0x3c90a3e45b33d399ull, 0x3fefbe3ecac6f383ull,
    0x3c979aa65d837b6dull, 0x3fefb5586cf9890full, 0x3c8eb51a92fdeffcull, 0x3fefac922b7247f7ull,
    0x3c3ebe3d702f9cd1ull, 0x3fefa3ec32d3d1a2ull, 0xbc6a033489906e0bull, 0x3fef9b66affed31bull,
    0xbc9556522a2fbd0eull, 0x3fef9301d0125b51ull, 0xbc5080ef8c4eea55ull, 0x3fef8abdc06c31ccull,
    0xbc91c923b9d5f416ull, 0x3fef829aaea92de0ull, 0x3c80d3e3e95c55afull, 0x3fef7a98c8a58e51ull,
    0xbc801b15eaa59348ull, 0x3fef72b83c7d517bull, 0xbc8f1ff055de323dull, 0x3fef6af9388c8deaull,
    0x3c8b898c3f1353bfull, 0x3fef635beb6fcb75ull, 0xbc96d99c7611eb26ull, 0x3fef5be084045cd4ull,
    0x3c9aecf73e3a2f60ull, 0x3fef54873168b9aaull, 0xbc8fe782cb86389dull, 0x3fef4d5022fcd91dull,
    0x3c8a6f4144a6c38dull, 0x3fef463b88628cd6ull, 0x3c807a05b0e4047dull, 0x3fef3f49917ddc96ull,
    0x3c968efde3a8a894ull, 0x3fef387a6e756238ull, 0x3c875e18f274487dull, 0x3fef31ce4fb2a63full,
    0x3c80472b981fe7f2ull, 0x3fef2b4565e27cddull, 0xbc96b87b3f71085eull, 0x3fef24dfe1f56381ull,
    0x3c82f7e16d09ab31ull, 0x3fef1e9df51fdee1ull, 0xbc3d219b1a6fbffaull, 0x3fef187fd0dad990ull,
    0x3c8b3782720c0ab4ull, 0x3fef1285a6e4030bull, 0x3c6e149289cecb8full, 0x3fef0cafa93e2f56ull,
    0x3c834d754db0abb6ull, 0x3fef06fe0a31b715ull, 0x3c864201e2ac744cull, 0x3fef0170fc4cd831ull,
    0x3c8fdd395dd3f84aull, 0x3feefc08b26416ffull, 0xbc86a3803b8e5b04ull, 0x3feef6c55f929ff1ull,
    0xbc924aedcc4b5068ull, 0x3feef1a7373aa9cbull, 0xbc9907f81b512d8eull, 0x3feeecae6d05d866ull,
    0xbc71d1e83e9436d2ull, 0x3feee7db34e59ff7ull, 0xbc991919b3ce1b15ull, 0x3feee32dc313a8e5ull,
    0x3c859f48a72a4c6dull, 0x3feedea64c123422ull, 0xbc9312607a28698aull, 0x3feeda4504ac801cull,
    0xbc58a78f4817895bull, 0x3feed60a21f72e2aull, 0xbc7c2c9b67499a1bull, 0x3feed1f5d950a897ull,
    0x3c4363ed60c2ac11ull, 0x3feece086061892dull, 0x3c9666093b0664efull, 0x3feeca41ed1d0057ull,
    0x3c6ecce1daa10379ull, 0x3feec6a2b5c13cd0ull, 0x3c93ff8e3f0f1230ull, 0x3feec32af0d7d3deull,
    0x3c7690cebb7aafb0ull, 0x3feebfdad5362a27ull, 0x3c931dbdeb54e077ull, 0x3feebcb299fddd0dull,
    0xbc8f94340071a38eull, 0x3feeb9b2769d2ca7ull, 0xbc87deccdc93a349ull, 0x3feeb6daa2cf6642ull,
    0xbc78dec6bd0f385full, 0x3feeb42b569d4f82ull, 0xbc861246ec7b5cf6ull, 0x3feeb1a4ca5d920full,
    0x3c93350518fdd78eull, 0x3feeaf4736b527daull, 0x3c7b98b72f8a9b05ull, 0x3feead12d497c7fdull,
    0x3c9063e1e21c5409ull, 0x3feeab07dd485429ull, 0x3c34c7855019c6eaull, 0x3feea9268a5946b7ull,
    0x3c9432e62b64c035ull, 0x3feea76f15ad2148ull, 0xbc8ce44a6199769full, 0x3feea5e1b976dc09ull,
    0xbc8c33c53bef4da8ull, 0x3feea47eb03a5585ull, 0xbc845378892be9aeull, 0x3feea34634ccc320ull,
    0xbc93cedd78565858ull, 0x3feea23882552225ull, 0x3c5710aa807e1964ull, 0x3feea155d44ca973ull,
    0xbc93b3efbf5e2228ull, 0x3feea09e667f3bcdull, 0xbc6a12ad8734b982ull, 0x3feea012750bdabfull,
    0xbc6367efb86da9eeull, 0x3fee9fb23c651a2full, 0xbc80dc3d54e08851ull, 0x3fee9f7df9519484ull,
    0xbc781f647e5a3ecfull, 0x3fee9f75e8ec5f74ull, 0xbc86ee4ac08b7db0ull, 0x3fee9f9a48a58174ull,
    0xbc8619321e55e68aull, 0x3fee9feb564267c9ull, 0x3c909ccb5e09d4d3ull, 0x3feea0694fde5d3full,
    0xbc7b32dcb94da51dull, 0x3feea11473eb0187ull, 0x3c94ecfd5467c06bull, 0x3feea1ed0130c132ull,
    0x3c65ebe1abd66c55ull, 0x3feea2f336cf4e62ull, 0xbc88a1c52fb3cf42ull, 0x3feea427543e1a12ull,
    0xbc9369b6f13b3734ull, 0x3feea589994cce13ull, 0xbc805e843a19ff1eull, 0x3feea71a4623c7adull,
    0xbc94d450d872576eull, 0x3feea8d99b4492edull, 0x3c90ad675b0e8a00ull, 0x3feeaac7d98a6699ull,
    0x3c8db72fc1f0eab4ull, 0x3feeace5422aa0dbull, 0xbc65b6609cc5e7ffull, 0x3feeaf3216b5448cull,
    0x3c7bf68359f35f44ull, 0x3feeb1ae99157736ull, 0xbc93091fa71e3d83ull, 0x3feeb45b0b91ffc6ull,
    0xbc5da9b88b6c1e29ull, 0x3feeb737b0cdc5e5ull, 0xbc6c23f97c90b959ull, 0x3feeba44cbc8520full,
    0xbc92434322f4f9aaull, 0x3feebd829fde4e50ull, 0xbc85ca6cd7668e4bull, 0x3feec0f170ca07baull,
    0x3c71affc2b91ce27ull, 0x3feec49182a3f090ull, 0x3c6dd235e10a73bbull, 0x3feec86319e32323ull,
    0xbc87c50422622263ull, 0x3feecc667b5de565ull, 0x3c8b1c86e3e231d5ull, 0x3feed09bec4a2d33ull,
    0xbc91bbd1d3bcbb15ull, 0x3feed503b23e255dull, 0x3c90cc319cee31d2ull, 0x3feed99e1330b358ull,
    0x3c8469846e735ab3ull, 0x3feede6b5579fdbfull, 0xbc82dfcd978e9db4ull, 0x3feee36bbfd3f37aull,
    0x3c8c1a7792cb3387ull, 0x3feee89f995ad3adull, 0xbc907b8f4ad1d9faull, 0x3feeee07298db666ull,
    0xbc55c3d956dcaebaull, 0x3feef3a2b84f15fbull, 0xbc90a40e3da6f640ull, 0x3feef9728de5593aull,
    0xbc68d6f438ad9334ull, 0x3feeff76f2fb5e47ull, 0xbc91eee26b588a35ull, 0x3fef05b030a1064aull,
    0x3c74ffd70a5fddcdull, 0x3fef0c1e904bc1d2ull, 0xbc91bdfbfa9298acull, 0x3fef12c25bd71e09ull,
    0x3c736eae30af0cb3ull, 0x3fef199bdd85529cull, 0x3c8ee3325c9ffd94ull, 0x3fef20ab5fffd07aull,
    0x3c84e08fd10959acull, 0x3fef27f12e57d14bull, 0x3c63cdaf384e1a67ull, 0x3fef2f6d9406e7b5ull,
    0x3c676b2c6c921968ull, 0x3fef3720dcef9069ull, 0xbc808a1883ccb5d2ull, 0x3fef3f0b555dc3faull,
    0xbc8fad5d3ffffa6full, 0x3fef472d4a07897cull, 0xbc900dae3875a949ull, 0x3fef4f87080d89f2ull,
    0x3c74a385a63d07a7ull, 0x3fef5818dcfba487ull, 0xbc82919e2040220full, 0x3fef60e316c98398ull,
    0x3c8e5a50d5c192acull, 0x3fef69e603db3285ull, 0x3c843a59ac016b4bull, 0x3fef7321f301b460ull,
    0xbc82d52107b43e1full, 0x3fef7c97337b9b5full, 0xbc892ab93b470dc9ull, 0x3fef864614f5a129ull,
    0x3c74b604603a88d3ull, 0x3fef902ee78b3ff6ull, 0x3c83c5ec519d7271ull, 0x3fef9a51fbc74c83ull,
    0xbc8ff7128fd391f0ull, 0x3fefa4afa2a490daull, 0xbc8dae98e223747dull, 0x3fefaf482d8e67f1ull,
    0x3c8ec3bc41aa2008ull, 0x3fefba1bee615a27ull, 0x3c842b94c3a9eb32ull, 0x3fefc52b376bba97ull,
    0x3c8a64a931d185eeull, 0x3fefd0765b6e4540ull, 0xbc8e37bae43be3edull, 0x3fefdbfdad9cbe14ull,
    0x3c77893b4d91cd9dull, 0x3fefe7c1819e90d8ull, 0x3c5305c14160cc89ull, 0x3feff3c22b8f71f1ull,
};

double bits_double(std::uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

// exp of four arguments; lanes glibc treats as special (|x| < 2^-54, |x| >= 512, inf, NaN) go
// to std::exp.
LAUEPROC_EXACT_AVX2_FMA inline __m256d exp4(__m256d x) {
  const __m256d shift = _mm256_set1_pd(bits_double(kShift));
  const __m256i ki = _mm256_castpd_si256(_mm256_fmadd_pd(x, _mm256_set1_pd(bits_double(kInvLn2N)), shift));
  const __m256d kd = _mm256_sub_pd(_mm256_castsi256_pd(ki), shift);
  __m256d r = _mm256_fmadd_pd(kd, _mm256_set1_pd(bits_double(kNegLn2HiN)), x);
  r = _mm256_fmadd_pd(kd, _mm256_set1_pd(bits_double(kNegLn2LoN)), r);
  const __m256i idx = _mm256_slli_epi64(_mm256_and_si256(ki, _mm256_set1_epi64x(127)), 1);
  const __m256d tail = _mm256_i64gather_pd(reinterpret_cast<const double*>(kTable), idx, 8);
  const __m256i sbits = _mm256_add_epi64(
      _mm256_i64gather_epi64(reinterpret_cast<const long long*>(kTable + 1), idx, 8), _mm256_slli_epi64(ki, 45));
  const __m256d p23 = _mm256_fmadd_pd(r, _mm256_set1_pd(bits_double(kC3)), _mm256_set1_pd(bits_double(kC2)));
  const __m256d tr = _mm256_add_pd(r, tail);
  const __m256d r2 = _mm256_mul_pd(r, r);
  const __m256d p45 = _mm256_fmadd_pd(r, _mm256_set1_pd(bits_double(kC5)), _mm256_set1_pd(bits_double(kC4)));
  const __m256d a = _mm256_fmadd_pd(p23, r2, tr);
  const __m256d tmp = _mm256_fmadd_pd(_mm256_mul_pd(r2, r2), p45, a);
  const __m256d scale = _mm256_castsi256_pd(sbits);
  __m256d out = _mm256_fmadd_pd(scale, tmp, scale);
  // glibc's main path: 0x3c9 <= biased exponent of x <= 0x407.
  const __m256i top = _mm256_and_si256(_mm256_srli_epi64(_mm256_castpd_si256(x), 52), _mm256_set1_epi64x(0x7ff));
  const __m256i special = _mm256_or_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(0x3c9), top),
                                          _mm256_cmpgt_epi64(top, _mm256_set1_epi64x(0x407)));
  if (const int lanes = _mm256_movemask_pd(_mm256_castsi256_pd(special))) {
    alignas(32) double xs[4], ys[4];
    _mm256_store_pd(xs, x);
    _mm256_store_pd(ys, out);
    for (int j = 0; j < 4; ++j)
      if (lanes & (1 << j)) ys[j] = std::exp(xs[j]);
    out = _mm256_load_pd(ys);
  }
  return out;
}

LAUEPROC_EXACT_AVX2_FMA void fast_exp_avx2(const double* in, double* out, int n) {
  int k = 0;
  for (; k + 4 <= n; k += 4) _mm256_storeu_pd(out + k, exp4(_mm256_loadu_pd(in + k)));
  for (; k < n; ++k) out[k] = std::exp(in[k]);
}

// Adds lane 0, then lane 1, of g, g dx and g dy to the sums, as math::window_add would.
LAUEPROC_EXACT_AVX2_FMA inline void add_two_pixels(math::WindowSums& sums, __m128d g, __m128d gx, __m128d gy) {
  sums.s += _mm_cvtsd_f64(g);
  sums.sx += _mm_cvtsd_f64(gx);
  sums.sy += _mm_cvtsd_f64(gy);
  sums.s += _mm_cvtsd_f64(_mm_unpackhi_pd(g, g));
  sums.sx += _mm_cvtsd_f64(_mm_unpackhi_pd(gx, gx));
  sums.sy += _mm_cvtsd_f64(_mm_unpackhi_pd(gy, gy));
}

// One window iteration's sums over pixels at (xs, ys) with values vs: math::window_add's
// operations in its order (the sums stay sequential), the exp four at a time.
LAUEPROC_EXACT_AVX2_FMA void window_sums_avx2(const double* xs, const double* ys, const double* vs,
                                                            int n, double cx, double cy, double inv_two_s2,
                                                            math::WindowSums& sums) {
  const __m256d vcx = _mm256_set1_pd(cx), vcy = _mm256_set1_pd(cy), vinv = _mm256_set1_pd(inv_two_s2);
  const __m256d sign = _mm256_set1_pd(-0.0);
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    const __m256d dx = _mm256_sub_pd(_mm256_loadu_pd(xs + k), vcx);
    const __m256d dy = _mm256_sub_pd(_mm256_loadu_pd(ys + k), vcy);
    const __m256d d2 = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
    const __m256d arg = _mm256_mul_pd(_mm256_xor_pd(d2, sign), vinv);  // -(dx^2 + dy^2) * inv
    const __m256d gv = _mm256_mul_pd(_mm256_loadu_pd(vs + k), exp4(arg));
    const __m256d gxv = _mm256_mul_pd(gv, dx), gyv = _mm256_mul_pd(gv, dy);
    // Lanes in order, from registers (no store and reload).
    add_two_pixels(sums, _mm256_castpd256_pd128(gv), _mm256_castpd256_pd128(gxv), _mm256_castpd256_pd128(gyv));
    add_two_pixels(sums, _mm256_extractf128_pd(gv, 1), _mm256_extractf128_pd(gxv, 1), _mm256_extractf128_pd(gyv, 1));
  }
  for (; k < n; ++k) math::window_add(sums, xs[k] - cx, ys[k] - cy, vs[k], inv_two_s2);
}

// Compares the vector path with std::exp on arguments across the window's range (and both
// special-case edges); any difference (another libm) switches it off.
bool vector_exp_agrees() {
  constexpr int kCount = 4096;
  alignas(32) double in[kCount], out[kCount];
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < kCount; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(state >> 11) * 0x1p-53;  // [0, 1)
    in[i] = i % 4 == 0 ? -600.0 * u : (i % 4 == 1 ? -8.0 * u : (i % 4 == 2 ? -std::ldexp(u, -60 + i % 64) : 40.0 * u - 20.0));
  }
  in[0] = -0.0;
  in[1] = -512.0;
  in[2] = std::nextafter(-512.0, 0.0);
  in[3] = -0x1p-54;
  fast_exp_avx2(in, out, kCount);
  for (int i = 0; i < kCount; ++i) {
    const double ref = std::exp(in[i]);
    if (std::memcmp(&ref, &out[i], sizeof ref) != 0) return false;
  }
  return true;
}
#endif

bool decide_vectorised() {
#if LAUEPROC_FAST_EXP_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && vector_exp_agrees();
#else
  return false;
#endif
}

}  // namespace

bool fast_exp_vectorised() {
  static const bool yes = decide_vectorised();
  return yes;
}

void fast_exp(const double* in, double* out, int n) {
#if LAUEPROC_FAST_EXP_X86
  if (fast_exp_vectorised()) {
    fast_exp_avx2(in, out, n);
    return;
  }
#endif
  for (int k = 0; k < n; ++k) out[k] = std::exp(in[k]);
}

void windowed_centroid_cpu(const float* residual, int w, const int* support, int nsupport, const math::Ellipse& e,
                           double& x, double& y) {
  using math::component_detail::max_of;
  // The same statements as math::component_detail::windowed_centroid; only where the
  // coordinates are converted, and how the exp is evaluated, differ.
  const double s_w = max_of(1.0, 0.5 * std::sqrt(e.a * e.b));
  const double inv_two_s2 = 1.0 / (2.0 * s_w * s_w);
  thread_local std::vector<double> coords;
  coords.resize(3 * static_cast<std::size_t>(nsupport));
  double* xs = coords.data();
  double* ys = xs + nsupport;
  double* vs = ys + nsupport;
  for (int k = 0; k < nsupport; ++k) {
    const int i = support[k];
    xs[k] = i % w;
    ys[k] = i / w;
    vs[k] = residual[i];
  }
  [[maybe_unused]] const bool vectorised = fast_exp_vectorised();
  double cx = x, cy = y;
  for (int iteration = 0; iteration < 30; ++iteration) {
    math::WindowSums sums;
#if LAUEPROC_FAST_EXP_X86
    if (vectorised)
      window_sums_avx2(xs, ys, vs, nsupport, cx, cy, inv_two_s2, sums);
    else
#endif
      for (int k = 0; k < nsupport; ++k) math::window_add(sums, xs[k] - cx, ys[k] - cy, vs[k], inv_two_s2);
    double dx, dy;
    if (!math::window_step(sums, dx, dy)) return;
    cx += dx;
    cy += dy;
    if (std::hypot(cx - x, cy - y) > 2.0 * s_w + 1.0) return;  // ran away: keep the moment centroid
    if (std::fabs(dx) + std::fabs(dy) < 1e-6) {
      x = cx;
      y = cy;
      return;
    }
  }
}

}  // namespace laueproc::detail
