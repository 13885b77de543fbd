// laueproc index: crystal orientations per frame from a results file or a peak list;
// laueproc geometry: what a detector geometry file says, in laueproc's model.
#include <cstdio>
#include <filesystem>

#include "cli/cli.hpp"
#include "cli/index_options.hpp"
#include "laueproc/error.hpp"
#include "laueproc/index.hpp"
#include "output/output_guard.hpp"

namespace laueproc::cli {

namespace {
std::string join(const char* name, const std::vector<std::string>& args) {
  std::string s = std::string("laueproc ") + name;
  for (const auto& a : args) s += " " + a;
  return s;
}
}  // namespace

int cmd_index(const std::vector<std::string>& args) {
  IndexOptions o;
  std::string input, out = "index.h5", csv;
  int threads = 0;
  bool quiet = false, overwrite = false;
  po::options_description options("Options");
  options.add_options()
      ("input", po::value(&input)->required(), "results.h5 of laueproc process, or a peak list (LaueTools .dat, LaueGo peaksearch)")
      ("out,o", with_default(&out), "index file (HDF5: /index tables, /maps)")
      ("csv", po::value(&csv), "also write grains.csv and indexed.csv into this folder")
      ("threads,j", with_default(&threads), "threads (0 = all cores)")
      ("quiet,q", po::bool_switch(&quiet), "no progress line or summary")
      ("overwrite", po::bool_switch(&overwrite), "replace an existing index file");
  add_index_options(options, o);
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc index INPUT --geometry FILE --material NAME [--energy 5:23] [--max-grains 3] [--out index.h5] [--csv DIR]",
             "Indexes every frame's peaks: the orientation (UB B0) and hkl of each crystal in the beam, up to\n"
             "--max-grains per frame, by angle pairs of the brightest spots matched against the material's\n"
             "low-index reflections, scored on all spots and refined by least squares. Maps: crystals per\n"
             "frame (the single-crystal mask of correlate --single-crystal-only), misorientation to the\n"
             "particle mean, KAM, inverse-pole-figure colours. See docs/indexing.md.",
             options, positional, vm))
    return 0;
  finish_index_options(o);
  if (threads < 0) throw UsageError("--threads must not be negative");
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, input, ec))
    throw UsageError("--out " + out + " is the input: give another file (process --index adds the index to a results file)");
  // Refused before any work when it exists; written under a temporary name, renamed when complete.
  output::AtomicFile out_file(out, overwrite);
  run_index(input, out_file.temp_path(), true, csv, o, threads, join("index", args), quiet, out);
  out_file.commit();
  return 0;
}

int cmd_geometry(const std::vector<std::string>& args) {
  std::string file;
  po::options_description options("Options");
  options.add_options()("file", po::value(&file)->required(), "LaueTools .det or APS 34-ID-E (LaueGo geoN) XML");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc geometry FILE",
             "Prints a detector geometry in laueproc's model (pixel plane in the LaueTools lab frame), with\n"
             "the same detector in LaueGo's and LaueTools' terms, and a .det file's orientation matrix.",
             options, positional, vm))
    return 0;
  const index::Geometry g = index::read_geometry(file);
  std::fputs(index::describe(g).c_str(), stdout);
  if (g.kind == "lauetools-det") {
    const index::LaueToolsDet det = index::read_lauetools_det(file);
    std::printf("LaueTools:        dd %.4f mm, xcen %.3f, ycen %.3f, xbet %.4f deg, xgam %.4f deg, pixel %.6f mm, %d x %d\n",
                det.dd, det.xcen, det.ycen, det.xbet, det.xgam, det.pixelsize, det.dim1, det.dim2);
    if (det.orientation) {
      const auto& m = det.orientation->m;
      std::printf("orientation (UB, q = UB B0 hkl%s):\n", det.material.empty() ? "" : (", material " + det.material).c_str());
      for (int r = 0; r < 3; ++r) std::printf("  %10.7f %10.7f %10.7f\n", m[3 * r], m[3 * r + 1], m[3 * r + 2]);
    }
  }
  return 0;
}

}  // namespace laueproc::cli
