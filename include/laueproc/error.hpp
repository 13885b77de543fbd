#pragma once
/// @file
/// @brief Exception types. Every message is one line that names the file (or object) and the problem.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace laueproc {

/// @brief Base of all laueproc errors; `what()` is a complete one-line message.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Bad input: missing or unreadable file, wrong layout, shape, dtype, values.
class InputError : public Error {
 public:
  InputError(std::string file, const std::string& problem)
      : Error(file + ": " + problem), file_(std::move(file)) {}
  const std::string& file() const noexcept { return file_; }

 private:
  std::string file_;
};

/// @brief An output could not be written: folder missing or read-only, disk full, a failed
/// close, an existing file the command will not replace. Like InputError, exit code 2: the
/// cause is outside the program (README: 1 is kept for internal errors).
class OutputError : public Error {
 public:
  OutputError(std::string file, const std::string& problem)
      : Error(file + ": " + problem), file_(std::move(file)) {}
  const std::string& file() const noexcept { return file_; }

 private:
  std::string file_;
};

/// @brief Wrong option or setting given by the user (CLI or config).
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace laueproc
