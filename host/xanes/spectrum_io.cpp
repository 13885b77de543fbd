// Text spectra: XDI (XAS Data Interchange) and plain columns.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "laueproc/error.hpp"
#include "laueproc/xanes.hpp"

namespace laueproc::xanes {

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Splits on whitespace and commas.
std::vector<std::string> tokens(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : line) {
    if (std::isspace(static_cast<unsigned char>(ch)) || ch == ',') {
      if (!cur.empty()) out.push_back(cur), cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool to_number(const std::string& tok, double& v) {
  const char* b = tok.c_str();
  char* end = nullptr;
  errno = 0;
  v = std::strtod(b, &end);
  return end != b && *end == '\0';
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

SpectrumFile read_spectrum_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the file");
  std::map<int, std::string> xdi_columns;  // Column.N -> first word of its name, lower case
  std::vector<std::string> header_names;   // plain files: a non-numeric first data line
  std::vector<std::vector<double>> rows;
  std::vector<int> row_line;
  bool xdi = false;
  std::string line;
  int lineno = 0;
  std::size_t ncols = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = trim(line);
    if (t.empty()) continue;
    if (t[0] == '#') {
      if (lineno == 1 && t.find("XDI/") != std::string::npos) xdi = true;
      std::string body = trim(t.substr(1));
      if (lower(body.substr(0, 7)) == "column.") {
        std::size_t colon = body.find(':');
        if (colon != std::string::npos) {
          int idx = std::atoi(body.substr(7, colon - 7).c_str());
          auto words = tokens(body.substr(colon + 1));
          if (idx > 0 && !words.empty()) xdi_columns[idx] = lower(words[0]);
        }
      }
      continue;
    }
    auto tok = tokens(t);
    std::vector<double> row(tok.size());
    bool numeric = true;
    for (std::size_t c = 0; c < tok.size(); ++c) numeric &= to_number(tok[c], row[c]);
    if (!numeric) {
      if (rows.empty() && header_names.empty()) {
        header_names = tok;
        for (auto& h : header_names) h = lower(h);
        continue;
      }
      throw InputError(path, "line " + std::to_string(lineno) + " is not numeric: '" + t.substr(0, 60) + "'");
    }
    if (rows.empty()) ncols = row.size();
    if (row.size() != ncols)
      throw InputError(path, "line " + std::to_string(lineno) + " has " + std::to_string(row.size()) +
                                 " columns, the first data line has " + std::to_string(ncols));
    rows.push_back(std::move(row));
    row_line.push_back(lineno);
  }
  if (rows.empty()) throw InputError(path, "no data rows (no energies)");
  if (ncols < 2) throw InputError(path, "needs at least 2 columns (energy, mu), has " + std::to_string(ncols));

  // Column names: XDI headers, else a header line, else "column N" (1-based).
  std::vector<std::string> names(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    auto it = xdi_columns.find(static_cast<int>(c) + 1);
    if (it != xdi_columns.end()) names[c] = it->second;
    else if (header_names.size() == ncols) names[c] = header_names[c];
    else names[c] = "column " + std::to_string(c + 1);
  }
  auto column = [&](std::size_t c) {
    std::vector<double> v(rows.size());
    for (std::size_t r = 0; r < rows.size(); ++r) v[r] = rows[r][c];
    return v;
  };
  auto find = [&](std::initializer_list<const char*> keys) -> long {
    for (const char* k : keys)
      for (std::size_t c = 0; c < ncols; ++c)
        if (names[c] == k) return static_cast<long>(c);
    return -1;
  };

  SpectrumFile out;
  // The energy column: named "energy..." (XDI: "# Column.1: energy eV"), "e", "ev" or "kev"; in a
  // file without names, or whose first column has none, the first column. A file that names its
  // columns but none of them the energy is an error: taking i0 as the energy gave nonsense.
  long ie = -1;
  for (std::size_t c = 0; c < ncols && ie < 0; ++c) {
    const std::string& n = names[c];
    if (n.rfind("energy", 0) == 0 || n == "e" || n == "ev" || n == "kev" || n == "mono.energy")
      ie = static_cast<long>(c);
  }
  if (ie < 0) {
    if (names[0].rfind("column ", 0) != 0) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw InputError(path, "no energy column (columns: " + list + "); name it energy" +
                                 (xdi ? " (XDI: # Column.1: energy eV)" : ""));
    }
    ie = 0;
  }
  out.energy_ev = column(static_cast<std::size_t>(ie));
  std::string note;
  const long i0 = find({"i0"}), itr = find({"itrans", "it", "i1"}), ifl = find({"ifluor", "if", "ifl"});
  const bool named = !xdi_columns.empty() || !header_names.empty();
  if (named && i0 >= 0 && (itr >= 0 || ifl >= 0)) {
    if (itr >= 0) {
      std::vector<double> a = column(static_cast<std::size_t>(i0)), b = column(static_cast<std::size_t>(itr));
      std::vector<double> mu(a.size());
      for (std::size_t r = 0; r < a.size(); ++r) mu[r] = std::log(a[r] / b[r]);
      out.names.push_back("transmission");
      out.mu.push_back(std::move(mu));
      note += "transmission mu = ln(i0/itrans); ";
    }
    if (ifl >= 0) {
      std::vector<double> a = column(static_cast<std::size_t>(i0)), b = column(static_cast<std::size_t>(ifl));
      std::vector<double> mu(a.size());
      for (std::size_t r = 0; r < a.size(); ++r) mu[r] = b[r] / a[r];
      out.names.push_back("fluorescence");
      out.mu.push_back(std::move(mu));
      note += "fluorescence mu = ifluor/i0; ";
    }
  }
  static const char* kDirect[] = {"mu", "xmu", "mutrans", "mufluor", "norm", "flat", "murefer"};
  for (std::size_t c = 0; c < ncols; ++c) {
    if (static_cast<long>(c) == ie) continue;
    const bool direct = std::find_if(std::begin(kDirect), std::end(kDirect),
                                     [&](const char* k) { return names[c] == k; }) != std::end(kDirect);
    // Named files: only mu-like columns; unnamed columns are all spectra.
    if (named && !direct && names[c].rfind("column ", 0) != 0) continue;
    out.names.push_back(names[c]);
    out.mu.push_back(column(c));
  }
  if (out.mu.empty())
    throw InputError(path, "no absorption column: want i0 with itrans/ifluor, or a mu/xmu/norm column");

  // Energies: finite, unique; keV auto-detected.
  double emax = -INFINITY;
  for (std::size_t r = 0; r < out.energy_ev.size(); ++r) {
    if (!std::isfinite(out.energy_ev[r]))
      throw InputError(path, "line " + std::to_string(row_line[r]) + ": energy is not finite");
    emax = std::max(emax, out.energy_ev[r]);
  }
  if (emax < 100) {
    for (auto& e : out.energy_ev) e *= 1000;
    out.kev_converted = true;
    note += "energies < 100 taken as keV, x1000; ";
  }
  std::vector<std::size_t> order(out.energy_ev.size());
  for (std::size_t r = 0; r < order.size(); ++r) order[r] = r;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return out.energy_ev[a] < out.energy_ev[b]; });
  for (std::size_t r = 1; r < order.size(); ++r)
    if (out.energy_ev[order[r]] == out.energy_ev[order[r - 1]])
      throw InputError(path, "duplicate energy " + num(out.energy_ev[order[r]]) + " eV at lines " +
                                 std::to_string(row_line[std::min(order[r], order[r - 1])]) + " and " +
                                 std::to_string(row_line[std::max(order[r], order[r - 1])]));
  for (std::size_t s = 0; s < out.mu.size(); ++s)
    if (std::none_of(out.mu[s].begin(), out.mu[s].end(), [](double v) { return std::isfinite(v); }))
      throw InputError(path, "spectrum '" + out.names[s] + "' has no finite value");
  if (xdi) note = "XDI; " + note;
  if (!note.empty()) note.erase(note.size() - 2);
  out.note = note;
  return out;
}

}  // namespace laueproc::xanes
