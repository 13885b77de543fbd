#pragma once
/// @file
/// @brief Running the laueproc program from the end-to-end tests, as a user does: one helper
/// set shared by every e2e test file (output capture, file reading, a temporary folder).

#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace laueproc::e2e {

/// @brief The program under test: the one built with these tests, or $LAUEPROC_PROGRAM (e.g. an
/// older build, to check that a new test fails on the code it guards against).
inline const std::string kProgram = std::getenv("LAUEPROC_PROGRAM") ? std::getenv("LAUEPROC_PROGRAM") : LAUEPROC_BINARY;

struct Result {
  int code;         ///< exit status (-1: killed by a signal)
  std::string out;  ///< stdout, and stderr unless run_command was told otherwise
};

/// @brief Runs a shell command line; test paths are mkdtemp names (no spaces or quotes).
inline Result run_command(const std::string& cmd, bool merge_stderr = true) {
  char tmpl[] = "/tmp/laueproc-e2e-out-XXXXXX";
  const int fd = mkstemp(tmpl);
  close(fd);
  const std::string full = cmd + " >" + tmpl + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  const int status = std::system(full.c_str());
  std::ifstream in(tmpl, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  unlink(tmpl);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, s.str()};
}

/// @brief Runs `laueproc ARGS`, stdout and stderr together.
inline Result run(const std::string& args) { return run_command(kProgram + " " + args); }

/// @brief Runs `laueproc ARGS` in a child process that calls `prepare()` before exec (set a
/// resource limit, drop to another user...; `prepare` returning false ends the child with 126).
/// Returns the exit code, or 128 + the signal that killed it (as a shell reports a crash).
template <typename Prepare>
Result run_prepared(const std::string& args, Prepare prepare) {
  char tmpl[] = "/tmp/laueproc-e2e-out-XXXXXX";
  const int fd = mkstemp(tmpl);
  const std::string line = "exec " + kProgram + " " + args;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    if (!prepare()) _exit(126);
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(fd);
  std::ifstream in(tmpl, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  unlink(tmpl);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), s.str()};
}

/// @brief Frames recorded in a process journal (its "F" lines; docs/output.md).
inline int journal_frames(const std::string& journal) {
  std::ifstream in(journal);
  int n = 0;
  for (std::string line; std::getline(in, line);)
    // "F " after a 9-character checksum (format 2) or first (older journals); a line being written
    // by a running job may be short.
    n += line.rfind("F ", 0) == 0 || (line.size() >= 11 && line.compare(9, 2, "F ") == 0);
  return n;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

inline int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

/// @brief A fresh temporary folder per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/laueproc-e2e-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

}  // namespace laueproc::e2e
