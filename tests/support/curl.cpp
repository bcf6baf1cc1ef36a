#include "tests/support/curl.h"

#include "tests/support/process.h"

namespace walstream::test {

CurlResult curl(const std::string& url, const std::vector<std::string>& args,
                const std::string& logPrefix) {
  // The status goes after the body, on a line of its own.
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "10", "-w",
                                   "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  const RunResult r = runToCompletion(argv, logPrefix);
  CurlResult out;
  out.exitCode = r.exitCode;
  out.err = r.err;
  const size_t nl = r.out.rfind('\n');
  if (nl != std::string::npos) {
    out.body = r.out.substr(0, nl);
    out.status = std::atoi(r.out.c_str() + nl + 1);
  }
  return out;
}

}  // namespace walstream::test
