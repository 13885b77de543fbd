// laueproc info: what a file or scan holds, without reading pixels.
#include <iostream>
#include <sstream>

#include "cli/cli.hpp"
#include "io/scan.hpp"
#include "laueproc/error.hpp"
#include "laueproc/io.hpp"

namespace laueproc::cli {

int cmd_info(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string path;
  ScanOptions scan;
  options.add_options()
      ("path", po::value<std::string>(&path)->required(),
       "HDF5 file (stack or one frame), directory of per-frame files, glob pattern, or file list")
      ("dataset", po::value<std::string>(&scan.dataset), "image dataset path (default: layout's own)")
      ("x-path", po::value<std::string>(&scan.x_path), "sample X dataset (micrometres)")
      ("y-path", po::value<std::string>(&scan.y_path), "sample Y dataset (micrometres)");
  po::positional_options_description positional;
  positional.add("path", 1);
  po::variables_map vm;
  if (!parse(args, "laueproc info PATH [--dataset P]",
             "Prints the layout, files, dataset, frames, shape, dtype, chunks, filters and positions of a scan.",
             options, positional, vm))
    return 0;

  auto source = open_scan(path, scan);
  const ScanInfo& info = source->info();
  auto join = [](const auto& items, const char* sep) {
    std::ostringstream s;
    for (std::size_t i = 0; i < items.size(); ++i) s << (i ? sep : "") << items[i];
    return s.str();
  };

  std::cout << "path:         " << path << "\n";
  std::cout << "layout:       " << (info.layout == ScanLayout::stack ? "stack" : "per-frame files") << "\n";
  std::cout << "files:        " << info.files.size() << "\n";
  const std::size_t shown = 5;
  for (std::size_t i = 0; i < info.files.size() && i < shown; ++i) std::cout << "  " << info.files[i] << "\n";
  if (info.files.size() > shown + 1) std::cout << "  ...\n";
  if (info.files.size() > shown) std::cout << "  " << info.files.back() << "\n";
  std::cout << "dataset:      " << info.dataset << "\n";
  std::cout << "frames:       " << info.n_frames << "\n";
  std::cout << "shape:        " << info.height << " x " << info.width << " (rows x columns)\n";
  std::cout << "dtype:        " << info.dtype << (info.dtype == "uint16" ? "" : " (converted to uint16, clipped)")
            << "\n";
  std::cout << "chunk:        " << (info.chunk.empty() ? std::string("contiguous") : join(info.chunk, " x ")) << "\n";
  std::cout << "filters:      " << (info.filters.empty() ? std::string("none") : join(info.filters, ", ")) << "\n";
  if (info.has_positions) {
    io::PositionRange r = io::position_range(info, scan);
    std::cout << "positions:    yes";
    if (r.present)
      std::cout << ", x [" << r.x_min << ", " << r.x_max << "] um, y [" << r.y_min << ", " << r.y_max << "] um"
                << (info.layout == ScanLayout::per_frame_files && r.sampled < static_cast<std::int64_t>(info.files.size())
                        ? " (from " + std::to_string(r.sampled) + " sampled files)"
                        : std::string());
    std::cout << "\n";
  } else {
    std::cout << "positions:    no\n";
  }
  std::cout << "chunk_direct: " << (info.chunk_direct ? "yes (chunks read with pread, decoded by laueproc, several readers)" : "no (H5Dread)")
            << "\n";
  return 0;
}

}  // namespace laueproc::cli
