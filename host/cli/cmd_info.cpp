#include "cli/cli.hpp"
#include "laueproc/error.hpp"

namespace laueproc::cli {
int cmd_info(const std::vector<std::string>&) { throw Error("'info' is not built yet"); }
}  // namespace laueproc::cli
