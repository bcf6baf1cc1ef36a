#include "bench/restore_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "bench/proc_stats.h"
#include "core/error.h"
#include "core/file_util.h"

extern char** environ;

namespace walstream::bench {

namespace {

constexpr int kRssPollMillis = 2;

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The child, its output in files, reaped (killed first if still running) by the destructor.
class RestoreChild {
 public:
  RestoreChild(const std::vector<std::string>& argv, const std::string& logPrefix)
      : out_(logPrefix + ".out"), err_(logPrefix + ".err") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
    pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    if (!pidfd_.valid()) throwErrno("pidfd_open of", argv[0]);
  }
  ~RestoreChild() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  RestoreChild(const RestoreChild&) = delete;
  RestoreChild& operator=(const RestoreChild&) = delete;

  pid_t pid() const { return pid_; }
  // Whether it exited within `timeout` (it is not reaped yet: /proc/PID stays readable).
  bool waitForExit(std::chrono::milliseconds timeout) {
    pollfd p{pidfd_.get(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
  }
  int reap() {
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) throwErrno("waitpid for", "walstream restore");
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string output() const { return readText(out_) + readText(err_); }
  std::string stdoutText() const { return readText(out_); }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool reaped_ = false;
};

}  // namespace

RestoreRun runRestore(const std::string& binary, const std::vector<std::string>& args,
                      const std::string& logPrefix, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {binary, "restore"};
  argv.insert(argv.end(), args.begin(), args.end());
  RestoreRun run;
  const auto start = std::chrono::steady_clock::now();
  RestoreChild child(argv, logPrefix);
  const auto deadline = start + timeout;
  for (;;) {
    // Until it exits its /proc entry has its memory; a zombie's has none.
    try {
      run.peakRssKiB = std::max(run.peakRssKiB, peakRssKiB(child.pid()));
    } catch (const Error&) {
      // exiting: its memory is gone already
    }
    if (child.waitForExit(std::chrono::milliseconds(kRssPollMillis))) break;
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error("walstream restore did not finish within " + std::to_string(timeout.count()) +
                  " ms: " + child.output());
    }
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int code = child.reap();
  if (code != 0) {
    throw Error("walstream restore exited with " + std::to_string(code) + ": " + child.output());
  }
  run.summary = child.stdoutText();
  std::smatch m;
  if (!std::regex_search(run.summary, m, std::regex("([0-9]+) transactions after it"))) {
    throw Error("walstream restore printed no transaction count: " + run.summary);
  }
  run.transactions = std::stoull(m[1]);
  while (!run.summary.empty() && run.summary.back() == '\n') run.summary.pop_back();
  return run;
}

}  // namespace walstream::bench
