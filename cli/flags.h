// A small command-line flag parser: `--name value`, `--name=value`, boolean `--name`, and
// positional arguments. Errors are UsageError, printed as one line with exit code 2.
// A value may also come from a config file (cli/config_file.h): set with its origin, it yields to
// the same flag on the command line, and errors about it start with that origin (FILE:LINE).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/quantity_text.h"

namespace walstream::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Flags {
 public:
  // `valueName` empty: a boolean flag.
  void define(std::string name, std::string valueName, std::string defaultValue, std::string help);
  // A flag that may be given several times (--upstream A --upstream B), or as a list in a config
  // file; list() has its values in order (the command line's, when it gives any, else the
  // file's), str() the last one.
  void defineRepeatable(std::string name, std::string valueName, std::string help);
  bool repeatable(const std::string& name) const;
  const std::vector<std::string>& list(const std::string& name) const;
  // Parses args (without the program and subcommand names). Returns false when --help was given.
  bool parse(const std::vector<std::string>& args);
  // Sets `name` from a config file unless the command line gave it; `origin` is "FILE:LINE".
  // Throws UsageError for an unknown name or a boolean that is neither true nor false.
  void setFromFile(const std::string& name, const std::string& value, const std::string& origin);

  std::string str(const std::string& name) const;
  bool boolean(const std::string& name) const;
  uint64_t u64(const std::string& name) const;  // throws UsageError naming the flag
  // A whole number from `min` to 2^32 - 1; throws UsageError naming the flag and the range.
  uint32_t u32(const std::string& name, uint32_t min) const;
  std::chrono::milliseconds duration(const std::string& name) const;  // 500ms, 10s, 1m, 1h
  uint64_t bytes(const std::string& name) const;  // 4096, 64KiB, 512MiB, 1GiB, 2TiB
  bool given(const std::string& name) const { return given_.count(name) != 0; }  // or by file
  bool onCommandLine(const std::string& name) const {
    return given(name) && origins_.count(name) == 0;
  }
  bool defined(const std::string& name) const { return defs_.count(name) != 0; }
  const std::vector<std::string>& names() const { return order_; }  // in definition order
  // `message` about flag `name`, after the FILE:LINE its value came from when a file gave it.
  UsageError error(const std::string& name, const std::string& message) const;
  // `invalid value "VALUE" for --NAME: WANT` (for a file's value: `FILE:LINE: ... for NAME: ...`).
  UsageError invalidValue(const std::string& name, const std::string& want) const;
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help() const;  // the flag table for --help

 private:
  struct Def {
    std::string valueName, defaultValue, help;
    bool repeatable = false;
  };
  void setValue(const std::string& name, const std::string& value);
  std::vector<std::string> order_;
  std::map<std::string, Def> defs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> lists_;  // of the repeatable flags
  std::map<std::string, bool> given_;
  std::map<std::string, std::string> origins_;  // FILE:LINE of the values a config file set
  std::vector<std::string> positional_;
};

// The quantity parsers flags use (core/quantity_text.h), under the names cli's callers know.
using walstream::parseByteSize;
using walstream::parseDuration;

}  // namespace walstream::cli
