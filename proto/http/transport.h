// The byte stream under an HTTP connection, plain TCP or TLS, behind one interface, so that the
// sessions of both servers (and the replica's client) are written once for both. A Transport is
// a Beast AsyncReadStream and AsyncWriteStream (async_read_some, async_write_some, get_executor),
// so http::async_read and http::async_write take it as they take a tcp_stream; the TLS
// implementation and OpenSSL stay in transport.cpp.
//
// Every operation runs on the executor of the socket the transport was made from (a strand for
// the servers): at most one read and one write outstanding at a time, as with a socket.
// Deadlines (expiresAfter) bound every operation started after them, the TLS handshake included,
// until expiresNever().
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace walstream::httpd {

class TlsServerContext;
class TlsClientContext;

class Transport {
 public:
  using executor_type = boost::asio::any_io_executor;
  using Handler = std::function<void(boost::system::error_code, size_t)>;
  using HandshakeHandler = std::function<void(boost::system::error_code)>;
  // The buffers of one write: a write takes at most this many at once (the rest are written
  // by the next write_some, as a socket's write may take fewer bytes than offered).
  static constexpr size_t kMaxWriteBuffers = 16;
  using WriteBuffers = std::array<boost::asio::const_buffer, kMaxWriteBuffers>;

  virtual ~Transport() = default;

  virtual executor_type get_executor() = 0;
  // Whether this is TLS ("https" in logs).
  virtual bool secure() const = 0;
  // TLS: the handshake, as the server or as the client the transport was made for. Plain: the
  // handler is posted at once with no error.
  virtual void handshake(HandshakeHandler handler) = 0;
  virtual void readSome(boost::asio::mutable_buffer buffer, Handler handler) = 0;
  virtual void writeSome(const WriteBuffers& buffers, Handler handler) = 0;

  virtual void expiresAfter(std::chrono::steady_clock::duration timeout) = 0;
  virtual void expiresAt(std::chrono::steady_clock::time_point deadline) = 0;
  virtual void expiresNever() = 0;
  // The TCP socket underneath: its descriptor, shutdown and close. Closing it ends the
  // connection without a TLS close_notify (the servers never wait for the peer's).
  virtual boost::asio::ip::tcp::socket& socket() = 0;
  // Cancels the pending operations (they complete with operation_aborted).
  virtual void cancel() = 0;
  // A failure of this transport in readable words for the log: for TLS, "the client spoke
  // plain HTTP to this TLS port", "certificate verify failed: certificate has expired", ...
  // (OpenSSL's reason, with the certificate check's result when it failed).
  virtual std::string errorText(const boost::system::error_code& ec) = 0;

  // Beast's stream interface: the first buffer of the sequence is read into; up to
  // kMaxWriteBuffers are written from.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, boost::asio::mutable_buffer buffer) {
          readSome(buffer, shared(std::move(handler)));
        },
        token, firstBuffer(buffers));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    WriteBuffers some{};
    size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && n < kMaxWriteBuffers; ++it) {
      const boost::asio::const_buffer b(*it);
      if (b.size() > 0) some[n++] = b;
    }
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const WriteBuffers& pending) {
          writeSome(pending, shared(std::move(handler)));
        },
        token, some);
  }

 private:
  // A move-only completion handler as a copyable std::function: the handler lives in a
  // shared_ptr until the one call.
  template <class H>
  static Handler shared(H handler) {
    auto held = std::make_shared<H>(std::move(handler));
    return [held](boost::system::error_code ec, size_t n) { (*held)(ec, n); };
  }

  template <class MutableBuffers>
  static boost::asio::mutable_buffer firstBuffer(const MutableBuffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer b(*it);
      if (b.size() > 0) return b;
    }
    return {};
  }
};

// A plain TCP connection.
std::unique_ptr<Transport> plainTransport(boost::asio::ip::tcp::socket socket);
// The server's side of a TLS connection, with the certificate `tls` holds now: a reload
// afterwards does not change this connection.
std::unique_ptr<Transport> tlsServerTransport(boost::asio::ip::tcp::socket socket,
                                              const TlsServerContext& tls);
// The client's side of a TLS connection to `hostName` (sent as SNI and checked against the
// server's certificate, unless `tls` skips verification).
std::unique_ptr<Transport> tlsClientTransport(boost::asio::ip::tcp::socket socket,
                                              const TlsClientContext& tls,
                                              const std::string& hostName);

// The first bytes a peer sent, read as the start of a TLS handshake (a ClientHello record):
// what a TLS client sends to a plain port.
bool looksLikeTlsHandshake(const void* data, size_t size);

}  // namespace walstream::httpd
