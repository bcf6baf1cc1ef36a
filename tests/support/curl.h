// The `curl` command as a test's HTTPS client: what an operator would run against a server,
// bounded in time.
#pragma once

#include <string>
#include <vector>

namespace walstream::test {

struct CurlResult {
  int exitCode = -1;  // curl's: 0 when an answer came, whatever its status
  int status = 0;     // the HTTP status; 0 without an answer
  std::string body;
  std::string err;  // curl's error line
};

// `curl -sS URL` with `args` before the URL (--cacert FILE, -H "Authorization: Bearer ...").
CurlResult curl(const std::string& url, const std::vector<std::string>& args,
                const std::string& logPrefix);

}  // namespace walstream::test
