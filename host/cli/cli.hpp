#pragma once
/// @file
/// @brief Shared plumbing of the subcommands: option parsing with --help, and the command table.

#include <boost/program_options.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace laueproc::cli {

namespace po = boost::program_options;

/// @brief Parses `args` against `options` (+ positional). Returns false when --help was asked
/// (the help text is printed); throws UsageError on a bad option.
bool parse(const std::vector<std::string>& args, const std::string& usage, const std::string& summary,
           po::options_description& options, const po::positional_options_description& positional,
           po::variables_map& vm);

/// @brief An option bound to `target` whose default is its current value, shown in --help in
/// the short form (0.3, not 0.29999999999999999).
template <typename T>
po::typed_value<T>* with_default(T* target) {
  std::ostringstream text;
  text << *target;
  return po::value(target)->default_value(*target, text.str());
}

/// @brief Parses "NXxNY" (e.g. "5x5") into nx, ny; throws UsageError otherwise.
void parse_grid(const std::string& text, int& nx, int& ny);

/// @brief True when --quiet was not given and stderr is a terminal.
bool progress_wanted(bool quiet);

// One function per subcommand, each in its own cmd_*.cpp. They return the process exit code.
int cmd_info(const std::vector<std::string>& args);
int cmd_simulate(const std::vector<std::string>& args);
int cmd_process(const std::vector<std::string>& args);
int cmd_demo(const std::vector<std::string>& args);
int cmd_merge(const std::vector<std::string>& args);
int cmd_index(const std::vector<std::string>& args);
int cmd_geometry(const std::vector<std::string>& args);

}  // namespace laueproc::cli
