#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"
#include "proto/stream_inspector.h"

namespace walstream::cli {

namespace {

constexpr const char* kInspectUsage =
    "Usage: walstream inspect [FLAGS] < STREAM\n"
    "\n"
    "Decodes a /stream body read from standard input (e.g. curl -sN URL | walstream inspect;\n"
    "curl buffers what it writes into a pipe unless given -N)\n"
    "and prints one line per record: type, position, payload size and what the record holds.\n"
    "WAL segments are decompressed and their frame chain checked; snapshots are checked\n"
    "against their SQLite header without being held in memory. At the first bad byte an\n"
    "\"error\" line names the stream offset and the reason, and the exit code is 1 (also for a\n"
    "truncated stream); a clean end of input exits 0.\n"
    "\n"
    "Flags:\n";

void printLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

int reportFailure(const proto::StreamStatus& status) {
  printLine("error      stream offset " + std::to_string(status.streamOffset()) + ": " +
            status.reason());
  std::fflush(stdout);
  return 1;
}

}  // namespace

int runInspect(const std::vector<std::string>& args) {
  Flags flags;
  flags.define("max-record-bytes", "N", "",
               "reject records whose payload exceeds N bytes (default 256 MiB for WAL "
               "segments, 1 TiB for snapshots)");
  proto::RecordLimits limits;
  try {
    if (!flags.parse(args)) {
      std::fputs(kInspectUsage, stdout);
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    if (!flags.positional().empty()) {
      throw UsageError("unexpected argument \"" + flags.positional().front() +
                       "\" (the stream is read from standard input)");
    }
    if (flags.given("max-record-bytes")) {
      limits = proto::RecordLimits::uniform(flags.u64("max-record-bytes"));
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "walstream inspect: %s\n", e.what());
    return 2;
  }

  proto::StreamInspector inspector(limits, printLine);
  std::vector<uint8_t> buffer(256 * 1024);
  uint64_t received = 0;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return reportFailure(proto::StreamStatus::failure(
          received, std::string("cannot read standard input: ") + std::strerror(errno)));
    }
    if (n == 0) break;
    received += static_cast<uint64_t>(n);
    proto::StreamStatus status =
        inspector.feed(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n)));
    if (!status.ok()) return reportFailure(status);
  }
  if (proto::StreamStatus status = inspector.finish(); !status.ok()) {
    return reportFailure(status);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace walstream::cli
