#pragma once
/// @file
/// @brief Phased bodies of the frame noise (CpuFrameAnalyzer::prepare_noise on the device):
///   Samples   detail::sampled_sigma's samples: raw - background on every 4th pixel of every 8th
///             row (start (y / 4) % 4), unmasked, compacted in raster order (one block per frame:
///             per-thread row ranges, a scan of their counts, then the writes);
///   NoiseFit  robust_sigma (median, then median of |v - median|), the median background and
///             fit_noise_model: the same samples, the same selections (exact radix selection =
///             nth_element's element), the bins' background sums in sample order (one thread per
///             bin over a stable per-bin compaction), and math::noise_model_from_bins.
/// So the sigma, the noise model, the thresholds and the background level are the CPU's.

#include "frame_batch.cuh"
#include "laueproc/math/noise.hpp"
#include "select.cuh"

namespace laueproc::kernels {

constexpr unsigned kNoiseThreads = 256;  ///< block size of Samples and NoiseFit
constexpr int kSampleStep = 4;           ///< sampled_sigma's kStep
constexpr double kSigmaFloor = 0.5;      ///< CpuFrameAnalyzer's floor (uint16 quantisation)

/// @brief Rows sampled by sampled_sigma in a frame of `height` rows (y = min(2, h - 1) + 8 r).
LAUEPROC_HD inline int sample_rows(int height) {
  const int y0 = kSampleStep / 2 < height - 1 ? kSampleStep / 2 : height - 1;
  return height > y0 ? (height - y0 + 2 * kSampleStep - 1) / (2 * kSampleStep) : 0;
}
LAUEPROC_HD inline int sample_row_y(int height, int r) {
  const int y0 = kSampleStep / 2 < height - 1 ? kSampleStep / 2 : height - 1;
  return y0 + 2 * kSampleStep * r;
}
/// @brief Most samples a frame can give (every column start 0): the per-frame capacity.
LAUEPROC_HD inline int sample_capacity(int width, int height) {
  return sample_rows(height) * ((width + kSampleStep - 1) / kSampleStep);
}

/// @brief sampled_sigma's samples of every frame against the grid whose coarse rows are in
/// v.coarse and whose column tables are given. Grid (frames), block kNoiseThreads.
struct Samples {
  struct Params {
    BatchView v;
    const int* col_cell;
    const float* col_w;
  };
  struct Shared {
    int count[kNoiseThreads];
  };
  struct Local {
    int r0, r1;  ///< this thread's rows [r0, r1)
  };
  static constexpr int kPhases = 3;

  // Calls fn(x, y, i) for the unmasked samples of rows [r0, r1) in raster order.
  template <class Fn>
  LAUEPROC_HD static void each(const BatchView& v, int f, int r0, int r1, Fn&& fn) {
    const BatchShape& sh = v.shape;
    const std::uint8_t* mask = v.state[f].has_mask ? v.mask + frame_base(sh, f) : nullptr;
    for (int r = r0; r < r1; ++r) {
      const int y = sample_row_y(sh.height, r);
      for (int x = (y / kSampleStep) % kSampleStep; x < sh.width; x += kSampleStep) {
        const long long i = 1ll * y * sh.width + x;
        if (mask && mask[i]) continue;
        fn(x, y, i);
      }
    }
  }

  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local& l, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int f = static_cast<int>(at.block.x);
    const int t = static_cast<int>(at.thread_rank()), nt = static_cast<int>(at.block_threads());
    FrameState& st = v.state[f];
    if (st.constant) return;
    if (p == 0) {
      const int rows = sample_rows(sh.height), per = (rows + nt - 1) / nt;
      l.r0 = t * per < rows ? t * per : rows;
      l.r1 = l.r0 + per < rows ? l.r0 + per : rows;
      int n = 0;
      each(v, f, l.r0, l.r1, [&](int, int, long long) { ++n; });
      s.count[t] = n;
    } else if (p == 1) {
      if (t != 0) return;
      int total = 0;
      for (int k = 0; k < nt; ++k) {
        const int c = s.count[k];
        s.count[k] = total;
        total += c;
      }
      st.n_samples = total;
    } else {
      int out = s.count[t];
      float* res = v.sample_res + 1ll * f * sh.sample_cap;
      float* bg = v.sample_bg + 1ll * f * sh.sample_cap;
      const std::uint16_t* raw = v.raw + frame_base(sh, f);
      each(v, f, l.r0, l.r1, [&](int x, int y, long long i) {
        const float* row = v.coarse + (1ll * f * sh.height + y) * sh.coarse_stride;
        const float b = render_at(row, P.col_cell, P.col_w, sh.width, x);
        res[out] = static_cast<float>(raw[i]) - b;
        bg[out] = b;
        ++out;
      });
    }
  }
};

/// @brief The frame's noise from its samples (see the file comment). mode 0: the sigma only
/// (FrameState::clip_sigma, for background_gaussian's clip); mode 1: the frame's sigma, noise
/// model (when local_noise), thresholds and background level. Grid (frames), block kNoiseThreads.
struct NoiseFit {
  struct Params {
    BatchView v;
    int mode;
  };
  static constexpr int kBins = math::kNoiseBins;
  // Selections: 0 median residual, 1 median background, 2 / 3 the background's 2nd / 98th
  // percentile (of every 2nd sample), 4 MAD of the residual, 5.. bin medians, 13.. bin MADs.
  static constexpr int kMedian = 0, kBgMedian = 1, kLo = 2, kHi = 3, kMad = 4, kBinMed = 5, kBinMad = 5 + kBins;
  static constexpr int kSelections = kBinMad + kBins;
  struct Shared {
    RadixSelect sel[kSelections];
    unsigned int hist[2][kBins + 1][256];  // at most 1 + kBins selections run at once
    int bin_count[kBins][kNoiseThreads];   // per thread, then its offset in the bin
    int bin_base[kBins + 1];
    double bin_sum[kBins];
    float med, bin_med[kBins];
    int n, n2, fit;  // fit: 1 when the noise model's bins are taken
    double lo, hi, sigma;
  };
  struct Local {
    int i0, i1;  ///< this thread's share of the every-2nd-sample indices
  };
  // Phases: 0 start; 1..9 select {median, bg median, lo, hi}; 10 MAD start + bin range;
  // 11 bin counts; 12 bin offsets; 13 bin bases; 14 compaction; 15 bin sums + bin medians
  // start; 16..24 select {MAD, bin medians}; 25 bin MADs start; 26..34 select bin MADs; 35 fit.
  static constexpr int kSelA = 1, kRange = kSelA + kSelectPhases, kCount = kRange + 1, kOffsets = kCount + 1,
                       kBases = kOffsets + 1, kCompact = kBases + 1, kSums = kCompact + 1, kSelB = kSums + 1,
                       kMadStart = kSelB + kSelectPhases, kSelC = kMadStart + 1, kFit = kSelC + kSelectPhases,
                       kPhases = kFit + 1;

  // One select round over selections [first, first + count): rel = p - p0.
  template <class Keys>
  LAUEPROC_HD static void select_round(int rel, int first, int count, int t, int nt, Shared& s, Keys&& keys) {
    if (rel == 0) {
      for (int k = t; k < count * 256; k += nt) s.hist[0][k / 256][k % 256] = 0;
      return;
    }
    const int d = radix_pass(rel);
    if (rel % 2 == 1) {
      keys([&](int m, unsigned int key) {  // m in [first, first + count)
        if (radix_candidate(s.sel[m], key)) grid::atomic_add(&s.hist[d & 1][m - first][radix_digit(d, key)], 1u);
      });
    } else if (t == 0) {
      for (int m = 0; m < count; ++m) radix_choose(s.sel[first + m], d, s.hist[d & 1][m]);
    } else if (d < 3) {
      for (int k = t - 1; k < count * 256; k += nt - 1) s.hist[(d + 1) & 1][k / 256][k % 256] = 0;
    }
  }

  LAUEPROC_HD static void phase(int p, const grid::Index& at, Shared& s, Local& l, const Params& P) {
    const BatchView& v = P.v;
    const BatchShape& sh = v.shape;
    const int f = static_cast<int>(at.block.x);
    const int t = static_cast<int>(at.thread_rank()), nt = static_cast<int>(at.block_threads());
    FrameState& st = v.state[f];
    if (st.constant) return;
    const float* res = v.sample_res + 1ll * f * sh.sample_cap;
    const float* bg = v.sample_bg + 1ll * f * sh.sample_cap;
    const long long bin_stride = sh.sample_cap / 2 + 1;
    float* bin_res = v.bin_res + f * bin_stride;
    float* bin_bg = v.bin_bg + f * bin_stride;
    const bool model = P.mode == 1 && v.config.local_noise;
    const bool final_mode = P.mode == 1;

    if (p == 0) {
      if (t == 0) {
        const int n = st.n_samples, n2 = n / 2;
        s.n = n;
        s.n2 = n2;
        s.fit = 0;
        radix_begin(s.sel[kMedian], static_cast<unsigned long long>(n / 2), static_cast<unsigned long long>(n));
        radix_begin(s.sel[kBgMedian], static_cast<unsigned long long>(n / 2),
                    final_mode ? static_cast<unsigned long long>(n) : 0ull);
        const bool range = model && n2 >= kBins * math::kNoiseMinPerBin;
        const double last = static_cast<double>(n2 - 1);
        radix_begin(s.sel[kLo], static_cast<unsigned long long>(static_cast<long long>(0.02 * last)),
                    range ? static_cast<unsigned long long>(n2) : 0ull);
        radix_begin(s.sel[kHi], static_cast<unsigned long long>(static_cast<long long>(0.98 * last)),
                    range ? static_cast<unsigned long long>(n2) : 0ull);
      }
    } else if (p < kRange) {  // median residual, median background, background percentiles
      select_round(p - kSelA, kMedian, 4, t, nt, s, [&](auto&& add) {
        for (int i = t; i < s.n; i += nt) {
          add(kMedian, ordered_bits(res[i]));
          if (s.sel[kBgMedian].n) add(kBgMedian, ordered_bits(bg[i]));
        }
        if (s.sel[kLo].n)
          for (int i = t; i < s.n2; i += nt) {
            const unsigned int key = ordered_bits(bg[2 * i]);
            add(kLo, key);
            add(kHi, key);
          }
      });
    } else if (p == kRange) {
      const int per = (s.n2 + nt - 1) / nt;
      l.i0 = t * per < s.n2 ? t * per : s.n2;
      l.i1 = l.i0 + per < s.n2 ? l.i0 + per : s.n2;
      if (t != 0) return;
      s.med = from_ordered_bits(s.sel[kMedian].prefix);
      radix_begin(s.sel[kMad], static_cast<unsigned long long>(s.n / 2), static_cast<unsigned long long>(s.n));
      if (s.sel[kLo].n) {
        s.lo = static_cast<double>(from_ordered_bits(s.sel[kLo].prefix));
        s.hi = static_cast<double>(from_ordered_bits(s.sel[kHi].prefix));
        s.fit = math::noise_range_fits(s.lo, s.hi) ? 1 : 0;
      }
    } else if (p == kCount) {  // bin sizes of this thread's share, in sample order
      if (!s.fit) return;
      for (int k = 0; k < kBins; ++k) s.bin_count[k][t] = 0;
      for (int i = l.i0; i < l.i1; ++i) {
        const double b = bg[2 * i];
        if (b < s.lo || b > s.hi) continue;
        ++s.bin_count[math::noise_bin(b, s.lo, s.hi)][t];
      }
    } else if (p == kOffsets) {  // exclusive scan over threads, one thread per bin
      if (!s.fit || t >= kBins) return;
      int total = 0;
      for (int k = 0; k < nt; ++k) {
        const int c = s.bin_count[t][k];
        s.bin_count[t][k] = total;
        total += c;
      }
      s.bin_base[t + 1] = total;  // the bin's size, turned into bases next
    } else if (p == kBases) {
      if (!s.fit || t != 0) return;
      s.bin_base[0] = 0;
      for (int k = 0; k < kBins; ++k) s.bin_base[k + 1] += s.bin_base[k];
    } else if (p == kCompact) {  // the bins' samples, each bin in sample order
      if (!s.fit) return;
      int cursor[kBins];
      for (int k = 0; k < kBins; ++k) cursor[k] = s.bin_base[k] + s.bin_count[k][t];
      for (int i = l.i0; i < l.i1; ++i) {
        const double b = bg[2 * i];
        if (b < s.lo || b > s.hi) continue;
        const int k = math::noise_bin(b, s.lo, s.hi);
        bin_res[cursor[k]] = res[2 * i];
        bin_bg[cursor[k]] = bg[2 * i];
        ++cursor[k];
      }
    } else if (p == kSums) {  // fit_noise_model's bin_bg[k] += b, in sample order; bin medians
      if (!s.fit || t >= kBins) return;
      double sum = 0;
      for (int j = s.bin_base[t]; j < s.bin_base[t + 1]; ++j) sum += static_cast<double>(bin_bg[j]);
      s.bin_sum[t] = sum;
      const int m = s.bin_base[t + 1] - s.bin_base[t];
      radix_begin(s.sel[kBinMed + t], static_cast<unsigned long long>(m / 2),
                  m >= math::kNoiseMinPerBin ? static_cast<unsigned long long>(m) : 0ull);
    } else if (p < kMadStart) {  // MAD of all samples, medians of the bins
      select_round(p - kSelB, kMad, 1 + kBins, t, nt, s, [&](auto&& add) {
        for (int i = t; i < s.n; i += nt) add(kMad, ordered_bits(fabsf(res[i] - s.med)));
        if (!s.fit) return;
        for (int k = 0; k < kBins; ++k)
          if (s.sel[kBinMed + k].n)
            for (int j = s.bin_base[k] + t; j < s.bin_base[k + 1]; j += nt) add(kBinMed + k, ordered_bits(bin_res[j]));
      });
    } else if (p == kMadStart) {
      if (t != 0 || !s.fit) return;
      for (int k = 0; k < kBins; ++k) {
        s.bin_med[k] = from_ordered_bits(s.sel[kBinMed + k].prefix);
        radix_begin(s.sel[kBinMad + k], s.sel[kBinMed + k].n / 2, s.sel[kBinMed + k].n);
      }
    } else if (p < kFit) {  // MADs of the bins
      if (!s.fit) return;
      select_round(p - kSelC, kBinMad, kBins, t, nt, s, [&](auto&& add) {
        for (int k = 0; k < kBins; ++k)
          if (s.sel[kBinMad + k].n)
            for (int j = s.bin_base[k] + t; j < s.bin_base[k + 1]; j += nt)
              add(kBinMad + k, ordered_bits(fabsf(bin_res[j] - s.bin_med[k])));
      });
    } else if (t == 0) {  // kFit: robust_sigma, fit_noise_model, prepare_noise's floors
      const double sigma = s.n > 0 ? 1.4826 * static_cast<double>(from_ordered_bits(s.sel[kMad].prefix)) : 0.0;
      st.sample_sigma = sigma;
      const double floored = sigma < kSigmaFloor ? kSigmaFloor : sigma;  // std::max(sigma, 0.5)
      if (!final_mode) {
        st.clip_sigma = floored;
        return;
      }
      math::NoiseModel noise{floored * floored, 0.0};
      if (model) {
        noise = math::NoiseModel{sigma * sigma, 0.0};
        if (s.fit) {
          unsigned long long count[kBins];
          double sd[kBins];
          for (int k = 0; k < kBins; ++k) {
            count[k] = static_cast<unsigned long long>(s.bin_base[k + 1] - s.bin_base[k]);
            sd[k] = s.sel[kBinMad + k].n ? 1.4826 * static_cast<double>(from_ordered_bits(s.sel[kBinMad + k].prefix)) : 0.0;
          }
          noise = math::noise_model_from_bins(count, s.bin_sum, sd, sigma);
        }
      }
      noise.var0 = noise.var0 < kSigmaFloor * kSigmaFloor ? kSigmaFloor * kSigmaFloor : noise.var0;
      st.sigma = floored;
      st.noise = noise;
      st.low = math::sigma_threshold(noise, v.config.k_low);
      st.high = math::sigma_threshold(noise, v.config.k_high);
      st.background_level = s.n > 0 ? static_cast<double>(from_ordered_bits(s.sel[kBgMedian].prefix)) : 0.0;
    }
  }
};

}  // namespace laueproc::kernels
