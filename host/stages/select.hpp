#pragma once
/// @file
/// @brief Exact order statistics of float arrays by radix selection (the noise estimates' medians
/// and percentiles of ~10^5 samples per frame).

#include <cstddef>

namespace laueproc::detail {

/// @brief The k-th smallest (0-based, k < n) of v[0..n): the value std::nth_element would put
/// at position k, for finite values and no negative zero (residuals and backgrounds have none).
/// v is left as it was. Three histogram passes over the floats' order-preserving integer keys
/// (11, 11 and 10 bits), each on the elements still in play: branch-free where introselect's
/// data-dependent branches mispredict on every other element.
float kth_smallest(const float* v, std::size_t n, std::size_t k);

}  // namespace laueproc::detail
