#pragma once
/// @file
/// @brief One measured Laue peak: the intensity-moment ellipse of a connected component.

#include <cstdint>
#include <vector>

namespace laueproc {

/// @brief A peak as written to /peaks and peaks.csv. Coordinates are 0-based pixels with pixel
/// centres at integers: x = column, y = row. Intensities are background-subtracted counts.
struct Peak {
  std::int64_t frame = 0;     ///< frame index in the scan
  std::int32_t peak = 0;      ///< peak number inside the frame, 0-based, in output order
  double x = 0.0;             ///< intensity-weighted centroid, column (px)
  double y = 0.0;             ///< intensity-weighted centroid, row (px)
  double intensity = 0.0;     ///< integrated background-subtracted intensity (counts)
  double peak_value = 0.0;    ///< highest background-subtracted pixel (counts)
  std::int32_t npix = 0;      ///< pixels above the low threshold in the component
  double mxx = 0.0;           ///< second central moment along x (px^2)
  double myy = 0.0;           ///< second central moment along y (px^2)
  double mxy = 0.0;           ///< mixed second central moment (px^2)
  double a = 0.0;             ///< semi-major axis = 2 sqrt(l1) (px); a Gaussian of sigma s gives 2s
  double b = 0.0;             ///< semi-minor axis = 2 sqrt(l2) (px)
  double theta_deg = 0.0;     ///< major-axis angle from +x toward +y, degrees in [-90, 90)
  std::int32_t n_maxima = 1;  ///< significant local maxima inside the peak
  bool saturated = false;     ///< a raw pixel reached the detector's saturation value
  bool edge = false;          ///< the component touches the frame edge or a masked pixel
  double snr = 0.0;           ///< peak_value / frame noise sigma
};

using PeakList = std::vector<Peak>;

}  // namespace laueproc
