/// @file
/// @brief Stage 4: splitting components with several well-resolved maxima. The algorithm is
/// math::deblend_component (laueproc/math/component.hpp), shared with the CUDA backend.

#include <algorithm>
#include <climits>
#include <vector>

#include "laueproc/math/component.hpp"
#include "laueproc/stages.hpp"

namespace laueproc {

void deblend(const float* residual, int width, int height, const ComponentSet& set, int c, double sigma,
             const DeblendConfig& config, DeblendResult& out) {
  (void)height;
  thread_local std::vector<int> pixels;
  thread_local std::vector<unsigned char> scratch;
  pixels.clear();
  int xmin = INT_MAX, xmax = -1, ymin = INT_MAX, ymax = -1;
  for (int k = set.begin[c]; k < set.begin[c + 1]; ++k) {
    const PixelRun& r = set.runs[k];
    for (int x = r.x0; x <= r.x1; ++x) pixels.push_back(r.y * width + x);
    xmin = std::min(xmin, r.x0);
    xmax = std::max(xmax, r.x1);
    ymin = std::min(ymin, r.y);
    ymax = std::max(ymax, r.y);
  }
  const int n = static_cast<int>(pixels.size());
  const long long box_area = n > 0 ? 1ll * (xmax - xmin + 1) * (ymax - ymin + 1) : 0;
  scratch.resize(math::component_scratch_bytes(n, box_area, 0));
  math::ComponentScratchView s = math::component_scratch(scratch.data(), n, box_area, 0);
  const math::Split split = math::deblend_component(residual, width, pixels.data(), n, sigma, config, s);
  out.n_peaks = split.n_peaks;
  out.peak_of.assign(s.peak_of, s.peak_of + n);
  out.n_maxima.assign(s.n_maxima, s.n_maxima + split.n_maxima_count);
}

}  // namespace laueproc
