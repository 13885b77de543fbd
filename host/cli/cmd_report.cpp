// laueproc report: the HTML report is drawn by scripts/report.py (matplotlib); this command
// checks the inputs and the Python side, then runs the script without a shell (posix_spawn with
// an argument vector, so no file name is ever interpreted) and passes its exit code on.
#include "cli/cmd_report.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "cli/cli.hpp"
#include "laueproc/error.hpp"
#include "laueproc/version.hpp"
#include "output/output_guard.hpp"

extern char** environ;

namespace laueproc::cli {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// scripts/report.py: $LAUEPROC_SCRIPTS/report.py, else ../scripts/report.py from the executable
/// (build/laueproc -> scripts/report.py), else scripts/report.py beside it (an install prefix).
std::string locate_script() {
  if (const char* env = std::getenv("LAUEPROC_SCRIPTS"); env && *env) {
    std::string path = std::string(env) + "/report.py";
    if (!is_file(path)) throw InputError(path, "no such file (set by LAUEPROC_SCRIPTS)");
    return path;
  }
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("cannot find the program's own path (/proc/self/exe); set LAUEPROC_SCRIPTS");
  exe[n] = '\0';
  const std::string dir = parent_dir(exe);
  // Last, the source tree this program was built from (a build folder outside the tree).
  for (const std::string& candidate : {parent_dir(dir) + "/scripts/report.py", dir + "/scripts/report.py",
                                       parent_dir(dir) + "/share/laueproc/scripts/report.py",
                                       std::string(LAUEPROC_SOURCE_DIR) + "/scripts/report.py"}) {
    if (is_file(candidate)) return candidate;
  }
  throw std::runtime_error("scripts/report.py not found beside " + dir + "; set LAUEPROC_SCRIPTS to the scripts folder");
}

/// Runs argv (argv[0] is the program path) and returns its exit code; with quiet, its output goes
/// to /dev/null. posix_spawn: no shell, no quoting issues.
int run_program(const std::vector<std::string>& argv, bool quiet) {
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(argv[0] + ": cannot start: " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(argv[0] + ": waitpid failed: " + std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "laueproc report: error: %s ended by signal %d\n", argv[0].c_str(), WTERMSIG(status));
  }
  return 1;
}

}  // namespace

int cmd_report(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string process, xanes, correlation, index, out = "report.html", figures;
  int frames_per_scenario = 3;
  bool overwrite = false;
  opts.add_options()("process", po::value(&process)->required(), "results file of laueproc process")(
      "xanes", po::value(&xanes), "results file of laueproc xanes (white-line map, particles)")(
      "correlation", po::value(&correlation), "file of laueproc correlate (per-particle SE vs white line)")(
      "index", po::value(&index), "index file of laueproc index (default: the results file's /index, from process --index)")(
      "out,o", with_default(&out), "HTML report to write (one self-contained file)")(
      "figures", po::value(&figures), "folder for the PNG figures (default: report_figures/ beside the HTML)")(
      "frames-per-scenario", with_default(&frames_per_scenario),
      "example frames per scenario in the peak gallery (0: no gallery)")(
      "overwrite", po::bool_switch(&overwrite), "replace an existing report (the figures beside it are always rewritten)");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse(args, "laueproc report --process RESULTS.h5 [options]",
             "One self-contained HTML page (PNG figures embedded, no external resources) with the SE,\n"
             "scenario, peak-count and background maps, statistics, example peaks with their fitted\n"
             "ellipses, optional XANES and correlation figures, and the provenance of every input.\n"
             "Needs /usr/bin/python3 with h5py and matplotlib (scripts/setup.sh installs them).",
             opts, pos, vm))
    return 0;
  if (frames_per_scenario < 0) throw UsageError("--frames-per-scenario must be >= 0");
  // Inputs first, so a typo is reported as such and not as a missing Python module.
  for (const auto& [path, what] : {std::pair{process, "process results"}, std::pair{xanes, "XANES results"},
                                   std::pair{correlation, "correlation file"}, std::pair{index, "index file"}}) {
    if (!path.empty() && !is_file(path)) throw InputError(path, std::string("no such file (") + what + ")");
  }

  // The page is written under a temporary name and renamed when complete (scripts/report.py).
  output::refuse_existing(out, overwrite);

  const std::string script = locate_script();
  const char* kNeed = "report needs python3-matplotlib and python3-h5py: run scripts/setup.sh";
  if (::access(kPython, X_OK) != 0) throw std::runtime_error(kNeed);
  if (run_program({kPython, "-c", "import h5py, matplotlib, numpy"}, true) != 0) throw std::runtime_error(kNeed);

  std::vector<std::string> argv = {kPython, script, "--process", process, "--out", out,
                                   "--frames-per-scenario", std::to_string(frames_per_scenario),
                                   "--program-version", version(), "--program-commit", git_commit()};
  if (!xanes.empty()) argv.insert(argv.end(), {"--xanes", xanes});
  if (!correlation.empty()) argv.insert(argv.end(), {"--correlation", correlation});
  if (!index.empty()) argv.insert(argv.end(), {"--index", index});
  if (!figures.empty()) argv.insert(argv.end(), {"--figures", figures});
  std::fflush(stdout);
  return run_program(argv, false);
}

}  // namespace laueproc::cli
