// Fuzz target: the HDF5 frame reader on arbitrary files. The input is written to a file and
// opened as a scan (stack or APS 34-ID-E frame, both read paths: whole chunks decoded by
// laueproc and HDF5's own H5Dread); a few frames and the positions are read. A bad file must end
// in a laueproc::Error (the one-line message the user sees), never a crash, a hang, another
// exception (bad_alloc, length_error: exit 1) or an absurd allocation.
#include <algorithm>
#include <cstdint>

#include "common.hpp"
#include "io/h5.hpp"
#include "io/scan.hpp"
#include "laueproc/error.hpp"
#include "laueproc/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace laueproc;
  static const std::string path = [] {
    std::string p = fuzz::temp_path("scan.h5");
    fuzz::remove_at_exit(p);
    return p;
  }();
  fuzz::write_file(path, data, size);
  for (bool direct : {true, false}) {
    try {
      ScanOptions options;
      options.chunk_direct = direct;
      auto source = open_scan(path, options);
      const ScanInfo& info = source->info();
      // Frames up to 4 Mpixel are read; larger ones (allowed up to 2^28 pixels) only opened, so
      // the fuzzer's memory limit measures laueproc's limits, not the size a header promises.
      if (static_cast<std::uint64_t>(info.width) * static_cast<std::uint64_t>(info.height) <= (1u << 22)) {
        Frame frame;
        for (std::int64_t i = 0; i < std::min<std::int64_t>(info.n_frames, 3); ++i) source->read(i, frame);
      }
      (void)source->warnings();
      (void)io::position_range(info, options, 2);
    } catch (const Error&) {
      // the expected answer to a bad file
    }
  }
  return 0;
}
