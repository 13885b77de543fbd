#include "cli/cli.hpp"

#include <unistd.h>

#include <iostream>
#include <regex>

#include "laueproc/error.hpp"

namespace laueproc::cli {

bool parse(const std::vector<std::string>& args, const std::string& usage, const std::string& summary,
           po::options_description& options, const po::positional_options_description& positional,
           po::variables_map& vm) {
  options.add_options()("help,h", "print this help");
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << summary << "\n\n" << options << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return true;
}

void parse_grid(const std::string& text, int& nx, int& ny) {
  static const std::regex pattern(R"(^\s*(\d+)\s*[xX]\s*(\d+)\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern)) throw UsageError("--grid wants NXxNY (e.g. 5x5), got '" + text + "'");
  nx = std::stoi(m[1]);
  ny = std::stoi(m[2]);
  if (nx < 1 || ny < 1) throw UsageError("--grid needs positive sizes, got '" + text + "'");
}

bool progress_wanted(bool quiet) { return !quiet && isatty(STDERR_FILENO); }

}  // namespace laueproc::cli
