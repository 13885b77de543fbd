#include "laueproc/config.hpp"

namespace laueproc {

std::string to_string(BackgroundMethod method) {
  switch (method) {
    case BackgroundMethod::block_percentile: return "block_percentile";
    case BackgroundMethod::gaussian: return "gaussian";
  }
  return "unknown";
}

// describe() is built from the settings table in host/settings.cpp.

}  // namespace laueproc
