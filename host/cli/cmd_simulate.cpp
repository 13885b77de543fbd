#include "cli/cli.hpp"
#include "laueproc/error.hpp"

namespace laueproc::cli {
int cmd_simulate(const std::vector<std::string>&) { throw Error("'simulate' is not built yet"); }
}  // namespace laueproc::cli
