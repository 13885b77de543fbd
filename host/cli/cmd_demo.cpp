#include "cli/cli.hpp"
#include "laueproc/error.hpp"

namespace laueproc::cli {
int cmd_demo(const std::vector<std::string>&) { throw Error("'demo' is not built yet"); }
}  // namespace laueproc::cli
