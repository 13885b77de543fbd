// laueproc correlate: SE maps (laueproc process) against white-line maps (laueproc xanes), per
// particle, across particles and between states.
#include "laueproc/correlate.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <numeric>

#include "io/h5.hpp"
#include "laueproc/error.hpp"
#include "laueproc/version.hpp"

namespace laueproc::correlate {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string shape_text(std::size_t ny, std::size_t nx) { return std::to_string(ny) + " x " + std::to_string(nx); }

// A 2-D numeric dataset read as `mem_type` into T; dims returned.
template <typename T>
std::vector<T> read_2d(hid_t file, const std::string& filename, const std::string& path, hid_t mem_type,
                       std::size_t& ny, std::size_t& nx, const std::string& hint) {
  if (!h5::exists(file, path)) throw InputError(filename, "no dataset " + path + hint);
  h5::Handle ds = h5::open_dataset(file, path, filename);
  auto dims = h5::shape(ds, filename, path);
  if (dims.size() != 2) throw InputError(filename, path + " should be 2-D (ny, nx), has rank " + std::to_string(dims.size()));
  h5::Handle type = h5::wrap(H5Dget_type(ds), H5Tclose, filename, "cannot read the type of " + path);
  const H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT && cls != H5T_ENUM) throw InputError(filename, path + " is not numeric");
  ny = dims[0];
  nx = dims[1];
  std::vector<T> v(ny * nx);
  if (!v.empty()) h5::check(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), filename, "cannot read " + path);
  return v;
}

struct XanesMaps {
  std::size_t ny = 0, nx = 0;
  std::vector<double> wl;              // eV, NaN where status is not ok
  std::vector<std::int32_t> particles; // may be empty when not read
};

struct SeMap {
  std::size_t ny = 0, nx = 0;
  std::vector<double> se;
};

SeMap read_se(const std::string& path) {
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::open_read(path);
  SeMap m;
  m.se = read_2d<double>(file, path, "/maps/se/se", H5T_NATIVE_DOUBLE, m.ny, m.nx, " (not a laueproc process results file?)");
  if (std::none_of(m.se.begin(), m.se.end(), [](double v) { return std::isfinite(v); }))
    throw InputError(path, "/maps/se/se is all NaN (no frame was processed?)");
  return m;
}

XanesMaps read_xanes(const std::string& path, bool want_particles) {
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::open_read(path);
  XanesMaps m;
  const std::string hint = " (not a laueproc xanes results file?)";
  m.wl = read_2d<double>(file, path, "/xanes/white_line_ev", H5T_NATIVE_DOUBLE, m.ny, m.nx, hint);
  std::size_t sy = 0, sx = 0;
  auto status = read_2d<std::int8_t>(file, path, "/xanes/status", H5T_NATIVE_INT8, sy, sx, hint);
  if (sy != m.ny || sx != m.nx)
    throw InputError(path, "/xanes/status is " + shape_text(sy, sx) + ", /xanes/white_line_ev " + shape_text(m.ny, m.nx));
  bool any = false;
  for (std::size_t p = 0; p < m.wl.size(); ++p) {
    if (status[p] != 0 || !std::isfinite(m.wl[p])) m.wl[p] = kNaN;  // only status ok counts
    else any = true;
  }
  if (!any) throw InputError(path, "/xanes/white_line_ev has no finite value with status ok (all NaN)");
  if (want_particles) {
    m.particles = read_2d<std::int32_t>(file, path, "/xanes/particles", H5T_NATIVE_INT32, sy, sx,
                                        " (laueproc xanes writes it unless --mask-source none)");
    if (sy != m.ny || sx != m.nx)
      throw InputError(path, "/xanes/particles is " + shape_text(sy, sx) + ", /xanes/white_line_ev " + shape_text(m.ny, m.nx));
    if (std::none_of(m.particles.begin(), m.particles.end(), [](std::int32_t l) { return l > 0; }))
      throw InputError(path, "/xanes/particles holds no particle (all 0): check the mask (--mask-threshold, --xrf)");
  }
  return m;
}

// Screens out raster points where indexing did not find exactly one crystal (NaN SE there).
void mask_single_crystal(SeMap& se, const StateInput& in) {
  const std::string& path = in.index_path.empty() ? in.process_path : in.index_path;
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::open_read(path);
  std::size_t ny = 0, nx = 0;
  const auto mask = read_2d<std::uint8_t>(file, path, "/maps/single_crystal/single_crystal", H5T_NATIVE_UINT8, ny, nx,
                                          " (index the peaks first: laueproc index, or process --index)");
  if (ny != se.ny || nx != se.nx)
    throw InputError(path, "single-crystal mask is " + shape_text(ny, nx) + " but the SE map of " + in.process_path +
                               " is " + shape_text(se.ny, se.nx));
  for (std::size_t p = 0; p < mask.size(); ++p)
    if (!mask[p]) se.se[p] = kNaN;
  if (std::none_of(se.se.begin(), se.se.end(), [](double v) { return std::isfinite(v); }))
    throw InputError(path, "no raster point holds exactly one crystal: nothing left with --single-crystal-only");
}

// SE on the XANES grid (see Alignment).
std::vector<double> align_se(const SeMap& se, std::size_t ny, std::size_t nx, const Alignment& a,
                             const StateInput& in) {
  if (!a.given && (se.ny != ny || se.nx != nx))
    throw InputError(in.xanes_path, "white-line map is " + shape_text(ny, nx) + " but /maps/se/se in " + in.process_path +
                                        " is " + shape_text(se.ny, se.nx) +
                                        " (same raster needed, or give --offset DX,DY / --scale S)");
  if (a.scale == 0 || a.scale == -1) throw UsageError("--scale must be S >= 1 or 1/S with S >= 2");
  std::size_t sy = se.ny, sx = se.nx;
  std::vector<double> scaled;
  const std::vector<double>* src = &se.se;
  if (a.scale > 1) {  // SE finer: block means of finite values
    const auto s = static_cast<std::size_t>(a.scale);
    sy = se.ny / s;
    sx = se.nx / s;
    scaled.assign(sy * sx, kNaN);
    for (std::size_t y = 0; y < sy; ++y)
      for (std::size_t x = 0; x < sx; ++x) {
        double sum = 0;
        std::size_t n = 0;
        for (std::size_t yy = y * s; yy < (y + 1) * s; ++yy)
          for (std::size_t xx = x * s; xx < (x + 1) * s; ++xx) {
            const double v = se.se[yy * se.nx + xx];
            if (std::isfinite(v)) {
              sum += v;
              ++n;
            }
          }
        if (n) scaled[y * sx + x] = sum / static_cast<double>(n);
      }
    src = &scaled;
  }
  const std::size_t up = a.scale < -1 ? static_cast<std::size_t>(-a.scale) : 1;  // XANES finer
  const std::size_t gy = sy * up, gx = sx * up;
  std::vector<double> out(ny * nx, kNaN);
  for (std::size_t iy = 0; iy < ny; ++iy) {
    const long y = static_cast<long>(iy) + a.dy;
    if (y < 0 || y >= static_cast<long>(gy)) continue;
    const std::size_t row = static_cast<std::size_t>(y) / up * sx;
    for (std::size_t ix = 0; ix < nx; ++ix) {
      const long x = static_cast<long>(ix) + a.dx;
      if (x < 0 || x >= static_cast<long>(gx)) continue;
      out[iy * nx + ix] = (*src)[row + static_cast<std::size_t>(x) / up];
    }
  }
  if (std::none_of(out.begin(), out.end(), [](double v) { return std::isfinite(v); }))
    throw InputError(in.process_path, "no finite SE value falls on the XANES grid of " + in.xanes_path +
                                          " (check --offset / --scale)");
  return out;
}

}  // namespace

std::vector<double> read_se_map(const std::string& path, std::size_t& ny, std::size_t& nx) {
  h5::init();
  SeMap m = read_se(path);
  ny = m.ny;
  nx = m.nx;
  return std::move(m.se);
}

// ---- statistics ----------------------------------------------------------------------------

double pearson(const double* x, const double* y, std::size_t n) {
  if (n < 2) return kNaN;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxx = 0, syy = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return kNaN;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::vector<double> average_ranks(const double* v, std::size_t n) {
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::sort(idx.begin(), idx.end(), [v](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i + 1;
    while (j < n && v[idx[j]] == v[idx[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1..j
    for (std::size_t k = i; k < j; ++k) rank[idx[k]] = r;
    i = j;
  }
  return rank;
}

double spearman(const double* x, const double* y, std::size_t n) {
  if (n < 2) return kNaN;
  auto rx = average_ranks(x, n), ry = average_ranks(y, n);
  return pearson(rx.data(), ry.data(), n);
}

LineFit fit_line(const double* x, const double* y, std::size_t n) {
  LineFit f;
  f.n = n;
  if (n < 2) return f;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  const double dn = static_cast<double>(n);
  mx /= dn;
  my /= dn;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (!(sxx > 0)) return f;
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  if (n < 3) return f;
  double ssr = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = y[i] - (f.intercept + f.slope * x[i]);
    ssr += r * r;
  }
  const double s2 = ssr / (dn - 2);
  f.slope_stderr = std::sqrt(s2 / sxx);
  f.intercept_stderr = std::sqrt(s2 * (1.0 / dn + mx * mx / sxx));
  return f;
}

Summary summarise(std::vector<double>& v) {
  Summary s;
  const std::size_t n = v.size();
  if (n == 0) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(n);
  if (n >= 2) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(n - 1));
  }
  const std::size_t mid = n / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double hi = v[mid];
  if (n % 2) {
    s.median = hi;
  } else {
    const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
    s.median = 0.5 * (lo + hi);
  }
  return s;
}

Histogram histogram(const std::vector<double>& v, double lo, double hi, int bins) {
  Histogram h;
  if (bins < 1) bins = 1;
  h.edges.resize(static_cast<std::size_t>(bins) + 1);
  for (int b = 0; b <= bins; ++b) h.edges[static_cast<std::size_t>(b)] = lo + (hi - lo) * b / bins;
  h.counts.assign(static_cast<std::size_t>(bins), 0);
  if (!(hi > lo)) return h;
  const double scale = bins / (hi - lo);
  for (double x : v) {
    if (!(x >= lo && x <= hi)) continue;
    const int b = std::min(bins - 1, static_cast<int>((x - lo) * scale));
    ++h.counts[static_cast<std::size_t>(b)];
  }
  return h;
}

// ---- the run -------------------------------------------------------------------------------

Result run(const std::vector<StateInput>& states, const Settings& settings) {
  if (states.empty()) throw UsageError("no state given (--process/--xanes or --state NAME:PROCESS:XANES)");
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (states[i].name.empty() || states[i].name.size() > 31)
      throw UsageError("state name '" + states[i].name + "' must be 1..31 characters");
    // Names become HDF5 group names and CSV cells.
    if (states[i].name.find_first_of("/,.:\"\n\r\t ") != std::string::npos)
      throw UsageError("state name '" + states[i].name + "' may not hold / , . : quotes or spaces");
    for (std::size_t j = 0; j < i; ++j)
      if (states[j].name == states[i].name) throw UsageError("state '" + states[i].name + "' given twice");
  }
  if (settings.bins < 1) throw UsageError("--bins must be >= 1");
  h5::init();
  Result res;
  res.states = states;
  res.settings = settings;

  // Per state: SE and WL on the XANES grid; per-particle valid pixels grouped by label.
  struct StateData {
    std::vector<std::size_t> offset;   // per label (0..n_labels), start in se/wl
    std::vector<double> se, wl;        // valid particle pixels grouped by label
  };
  std::vector<StateData> data(states.size());
  std::vector<std::int32_t> first_particles;
  std::int32_t n_labels = 0;
  double se_lo = INFINITY, se_hi = -INFINITY, wl_lo = INFINITY, wl_hi = -INFINITY;
  for (std::size_t s = 0; s < states.size(); ++s) {
    const StateInput& in = states[s];
    SeMap se = read_se(in.process_path);
    if (settings.single_crystal_only) mask_single_crystal(se, in);
    XanesMaps xm = read_xanes(in.xanes_path, s == 0 || settings.own_particles);
    if (s == 0) {
      res.ny = xm.ny;
      res.nx = xm.nx;
      first_particles = xm.particles;
    } else if (!settings.own_particles && (xm.ny != res.ny || xm.nx != res.nx)) {
      throw InputError(in.xanes_path, "white-line map is " + shape_text(xm.ny, xm.nx) + " but " + states[0].xanes_path +
                                          " (whose particles are used) is " + shape_text(res.ny, res.nx) +
                                          " (use --own-particles)");
    }
    const std::vector<std::int32_t>& labels = settings.own_particles ? xm.particles : first_particles;
    std::vector<double> se_x = align_se(se, xm.ny, xm.nx, settings.align, in);
    const std::size_t np = xm.ny * xm.nx;
    std::int32_t max_label = 0;
    for (std::size_t p = 0; p < np; ++p) max_label = std::max(max_label, labels[p]);
    n_labels = std::max(n_labels, max_label);
    StateData& d = data[s];
    // Counting sort of valid pixels by label: one pass to count, one to fill.
    std::vector<std::size_t> count(static_cast<std::size_t>(max_label) + 2, 0);
    for (std::size_t p = 0; p < np; ++p)
      if (labels[p] > 0 && std::isfinite(se_x[p]) && std::isfinite(xm.wl[p])) ++count[static_cast<std::size_t>(labels[p]) + 1];
    for (std::size_t k = 1; k < count.size(); ++k) count[k] += count[k - 1];
    d.offset = count;
    if (count.back() == 0)
      throw InputError(in.xanes_path, "no particle pixel has both a finite SE (" + in.process_path +
                                          ") and a white line with status ok");
    d.se.resize(count.back());
    d.wl.resize(count.back());
    std::vector<std::size_t> pos(count.begin(), count.end() - 1);
    for (std::size_t p = 0; p < np; ++p) {
      const std::int32_t l = labels[p];
      if (l > 0 && std::isfinite(se_x[p]) && std::isfinite(xm.wl[p])) {
        const std::size_t at = pos[static_cast<std::size_t>(l)]++;
        d.se[at] = se_x[p];
        d.wl[at] = xm.wl[p];
      }
    }
    for (double v : d.se) {
      se_lo = std::min(se_lo, v);
      se_hi = std::max(se_hi, v);
    }
    for (double v : d.wl) {
      wl_lo = std::min(wl_lo, v);
      wl_hi = std::max(wl_hi, v);
    }
  }
  if (!(se_hi > se_lo)) {
    se_lo -= 0.5;
    se_hi += 0.5;
  }
  if (!(wl_hi > wl_lo)) {
    wl_lo -= 0.5;
    wl_hi += 0.5;
  }

  // Per particle rows, across statistics.
  std::vector<std::vector<double>> se_means(states.size()), wl_means(states.size());
  for (std::size_t s = 0; s < states.size(); ++s) {
    const StateData& d = data[s];
    AcrossRow across;
    across.state = states[s].name;
    std::vector<double> xs, ys;
    se_means[s].assign(static_cast<std::size_t>(n_labels) + 1, kNaN);
    wl_means[s].assign(static_cast<std::size_t>(n_labels) + 1, kNaN);
    for (std::int32_t k = 1; k <= n_labels; ++k) {
      ParticleRow row;
      row.state = states[s].name;
      row.particle = k;
      const auto ku = static_cast<std::size_t>(k);
      const std::size_t b = ku < d.offset.size() - 1 ? d.offset[ku] : d.se.size();
      const std::size_t e = ku + 1 < d.offset.size() ? d.offset[ku + 1] : d.se.size();
      const std::size_t n = e - b;
      row.n_pixels = static_cast<std::int32_t>(n);
      row.pointwise_n = row.n_pixels;
      if (n >= 3) row.pointwise_r = pearson(d.se.data() + b, d.wl.data() + b, n);
      std::vector<double> se_v(d.se.begin() + static_cast<std::ptrdiff_t>(b), d.se.begin() + static_cast<std::ptrdiff_t>(e));
      std::vector<double> wl_v(d.wl.begin() + static_cast<std::ptrdiff_t>(b), d.wl.begin() + static_cast<std::ptrdiff_t>(e));
      row.se_hist = histogram(se_v, se_lo, se_hi, settings.bins);
      row.wl_hist = histogram(wl_v, wl_lo, wl_hi, settings.bins);
      row.se = summarise(se_v);
      row.wl = summarise(wl_v);
      se_means[s][ku] = row.se.mean;
      wl_means[s][ku] = row.wl.mean;
      if (row.n_pixels >= std::max(1, settings.min_pixels_across)) {
        xs.push_back(row.se.mean);
        ys.push_back(row.wl.mean);
      }
      res.particles.push_back(std::move(row));
    }
    across.n = static_cast<std::int32_t>(xs.size());
    across.pearson_r = pearson(xs.data(), ys.data(), xs.size());
    across.spearman_rho = spearman(xs.data(), ys.data(), xs.size());
    across.line = fit_line(xs.data(), ys.data(), xs.size());
    res.across.push_back(across);
  }
  res.se_edges = histogram({}, se_lo, se_hi, settings.bins).edges;
  res.wl_edges = histogram({}, wl_lo, wl_hi, settings.bins).edges;

  // Shifts: first state -> each later one.
  for (std::size_t s = 1; s < states.size(); ++s) {
    for (std::int32_t k = 1; k <= n_labels; ++k) {
      const auto ku = static_cast<std::size_t>(k);
      ShiftRow r;
      r.from_state = states[0].name;
      r.to_state = states[s].name;
      r.particle = k;
      r.d_se_mean = se_means[s][ku] - se_means[0][ku];
      r.d_wl_mean_ev = wl_means[s][ku] - wl_means[0][ku];
      res.shifts.push_back(r);
    }
    std::vector<double> a_se = data[0].se, a_wl = data[0].wl, b_se = data[s].se, b_wl = data[s].wl;
    const Summary s0 = summarise(a_se), w0 = summarise(a_wl), s1 = summarise(b_se), w1 = summarise(b_wl);
    OverallShift o;
    o.from_state = states[0].name;
    o.to_state = states[s].name;
    o.d_se_mean = s1.mean - s0.mean;
    o.d_se_median = s1.median - s0.median;
    o.d_wl_mean_ev = w1.mean - w0.mean;
    o.d_wl_median_ev = w1.median - w0.median;
    res.overall.push_back(o);
  }
  return res;
}

// ---- writers -------------------------------------------------------------------------------

namespace {

struct PRow {
  char state[32];
  std::int32_t particle, n_pixels;
  double se_mean, se_median, se_std, wl_mean_ev, wl_median_ev, wl_std_ev, pointwise_r;
  std::int32_t pointwise_n;
};
struct SRow {
  char from_state[32], to_state[32];
  std::int32_t particle;
  double d_se_mean, d_wl_mean_ev;
};

void copy_name(char (&dst)[32], const std::string& s) {
  std::memset(dst, 0, sizeof dst);
  std::memcpy(dst, s.data(), std::min(s.size(), sizeof dst - 1));
}

h5::Handle string32(const std::string& file) {
  h5::Handle t = h5::wrap_write(H5Tcopy(H5T_C_S1), H5Tclose, file, "string type");
  h5::check_write(H5Tset_size(t, 32), file, "string type");
  h5::check_write(H5Tset_strpad(t, H5T_STR_NULLTERM), file, "string type");
  return t;
}

void write_table(hid_t loc, const std::string& name, hid_t type, std::size_t n, const void* rows, const std::string& file) {
  hsize_t dims = n;
  h5::Handle space = h5::wrap_write(H5Screate_simple(1, &dims, nullptr), H5Sclose, file, "dataspace for " + name);
  h5::Handle ds = h5::wrap_write(H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                           file, "cannot create " + name);
  if (n) h5::check_write(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), file, "cannot write " + name);
}

template <typename T>
void write_1d(hid_t loc, const std::string& name, hid_t mem, hid_t file_type, const std::vector<T>& v, const std::string& file) {
  hsize_t dims = v.size();
  h5::Handle space = h5::wrap_write(H5Screate_simple(1, &dims, nullptr), H5Sclose, file, "dataspace for " + name);
  h5::Handle ds = h5::wrap_write(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           H5Dclose, file, "cannot create " + name);
  if (!v.empty()) h5::check_write(H5Dwrite(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), file, "cannot write " + name);
}

h5::Handle make_group(hid_t loc, const std::string& name, const std::string& file) {
  return h5::wrap_write(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, file,
                  "cannot create group " + name);
}

std::string g10(double v) {
  if (std::isnan(v)) return "nan";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string inputs_text(const Result& r) {
  std::string s;
  for (const auto& st : r.states) s += (s.empty() ? "" : "\n") + st.name + ":" + st.process_path + ":" + st.xanes_path;
  return s;
}

}  // namespace

void write_hdf5(const std::string& path, const Result& r, const std::string& command_line) {
  h5::init();
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  h5::Handle file = h5::create(path);
  {
  h5::Handle root = h5::wrap_write(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, path, "cannot open /");
  h5::write_attribute(root, "program", std::string("laueproc"));
  h5::write_attribute(root, "version", std::string(version()));
  h5::write_attribute(root, "git_commit", std::string(git_commit()));
  h5::Handle g = make_group(file, "/correlation", path);
  h5::write_attribute(g, "program", std::string("laueproc correlate"));
  h5::write_attribute(g, "version", std::string(version()));
  h5::write_attribute(g, "git_commit", std::string(git_commit()));
  h5::write_attribute(g, "command_line", command_line);
  h5::write_attribute(g, "inputs", inputs_text(r));
  h5::write_attribute(g, "bins", std::int64_t{r.settings.bins});
  h5::write_attribute(g, "single_crystal_only", std::int64_t{r.settings.single_crystal_only ? 1 : 0});
  h5::write_attribute(g, "offset_dx", std::int64_t{r.settings.align.dx});
  h5::write_attribute(g, "offset_dy", std::int64_t{r.settings.align.dy});
  h5::write_attribute(g, "scale", std::int64_t{r.settings.align.scale});
  h5::write_attribute(g, "particle_map", std::string(r.settings.own_particles ? "each state's own /xanes/particles"
                                                                              : "the first state's /xanes/particles"));
  h5::write_attribute(g, "pixels_used", std::string("inside a particle, finite SE, finite white line with status ok"));
  h5::write_attribute(g, "ny", static_cast<std::int64_t>(r.ny));
  h5::write_attribute(g, "nx", static_cast<std::int64_t>(r.nx));

  h5::Handle s32 = string32(path);
  {
    h5::Handle t = h5::wrap_write(H5Tcreate(H5T_COMPOUND, sizeof(PRow)), H5Tclose, path, "compound type");
    h5::check_write(H5Tinsert(t, "state", HOFFSET(PRow, state), s32), path, "type");
    h5::check_write(H5Tinsert(t, "particle", HOFFSET(PRow, particle), H5T_NATIVE_INT32), path, "type");
    h5::check_write(H5Tinsert(t, "n_pixels", HOFFSET(PRow, n_pixels), H5T_NATIVE_INT32), path, "type");
    h5::check_write(H5Tinsert(t, "se_mean", HOFFSET(PRow, se_mean), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "se_median", HOFFSET(PRow, se_median), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "se_std", HOFFSET(PRow, se_std), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "wl_mean_ev", HOFFSET(PRow, wl_mean_ev), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "wl_median_ev", HOFFSET(PRow, wl_median_ev), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "wl_std_ev", HOFFSET(PRow, wl_std_ev), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "pointwise_r", HOFFSET(PRow, pointwise_r), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "pointwise_n", HOFFSET(PRow, pointwise_n), H5T_NATIVE_INT32), path, "type");
    std::vector<PRow> rows(r.particles.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const ParticleRow& p = r.particles[i];
      copy_name(rows[i].state, p.state);
      rows[i].particle = p.particle;
      rows[i].n_pixels = p.n_pixels;
      rows[i].se_mean = p.se.mean;
      rows[i].se_median = p.se.median;
      rows[i].se_std = p.se.std;
      rows[i].wl_mean_ev = p.wl.mean;
      rows[i].wl_median_ev = p.wl.median;
      rows[i].wl_std_ev = p.wl.std;
      rows[i].pointwise_r = p.pointwise_r;
      rows[i].pointwise_n = p.pointwise_n;
    }
    write_table(g, "particles", t, rows.size(), rows.data(), path);
  }
  {
    h5::Handle across = make_group(g, "across", path);
    h5::write_attribute(across, "model", std::string("wl_mean_ev = intercept + slope * se_mean (ordinary least squares)"));
    for (const AcrossRow& a : r.across) {
      h5::Handle s = make_group(across, a.state, path);
      h5::write_attribute(s, "n", std::int64_t{a.n});
      h5::write_attribute(s, "pearson_r", a.pearson_r);
      h5::write_attribute(s, "spearman_rho", a.spearman_rho);
      h5::write_attribute(s, "slope", a.line.slope);
      h5::write_attribute(s, "slope_stderr", a.line.slope_stderr);
      h5::write_attribute(s, "intercept", a.line.intercept);
      h5::write_attribute(s, "intercept_stderr", a.line.intercept_stderr);
    }
  }
  {
    h5::Handle hist = make_group(g, "histograms", path);
    h5::write_attribute(hist, "bins", std::int64_t{r.settings.bins});
    write_1d(hist, "se_edges", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, r.se_edges, path);
    write_1d(hist, "wl_edges", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, r.wl_edges, path);
    std::string current;
    h5::Handle sg;
    for (const ParticleRow& p : r.particles) {
      if (!sg.valid() || p.state != current) {
        sg = make_group(hist, p.state, path);
        current = p.state;
      }
      h5::Handle pg = make_group(sg, "particle_" + std::to_string(p.particle), path);
      write_1d(pg, "se_counts", H5T_NATIVE_INT64, H5T_STD_I64LE, p.se_hist.counts, path);
      write_1d(pg, "se_edges", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, p.se_hist.edges, path);
      write_1d(pg, "wl_counts", H5T_NATIVE_INT64, H5T_STD_I64LE, p.wl_hist.counts, path);
      write_1d(pg, "wl_edges", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, p.wl_hist.edges, path);
    }
  }
  if (r.states.size() >= 2) {
    h5::Handle t = h5::wrap_write(H5Tcreate(H5T_COMPOUND, sizeof(SRow)), H5Tclose, path, "compound type");
    h5::check_write(H5Tinsert(t, "from_state", HOFFSET(SRow, from_state), s32), path, "type");
    h5::check_write(H5Tinsert(t, "to_state", HOFFSET(SRow, to_state), s32), path, "type");
    h5::check_write(H5Tinsert(t, "particle", HOFFSET(SRow, particle), H5T_NATIVE_INT32), path, "type");
    h5::check_write(H5Tinsert(t, "d_se_mean", HOFFSET(SRow, d_se_mean), H5T_NATIVE_DOUBLE), path, "type");
    h5::check_write(H5Tinsert(t, "d_wl_mean_ev", HOFFSET(SRow, d_wl_mean_ev), H5T_NATIVE_DOUBLE), path, "type");
    std::vector<SRow> rows(r.shifts.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      copy_name(rows[i].from_state, r.shifts[i].from_state);
      copy_name(rows[i].to_state, r.shifts[i].to_state);
      rows[i].particle = r.shifts[i].particle;
      rows[i].d_se_mean = r.shifts[i].d_se_mean;
      rows[i].d_wl_mean_ev = r.shifts[i].d_wl_mean_ev;
    }
    write_table(g, "shifts", t, rows.size(), rows.data(), path);
    h5::Handle ds = h5::open_dataset(g, "shifts", path);
    h5::write_attribute(ds, "from_state", r.states[0].name);
    h5::write_attribute(ds, "overall", std::string("pooled particle pixels: <to_state>.d_se_mean, .d_se_median, "
                                                   ".d_wl_mean_ev, .d_wl_median_ev (to minus from)"));
    for (const OverallShift& o : r.overall) {
      h5::write_attribute(ds, o.to_state + ".d_se_mean", o.d_se_mean);
      h5::write_attribute(ds, o.to_state + ".d_se_median", o.d_se_median);
      h5::write_attribute(ds, o.to_state + ".d_wl_mean_ev", o.d_wl_mean_ev);
      h5::write_attribute(ds, o.to_state + ".d_wl_median_ev", o.d_wl_median_ev);
    }
  }
  }
  h5::close_file(file, path);
}

void write_csv(const std::string& dir, const Result& r) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw OutputError(dir, "cannot create the folder (" + ec.message() + ")");
  auto open = [&](const char* name) {
    const std::string p = (std::filesystem::path(dir) / name).string();
    std::FILE* f = std::fopen(p.c_str(), "w");
    if (!f) throw OutputError(p, std::string("cannot create (") + std::strerror(errno) + ")");
    return std::make_pair(f, p);
  };
  auto close = [](std::pair<std::FILE*, std::string> f) {
    const bool bad = std::ferror(f.first) != 0 || std::fflush(f.first) != 0;
    const int err = errno;
    if (std::fclose(f.first) != 0 || bad)
      throw OutputError(f.second, std::string("write failed (") + std::strerror(bad ? err : errno) + ")");
  };
  {
    auto f = open("particles.csv");
    std::fputs("state,particle,n_pixels,se_mean,se_median,se_std,wl_mean_ev,wl_median_ev,wl_std_ev,pointwise_r,pointwise_n\n",
               f.first);
    for (const ParticleRow& p : r.particles)
      std::fprintf(f.first, "%s,%d,%d,%s,%s,%s,%s,%s,%s,%s,%d\n", p.state.c_str(), p.particle, p.n_pixels,
                   g10(p.se.mean).c_str(), g10(p.se.median).c_str(), g10(p.se.std).c_str(), g10(p.wl.mean).c_str(),
                   g10(p.wl.median).c_str(), g10(p.wl.std).c_str(), g10(p.pointwise_r).c_str(), p.pointwise_n);
    close(f);
  }
  {
    auto f = open("across.csv");
    std::fputs("state,n,pearson_r,spearman_rho,slope,slope_stderr,intercept,intercept_stderr\n", f.first);
    for (const AcrossRow& a : r.across)
      std::fprintf(f.first, "%s,%d,%s,%s,%s,%s,%s,%s\n", a.state.c_str(), a.n, g10(a.pearson_r).c_str(),
                   g10(a.spearman_rho).c_str(), g10(a.line.slope).c_str(), g10(a.line.slope_stderr).c_str(),
                   g10(a.line.intercept).c_str(), g10(a.line.intercept_stderr).c_str());
    close(f);
  }
  if (r.states.size() >= 2) {
    auto f = open("shifts.csv");
    std::fputs("from_state,to_state,particle,d_se_mean,d_wl_mean_ev\n", f.first);
    for (const ShiftRow& s : r.shifts)
      std::fprintf(f.first, "%s,%s,%d,%s,%s\n", s.from_state.c_str(), s.to_state.c_str(), s.particle,
                   g10(s.d_se_mean).c_str(), g10(s.d_wl_mean_ev).c_str());
    for (const OverallShift& o : r.overall)
      std::fprintf(f.first, "%s,%s,0,%s,%s\n", o.from_state.c_str(), o.to_state.c_str(), g10(o.d_se_mean).c_str(),
                   g10(o.d_wl_mean_ev).c_str());
    close(f);
  }
}

}  // namespace laueproc::correlate
