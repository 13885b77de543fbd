// Synthetic spot lists with truth, random orientations and a default top-detector geometry.
#include <algorithm>
#include <cmath>

#include "laueproc/index.hpp"
#include "sim/rng.hpp"

namespace laueproc::index {

Mat3 random_rotation(std::uint64_t seed) {
  sim::Rng rng(seed);
  const double u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
  const double two_pi = 2.0 * 3.14159265358979323846;
  const double a = std::sqrt(1 - u1), b = std::sqrt(u1);
  const double w = a * std::sin(two_pi * u2), x = a * std::cos(two_pi * u2), y = b * std::sin(two_pi * u3),
               z = b * std::cos(two_pi * u3);
  Mat3 r;
  r.m[0] = 1 - 2 * (y * y + z * z), r.m[1] = 2 * (x * y - z * w), r.m[2] = 2 * (x * z + y * w);
  r.m[3] = 2 * (x * y + z * w), r.m[4] = 1 - 2 * (x * x + z * z), r.m[5] = 2 * (y * z - x * w);
  r.m[6] = 2 * (x * z - y * w), r.m[7] = 2 * (y * z + x * w), r.m[8] = 1 - 2 * (x * x + y * y);
  return r;
}

Mat3 axis_angle(Vec3 axis, double angle_deg) {
  return math::rotation_from_vector((angle_deg * 3.14159265358979323846 / 180.0) * math::normalized(axis));
}

std::vector<SyntheticSpot> synthetic_spots(const Geometry& g, const Material& material,
                                           const std::vector<Mat3>& orientations, const SyntheticOptions& o) {
  sim::Rng rng(o.seed);
  std::vector<SyntheticSpot> out;
  for (std::size_t gi = 0; gi < orientations.size(); ++gi) {
    for (const PredictedSpot& p : predict_spots(g, material, orientations[gi], o.energy_min_kev, o.energy_max_kev, o.q_max)) {
      if (p.x < o.margin_px || p.y < o.margin_px || p.x > g.nx - 1 - o.margin_px || p.y > g.ny - 1 - o.margin_px) continue;
      SyntheticSpot s;
      const double q = math::norm(orientations[gi] * Vec3{double(p.h), double(p.k), double(p.l)});
      s.spot = {p.x + o.position_sigma_px * rng.normal(), p.y + o.position_sigma_px * rng.normal(),
                1000.0 * std::exp(-q * q / 1.5) * rng.uniform(0.3, 1.0)};
      s.grain = static_cast<int>(gi);
      s.h = p.h, s.k = p.k, s.l = p.l;
      s.energy_kev = p.energy_kev;
      out.push_back(s);
    }
  }
  const auto n_spurious = static_cast<std::size_t>(std::lround(o.spurious_fraction * static_cast<double>(out.size())));
  for (std::size_t i = 0; i < n_spurious; ++i) {
    SyntheticSpot s;
    s.spot = {rng.uniform(o.margin_px, g.nx - 1 - o.margin_px), rng.uniform(o.margin_px, g.ny - 1 - o.margin_px),
              1000.0 * rng.uniform(0.01, 1.0)};  // as bright as real spots: they enter the pair search
    out.push_back(s);
  }
  for (std::size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[static_cast<std::size_t>(rng.integer(0, static_cast<int>(i) - 1))]);
  return out;
}

Geometry top_detector(int nx, int ny, double pitch_mm, double distance_mm) {
  // Detector plane normal along +z (2theta = 90 deg at the centre), columns along -y... as the
  // .det model with xbet = xgam = 0: e_x = (0, -1, 0), e_y = (1, 0, 0).
  Geometry geo;
  geo.e_x = {0, -1, 0};
  geo.e_y = {1, 0, 0};
  geo.pitch_x = geo.pitch_y = pitch_mm;
  geo.nx = nx;
  geo.ny = ny;
  geo.origin = Vec3{0, 0, distance_mm} - (0.5 * (nx - 1) * pitch_mm) * geo.e_x - (0.5 * (ny - 1) * pitch_mm) * geo.e_y;
  geo.kind = "built-in";
  return geo;
}

}  // namespace laueproc::index
