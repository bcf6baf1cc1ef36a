#include "tests/support/s3_server.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "core/file_util.h"
#include "tests/support/time_scale.h"

namespace walstream::test {

namespace {

// Where `make deps` installs s3rver, and node (CMake finds both: tests/CMakeLists.txt).
const std::string kS3rverScript =
    std::string(WALSTREAM_S3RVER_DIR) + "/node_modules/s3rver/bin/s3rver.js";
const std::string kNode = WALSTREAM_NODE;

constexpr std::string_view kListening = "S3rver listening on ";

}  // namespace

S3Server::S3Server(std::string bucket) : bucket_(std::move(bucket)) {
  if (kNode.empty() || ::access(kNode.c_str(), X_OK) != 0 ||
      ::access(kS3rverScript.c_str(), R_OK) != 0) {
    FAIL("the tests' S3 server is not installed (" << kS3rverScript << ", node '" << kNode
                                                   << "'): run `make deps`, then cmake again");
  }
  dataDir_ = dir_.file("data");
  makeDirs(dataDir_);
  credentialsFile_ = dir_.file("credentials");
  std::ofstream(credentialsFile_) << "[default]\naws_access_key_id = " << kAccessKeyId
                                  << "\naws_secret_access_key = " << kSecretAccessKey << "\n";
  start(0);
}

S3Server::~S3Server() = default;  // Process kills and reaps

std::string S3Server::storeUrl(const std::string& prefix, const std::string& endpoint) const {
  return "s3://" + bucket_ + (prefix.empty() ? "" : "/" + prefix) +
         "?endpoint=" + (endpoint.empty() ? this->endpoint() : endpoint) +
         "&region=us-east-1&force-path-style=true";
}

void S3Server::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(10));
  process_.reset();
}

void S3Server::restart() {
  kill();
  start(port_);
}

void S3Server::start(uint16_t port) {
  const std::string log = dir_.file("s3rver-" + std::to_string(++starts_));
  process_ = std::make_unique<Process>(
      std::vector<std::string>{kNode, "--openssl-legacy-provider", kS3rverScript, "--silent",
                               "--directory", dataDir_, "--address", "127.0.0.1", "--port",
                               std::to_string(port), "--configure-bucket", bucket_},
      log);
  // It prints "S3rver listening on 127.0.0.1:PORT" once it accepts connections.
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(20));
  for (;;) {
    const std::string out = process_->stdoutText();
    const size_t at = out.find(kListening);
    const size_t colon = at == std::string::npos ? at : out.find(':', at + kListening.size());
    if (colon != std::string::npos && out.find('\n', colon) != std::string::npos) {
      port_ = static_cast<uint16_t>(std::atoi(out.c_str() + colon + 1));
      REQUIRE_MESSAGE(port_ != 0, "s3rver printed no port: " << out);
      return;
    }
    if (!process_->running() || std::chrono::steady_clock::now() > deadline) {
      FAIL("s3rver did not start: " << out << process_->stderrText());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace walstream::test
