// walstream: stream a live SQLite database to read replicas over HTTP.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"

namespace {

constexpr const char* kUsage =
    "walstream " WALSTREAM_VERSION
    " - stream a live SQLite database to read replicas over HTTP\n"
    "\n"
    "Usage: walstream COMMAND [FLAGS] ARGS\n"
    "\n"
    "Commands:\n"
    "  primary   capture DB's WAL into DB-walstream/ and serve it over HTTP\n"
    "  replica   follow a primary and apply its stream into a local read-only database\n"
    "  promote   turn a stopped replica into a writable database for a new primary (fail-over)\n"
    "  inspect   decode a stream read from standard input, one line per record\n"
    "  restore   rebuild a database from a backup, as of its latest state, a time or a position\n"
    "  verify    restore a backup to a temporary file and check it, or compare it with DB\n"
    "  generations, snapshots, wal   list what a backup holds\n"
    "  version   print the version\n"
    "\n"
    "Run 'walstream COMMAND --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  using namespace walstream::cli;
  if (command == "version" || command == "--version") {
    std::puts("walstream " WALSTREAM_VERSION);
    return 0;
  }
  if (command == "primary") return runPrimary(args);
  if (command == "replica") return runReplica(args);
  if (command == "promote") return runPromote(args);
  if (command == "inspect") return runInspect(args);
  if (command == "restore") return runRestore(args);
  if (command == "verify") return runVerify(args);
  if (command == "generations" || command == "snapshots" || command == "wal") {
    return runBackupListing(command, args);
  }
  std::fprintf(stderr, "walstream: unknown command \"%s\" (see 'walstream --help')\n",
               command.c_str());
  return 2;
}
