#pragma once
/// @file
/// @brief Small, portable random numbers for the simulator: results are identical on every
/// compiler and standard library (std::normal_distribution is implementation-defined).
/// splitmix64 (Steele, Lea, Flood 2014) seeds xoshiro256** (Blackman, Vigna 2018); normal
/// deviates by Marsaglia's polar method (Marsaglia, Bray 1964).

#include <cmath>
#include <cstdint>

namespace laueproc::sim {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// @brief Seed of an independent stream for (scan seed, frame, purpose).
inline std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t frame, std::uint64_t purpose) {
  std::uint64_t s = seed;
  std::uint64_t h = splitmix64(s);
  s = h ^ (frame * 0xD1B54A32D192ED03ULL);
  h = splitmix64(s);
  s = h ^ (purpose * 0x8CB92BA72F3D8DD7ULL);
  return splitmix64(s);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (auto& w : s_) w = splitmix64(s);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// @brief Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// @brief Uniform integer in [lo, hi] (inclusive); Lemire's multiply-shift (bias < 2^-32).
  int integer(int lo, int hi) {
    const std::uint64_t span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<int>(((next() >> 32) * span) >> 32);
  }
  /// @brief Standard normal deviate (Marsaglia polar method; the second deviate is cached).
  double normal() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    have_spare_ = true;
    return u * f;
  }
  /// @brief Poisson deviate by Knuth's multiplication method; for small means only (<= ~30).
  int poisson_small(double mean) {
    const double limit = std::exp(-mean);
    double p = uniform();
    int k = 0;
    while (p > limit) {
      ++k;
      p *= uniform();
    }
    return k;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool have_spare_ = false;
};

}  // namespace laueproc::sim
