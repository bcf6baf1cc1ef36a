// Runs the real walstream binary (or any program) as a child process for integration tests.
// The child's stdout and stderr go to files in a directory the test owns; the destructor kills
// (SIGKILL) and reaps a child that is still running, so no test leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace walstream::test {

class Process {
 public:
  // Starts argv[0] with argv; output to <logPrefix>.out and <logPrefix>.err.
  Process(std::vector<std::string> argv, std::string logPrefix);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit up to `timeout`; returns the exit code (128+signal if killed), nullopt on
  // timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string stdoutText() const;
  std::string stderrText() const;
  // Waits (bounded) until stderr contains `needle`; returns the stderr text, or "" on timeout.
  std::string waitForStderr(const std::string& needle, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exitCode_;
  std::string outPath_, errPath_;
};

// How many times `needle` occurs in `text` (overlapping ones included): log lines counted.
size_t countOf(const std::string& text, const std::string& needle);

// Runs to completion (bounded by timeout, then killed); returns exit code, stdout, stderr.
struct RunResult {
  int exitCode = -1;
  std::string out, err;
};
RunResult runToCompletion(std::vector<std::string> argv, const std::string& logPrefix,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::string& stdinText = "");

}  // namespace walstream::test
