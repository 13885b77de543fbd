#include "cli/index_options.hpp"

#include <chrono>
#include <cstdio>
#include <regex>

#include "cli/progress.hpp"
#include "laueproc/error.hpp"

namespace laueproc::cli {

void add_index_options(po::options_description& options, IndexOptions& o, bool with_geometry) {
  index::IndexSettings& s = o.settings;
  if (with_geometry)
    options.add_options()("geometry", po::value(&o.geometry),
                          "detector geometry: LaueTools .det or APS 34-ID-E (LaueGo geoN) XML");
  std::string names;
  for (const auto& n : index::builtin_material_names()) names += (names.empty() ? "" : ", ") + n;
  options.add_options()
      ("material", po::value(&o.material), ("built-in material: " + names).c_str())
      ("lattice", po::value(&o.lattice), "other material: a,b,c,alpha,beta,gamma (Angstrom, degrees), with --space-group")
      ("space-group", po::value(&o.space_group), "space-group number 1..230 (centring conditions; 227 adds the d glide)")
      ("energy", with_default(&o.energy), "energy band LO:HI, keV (BM32 5:23, 34-ID-E 7:30)")
      ("max-grains", with_default(&s.max_grains), "crystals searched per frame")
      ("q-max", with_default(&s.q_max), "largest |q| (1/Angstrom) of a predicted reflection (d >= 1/q)")
      ("tolerance-deg", with_default(&s.match_tolerance_deg), "scattering-direction tolerance while scoring candidates")
      ("final-tolerance-deg", with_default(&s.final_tolerance_deg), "tolerance after refinement (assigns hkl)")
      ("min-spots", with_default(&s.min_matched), "fewest spots that make a grain")
      ("brightest", with_default(&s.n_brightest), "brightest spots whose pair angles propose orientations")
      ("no-strain", po::bool_switch(&o.no_strain), "refine the orientation only (no deviatoric strain)");
}

index::Material resolve_material(const IndexOptions& o) {
  if (!o.material.empty() && !o.lattice.empty()) throw UsageError("give --material or --lattice/--space-group, not both");
  if (!o.material.empty()) {
    auto m = index::builtin_material(o.material);
    if (!m) {
      std::string names;
      for (const auto& n : index::builtin_material_names()) names += (names.empty() ? "" : ", ") + n;
      throw UsageError("--material '" + o.material + "' is not built in (" + names +
                       "); give --lattice a,b,c,alpha,beta,gamma --space-group N");
    }
    return *m;
  }
  if (o.lattice.empty()) throw UsageError("give --material NAME or --lattice a,b,c,alpha,beta,gamma --space-group N");
  if (o.space_group == 0) throw UsageError("--lattice needs --space-group N (1..230)");
  return index::make_material("custom", index::parse_lattice(o.lattice), o.space_group);
}

void finish_index_options(IndexOptions& o) {
  static const std::regex band(R"(^\s*([0-9.]+)\s*:\s*([0-9.]+)\s*$)");
  std::smatch m;
  if (!std::regex_match(o.energy, m, band)) throw UsageError("--energy wants LO:HI in keV (e.g. 5:23), got '" + o.energy + "'");
  o.settings.energy_min_kev = std::stod(m[1]);
  o.settings.energy_max_kev = std::stod(m[2]);
  if (!(o.settings.energy_min_kev > 0 && o.settings.energy_min_kev < o.settings.energy_max_kev))
    throw UsageError("--energy needs 0 < LO < HI, got '" + o.energy + "'");
  o.settings.refine_strain = !o.no_strain;
}

std::int64_t run_index(const std::string& input, const std::string& out_h5, bool create, const std::string& csv_dir,
                       const IndexOptions& o, int threads, const std::string& command_line, bool quiet,
                       const std::string& shown_out) {
  if (o.geometry.empty()) throw UsageError("indexing needs --geometry FILE (.det or LaueGo XML)");
  const index::Geometry geometry = index::read_geometry(o.geometry);
  const index::Material material = resolve_material(o);
  const auto t0 = std::chrono::steady_clock::now();
  const index::Indexer indexer(geometry, material, o.settings);
  const index::ScanPeaks scan = index::read_scan_peaks(input);
  ProgressLine line("index", progress_wanted(quiet));
  const auto t1 = std::chrono::steady_clock::now();
  const index::ScanIndex result =
      index::index_scan(scan, indexer, threads, {}, [&line](std::int64_t d, std::int64_t n) { line.update(d, n); });
  const auto t2 = std::chrono::steady_clock::now();
  line.done();

  index::IndexProvenance prov;
  prov.command_line = command_line;
  prov.input = input;
  prov.geometry_file = o.geometry;
  prov.settings = index::describe(o.settings, material);
  write_index_h5(out_h5, result, prov, create);
  if (!csv_dir.empty()) write_index_csv(csv_dir, result, prov);

  std::int64_t with_grain = 0, single = 0, multi = 0, indexed = 0, peaks = 0;
  double dev = 0;
  int dev_n = 0;
  for (const auto& r : result.results) {
    with_grain += !r.grains.empty();
    single += r.grains.size() == 1;
    multi += r.grains.size() > 1;
    peaks += static_cast<std::int64_t>(r.spots.size());
    for (const auto& g : r.grains) {
      indexed += g.n_indexed;
      if (std::isfinite(g.mean_dev_px)) dev += g.mean_dev_px, ++dev_n;
    }
  }
  if (!quiet) {
    const double ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    std::fprintf(stderr,
                 "laueproc index: %zu frames, %s (%zu reference directions, tables %.0f ms): %lld with a crystal "
                 "(%lld single, %lld with 2+), %lld of %lld peaks indexed, mean deviation %.3f px; %.2f ms per frame\n",
                 result.results.size(), material.name.c_str(), indexer.n_reference_directions(),
                 std::chrono::duration<double, std::milli>(t1 - t0).count(), static_cast<long long>(with_grain),
                 static_cast<long long>(single), static_cast<long long>(multi), static_cast<long long>(indexed),
                 static_cast<long long>(peaks), dev_n ? dev / dev_n : 0.0,
                 result.results.empty() ? 0.0 : ms / static_cast<double>(result.results.size()));
    std::fprintf(stderr, "laueproc index: written to %s%s%s\n", (shown_out.empty() ? out_h5 : shown_out).c_str(),
                 csv_dir.empty() ? "" : " and ",
                 csv_dir.empty() ? "" : (csv_dir + "/{grains,indexed}.csv").c_str());
  }
  return with_grain;
}

}  // namespace laueproc::cli
