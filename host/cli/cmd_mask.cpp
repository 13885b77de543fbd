// laueproc mask: a static hot-pixel map learned from the frames of a scan (see docs/masks.md).
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "cli/cli.hpp"
#include "cli/cmd_mask.hpp"
#include "cli/progress.hpp"
#include "laueproc/error.hpp"
#include "laueproc/io.hpp"
#include "laueproc/stages.hpp"
#include "output/output_guard.hpp"

namespace laueproc::cli {

int cmd_mask(const std::vector<std::string>& args) {
  std::string path, out;
  ScanOptions scan;
  HotPixelConfig config;
  int frames = 200;
  double min_fraction = 0.9;
  bool quiet = false, overwrite = false;

  po::options_description options("options");
  options.add_options()
      ("path", po::value<std::string>(&path)->required(),
       "HDF5 file (stack or one frame), directory of per-frame files, glob pattern, or file list")
      ("out,o", po::value<std::string>(&out)->required(), "mask file to write (binary PGM, 255 = bad)")
      ("frames", with_default(&frames), "use at most this many frames, evenly spaced over the scan")
      ("min-fraction", with_default(&min_fraction), "flag pixels that are hot in at least this fraction of the frames used")
      ("k", with_default(&config.k), "outlier threshold over the neighbours, in noise sigmas")
      ("abs-floor", with_default(&config.abs_floor), "smallest excess over the neighbours that counts, counts")
      ("stuck", po::bool_switch(&config.flag_stuck), "also flag nonzero pixels that read the same value in every frame")
      ("dataset", po::value<std::string>(&scan.dataset), "image dataset path (default: layout's own)")
      ("overwrite", po::bool_switch(&overwrite), "replace an existing mask file")
      ("quiet,q", po::bool_switch(&quiet), "no progress line");
  po::positional_options_description positional;
  positional.add("path", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc mask SCAN --out mask.pgm [--frames N] [--min-fraction F] [--k K]",
             "Finds the detector's hot pixels (single or in small clusters) as the pixels that are a sharp\n"
             "outlier against their neighbours in nearly every frame, and writes them as a PGM mask for\n"
             "laueproc process --mask. Real Laue spots, even sharp ones that stay put, are kept (docs/masks.md).",
             options, positional, vm))
    return 0;
  if (frames < 1) throw UsageError("--frames must be at least 1");
  if (!(min_fraction > 0 && min_fraction <= 1)) throw UsageError("--min-fraction must be in (0, 1]");
  if (!(config.k > 0)) throw UsageError("--k must be positive");
  if (!(config.abs_floor >= 0)) throw UsageError("--abs-floor must not be negative");

  // Refused before any work when it exists; written under a temporary name, renamed when complete.
  output::AtomicFile out_file(out, overwrite);
  auto source = open_scan(path, scan);
  const ScanInfo& info = source->info();
  if (info.n_frames <= 0) throw InputError(path, "the scan holds no frames");
  const std::int64_t n = std::min<std::int64_t>(frames, info.n_frames);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)  // evenly spaced, centred in their share of the scan
    order[static_cast<std::size_t>(i)] = n == info.n_frames ? i : (2 * i + 1) * info.n_frames / (2 * n);

  HotPixelFinder finder(config);
  FrameStream stream(*source, order);
  ProgressLine line("mask", progress_wanted(quiet));
  Frame frame;
  std::int64_t done = 0, failed = 0;
  while (stream.next(frame)) {
    if (frame.ok())
      finder.add(frame.view());
    else
      ++failed;
    line.update(++done, n);
  }
  line.done();
  if (finder.frames() == 0) throw InputError(path, "no frame could be read (" + std::to_string(failed) + " failed)");

  const BadPixelMask mask = finder.result(min_fraction);
  save_mask_pgm(mask, out_file.temp_path());
  out_file.commit();

  std::printf("frames used:  %lld of %lld%s\n", static_cast<long long>(finder.frames()),
              static_cast<long long>(info.n_frames),
              failed ? (" (" + std::to_string(failed) + " unreadable, skipped)").c_str() : "");
  std::printf("flagged:      %zu pixels (hot in >= %g of the frames%s)\n", mask.bad_count(), min_fraction,
              config.flag_stuck ? (", " + std::to_string(finder.stuck_count()) + " stuck").c_str() : "");
  // The worst: most often flagged, then brightest.
  const auto& counts = finder.counts();
  std::vector<std::size_t> bad;
  for (std::size_t i = 0; i < mask.pixels().size(); ++i)
    if (mask.pixels()[i]) bad.push_back(i);
  const std::size_t shown = std::min<std::size_t>(10, bad.size());
  std::partial_sort(bad.begin(), bad.begin() + static_cast<std::ptrdiff_t>(shown), bad.end(),
                    [&](std::size_t a, std::size_t b) {
                      if (counts[a] != counts[b]) return counts[a] > counts[b];
                      return finder.mean_excess(a) > finder.mean_excess(b);
                    });
  if (shown) std::printf("worst:        x y (0-based px), frames hot, mean excess (counts)\n");
  for (std::size_t j = 0; j < shown; ++j) {
    const std::size_t i = bad[j];
    std::printf("  %5zu %5zu  %u/%lld  %.0f\n", i % static_cast<std::size_t>(mask.width()),
                i / static_cast<std::size_t>(mask.width()), static_cast<unsigned>(counts[i]),
                static_cast<long long>(finder.frames()), finder.mean_excess(i));
  }
  std::printf("mask:         %s\n", out.c_str());
  std::printf("next: laueproc process %s --mask %s\n", path.c_str(), out.c_str());
  return 0;
}

}  // namespace laueproc::cli
