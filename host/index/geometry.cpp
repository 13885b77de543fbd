// Detector geometry: LaueTools .det and APS 34-ID-E (LaueGo geoN XML) files into one plane model
// in the LaueTools lab frame (see include/laueproc/index.hpp and docs/indexing.md).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "laueproc/error.hpp"
#include "laueproc/index.hpp"

namespace laueproc::index {

namespace {

constexpr double kDeg = 3.14159265358979323846 / 180.0;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open the file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// All numbers of a line (separators: anything that cannot start a number).
std::vector<double> numbers_in(const std::string& line) {
  static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
  std::vector<double> out;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), number); it != std::sregex_iterator(); ++it)
    out.push_back(std::stod(it->str()));
  return out;
}

// Beam-line frame of 34-ID-E (X outboard, Y up, Z along the beam) <-> LaueTools lab frame
// (x along the beam, y = z x x, z up): (x, y, z) = (Z, X, Y), a cyclic (proper) permutation.
Vec3 beamline_to_lab(Vec3 v) { return {v.z, v.x, v.y}; }
Vec3 lab_to_beamline(Vec3 v) { return {v.y, v.z, v.x}; }

/// Rotation vector of a rotation matrix (robust near 180 degrees, via the quaternion).
Vec3 rotation_vector(const Mat3& r) {
  double w, x, y, z;
  const double tr = r.m[0] + r.m[4] + r.m[8];
  if (tr > 0) {
    const double s = 2.0 * std::sqrt(tr + 1.0);
    w = 0.25 * s, x = (r(2, 1) - r(1, 2)) / s, y = (r(0, 2) - r(2, 0)) / s, z = (r(1, 0) - r(0, 1)) / s;
  } else if (r.m[0] > r.m[4] && r.m[0] > r.m[8]) {
    const double s = 2.0 * std::sqrt(1.0 + r.m[0] - r.m[4] - r.m[8]);
    w = (r(2, 1) - r(1, 2)) / s, x = 0.25 * s, y = (r(0, 1) + r(1, 0)) / s, z = (r(0, 2) + r(2, 0)) / s;
  } else if (r.m[4] > r.m[8]) {
    const double s = 2.0 * std::sqrt(1.0 + r.m[4] - r.m[0] - r.m[8]);
    w = (r(0, 2) - r(2, 0)) / s, x = (r(0, 1) + r(1, 0)) / s, y = 0.25 * s, z = (r(1, 2) + r(2, 1)) / s;
  } else {
    const double s = 2.0 * std::sqrt(1.0 + r.m[8] - r.m[0] - r.m[4]);
    w = (r(1, 0) - r(0, 1)) / s, x = (r(0, 2) + r(2, 0)) / s, y = (r(1, 2) + r(2, 1)) / s, z = 0.25 * s;
  }
  if (w < 0) w = -w, x = -x, y = -y, z = -z;
  const double sn = std::sqrt(x * x + y * y + z * z);
  if (sn < 1e-300) return {0, 0, 0};
  const double angle = 2.0 * std::atan2(sn, w);
  return (angle / sn) * Vec3{x, y, z};
}

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

}  // namespace

// ---- the plane model ---------------------------------------------------------------------------

Vec3 Geometry::pixel_to_kf(double x, double y) const {
  return math::normalized(origin + (x * pitch_x) * e_x + (y * pitch_y) * e_y);
}

Vec3 Geometry::pixel_to_scattering(double x, double y) const {
  return math::scattering_direction(pixel_to_kf(x, y));
}

bool Geometry::kf_to_pixel(Vec3 kf, double& x, double& y) const {
  const Vec3 n = math::cross(e_x, e_y);
  const double denom = math::dot(kf, n);
  const double num = math::dot(origin, n);
  if (denom == 0 || num / denom <= 0) return false;
  const Vec3 r = (num / denom) * kf - origin;
  // e_x and e_y may be non-orthogonal in principle: solve the 2x2 system.
  const double a11 = math::dot(e_x, e_x), a12 = math::dot(e_x, e_y), a22 = math::dot(e_y, e_y);
  const double b1 = math::dot(r, e_x), b2 = math::dot(r, e_y);
  const double det = a11 * a22 - a12 * a12;
  x = (a22 * b1 - a12 * b2) / det / pitch_x;
  y = (a11 * b2 - a12 * b1) / det / pitch_y;
  return true;
}

double Geometry::distance_mm() const {
  return std::abs(math::dot(origin, math::normalized(math::cross(e_x, e_y))));
}

void Geometry::normal_foot(double& x, double& y) const {
  const Vec3 n = math::normalized(math::cross(e_x, e_y));
  const double d = math::dot(origin, n);
  kf_to_pixel(d >= 0 ? n : -1.0 * n, x, y);
}

double Geometry::deg_per_px() const { return std::min(pitch_x, pitch_y) / distance_mm() / kDeg; }

// ---- LaueTools .det ----------------------------------------------------------------------------

LaueToolsDet read_lauetools_det(const std::string& path) {
  const std::string text = read_text(path);
  std::istringstream in(text);
  std::string line;
  LaueToolsDet det;
  if (!std::getline(in, line)) throw InputError(path, "empty .det file");
  const auto v = numbers_in(line);
  if (v.size() < 8)
    throw InputError(path, "first line should hold 'dd xcen ycen xbet xgam pixelsize dim1 dim2' (8 numbers), found " +
                               std::to_string(v.size()));
  det.dd = v[0], det.xcen = v[1], det.ycen = v[2], det.xbet = v[3], det.xgam = v[4], det.pixelsize = v[5];
  det.dim1 = static_cast<int>(std::lround(v[6]));
  det.dim2 = static_cast<int>(std::lround(v[7]));
  if (!(det.dd > 0) || !(det.pixelsize > 0) || det.dim1 < 1 || det.dim2 < 1)
    throw InputError(path, "distance, pixel size and frame size must be positive");
  bool want_matrix = false;
  std::string matrix_text;
  while (std::getline(in, line)) {
    if (line.find("Orientation Matrix") != std::string::npos) {
      want_matrix = true;
      continue;
    }
    if (want_matrix) {
      matrix_text += line;
      if (numbers_in(matrix_text).size() >= 9 || line.find("]]") != std::string::npos) want_matrix = false;
    }
    static const std::regex material(R"(^#\s*Material\s*:\s*(\S+))");
    std::smatch m;
    if (std::regex_search(line, m, material)) det.material = m[1];
  }
  if (!matrix_text.empty()) {
    const auto mv = numbers_in(matrix_text);
    if (mv.size() != 9) throw InputError(path, "the Orientation Matrix should hold 9 numbers");
    Mat3 m;
    for (int i = 0; i < 9; ++i) m.m[i] = mv[static_cast<std::size_t>(i)];
    det.orientation = m;
  }
  return det;
}

Geometry to_geometry(const LaueToolsDet& d) {
  // LaueTools (docs/indexing.md): for pixel (X, Y) (1-based), x1 = (X - xcen) p, y1 = (Y - ycen) p,
  // xc = cos(g) x1 + sin(g) y1, yc = -sin(g) x1 + cos(g) y1,
  // r = (dd sin(b) + yc cos(b), -xc, dd cos(b) - yc sin(b)): affine in (X, Y), i.e. a plane.
  const double b = d.xbet * kDeg, g = d.xgam * kDeg, p = d.pixelsize;
  auto point = [&](double X, double Y) {
    const double x1 = (X - d.xcen) * p, y1 = (Y - d.ycen) * p;
    const double xc = std::cos(g) * x1 + std::sin(g) * y1, yc = -std::sin(g) * x1 + std::cos(g) * y1;
    return Vec3{d.dd * std::sin(b) + yc * std::cos(b), -xc, d.dd * std::cos(b) - yc * std::sin(b)};
  };
  Geometry geo;
  geo.origin = point(1.0, 1.0);  // laueproc pixel (0, 0) = LaueTools (1, 1)
  geo.e_x = Vec3{-std::sin(g) * std::cos(b), -std::cos(g), std::sin(g) * std::sin(b)};
  geo.e_y = Vec3{std::cos(g) * std::cos(b), -std::sin(g), -std::cos(g) * std::sin(b)};
  geo.pitch_x = geo.pitch_y = p;
  geo.nx = d.dim1;
  geo.ny = d.dim2;
  geo.kind = "lauetools-det";
  return geo;
}

// ---- LaueGo geoN XML ---------------------------------------------------------------------------

LaueGoGeometry read_laue_go_xml(const std::string& path, int detector) {
  const std::string text = read_text(path);
  // The N-th <Detector ...> ... </Detector> block (N attribute, else document order).
  static const std::regex block(R"(<Detector\b([^>]*)>([\s\S]*?)</Detector>)");
  std::string body;
  int index = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), block); it != std::sregex_iterator(); ++it, ++index) {
    const std::string attrs = (*it)[1];
    static const std::regex nattr(R"re(N\s*=\s*"(\d+)")re");
    std::smatch m;
    const int n = std::regex_search(attrs, m, nattr) ? std::stoi(m[1]) : index;
    if (n == detector) {
      body = (*it)[2];
      break;
    }
  }
  if (body.empty()) throw InputError(path, "no <Detector N=\"" + std::to_string(detector) + "\"> block (LaueGo geoN XML)");
  auto field = [&](const char* tag, std::size_t count) {
    const std::regex re(std::string("<") + tag + R"(\b[^>]*>([^<]*)</)" + tag + ">");
    std::smatch m;
    if (!std::regex_search(body, m, re)) throw InputError(path, std::string("detector has no <") + tag + ">");
    auto v = numbers_in(m[1]);
    if (v.size() != count)
      throw InputError(path, std::string("<") + tag + "> should hold " + std::to_string(count) + " numbers");
    return v;
  };
  LaueGoGeometry g;
  const auto n = field("Npixels", 2), s = field("size", 2), r = field("R", 3), p = field("P", 3);
  g.nx = static_cast<int>(n[0]);
  g.ny = static_cast<int>(n[1]);
  g.size_x_mm = s[0];
  g.size_y_mm = s[1];
  g.rotation = {r[0], r[1], r[2]};
  g.translation = {p[0], p[1], p[2]};
  if (g.nx < 1 || g.ny < 1 || !(g.size_x_mm > 0) || !(g.size_y_mm > 0))
    throw InputError(path, "detector pixels and size must be positive");
  // A <size unit="..."> other than mm, or <P unit> other than mm, would be a silent scale error.
  static const std::regex units(R"re(<(size|P)\b[^>]*unit\s*=\s*"([^"]*)")re");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), units); it != std::sregex_iterator(); ++it)
    if ((*it)[2] != "mm") throw InputError(path, "<" + (*it)[1].str() + "> in unit '" + (*it)[2].str() + "' (mm expected)");
  return g;
}

Geometry to_geometry(const LaueGoGeometry& lg) {
  const Mat3 rot = math::rotation_from_vector(lg.rotation);
  const double px = lg.size_x_mm / lg.nx, py = lg.size_y_mm / lg.ny;
  const Vec3 corner = lg.translation + Vec3{-0.5 * px * (lg.nx - 1), -0.5 * py * (lg.ny - 1), 0.0};
  Geometry geo;
  geo.origin = beamline_to_lab(rot * corner);
  geo.e_x = beamline_to_lab(rot * Vec3{1, 0, 0});
  geo.e_y = beamline_to_lab(rot * Vec3{0, 1, 0});
  geo.pitch_x = px;
  geo.pitch_y = py;
  geo.nx = lg.nx;
  geo.ny = lg.ny;
  geo.kind = "laue-go-xml";
  return geo;
}

LaueGoGeometry to_laue_go(const Geometry& g) {
  const Vec3 ex = lab_to_beamline(math::normalized(g.e_x));
  const Vec3 ey = lab_to_beamline(math::normalized(g.e_y));
  const Mat3 rot = math::from_columns(ex, ey, math::cross(ex, ey));
  LaueGoGeometry lg;
  lg.nx = g.nx;
  lg.ny = g.ny;
  lg.size_x_mm = g.pitch_x * g.nx;
  lg.size_y_mm = g.pitch_y * g.ny;
  lg.rotation = rotation_vector(rot);
  const Vec3 corner = math::transpose_times(rot, lab_to_beamline(g.origin));
  lg.translation = corner - Vec3{-0.5 * g.pitch_x * (g.nx - 1), -0.5 * g.pitch_y * (g.ny - 1), 0.0};
  return lg;
}

void write_laue_go_xml(const std::string& path, const LaueGoGeometry& g) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error(path + ": cannot create the geometry file");
  std::fprintf(f,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<geoN xmlns=\"http://sector34.xray.aps.anl.gov/34ide/geoN\">\n"
               "\t<Detectors Ndetectors=\"1\">\n\t\t<Detector N=\"0\">\n"
               "\t\t\t<Npixels>%d %d</Npixels>\n\t\t\t<size unit=\"mm\">%.17g %.17g</size>\n"
               "\t\t\t<R unit=\"radian\">%.17g %.17g %.17g</R>\n\t\t\t<P unit=\"mm\">%.17g %.17g %.17g</P>\n"
               "\t\t\t<ID>laueproc</ID>\n\t\t</Detector>\n\t</Detectors>\n</geoN>\n",
               g.nx, g.ny, g.size_x_mm, g.size_y_mm, g.rotation.x, g.rotation.y, g.rotation.z, g.translation.x,
               g.translation.y, g.translation.z);
  if (std::ferror(f) | std::fclose(f)) throw Error(path + ": write failed");
}

Geometry read_geometry(const std::string& path) {
  const std::string text = read_text(path);
  const auto first = text.find_first_not_of(" \t\r\n");
  Geometry g;
  if (first != std::string::npos && text[first] == '<') {
    g = to_geometry(read_laue_go_xml(path));
  } else {
    g = to_geometry(read_lauetools_det(path));
  }
  g.source = path;
  return g;
}

std::string describe(const Geometry& g) {
  std::ostringstream s;
  auto vec = [](Vec3 v) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "(%.6f, %.6f, %.6f)", v.x, v.y, v.z);
    return std::string(buf);
  };
  double fx = 0, fy = 0;
  g.normal_foot(fx, fy);
  s << "source:           " << (g.source.empty() ? "(built in)" : g.source) << " [" << g.kind << "]\n";
  s << "lab frame:        LaueTools (x along the beam, z up, y = z x x), sample at the origin, ki = (1, 0, 0)\n";
  s << "pixels:           " << g.nx << " x " << g.ny << ", pitch " << fmt("%.6f", g.pitch_x) << " x "
    << fmt("%.6f", g.pitch_y) << " mm (laueproc pixels: 0-based, x = column)\n";
  s << "pixel (0,0) at:   " << vec(g.origin) << " mm\n";
  s << "column axis e_x:  " << vec(g.e_x) << "\n";
  s << "row axis e_y:     " << vec(g.e_y) << "\n";
  s << "distance:         " << fmt("%.4f", g.distance_mm()) << " mm (sample to detector plane), normal foot at pixel ("
    << fmt("%.3f", fx) << ", " << fmt("%.3f", fy) << ")\n";
  const Vec3 kc = g.pixel_to_kf(0.5 * (g.nx - 1), 0.5 * (g.ny - 1));
  s << "frame centre:     2theta " << fmt("%.3f", std::acos(std::max(-1.0, std::min(1.0, kc.x))) / kDeg)
    << " deg; " << fmt("%.5f", g.deg_per_px()) << " deg of 2theta per pixel at the normal foot\n";
  const LaueGoGeometry lg = to_laue_go(g);
  s << "as LaueGo (34-ID-E geoN): Npixels " << lg.nx << " " << lg.ny << ", size " << fmt("%.4f", lg.size_x_mm) << " "
    << fmt("%.4f", lg.size_y_mm) << " mm, R " << vec(lg.rotation) << " rad, P " << vec(lg.translation) << " mm\n";
  // As LaueTools: dd, xcen, ycen (1-based) from the plane (tilts are not re-derived here).
  s << "as LaueTools:     dd " << fmt("%.4f", g.distance_mm()) << " mm, xcen " << fmt("%.3f", fx + 1.0) << ", ycen "
    << fmt("%.3f", fy + 1.0) << " (1-based)\n";
  return s.str();
}

}  // namespace laueproc::index
