// Materials: lattice -> reciprocal basis B0, reflection conditions from the space group, and the
// proper rotations that leave the spot pattern unchanged.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <sstream>

#include "laueproc/error.hpp"
#include "laueproc/index.hpp"

namespace laueproc::index {

namespace {

constexpr double kDeg = 3.14159265358979323846 / 180.0;

// Space groups by lattice centring (International Tables, standard settings; R groups in
// hexagonal axes, obverse). Every other number 1..230 is primitive.
constexpr int kC[] = {5, 8, 9, 12, 15, 20, 21, 35, 36, 37, 63, 64, 65, 66, 67, 68};
constexpr int kA[] = {38, 39, 40, 41};
constexpr int kI[] = {23,  24,  44,  45,  46,  71,  72,  73,  74,  79,  80,  82,  87,  88,  97,  98,  107, 108, 109,
                      110, 119, 120, 121, 122, 139, 140, 141, 142, 197, 199, 204, 206, 211, 214, 217, 220, 229, 230};
constexpr int kF[] = {22, 42, 43, 69, 70, 196, 202, 203, 209, 210, 216, 219, 225, 226, 227, 228};
constexpr int kR[] = {146, 148, 155, 160, 161, 166, 167};

template <std::size_t N>
bool in(const int (&list)[N], int v) {
  return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

char centring_of(int sg) {
  if (in(kC, sg)) return 'C';
  if (in(kA, sg)) return 'A';
  if (in(kI, sg)) return 'I';
  if (in(kF, sg)) return 'F';
  if (in(kR, sg)) return 'R';
  return 'P';
}

int mod(int a, int n) { return ((a % n) + n) % n; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The metric's proper rotations as integer hkl matrices that map allowed reflections to allowed
/// ones: S with entries in {-1, 0, 1} (enough for every reduced cell: cubic, hexagonal, ...) and
/// B0 S B0^-1 orthogonal with det +1.
std::vector<std::array<int, 9>> spot_symmetry(const Mat3& b0, const ReflectionRule& rule) {
  std::vector<std::array<int, 9>> out;
  const Mat3 b0_inv = math::inverse(b0);
  std::array<int, 9> s{};
  for (int code = 0; code < 19683; ++code) {  // 3^9
    int c = code;
    for (int i = 0; i < 9; ++i) {
      s[static_cast<std::size_t>(i)] = c % 3 - 1;
      c /= 3;
    }
    Mat3 sm;
    for (int i = 0; i < 9; ++i) sm.m[i] = s[static_cast<std::size_t>(i)];
    if (std::abs(math::determinant(sm) - 1.0) > 1e-9) continue;
    const Mat3 r = b0 * sm * b0_inv;
    const Mat3 rrt = r * math::transpose(r);
    bool orthogonal = true;
    for (int i = 0; i < 3 && orthogonal; ++i)
      for (int j = 0; j < 3; ++j)
        if (std::abs(rrt(i, j) - (i == j ? 1.0 : 0.0)) > 1e-6) {
          orthogonal = false;
          break;
        }
    if (!orthogonal) continue;
    bool keeps = true;  // allowed stays allowed (and, S being invertible, forbidden stays forbidden)
    for (int h = -4; h <= 4 && keeps; ++h)
      for (int k = -4; k <= 4 && keeps; ++k)
        for (int l = -4; l <= 4 && keeps; ++l) {
          const int h2 = s[0] * h + s[1] * k + s[2] * l, k2 = s[3] * h + s[4] * k + s[5] * l,
                    l2 = s[6] * h + s[7] * k + s[8] * l;
          if (rule.allowed(h, k, l) != rule.allowed(h2, k2, l2)) keeps = false;
        }
    if (keeps) out.push_back(s);
  }
  return out;
}

}  // namespace

bool ReflectionRule::allowed(int h, int k, int l) const {
  if (h == 0 && k == 0 && l == 0) return false;
  switch (centring) {
    case 'C':
      if (mod(h + k, 2)) return false;
      break;
    case 'A':
      if (mod(k + l, 2)) return false;
      break;
    case 'I':
      if (mod(h + k + l, 2)) return false;
      break;
    case 'F':
      if (mod(h + k, 2) || mod(h + l, 2) || mod(k + l, 2)) return false;
      break;
    case 'R':
      if (mod(-h + k + l, 3)) return false;
      break;
    default:
      break;
  }
  switch (extra) {
    case Extra::diamond: {  // atoms on 8a of Fd-3m: all odd, or all even with h + k + l = 4n
      const bool all_odd = mod(h, 2) && mod(k, 2) && mod(l, 2);
      return all_odd || mod(h + k + l, 4) == 0;
    }
    case Extra::fd3m_glide: {  // general Fd-3m: 0kl k + l = 4n (and permutations), h00 h = 4n
      if (h == 0 && mod(k + l, 4)) return false;
      if (k == 0 && mod(h + l, 4)) return false;
      if (l == 0 && mod(h + k, 4)) return false;
      return true;
    }
    default:
      return true;
  }
}

std::string ReflectionRule::describe() const {
  std::string s;
  switch (centring) {
    case 'C': s = "C centring: h + k = 2n"; break;
    case 'A': s = "A centring: k + l = 2n"; break;
    case 'I': s = "I centring: h + k + l = 2n"; break;
    case 'F': s = "F centring: h, k, l all odd or all even"; break;
    case 'R': s = "R centring (hexagonal axes, obverse): -h + k + l = 3n"; break;
    default: s = "primitive: all hkl"; break;
  }
  if (extra == Extra::diamond) s += "; diamond (atoms on 8a): all odd, or all even with h + k + l = 4n";
  if (extra == Extra::fd3m_glide) s += "; d glide: 0kl with k + l = 4n, h00 with h = 4n";
  return s;
}

Mat3 reciprocal_basis(const Lattice& L) {
  const double ca = std::cos(L.alpha * kDeg), cb = std::cos(L.beta * kDeg), cg = std::cos(L.gamma * kDeg);
  const double sg = std::sin(L.gamma * kDeg);
  // Direct basis (a along x, b in the x-y plane), then the reciprocal basis a* = (b x c) / V...
  const Vec3 a{L.a, 0, 0};
  const Vec3 b{L.b * cg, L.b * sg, 0};
  const double cx = L.c * cb, cy = L.c * (ca - cb * cg) / sg;
  const double cz2 = L.c * L.c - cx * cx - cy * cy;
  if (!(cz2 > 0)) throw UsageError("lattice angles do not form a cell (alpha, beta, gamma)");
  const Vec3 c{cx, cy, std::sqrt(cz2)};
  const double v = math::dot(a, math::cross(b, c));
  const Vec3 as = (1.0 / v) * math::cross(b, c), bs = (1.0 / v) * math::cross(c, a), cs = (1.0 / v) * math::cross(a, b);
  // ... rotated into the B0 convention: a* along x, c* in the x-z plane (Busing-Levy B, no 2 pi).
  const Vec3 ex = math::normalized(as);
  const Vec3 ey = math::normalized(math::cross(cs, as));
  const Vec3 ez = math::cross(ex, ey);
  auto in_frame = [&](Vec3 w) { return Vec3{math::dot(w, ex), math::dot(w, ey), math::dot(w, ez)}; };
  Mat3 b0 = math::from_columns(in_frame(as), in_frame(bs), in_frame(cs));
  for (double& e : b0.m)
    if (std::abs(e) < 1e-15) e = 0;
  return b0;
}

Material make_material(const std::string& name, const Lattice& lattice, int space_group, ReflectionRule::Extra extra) {
  if (!(lattice.a > 0 && lattice.b > 0 && lattice.c > 0))
    throw UsageError("lattice lengths must be positive (Angstrom)");
  for (double ang : {lattice.alpha, lattice.beta, lattice.gamma})
    if (!(ang > 0 && ang < 180)) throw UsageError("lattice angles must lie in (0, 180) degrees");
  if (space_group < 1 || space_group > 230) throw UsageError("--space-group must be 1..230, not " + std::to_string(space_group));
  Material m;
  m.name = name;
  m.lattice = lattice;
  m.space_group = space_group;
  m.rule.centring = centring_of(space_group);
  m.rule.extra = extra;
  if (space_group == 227 && extra == ReflectionRule::Extra::none) m.rule.extra = ReflectionRule::Extra::fd3m_glide;
  m.b0 = reciprocal_basis(lattice);
  m.symmetry = spot_symmetry(m.b0, m.rule);
  return m;
}

std::vector<std::string> builtin_material_names() { return {"LiCoO2", "LiNiO2", "NMC811", "Ge", "Si"}; }

std::optional<Material> builtin_material(const std::string& name) {
  const std::string n = lower(name);
  if (n == "licoo2") return make_material("LiCoO2", {2.8156, 2.8156, 14.0542, 90, 90, 120}, 166);
  // Layered LiNiO2 (R-3m): a = 2.878, c = 14.19 Angstrom (typical refined values).
  if (n == "linio2") return make_material("LiNiO2", {2.878, 2.878, 14.19, 90, 90, 120}, 166);
  if (n == "nmc811" || n == "nmc") return make_material("NMC811", {2.87, 2.87, 14.19, 90, 90, 120}, 166);
  if (n == "ge") return make_material("Ge", {5.6575, 5.6575, 5.6575, 90, 90, 90}, 227, ReflectionRule::Extra::diamond);
  if (n == "si") return make_material("Si", {5.4309, 5.4309, 5.4309, 90, 90, 90}, 227, ReflectionRule::Extra::diamond);
  return std::nullopt;
}

Lattice parse_lattice(const std::string& text) {
  static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
  std::vector<double> v;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!std::regex_match(item, number)) throw UsageError("--lattice wants a,b,c,alpha,beta,gamma (numbers), got '" + text + "'");
    v.push_back(std::stod(item));
  }
  if (v.size() != 6) throw UsageError("--lattice wants 6 numbers a,b,c,alpha,beta,gamma, got '" + text + "'");
  return {v[0], v[1], v[2], v[3], v[4], v[5]};
}

}  // namespace laueproc::index
