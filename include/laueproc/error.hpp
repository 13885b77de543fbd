#pragma once
/// @file
/// @brief Exception types. Every message is one line that names the file (or object) and the problem.

#include <cstdint>
#include <stdexcept>
#include <string>

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

/// @brief Wrong option or setting given by the user (CLI or config).
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace laueproc
