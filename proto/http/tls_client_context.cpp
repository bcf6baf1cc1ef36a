#include "proto/http/tls_client_context.h"

#include <boost/asio/ssl/context.hpp>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream::httpd {

namespace ssl = boost::asio::ssl;

TlsClientContext::TlsClientContext(const TlsClientOptions& options)
    : context_(std::make_unique<ssl::context>(ssl::context::tls_client)),
      insecure_(options.insecure) {
  context_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (insecure_) {
    context_->set_verify_mode(ssl::verify_none);
    return;
  }
  context_->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (options.caFile.empty()) {
    context_->set_default_verify_paths(ec);
    if (ec) throw Error("cannot load the system's trusted certificates: " + ec.message());
    return;
  }
  const std::string pem = readFile(options.caFile);  // names a missing file
  context_->add_certificate_authority(boost::asio::buffer(pem), ec);
  if (ec) throw Error("cannot use the CA file " + options.caFile + ": " + ec.message());
}

TlsClientContext::~TlsClientContext() = default;

}  // namespace walstream::httpd
