// The frame model of `laueproc simulate`: layout (scenario, reflections, truth) from one random
// stream, pixels (background + spots + noise) from another, detector defects from a third that
// depends on the seed alone. See include/laueproc/sim.hpp for the model and the truth definitions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "laueproc/error.hpp"
#include "laueproc/math/laue.hpp"
#include "laueproc/sim.hpp"
#include "sim/rng.hpp"

namespace laueproc::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSaturation = 65535.0;
// Spot heights in this band are redrawn, so `saturated` never depends on the noise:
// 0.9 x 65535 is > 25 noise sigmas below saturation, 1.08 x 65535 > 20 sigmas above.
constexpr double kAmbiguousLow = 0.90 * kSaturation;
constexpr double kAmbiguousHigh = 1.08 * kSaturation;
constexpr double kIsolationRadius = 20.0;  // px: no other truth peak centre nearer
constexpr double kDeadRowClearance = 4.0;  // px beyond the 3-sigma footprint
constexpr int kPlacementTries = 200;

// Independent random streams of one scan.
constexpr std::uint64_t kLayoutStream = 1;
constexpr std::uint64_t kNoiseStream = 2;
constexpr std::uint64_t kDetectorStream = 3;
constexpr std::uint64_t kCrystalStream = 4;  // scan-level crystal orientations (physical mode)

/// One Gaussian component of a spot: centre (px), covariance (px^2), peak height.
struct Component {
  double x = 0, y = 0;
  double sxx = 0, syy = 0, sxy = 0;
  double height = 1;  // relative while the shape is built, counts once placed
  int truth = 0;      // truth peak it belongs to (index in the reflection, then in the frame)
};

struct Moments {
  double x = 0, y = 0, sxx = 0, syy = 0, sxy = 0;
  double major_var() const {
    return 0.5 * (sxx + syy) + std::sqrt(0.25 * (sxx - syy) * (sxx - syy) + sxy * sxy);
  }
};

/// Mixture moments with integrated-intensity weights w = height * 2 pi sqrt(det Sigma).
Moments mixture_moments(const std::vector<Component>& comps, int truth) {
  double wsum = 0, mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
  for (const auto& c : comps) {
    if (c.truth != truth) continue;
    const double w = c.height * 2.0 * kPi * std::sqrt(c.sxx * c.syy - c.sxy * c.sxy);
    wsum += w;
    mx += w * c.x;
    my += w * c.y;
    exx += w * (c.sxx + c.x * c.x);
    eyy += w * (c.syy + c.y * c.y);
    exy += w * (c.sxy + c.x * c.y);
  }
  Moments m;
  m.x = mx / wsum;
  m.y = my / wsum;
  m.sxx = exx / wsum - m.x * m.x;
  m.syy = eyy / wsum - m.y * m.y;
  m.sxy = exy / wsum - m.x * m.y;
  return m;
}

/// a = 2 sqrt(l1), b = 2 sqrt(l2), theta of the major axis in [-90, 90) degrees.
void ellipse(const Moments& m, double& a, double& b, double& theta_deg) {
  const double half_trace = 0.5 * (m.sxx + m.syy);
  const double d = std::sqrt(0.25 * (m.sxx - m.syy) * (m.sxx - m.syy) + m.sxy * m.sxy);
  a = 2.0 * std::sqrt(half_trace + d);
  b = 2.0 * std::sqrt(std::max(half_trace - d, 0.0));
  theta_deg = 0.5 * std::atan2(2.0 * m.sxy, m.sxx - m.syy) * 180.0 / kPi;  // (-90, 90]
  if (theta_deg >= 90.0) theta_deg -= 180.0;
}

/// Smooth background: level with a linear gradient, plus a Gaussian-profile halo ring.
struct Background {
  double level = 0, gx = 0, gy = 0;
  double halo = 0, cx = 0, cy = 0, radius = 0, ring_sigma = 1;
  int width = 1, height = 1;

  double gradient(double x, double y) const {
    return level * (1.0 + gx * (x / (width - 1) - 0.5) + gy * (y / (height - 1) - 0.5));
  }
  double at(double x, double y) const {
    const double t = (std::hypot(x - cx, y - cy) - radius) / ring_sigma;
    return gradient(x, y) + halo * std::exp(-0.5 * t * t);
  }
};

struct Layout {
  TruthFrame frame;
  Background bg;
  std::vector<Component> comps;  // absolute positions, heights in counts
  std::vector<TruthPeak> peaks;
  CrystalTruth crystal;          // physical mode only
};

Component round_spot(double sigma) {
  Component c;
  c.sxx = c.syy = sigma * sigma;
  return c;
}

Component elongated_spot(const SimConfig& cfg, Rng& rng) {
  const double ratio = rng.uniform(cfg.gnd_ratio_min, cfg.gnd_ratio_max);
  const double phi = rng.uniform(-0.5 * kPi, 0.5 * kPi);
  const double minor = cfg.sigma_px * cfg.sigma_px;
  const double major = minor * ratio * ratio;
  const double c = std::cos(phi), s = std::sin(phi);
  Component comp;
  comp.sxx = major * c * c + minor * s * s;
  comp.syy = major * s * s + minor * c * c;
  comp.sxy = (major - minor) * c * s;
  return comp;
}

/// Stacked tilt boundaries: 3..5 round sub-peaks on the two arms of a "V" (vertex first, then
/// alternating arms, 3..6 px apart along each arm), shifted so the blob's centroid is at 0.
void stacking_shape(const SimConfig& cfg, Rng& rng, std::vector<Component>& shape) {
  const int n = rng.integer(cfg.stacking_min_sub, cfg.stacking_max_sub);
  const double phi = rng.uniform(0.0, 2.0 * kPi);
  const double half_opening = rng.uniform(20.0, 45.0) * kPi / 180.0;
  double along[2] = {0.0, 0.0};
  for (int k = 0; k < n; ++k) {
    Component c = round_spot(cfg.sigma_px);
    c.height = rng.uniform(0.5, 1.0);
    if (k > 0) {
      const int arm = k % 2;
      along[arm] += rng.uniform(cfg.stacking_spacing_min_px, cfg.stacking_spacing_max_px);
      const double dir = phi + (arm ? half_opening : -half_opening);
      c.x = along[arm] * std::cos(dir);
      c.y = along[arm] * std::sin(dir);
    }
    shape.push_back(c);
  }
  const Moments m = mixture_moments(shape, 0);
  for (auto& c : shape) {
    c.x -= m.x;
    c.y -= m.y;
  }
}

/// Highest value of the shape's components (relative heights) at the pixel centres near (x0, y0).
double unit_peak(const std::vector<Component>& shape, double ox, double oy, double x0, double y0, double radius) {
  double best = 0;
  const int r = static_cast<int>(std::ceil(radius));
  const int cx = static_cast<int>(std::lround(x0)), cy = static_cast<int>(std::lround(y0));
  for (int y = cy - r; y <= cy + r; ++y)
    for (int x = cx - r; x <= cx + r; ++x) {
      double v = 0;
      for (const auto& c : shape) {
        const double det = c.sxx * c.syy - c.sxy * c.sxy;
        const double dx = x - (ox + c.x), dy = y - (oy + c.y);
        const double q = (c.syy * dx * dx - 2.0 * c.sxy * dx * dy + c.sxx * dy * dy) / det;
        v += c.height * std::exp(-0.5 * q);
      }
      best = std::max(best, v);
    }
  return best;
}

/// Spot height amin (amax/amin)^u, u = draw() per attempt, redrawn while a truth peak's top would
/// fall in the band near saturation (so `saturated` never depends on the noise).
template <class Draw>
double spot_amplitude(double amin, double amax, const double* unit, const double* bgc, int n_truth, Draw draw) {
  double amp = amin;
  for (int attempt = 0; attempt < 64; ++attempt) {
    amp = amin * std::pow(amax / amin, draw());
    bool ambiguous = false;
    for (int t = 0; t < n_truth; ++t) {
      const double top = bgc[t] + amp * unit[t];
      if (top > kAmbiguousLow && top < kAmbiguousHigh) ambiguous = true;
    }
    if (!ambiguous) break;
  }
  return amp;
}

/// The truth peaks of one placed shape (components relative to (ox, oy), heights relative) and
/// its components, in counts, into the layout. Returns the number of its first truth peak.
int add_reflection(Layout& L, std::int64_t frame, int reflection, const std::vector<Component>& shape, const Moments* m,
                   const double* unit, const double* bgc, int n_truth, double amp, double ox, double oy) {
  const int first_peak = static_cast<int>(L.peaks.size());
  for (int t = 0; t < n_truth; ++t) {
    TruthPeak tp;
    tp.frame = frame;
    tp.peak = first_peak + t;
    tp.reflection = reflection;
    tp.x = ox + m[t].x;
    tp.y = oy + m[t].y;
    tp.amplitude = amp * unit[t];
    ellipse(m[t], tp.a, tp.b, tp.theta_deg);
    tp.n_sub = 0;
    for (const auto& c : shape) tp.n_sub += c.truth == t ? 1 : 0;
    tp.saturated = bgc[t] + tp.amplitude >= kSaturation;
    L.peaks.push_back(tp);
  }
  for (auto c : shape) {
    c.x += ox;
    c.y += oy;
    c.height *= amp;
    c.truth += first_peak;
    L.comps.push_back(c);
  }
  return first_peak;
}

// ---- physical spots (SimConfig::crystal) -------------------------------------------------------

/// Pixel where reflection hkl of orientation m lands; false when it cannot diffract or misses.
bool spot_pixel(const index::Geometry& g, const index::Mat3& m, const int* hkl, double& x, double& y) {
  const index::Vec3 q = m * index::Vec3{double(hkl[0]), double(hkl[1]), double(hkl[2])};
  if (q.x >= 0) return false;
  return g.kf_to_pixel(math::outgoing_direction(math::normalized(q)), x, y);
}

/// Unit axis drawn uniformly on the sphere.
index::Vec3 random_axis(Rng& rng) {
  const double z = rng.uniform(-1.0, 1.0), phi = rng.uniform(0.0, 2.0 * kPi), r = std::sqrt(1.0 - z * z);
  return {r * std::cos(phi), r * std::sin(phi), z};
}

/// Spots of every crystal in frame L.frame (see CrystalConfig): components, truth peaks, truth hkl.
void place_physical(const SimConfig& cfg, Rng& rng, Layout& L, double amin, double amax) {
  const CrystalConfig& cc = cfg.crystal;
  const index::Geometry& geo = cc.geometry;
  TruthFrame& f = L.frame;
  f.split_dx = f.split_dy = f.split_px = 0;  // the random layout's split vector does not apply
  // Scan-level: the particle's orientation, its bending axes, the other crystals' orientations.
  Rng scan_rng(stream_seed(cfg.seed, 0, kCrystalStream));
  const index::Mat3 base = index::random_rotation(scan_rng.next());
  const index::Vec3 bend_x = random_axis(scan_rng), bend_y = random_axis(scan_rng);
  std::vector<index::Mat3> others;
  for (int g = 0; g < cc.grains; ++g) others.push_back(index::random_rotation(scan_rng.next()));
  // The orientation drifts across the raster (a curved particle: KAM ~ curvature x step).
  const double cx = 0.5 * (cfg.grid_nx - 1) * cfg.step_um, cy = 0.5 * (cfg.grid_ny - 1) * cfg.step_um;
  const index::Mat3 drift = index::axis_angle(bend_x, cc.curvature_deg_per_um * (f.x_um - cx)) *
                            index::axis_angle(bend_y, cc.curvature_deg_per_um * (f.y_um - cy));
  std::vector<index::Mat3> crystals{drift * base};
  for (int g = 1; g < cc.grains; ++g) crystals.push_back(drift * others[static_cast<std::size_t>(g)]);
  if (rng.uniform() < cc.second_grain_fraction) crystals.push_back(drift * others[0] * index::axis_angle({0, 0, 1}, 37.0));

  // Scenario: sub-grains (rotations applied on the lab side) and the streak of curvature.
  struct Sub {
    index::Mat3 rot;
    double height;
    int truth;  // 0 or 1 (split halves)
  };
  std::vector<Sub> subs{{index::Mat3(math::identity3()), 1.0, 0}};
  const bool split = f.scenario == Scenario::tilt_boundary || f.scenario == Scenario::mixed;
  const bool streak = f.scenario == Scenario::gnd || f.scenario == Scenario::mixed;
  double tilt_deg = 0;
  if (split) {
    tilt_deg = rng.uniform(cfg.split_min_px, cfg.split_max_px) * cfg.deg_per_px;
    subs.push_back({index::axis_angle(random_axis(rng), tilt_deg), rng.uniform(cfg.split_ratio_min, 1.0), 1});
  }
  if (f.scenario == Scenario::stacking) {
    const int n = rng.integer(cfg.stacking_min_sub, cfg.stacking_max_sub);
    const index::Vec3 arm[2] = {random_axis(rng), random_axis(rng)};
    double along[2] = {0, 0};
    subs[0].height = rng.uniform(0.5, 1.0);
    for (int k = 1; k < n; ++k) {
      along[k % 2] += rng.uniform(0.05, 0.12);
      subs.push_back({index::axis_angle(arm[k % 2], along[k % 2]), rng.uniform(0.5, 1.0), 0});
    }
  }
  const index::Vec3 bend = random_axis(rng);
  const double spread = streak ? rng.uniform(cc.gnd_spread_min_deg, cc.gnd_spread_max_deg) * kPi / 180.0 : 0.0;
  f.misorientation_deg = tilt_deg;
  if (streak) {
    L.crystal.bend_axis = bend;
    L.crystal.gnd_spread_deg = spread * 180.0 / kPi;
  }
  L.crystal.tilt_deg = tilt_deg;

  std::vector<double> split_len;
  std::vector<std::pair<double, double>> split_vec;
  int reflection = 0;
  for (std::size_t g = 0; g < crystals.size(); ++g) {
    const index::Mat3 m = crystals[g] * cc.material.b0;
    // Truth grain of each split half: the crystal, and its tilted sub-grain as a grain of its own.
    int truth_grain[2] = {static_cast<int>(L.crystal.grains.size()), -1};
    L.crystal.grains.push_back({truth_grain[0], m});
    if (split) {
      truth_grain[1] = static_cast<int>(L.crystal.grains.size());
      L.crystal.grains.push_back({truth_grain[1], subs[1].rot * m});
    }
    for (const index::PredictedSpot& p : index::predict_spots(geo, cc.material, m, cc.energy_min_kev, cc.energy_max_kev, cc.q_max)) {
      const int hkl[3] = {p.h, p.k, p.l};
      std::vector<Component> comps;
      bool inside = true;
      for (const Sub& sub : subs) {
        Component c = round_spot(cfg.sigma_px);
        if (!spot_pixel(geo, sub.rot * m, hkl, c.x, c.y)) {
          inside = false;
          break;
        }
        if (streak) {  // d pixel / d angle about the bending axis, times the spread
          double xp = 0, yp = 0, xm = 0, ym = 0;
          const double eps = 1e-4;
          if (!spot_pixel(geo, index::axis_angle(bend, eps * 180 / kPi) * sub.rot * m, hkl, xp, yp) ||
              !spot_pixel(geo, index::axis_angle(bend, -eps * 180 / kPi) * sub.rot * m, hkl, xm, ym)) {
            inside = false;
            break;
          }
          const double vx = (xp - xm) / (2 * eps) * spread, vy = (yp - ym) / (2 * eps) * spread;
          // A uniform rotation over `spread` adds variance length^2 / 12 along the path.
          c.sxx += vx * vx / 12.0, c.syy += vy * vy / 12.0, c.sxy += vx * vy / 12.0;
        }
        c.height = sub.height;
        c.truth = sub.truth;
        const double sig = std::sqrt(0.5 * (c.sxx + c.syy) + std::sqrt(0.25 * (c.sxx - c.syy) * (c.sxx - c.syy) + c.sxy * c.sxy));
        const double margin = std::max(cfg.edge_margin_px, 4.0 * sig + 2.0);
        if (c.x < margin || c.y < margin || c.x > cfg.width - 1 - margin || c.y > cfg.height - 1 - margin) {
          inside = false;
          break;
        }
        comps.push_back(c);
      }
      if (!inside) continue;
      const int n_truth = split ? 2 : 1;
      // Relative to the first component, as the random layout's shapes.
      const double ox = comps[0].x, oy = comps[0].y;
      for (auto& c : comps) c.x -= ox, c.y -= oy;
      Moments mo[2];
      double unit[2], bgc[2];
      for (int t = 0; t < n_truth; ++t) {
        mo[t] = mixture_moments(comps, t);
        const double search = f.scenario == Scenario::stacking ? 2.0 * std::sqrt(mo[t].major_var()) + 1.0 : 2.0;
        unit[t] = unit_peak(comps, ox, oy, ox + mo[t].x, oy + mo[t].y, search);
        bgc[t] = L.bg.at(ox + mo[t].x, oy + mo[t].y);
      }
      // Brighter at low |q| (structure factors and the spectrum fall), with a random factor.
      const double qn = math::norm(m * index::Vec3{double(p.h), double(p.k), double(p.l)});
      const double amp = spot_amplitude(amin, amax, unit, bgc, n_truth, [&] {
        return std::min(1.0, std::exp(-qn * qn / 1.2) * rng.uniform(0.4, 1.3));
      });
      const int first_peak = add_reflection(L, f.frame, reflection, comps, mo, unit, bgc, n_truth, amp, ox, oy);
      for (int t = 0; t < n_truth; ++t) L.crystal.spots.push_back({first_peak + t, truth_grain[t], p.h, p.k, p.l, p.energy_kev});
      if (split) {
        split_len.push_back(std::hypot(mo[1].x - mo[0].x, mo[1].y - mo[0].y));
        split_vec.push_back({mo[1].x - mo[0].x, mo[1].y - mo[0].y});
      }
      ++reflection;
    }
  }
  const int n_real = reflection;
  const int n_spurious = static_cast<int>(std::lround(cc.spurious_fraction * n_real));
  for (int k = 0; k < n_spurious; ++k) {
    Component c = round_spot(cfg.sigma_px);
    const double margin = cfg.edge_margin_px;
    const double x = rng.uniform(margin, cfg.width - 1 - margin), y = rng.uniform(margin, cfg.height - 1 - margin);
    const double amp = amin * std::pow(amax / amin, rng.uniform(0.0, 0.5));
    TruthPeak tp;
    tp.frame = f.frame;
    tp.peak = static_cast<int>(L.peaks.size());
    tp.reflection = reflection++;
    tp.x = x, tp.y = y;
    tp.amplitude = amp;
    tp.a = tp.b = 2 * cfg.sigma_px;
    tp.saturated = L.bg.at(x, y) + amp >= kSaturation;
    c.x = x, c.y = y, c.height = amp, c.truth = tp.peak;
    L.peaks.push_back(tp);
    L.comps.push_back(c);
    L.crystal.spots.push_back({tp.peak, -1, 0, 0, 0, 0.0});
  }
  if (!split_len.empty()) {  // the median split (it varies over the pattern)
    std::vector<std::size_t> order(split_len.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(order.size() / 2), order.end(),
                     [&](std::size_t a, std::size_t b) { return split_len[a] < split_len[b]; });
    const std::size_t mid = order[order.size() / 2];
    f.split_px = split_len[mid];
    f.split_dx = split_vec[mid].first;
    f.split_dy = split_vec[mid].second;
    if (f.split_dx < 0 || (f.split_dx == 0 && f.split_dy < 0)) f.split_dx = -f.split_dx, f.split_dy = -f.split_dy;
  }
}

Layout make_layout(const SimConfig& cfg, int dead_row, const std::vector<ScanSimulator::HotPixel>& hot,
                   std::int64_t index) {
  Layout L;
  Rng rng(stream_seed(cfg.seed, static_cast<std::uint64_t>(index), kLayoutStream));
  TruthFrame& f = L.frame;
  f.frame = index;
  f.ix = static_cast<int>(index % cfg.grid_nx);
  f.iy = static_cast<int>(index / cfg.grid_nx);
  f.x_um = f.ix * cfg.step_um;
  f.y_um = f.iy * cfg.step_um;

  if (cfg.only) {
    f.scenario = *cfg.only;
    rng.next();  // keep the stream aligned with the weighted choice
  } else {
    double total = 0;
    for (double w : cfg.scenario_weights) total += w;
    double u = rng.uniform() * total;
    int pick = 4;
    for (int s = 0; s < 5; ++s) {
      if (u < cfg.scenario_weights[static_cast<std::size_t>(s)]) {
        pick = s;
        break;
      }
      u -= cfg.scenario_weights[static_cast<std::size_t>(s)];
    }
    while (cfg.scenario_weights[static_cast<std::size_t>(pick)] <= 0) --pick;  // rounding at the top end
    f.scenario = static_cast<Scenario>(pick);
  }

  // Background.
  Background& bg = L.bg;
  bg.width = cfg.width;
  bg.height = cfg.height;
  bg.level = rng.uniform(cfg.background_min, cfg.background_max);
  bg.gx = rng.uniform(-cfg.gradient_fraction, cfg.gradient_fraction);
  bg.gy = rng.uniform(-cfg.gradient_fraction, cfg.gradient_fraction);
  bg.halo = bg.level * rng.uniform(cfg.halo_min, cfg.halo_max);
  const double side = std::min(cfg.width, cfg.height);
  bg.cx = 0.5 * (cfg.width - 1) + rng.uniform(-0.05, 0.05) * cfg.width;
  bg.cy = 0.5 * (cfg.height - 1) + rng.uniform(-0.05, 0.05) * cfg.height;
  bg.radius = side * rng.uniform(0.30, 0.45);
  // FWHM = 0.1 of the frame, but never under 200 px: the glass halo is a detector-scale feature
  // (about 200 px on the 2048 px panel), so a small frame, a region of that panel, sees it broad.
  bg.ring_sigma = std::max(0.1 * side, 200.0) / 2.3548;
  {
    constexpr int kSamples = 64;  // mean of the smooth model on a 64 x 64 grid of cell centres
    double sum = 0;
    for (int j = 0; j < kSamples; ++j)
      for (int i = 0; i < kSamples; ++i)
        sum += bg.at((i + 0.5) * (cfg.width - 1) / kSamples, (j + 0.5) * (cfg.height - 1) / kSamples);
    f.background_mean = sum / (kSamples * kSamples);
  }
  f.noise_sigma = std::sqrt(f.background_mean + cfg.read_noise * cfg.read_noise);

  const int n_target = rng.integer(cfg.min_reflections, cfg.max_reflections);
  const bool split = f.scenario == Scenario::tilt_boundary || f.scenario == Scenario::mixed;
  if (split) {
    // Canonical sign as in FrameSummary: dx > 0 (angle in (-90, 90) degrees).
    const double len = rng.uniform(cfg.split_min_px, cfg.split_max_px);
    const double ang = rng.uniform(-0.5 * kPi, 0.5 * kPi);
    f.split_dx = len * std::cos(ang);
    f.split_dy = len * std::sin(ang);
    f.split_px = len;
    f.misorientation_deg = len * cfg.deg_per_px;
  }

  const double amin = cfg.amplitude_min_snr * f.noise_sigma;
  const double amax = std::max(cfg.amplitude_max, 2.0 * amin);
  if (cfg.crystal.enabled) place_physical(cfg, rng, L, amin, amax);
  struct Placed {
    double x, y, extent;
  };
  std::vector<Placed> placed;
  std::vector<Component> shape;
  int reflection = 0;
  for (int r = 0; r < (cfg.crystal.enabled ? 0 : n_target); ++r) {  // random places unless physical
    shape.clear();
    int n_truth = 1;
    switch (f.scenario) {
      case Scenario::gnd:
        shape.push_back(elongated_spot(cfg, rng));
        break;
      case Scenario::tilt_boundary:
      case Scenario::mixed: {
        Component first = f.scenario == Scenario::mixed ? elongated_spot(cfg, rng) : round_spot(cfg.sigma_px);
        Component second = first;  // both halves of a split reflection share the streak
        second.x = f.split_dx;
        second.y = f.split_dy;
        second.height = rng.uniform(cfg.split_ratio_min, 1.0);
        second.truth = 1;
        shape.push_back(first);
        shape.push_back(second);
        n_truth = 2;
        break;
      }
      case Scenario::stacking:
        stacking_shape(cfg, rng, shape);
        break;
      default:
        shape.push_back(round_spot(cfg.sigma_px));
    }
    Moments m[2];
    double extent[2], margin[2];
    for (int t = 0; t < n_truth; ++t) {
      m[t] = mixture_moments(shape, t);
      const double sig = std::sqrt(m[t].major_var());
      extent[t] = 3.0 * sig;
      margin[t] = std::max(cfg.edge_margin_px, 4.0 * sig + 2.0);
    }
    bool ok = false;
    double px = 0, py = 0;
    for (int attempt = 0; attempt < kPlacementTries && !ok; ++attempt) {
      px = rng.uniform(margin[0], cfg.width - 1 - margin[0]);
      py = rng.uniform(margin[0], cfg.height - 1 - margin[0]);
      ok = true;
      for (int t = 0; t < n_truth && ok; ++t) {
        const double cx = px + m[t].x, cy = py + m[t].y;
        if (cx < margin[t] || cy < margin[t] || cx > cfg.width - 1 - margin[t] || cy > cfg.height - 1 - margin[t]) {
          ok = false;
          break;
        }
        for (const auto& p : placed)
          if (std::hypot(cx - p.x, cy - p.y) < std::max(cfg.min_separation_px, extent[t] + p.extent)) {
            ok = false;
            break;
          }
        for (const auto& h : hot)
          if (ok && std::hypot(cx - h.x, cy - h.y) < margin[t]) ok = false;
      }
    }
    if (!ok) continue;  // frame too crowded for this reflection: place fewer

    // Peak heights: log-uniform (heavy-tailed), redrawn inside the ambiguous band near saturation.
    double unit[2], bgc[2];
    for (int t = 0; t < n_truth; ++t) {
      // A single spot peaks at its centre; a stacking blob at one of its sub-peaks, within ~a.
      const double search = f.scenario == Scenario::stacking ? 2.0 * std::sqrt(m[t].major_var()) + 1.0 : 2.0;
      unit[t] = unit_peak(shape, px, py, px + m[t].x, py + m[t].y, search);
      bgc[t] = bg.at(px + m[t].x, py + m[t].y);
    }
    const double amp = spot_amplitude(amin, amax, unit, bgc, n_truth, [&] { return rng.uniform(); });
    const int first_peak = add_reflection(L, index, reflection, shape, m, unit, bgc, n_truth, amp, px, py);
    for (int t = 0; t < n_truth; ++t) {
      const TruthPeak& tp = L.peaks[static_cast<std::size_t>(first_peak + t)];
      placed.push_back({tp.x, tp.y, extent[t]});
    }
    ++reflection;
  }

  // Isolation and the frame's SE.
  double se_sum = 0;
  int se_n = 0;
  for (auto& p : L.peaks) {
    bool iso = !p.saturated;
    const double foot = 1.5 * p.a;  // 3 sigma of the major axis
    if (dead_row >= 0 && std::abs(p.y - dead_row) <= kDeadRowClearance + foot) iso = false;
    if (p.x - foot < 0 || p.y - foot < 0 || p.x + foot > cfg.width - 1 || p.y + foot > cfg.height - 1) iso = false;
    for (const auto& q : L.peaks)
      if (&q != &p && std::hypot(q.x - p.x, q.y - p.y) < kIsolationRadius) iso = false;
    p.isolated = iso;
    if (!p.saturated) {
      se_sum += p.a * p.b / (cfg.r_unit_px * cfg.r_unit_px);
      ++se_n;
    }
  }
  if (cfg.crystal.enabled) reflection = L.peaks.empty() ? 0 : L.peaks.back().reflection + 1;
  f.n_reflections = reflection;
  f.n_peaks = static_cast<int>(L.peaks.size());
  f.se_true = se_n > 0 ? se_sum / se_n : std::numeric_limits<double>::quiet_NaN();
  return L;
}

/// Background + spots (noise-free, unclipped) into `model`.
void render_model_into(const SimConfig& cfg, const Layout& L, std::vector<float>& model, bool with_background) {
  const int W = cfg.width, H = cfg.height;
  model.resize(static_cast<std::size_t>(W) * static_cast<std::size_t>(H));
  if (with_background) {
    const Background& bg = L.bg;
    // Halo profile tabulated along the radius (quarter-pixel steps, linear interpolation): one
    // sqrt per pixel instead of an exp.
    constexpr double kStep = 0.25;
    thread_local std::vector<float> halo, gradx;
    const double rmax = std::hypot(W, H) + std::hypot(bg.cx, bg.cy) + 4.0;
    halo.resize(static_cast<std::size_t>(rmax / kStep) + 2);
    for (std::size_t k = 0; k < halo.size(); ++k) {
      const double t = (static_cast<double>(k) * kStep - bg.radius) / bg.ring_sigma;
      halo[k] = static_cast<float>(bg.halo * std::exp(-0.5 * t * t));
    }
    gradx.resize(static_cast<std::size_t>(W));
    for (int x = 0; x < W; ++x) gradx[x] = static_cast<float>(bg.level * bg.gx * (static_cast<double>(x) / (W - 1) - 0.5));
    for (int y = 0; y < H; ++y) {
      float* row = model.data() + static_cast<std::size_t>(y) * W;
      const float base = static_cast<float>(bg.level * (1.0 + bg.gy * (static_cast<double>(y) / (H - 1) - 0.5)));
      const float dy2 = static_cast<float>((y - bg.cy) * (y - bg.cy));
      const float cx = static_cast<float>(bg.cx);
      for (int x = 0; x < W; ++x) {
        const float dx = static_cast<float>(x) - cx;
        const float t = std::sqrt(dx * dx + dy2) * static_cast<float>(1.0 / kStep);
        const auto k = static_cast<std::size_t>(t);
        const float frac = t - static_cast<float>(k);
        row[x] = base + gradx[x] + halo[k] + frac * (halo[k + 1] - halo[k]);
      }
    }
  } else {
    std::fill(model.begin(), model.end(), 0.0f);
  }
  // Spots: pixel-centre samples within +-5 sigma of the major axis.
  for (const auto& c : L.comps) {
    const double det = c.sxx * c.syy - c.sxy * c.sxy;
    const double ixx = c.syy / det, iyy = c.sxx / det, ixy = -c.sxy / det;
    const double major = 0.5 * (c.sxx + c.syy) + std::sqrt(0.25 * (c.sxx - c.syy) * (c.sxx - c.syy) + c.sxy * c.sxy);
    const int r = static_cast<int>(std::ceil(5.0 * std::sqrt(major)));
    const int x0 = std::max(0, static_cast<int>(std::floor(c.x)) - r), x1 = std::min(W - 1, static_cast<int>(std::ceil(c.x)) + r);
    const int y0 = std::max(0, static_cast<int>(std::floor(c.y)) - r), y1 = std::min(H - 1, static_cast<int>(std::ceil(c.y)) + r);
    for (int y = y0; y <= y1; ++y) {
      float* row = model.data() + static_cast<std::size_t>(y) * W;
      const double dy = y - c.y;
      for (int x = x0; x <= x1; ++x) {
        const double dx = x - c.x;
        const double q = ixx * dx * dx + 2.0 * ixy * dx * dy + iyy * dy * dy;
        if (q < 50.0) row[x] += static_cast<float>(c.height * std::exp(-0.5 * q));
      }
    }
  }
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> describe(const SimConfig& c) {
  std::string weights;
  for (std::size_t k = 0; k < c.scenario_weights.size(); ++k) weights += (k ? "," : "") + fmt(c.scenario_weights[k]);
  std::vector<std::pair<std::string, std::string>> out = {
      {"width", std::to_string(c.width)},
      {"height", std::to_string(c.height)},
      {"grid_nx", std::to_string(c.grid_nx)},
      {"grid_ny", std::to_string(c.grid_ny)},
      {"step_um", fmt(c.step_um)},
      {"seed", std::to_string(c.seed)},
      {"scenario_weights", weights},
      {"only", c.only ? std::string(to_string(*c.only)) : std::string("none")},
      {"min_reflections", std::to_string(c.min_reflections)},
      {"max_reflections", std::to_string(c.max_reflections)},
      {"sigma_px", fmt(c.sigma_px)},
      {"min_separation_px", fmt(c.min_separation_px)},
      {"edge_margin_px", fmt(c.edge_margin_px)},
      {"gnd_ratio_min", fmt(c.gnd_ratio_min)},
      {"gnd_ratio_max", fmt(c.gnd_ratio_max)},
      {"split_min_px", fmt(c.split_min_px)},
      {"split_max_px", fmt(c.split_max_px)},
      {"split_ratio_min", fmt(c.split_ratio_min)},
      {"stacking_min_sub", std::to_string(c.stacking_min_sub)},
      {"stacking_max_sub", std::to_string(c.stacking_max_sub)},
      {"stacking_spacing_min_px", fmt(c.stacking_spacing_min_px)},
      {"stacking_spacing_max_px", fmt(c.stacking_spacing_max_px)},
      {"amplitude_min_snr", fmt(c.amplitude_min_snr)},
      {"amplitude_max", fmt(c.amplitude_max)},
      {"background_min", fmt(c.background_min)},
      {"background_max", fmt(c.background_max)},
      {"gradient_fraction", fmt(c.gradient_fraction)},
      {"halo_min", fmt(c.halo_min)},
      {"halo_max", fmt(c.halo_max)},
      {"read_noise", fmt(c.read_noise)},
      {"hot_pixels_min", std::to_string(c.hot_pixels_min)},
      {"hot_pixels_max", std::to_string(c.hot_pixels_max)},
      {"dead_row", c.dead_row ? "true" : "false"},
      {"deg_per_px", fmt(c.deg_per_px)},
      {"r_unit_px", fmt(c.r_unit_px)},
  };
  if (c.crystal.enabled) {
    const CrystalConfig& cc = c.crystal;
    const auto& L = cc.material.lattice;
    out.insert(out.end(), {{"crystal.material", cc.material.name},
                           {"crystal.lattice", fmt(L.a) + "," + fmt(L.b) + "," + fmt(L.c) + "," + fmt(L.alpha) + "," +
                                                   fmt(L.beta) + "," + fmt(L.gamma)},
                           {"crystal.space_group", std::to_string(cc.material.space_group)},
                           {"crystal.geometry", cc.geometry.source.empty() ? cc.geometry.kind : cc.geometry.source},
                           {"crystal.energy_min_kev", fmt(cc.energy_min_kev)},
                           {"crystal.energy_max_kev", fmt(cc.energy_max_kev)},
                           {"crystal.q_max", fmt(cc.q_max)},
                           {"crystal.grains", std::to_string(cc.grains)},
                           {"crystal.second_grain_fraction", fmt(cc.second_grain_fraction)},
                           {"crystal.curvature_deg_per_um", fmt(cc.curvature_deg_per_um)},
                           {"crystal.gnd_spread_min_deg", fmt(cc.gnd_spread_min_deg)},
                           {"crystal.gnd_spread_max_deg", fmt(cc.gnd_spread_max_deg)},
                           {"crystal.spurious_fraction", fmt(cc.spurious_fraction)}});
  }
  return out;
}

ScanSimulator::ScanSimulator(SimConfig config) : config_(std::move(config)) {
  const SimConfig& c = config_;
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw UsageError("simulate: " + what);
  };
  require(c.width >= 64 && c.height >= 64, "frames must be at least 64 x 64 pixels");
  require(c.width <= 16384 && c.height <= 16384, "frames must be at most 16384 x 16384 pixels");
  require(c.grid_nx >= 1 && c.grid_ny >= 1, "the grid needs at least 1 x 1 points");
  require(c.step_um > 0, "the raster step must be positive");
  require(!c.only || *c.only != Scenario::unknown, "'unknown' is not a scenario that can be simulated");
  double total = 0;
  for (double w : c.scenario_weights) {
    require(w >= 0 && std::isfinite(w), "scenario weights must be finite and not negative");
    total += w;
  }
  require(c.only || total > 0, "at least one scenario weight must be positive");
  require(c.min_reflections >= 1 && c.min_reflections <= c.max_reflections, "reflections: need 1 <= min <= max");
  require(c.sigma_px >= 1.0 && c.sigma_px <= 10.0, "sigma_px must lie in [1, 10] (pixel-centre sampling)");
  require(c.gnd_ratio_min >= 1.0 && c.gnd_ratio_min <= c.gnd_ratio_max, "GND ratios: need 1 <= min <= max");
  require(c.split_min_px > 0 && c.split_min_px <= c.split_max_px, "split lengths: need 0 < min <= max");
  require(c.split_ratio_min > 0 && c.split_ratio_min <= 1, "split intensity ratio must lie in (0, 1]");
  require(c.stacking_min_sub >= 2 && c.stacking_min_sub <= c.stacking_max_sub, "stacking sub-peaks: need 2 <= min <= max");
  require(c.stacking_spacing_min_px > 0 && c.stacking_spacing_min_px <= c.stacking_spacing_max_px,
          "stacking spacing: need 0 < min <= max");
  require(c.amplitude_min_snr > 0 && c.amplitude_max > 0, "amplitudes must be positive");
  require(c.background_min >= 0 && c.background_min <= c.background_max, "background: need 0 <= min <= max");
  require(c.gradient_fraction >= 0 && c.gradient_fraction < 1, "gradient fraction must lie in [0, 1)");
  require(c.halo_min >= 0 && c.halo_min <= c.halo_max, "halo: need 0 <= min <= max");
  require(c.read_noise >= 0, "read noise must not be negative");
  require(c.hot_pixels_min >= 0 && c.hot_pixels_min <= c.hot_pixels_max, "hot pixels: need 0 <= min <= max");
  require(c.hot_pixels_max <= c.width * c.height / 64, "hot pixels: at most one per 64 pixels");
  require(c.r_unit_px > 0 && c.deg_per_px > 0 && c.min_separation_px >= 0 && c.edge_margin_px >= 0,
          "r_unit, deg_per_px, separation and margin must be positive");
  if (c.crystal.enabled) {
    const CrystalConfig& cc = c.crystal;
    require(cc.geometry.nx == c.width && cc.geometry.ny == c.height,
            "the detector geometry is " + std::to_string(cc.geometry.nx) + " x " + std::to_string(cc.geometry.ny) +
                " pixels but the frames are " + std::to_string(c.width) + " x " + std::to_string(c.height));
    require(!cc.material.symmetry.empty(), "physical spots need a material (--material or --lattice/--space-group)");
    require(cc.energy_min_kev > 0 && cc.energy_min_kev < cc.energy_max_kev, "energy band: need 0 < min < max");
    require(cc.q_max > 0 && cc.q_max <= 5, "q_max must lie in (0, 5] 1/Angstrom");
    require(cc.grains >= 1 && cc.grains <= 8, "crystals per frame: 1..8");
    require(cc.second_grain_fraction >= 0 && cc.second_grain_fraction <= 1, "second-grain fraction must lie in [0, 1]");
    require(cc.spurious_fraction >= 0 && cc.spurious_fraction <= 1, "spurious fraction must lie in [0, 1]");
    require(cc.gnd_spread_min_deg >= 0 && cc.gnd_spread_min_deg <= cc.gnd_spread_max_deg, "GND spread: need 0 <= min <= max");
  }

  // Detector defects: the same in every frame, drawn from the seed alone.
  Rng rng(stream_seed(c.seed, 0, kDetectorStream));
  dead_row_ = rng.integer(0, c.height - 1);
  if (!c.dead_row) dead_row_ = -1;
  const int n_hot = rng.integer(c.hot_pixels_min, c.hot_pixels_max);
  while (static_cast<int>(hot_.size()) < n_hot) {
    HotPixel h{rng.integer(0, c.width - 1), rng.integer(0, c.height - 1),
               static_cast<std::uint16_t>(rng.integer(5000, 60000))};
    if (h.y == dead_row_) continue;
    bool dup = false;
    // Isolated single pixels, as the peak finder's hot-pixel rule expects: none within 2 px of
    // another (clusters of hot pixels need a static hot-pixel map, not a per-frame rule).
    for (const auto& o : hot_) dup = dup || (std::abs(o.x - h.x) <= 2 && std::abs(o.y - h.y) <= 2);
    if (!dup) hot_.push_back(h);
  }
}

std::int64_t ScanSimulator::n_frames() const {
  return static_cast<std::int64_t>(config_.grid_nx) * static_cast<std::int64_t>(config_.grid_ny);
}

TruthFrame ScanSimulator::frame_truth(std::int64_t i) const { return make_layout(config_, dead_row_, hot_, i).frame; }

CrystalTruth ScanSimulator::crystal_truth(std::int64_t i) const {
  return make_layout(config_, dead_row_, hot_, i).crystal;
}

std::vector<TruthPeak> ScanSimulator::truth_peaks(std::int64_t i) const {
  return make_layout(config_, dead_row_, hot_, i).peaks;
}

void ScanSimulator::render_model(std::int64_t i, std::vector<float>& model, bool with_background) const {
  const Layout L = make_layout(config_, dead_row_, hot_, i);
  render_model_into(config_, L, model, with_background);
}

void ScanSimulator::render(std::int64_t i, std::vector<std::uint16_t>& pixels, std::vector<TruthPeak>* truth) const {
  if (i < 0 || i >= n_frames())
    throw UsageError("simulate: frame " + std::to_string(i) + " outside 0.." + std::to_string(n_frames() - 1));
  Layout L = make_layout(config_, dead_row_, hot_, i);
  thread_local std::vector<float> model;
  render_model_into(config_, L, model, true);

  // Noise: Poisson (normal approximation above a mean of 30, where its error is small next to
  // the read noise and the spots) plus Gaussian read noise, rounded and clipped to uint16.
  Rng rng(stream_seed(config_.seed, static_cast<std::uint64_t>(i), kNoiseStream));
  const double read = config_.read_noise, read2 = read * read;
  pixels.resize(model.size());
  const std::size_t n = model.size();
  for (std::size_t p = 0; p < n; ++p) {
    const double lam = model[p];
    double v;
    if (lam > 30.0)
      v = lam + std::sqrt(lam + read2) * rng.normal();
    else
      v = (lam > 0 ? rng.poisson_small(lam) : 0) + read * rng.normal();
    v = std::floor(v + 0.5);
    pixels[p] = static_cast<std::uint16_t>(v <= 0.0 ? 0.0 : (v >= kSaturation ? kSaturation : v));
  }
  const std::size_t W = static_cast<std::size_t>(config_.width);
  for (const auto& h : hot_) pixels[static_cast<std::size_t>(h.y) * W + static_cast<std::size_t>(h.x)] = h.value;
  if (dead_row_ >= 0) std::fill_n(pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(dead_row_) * W), W, std::uint16_t{0});
  if (truth) *truth = std::move(L.peaks);
}

}  // namespace laueproc::sim
