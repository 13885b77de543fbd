#pragma once
// Shared by the fuzz targets: the input is written to a file (the readers under test take paths),
// in memory-backed /dev/shm when there is one, one file per target and process.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace laueproc::fuzz {

inline std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("LAUEPROC_FUZZ_TMP");
  std::string base = dir ? dir : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  return base + "/laueproc-fuzz-" + std::to_string(getpid()) + "-" + name;
}

inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();  // the harness itself is broken: stop, do not report it as a finding
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

/// Removes the file when the fuzzer exits (atexit: libFuzzer ends runs with exit()).
inline void remove_at_exit(const std::string& path) {
  static std::string kept;
  kept = path;
  std::atexit([] { std::remove(kept.c_str()); });
}

}  // namespace laueproc::fuzz
