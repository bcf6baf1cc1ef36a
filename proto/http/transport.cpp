#include "proto/http/transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "core/error.h"
#include "proto/http/tls_client_context.h"
#include "proto/http/tls_server_context.h"

namespace walstream::httpd {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = net::ssl;
using boost::system::error_code;
using net::ip::tcp;

namespace {

// Operations on a beast::tcp_stream (the plain stream, or the one under TLS), with its
// deadlines.
template <class Stream>
class StreamTransport : public Transport {
 public:
  template <class... Args>
  explicit StreamTransport(Args&&... args) : stream_(std::forward<Args>(args)...) {}

  executor_type get_executor() override { return stream_.get_executor(); }
  void readSome(net::mutable_buffer buffer, Handler handler) override {
    stream_.async_read_some(buffer, std::move(handler));
  }
  void writeSome(const WriteBuffers& buffers, Handler handler) override {
    stream_.async_write_some(buffers, std::move(handler));
  }
  void expiresAfter(std::chrono::steady_clock::duration timeout) override {
    tcpStream().expires_after(timeout);
  }
  void expiresAt(std::chrono::steady_clock::time_point deadline) override {
    tcpStream().expires_at(deadline);
  }
  void expiresNever() override { tcpStream().expires_never(); }
  tcp::socket& socket() override { return tcpStream().socket(); }
  void cancel() override { tcpStream().cancel(); }

 protected:
  beast::tcp_stream& tcpStream() { return beast::get_lowest_layer(stream_); }
  Stream stream_;
};

class PlainTransport final : public StreamTransport<beast::tcp_stream> {
 public:
  explicit PlainTransport(tcp::socket socket) : StreamTransport(std::move(socket)) {}
  bool secure() const override { return false; }
  void handshake(HandshakeHandler handler) override {
    net::post(stream_.get_executor(), [handler = std::move(handler)] { handler({}); });
  }
  std::string errorText(const error_code& ec) override { return ec.message(); }
};

// OpenSSL's reason for a failed TLS operation, in the words an operator needs.
std::string sslReasonText(const error_code& ec, SSL* ssl) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == ssl::error::stream_truncated) {
    return "the peer closed the connection without ending TLS (one that does not speak TLS?)";
  }
  if (ec.category() != net::error::get_ssl_category()) return ec.message();
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  if (reason == SSL_R_HTTP_REQUEST) return "the client spoke plain HTTP to this TLS port";
  if (reason == SSL_R_WRONG_VERSION_NUMBER) {
    return "the peer does not speak TLS (wrong version number; a plain http:// server?)";
  }
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) {
      return std::string("certificate verify failed: ") + X509_verify_cert_error_string(result);
    }
  }
  const char* text = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  return text != nullptr ? std::string("TLS: ") + text : "TLS: " + ec.message();
}

class TlsTransport final : public StreamTransport<beast::ssl_stream<beast::tcp_stream>> {
 public:
  TlsTransport(tcp::socket socket, std::shared_ptr<ssl::context> context,
               ssl::stream_base::handshake_type side)
      : StreamTransport(std::move(socket), *context), context_(std::move(context)), side_(side) {}
  TlsTransport(tcp::socket socket, ssl::context& context, ssl::stream_base::handshake_type side)
      : StreamTransport(std::move(socket), context), side_(side) {}

  bool secure() const override { return true; }
  // A peer that closes without a TLS close_notify reads as the end of the stream, as on plain
  // TCP: HTTP's own framing (Content-Length, the last chunk) tells a cut body from a whole one.
  void readSome(net::mutable_buffer buffer, Handler handler) override {
    stream_.async_read_some(buffer, [handler = std::move(handler)](error_code ec, size_t n) {
      handler(ec == ssl::error::stream_truncated ? error_code(net::error::eof) : ec, n);
    });
  }
  void handshake(HandshakeHandler handler) override {
    stream_.async_handshake(side_, std::move(handler));
  }
  std::string errorText(const error_code& ec) override {
    return sslReasonText(ec, stream_.native_handle());
  }
  SSL* native() { return stream_.native_handle(); }

 private:
  // The context this connection was made with, kept while it lives, whatever reloads happen.
  std::shared_ptr<ssl::context> context_;
  ssl::stream_base::handshake_type side_;
};

}  // namespace

std::unique_ptr<Transport> plainTransport(tcp::socket socket) {
  return std::make_unique<PlainTransport>(std::move(socket));
}

std::unique_ptr<Transport> tlsServerTransport(tcp::socket socket, const TlsServerContext& tls) {
  return std::make_unique<TlsTransport>(std::move(socket), tls.current(), ssl::stream_base::server);
}

std::unique_ptr<Transport> tlsClientTransport(tcp::socket socket, const TlsClientContext& tls,
                                              const std::string& hostName) {
  auto transport =
      std::make_unique<TlsTransport>(std::move(socket), tls.context(), ssl::stream_base::client);
  SSL* native = transport->native();
  error_code ec;
  net::ip::make_address(hostName, ec);
  const bool isAddress = !ec;
  // SNI names hosts only, never addresses (RFC 6066, 3).
  if (!isAddress && SSL_set_tlsext_host_name(native, hostName.c_str()) != 1) {
    throw Error("cannot set the TLS server name " + hostName);
  }
  if (tls.verifies()) {
    const int ok = isAddress
                       ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), hostName.c_str())
                       : SSL_set1_host(native, hostName.c_str());
    if (ok != 1) throw Error("cannot check TLS certificates against the host " + hostName);
  }
  return transport;
}

bool looksLikeTlsHandshake(const void* data, size_t size) {
  // A TLS record of type handshake (22), version 3.x; no HTTP method starts so.
  const auto* bytes = static_cast<const unsigned char*>(data);
  return size >= 2 && bytes[0] == 0x16 && bytes[1] == 0x03;
}

}  // namespace walstream::httpd
