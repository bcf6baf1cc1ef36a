// A small command-line flag parser: `--name value`, `--name=value`, boolean `--name`, and
// positional arguments. Errors are UsageError, printed as one line with exit code 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace walstream::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Flags {
 public:
  // `valueName` empty: a boolean flag.
  void define(std::string name, std::string valueName, std::string defaultValue, std::string help);
  // Parses args (without the program and subcommand names). Returns false when --help was given.
  bool parse(const std::vector<std::string>& args);

  std::string str(const std::string& name) const;
  bool boolean(const std::string& name) const;
  uint64_t u64(const std::string& name) const;  // throws UsageError naming the flag
  // A whole number from `min` to 2^32 - 1; throws UsageError naming the flag and the range.
  uint32_t u32(const std::string& name, uint32_t min) const;
  std::chrono::milliseconds duration(const std::string& name) const;  // 500ms, 10s, 1m, 1h
  uint64_t bytes(const std::string& name) const;  // 4096, 64KiB, 512MiB, 1GiB, 2TiB
  bool given(const std::string& name) const { return given_.count(name) != 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help() const;  // the flag table for --help

 private:
  struct Def {
    std::string valueName, defaultValue, help;
  };
  std::vector<std::string> order_;
  std::map<std::string, Def> defs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> given_;
  std::vector<std::string> positional_;
};

std::chrono::milliseconds parseDuration(const std::string& text);  // throws std::invalid_argument
uint64_t parseByteSize(const std::string& text);                   // throws std::invalid_argument

}  // namespace walstream::cli
