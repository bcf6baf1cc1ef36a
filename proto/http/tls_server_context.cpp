#include "proto/http/tls_server_context.h"

#include <boost/asio/ssl/context.hpp>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream::httpd {

namespace ssl = boost::asio::ssl;

namespace {

// A PEM file's text; the error names what it is (`role`).
std::string readPem(const std::string& file, const char* role) {
  try {
    return readFile(file);
  } catch (const Error& e) {
    throw Error(std::string(role) + ": " + e.what());
  }
}

// A server context from the PEM files: TLS 1.2 and later only.
std::shared_ptr<ssl::context> loadServerContext(const std::string& certFile,
                                                const std::string& keyFile) {
  // Read here, not by OpenSSL, so that a missing file is named with the system's reason.
  const std::string cert = readPem(certFile, "TLS certificate");
  const std::string key = readPem(keyFile, "TLS key");
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(cert), ec);
  if (ec) throw Error("cannot use the TLS certificate " + certFile + ": " + ec.message());
  context->use_private_key(boost::asio::buffer(key), ssl::context::pem, ec);
  if (ec) {
    throw Error("cannot use the TLS key " + keyFile + " with the certificate " + certFile + ": " +
                ec.message());
  }
  return context;
}

}  // namespace

TlsServerContext::TlsServerContext(std::string certFile, std::string keyFile)
    : certFile_(std::move(certFile)),
      keyFile_(std::move(keyFile)),
      context_(loadServerContext(certFile_, keyFile_)) {}

TlsServerContext::~TlsServerContext() = default;

void TlsServerContext::reload() {
  auto fresh = loadServerContext(certFile_, keyFile_);
  std::lock_guard lock(mu_);
  context_ = std::move(fresh);
}

std::shared_ptr<ssl::context> TlsServerContext::current() const {
  std::lock_guard lock(mu_);
  return context_;
}

}  // namespace walstream::httpd
