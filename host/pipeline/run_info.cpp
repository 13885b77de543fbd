#include "laueproc/pipeline.hpp"
#include "laueproc/version.hpp"

namespace laueproc {

RunInfo make_run_info(const std::string& input, const ScanInfo& scan, const ProcessConfig& config,
                      const GridSpec& grid, const std::string& backend, int threads,
                      const std::string& command_line) {
  RunInfo run;
  run.program_version = version();
  run.git_commit = git_commit();
  run.command_line = command_line;
  run.started_utc = utc_timestamp();
  run.backend = backend;
  run.threads = threads;
  run.input_files = scan.files;
  run.dataset = scan.dataset;
  run.settings = describe(config);
  run.settings.emplace_back("scan.input", input);
  run.settings.emplace_back("scan.dataset", scan.dataset);
  run.settings.emplace_back("scan.grid", grid.nx > 0 ? std::to_string(grid.nx) + "x" + std::to_string(grid.ny)
                                                      : "from positions");
  return run;
}

}  // namespace laueproc
