// Peak lists from other programs (LaueTools .dat, LaueGo peaksearch) and inverse-pole-figure colours.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "laueproc/error.hpp"
#include "laueproc/index.hpp"

namespace laueproc::index {

namespace {

bool parse_numbers(const std::string& line, std::vector<double>& out) {
  out.clear();
  std::istringstream s(line);
  std::string tok;
  while (s >> tok) {
    char* end = nullptr;
    const double v = std::strtod(tok.c_str(), &end);
    if (end == tok.c_str() || *end != '\0') return false;
    out.push_back(v);
  }
  return !out.empty();
}

}  // namespace

std::vector<SpotInput> read_peak_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the peak list");
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  std::vector<SpotInput> out;
  std::vector<double> v;
  const bool laue_go = !lines.empty() && lines[0].rfind("$filetype", 0) == 0;
  if (laue_go) {
    // LaueGo peaksearch: "$key value" header, then after "$peakList" rows
    // "fitX fitY intens integral hwhmX hwhmY tilt chisq", 0-based pixels.
    bool in_table = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].rfind("$peakList", 0) == 0) {
        in_table = true;
        continue;
      }
      if (!in_table || lines[i].empty() || lines[i][0] == '$' || lines[i].rfind("//", 0) == 0) continue;
      if (!parse_numbers(lines[i], v) || v.size() < 3)
        throw InputError(path, "line " + std::to_string(i + 1) + ": expected 'fitX fitY intens ...'");
      out.push_back({v[0], v[1], v[2]});
    }
    if (!in_table) throw InputError(path, "LaueGo peak list without a $peakList table");
  } else {
    // LaueTools .dat: a header line (peak_X peak_Y peak_Itot ...), rows, then '#' comments;
    // pixels 1-based (LaueTools' convention), converted to laueproc's 0-based.
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string& l = lines[i];
      if (l.empty() || l[0] == '#') continue;
      if (i == 0 && l.find("peak_X") != std::string::npos) continue;
      if (!parse_numbers(l, v) || v.size() < 2)
        throw InputError(path, "line " + std::to_string(i + 1) + ": expected 'peak_X peak_Y [peak_Itot ...]' numbers "
                               "(a LaueTools .dat or LaueGo peaksearch list)");
      out.push_back({v[0] - 1.0, v[1] - 1.0, v.size() > 2 ? v[2] : 0.0});
    }
  }
  if (out.empty()) throw InputError(path, "no peaks in the list");
  for (const auto& s : out)
    if (!std::isfinite(s.x) || !std::isfinite(s.y)) throw InputError(path, "a peak position is not finite");
  return out;
}

std::array<double, 3> ipf_colour(const Mat3& ub_b0, const Material& material, Vec3 lab_dir) {
  const Mat3 u = nearest_rotation(ub_b0 * math::inverse(material.b0));
  const Vec3 c = math::normalized(math::transpose_times(u, lab_dir));  // crystal-Cartesian (B0 frame)
  std::array<double, 3> rgb{};
  const Lattice& L = material.lattice;
  const bool hexagonal = std::abs(L.gamma - 120) < 1e-6 && std::abs(L.alpha - 90) < 1e-6 && std::abs(L.beta - 90) < 1e-6;
  if (hexagonal) {
    // c* is along z in B0 (a* along x, c* in x-z, and a* . c* = 0): red at (0001), then the
    // azimuth folded into a 30 degree sector between (2-1-10) (green) and (10-10) (blue).
    const double tilt = std::acos(std::min(1.0, std::abs(c.z))) / (0.5 * 3.14159265358979323846);  // 0..1
    double phi = std::atan2(c.y, c.x) * 180.0 / 3.14159265358979323846;
    phi = std::fmod(std::fmod(phi, 60.0) + 60.0, 60.0);
    if (phi > 30.0) phi = 60.0 - phi;
    const double s = phi / 30.0;
    rgb = {1.0 - tilt, tilt * (1.0 - s), tilt * s};
  } else {
    // Cubic standard triangle: |components| sorted a <= b <= c; (001) red, (101) green, (111) blue.
    double v[3] = {std::abs(c.x), std::abs(c.y), std::abs(c.z)};
    std::sort(v, v + 3);
    rgb = {v[2] - v[1], v[1] - v[0], v[0] * std::sqrt(3.0)};
  }
  const double mx = std::max({rgb[0], rgb[1], rgb[2], 1e-12});
  for (double& x : rgb) x = std::sqrt(x / mx);  // sqrt: a brighter, more even triangle
  return rgb;
}

}  // namespace laueproc::index
