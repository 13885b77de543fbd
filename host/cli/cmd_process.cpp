#include "cli/cli.hpp"
#include "laueproc/error.hpp"

namespace laueproc::cli {
int cmd_process(const std::vector<std::string>&) { throw Error("'process' is not built yet"); }
}  // namespace laueproc::cli
