// The certificate and key a TLS listener presents (--tls-cert, --tls-key: PEM files), reloadable:
// reload() builds a new context from the files and swaps it in, so connections accepted after
// it present the new certificate while those already open keep theirs (each holds the context
// it was made with). This header keeps Asio's SSL and OpenSSL out.
#pragma once

#include <memory>
#include <mutex>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace walstream::httpd {

class TlsServerContext {
 public:
  // Loads both files; throws walstream::Error naming the file and the cause (missing, not PEM,
  // a key that does not match the certificate).
  TlsServerContext(std::string certFile, std::string keyFile);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // Loads the files again. On failure throws walstream::Error and the current context stays.
  void reload();
  // The context new connections use. Thread-safe.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  const std::string& certFile() const { return certFile_; }

 private:
  const std::string certFile_, keyFile_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_;  // under mu_
};

}  // namespace walstream::httpd
