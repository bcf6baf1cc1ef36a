// How a client (the replica, towards an https:// upstream) checks the server: the certificate
// chain against the system's trust store or --tls-ca FILE, and the host name (tls_transport in
// transport.cpp); or, with --tls-insecure, nothing at all. This header keeps Asio's SSL and
// OpenSSL out.
#pragma once

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace walstream::httpd {

struct TlsClientOptions {
  std::string caFile;     // "" = the system's trust store
  bool insecure = false;  // no verification at all (--tls-insecure)
};

class TlsClientContext {
 public:
  // Throws walstream::Error naming the CA file when it cannot be read as PEM certificates.
  explicit TlsClientContext(const TlsClientOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  boost::asio::ssl::context& context() const { return *context_; }
  bool verifies() const { return !insecure_; }

 private:
  std::unique_ptr<boost::asio::ssl::context> context_;
  bool insecure_ = false;
};

}  // namespace walstream::httpd
