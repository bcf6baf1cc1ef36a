#include "client/streaming_get.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <limits>
#include <optional>

#include "core/error.h"
#include "core/printable_text.h"
#include "proto/http/transport.h"

namespace walstream::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Between two chunks' data: CRLF, up to 16 hex digits of size, CRLF; the last chunk and the end
// of the body add "0" CRLF CRLF. The primary writes no chunk extensions.
constexpr size_t kChunkFramingBytes = 32;

// Bytes asked of the socket per read: large, so a snapshot costs few system calls and wake-ups.
constexpr size_t kSocketReadBytes = 1024 * 1024;

// The most bytes of chunk framing (a chunk-size line with its extensions, or the trailer after
// the last chunk) held while the parser waits for its end. Boost 1.74's parser bounds the
// response head (header_limit) but neither of these: without this bound, a peer that never ends
// a chunk extension or a trailer would grow the buffer for as long as it sends. The primary
// writes 20 bytes at most; this is the head's own limit.
constexpr size_t kMaxChunkFramingBytes = 8 * 1024;

// The (bounded) body of an error response read for the log: at most this much.
constexpr size_t kMaxErrorBodyBytes = 16 * 1024;

}  // namespace

struct StreamingGet::Impl {
  explicit Impl(UpstreamAccess a) : access(std::move(a)) {}

  const UpstreamAccess access;
  asio::io_context ioc;
  beast::tcp_stream connecting{ioc};  // until connected; then its socket is the transport's
  std::unique_ptr<httpd::Transport> stream;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::atomic<bool> cancelled{false};
  std::string host;
  uint64_t bodyBytes = 0;  // de-chunked body bytes returned so far: the stream offset

  // Runs the io_context until `done`; the operation's own deadline (tcp_stream::expires_after)
  // bounds it.
  void runUntil(const bool& done) {
    ioc.restart();
    while (!done && !ioc.stopped()) ioc.run_one();
  }

  // The words for a failure: TLS ones from the transport, which knows the certificate check.
  std::string errorText(const beast::error_code& ec) const {
    return stream ? stream->errorText(ec) : ec.message();
  }

  void check(const beast::error_code& ec, const std::string& what) {
    if (cancelled) throw Error("stream from " + host + " cancelled");
    if (ec == beast::error::timeout) throw Error(what + " " + host + ": timed out");
    if (ec) throw Error(what + " " + host + ": " + errorText(ec));
  }

  // Where a failure of the body happened, for its message.
  std::string where() const { return " at stream offset " + std::to_string(bodyBytes); }

  // check() for the body: the message says how far into the stream it failed.
  void checkBody(const beast::error_code& ec) {
    if (cancelled) throw Error("stream from " + host + " cancelled" + where());
    if (ec == beast::error::timeout) throw Error("stream from " + host + ": timed out" + where());
    if (ec) throw Error("stream from " + host + ": " + errorText(ec) + where());
  }

  // Resolves `hostName` and connects to one of its addresses, within `timeout` for the connection.
  void connect(const std::string& hostName, const std::string& port,
               std::chrono::milliseconds timeout) {
    beast::error_code ec;
    bool done = false;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(hostName, port, [&](beast::error_code e, tcp::resolver::results_type r) {
      ec = e;
      endpoints = std::move(r);
      done = true;
    });
    runUntil(done);
    check(ec, "cannot resolve");

    done = false;
    connecting.expires_after(timeout);
    connecting.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    runUntil(done);
    check(ec, "cannot connect to");
    connecting.expires_never();
    if (!access.tls) {
      stream = httpd::plainTransport(connecting.release_socket());
      return;
    }
    stream = httpd::tlsClientTransport(connecting.release_socket(), *access.tls, hostName);
    done = false;
    stream->expiresAfter(timeout);
    stream->handshake([&](beast::error_code e) {
      ec = e;
      done = true;
    });
    runUntil(done);
    check(ec, "TLS handshake with");
  }

  void sendRequest(const std::string& hostName, const std::string& target,
                   std::chrono::milliseconds timeout) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, hostName);
    req.set(http::field::user_agent, "walstream-replica");
    if (!access.token.empty()) req.set(http::field::authorization, "Bearer " + access.token);
    if (!access.via.empty()) req.set("Walstream-Via", access.via);
    beast::error_code ec;
    bool done = false;
    stream->expiresAfter(timeout);
    http::async_write(*stream, req, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    runUntil(done);
    check(ec, "cannot send the request to");
  }

  // Reads the response head into a new parser, which then reads the body (readSome).
  void readHead(std::chrono::milliseconds timeout) {
    // Room for the head; readSome() reads the body kSocketReadBytes at a time.
    buffer.reserve(kSocketReadBytes);
    parser.emplace();
    // A snapshot body can be larger than any fixed limit. Not boost::none: Boost 1.74 compares
    // a Content-Length against the optional limit, and any length is "greater" than none, so a
    // (non-200) response with a Content-Length failed with "body limit exceeded".
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    bool done = false;
    stream->expiresAfter(timeout);
    http::async_read_header(*stream, buffer, *parser, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    runUntil(done);
    check(ec, "cannot read the response from");
  }

  // The status and header fields of the head readHead() read; no body yet.
  HttpResponseHead responseHead() const {
    HttpResponseHead head;
    const auto& res = parser->get();
    head.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      // A field sent twice means its values joined by commas (RFC 9110 §5.3), which then fail
      // a strict parse of a single value instead of one of them being picked silently.
      const auto [it, added] = head.headers.emplace(name, std::string(f.value()));
      if (!added) it->second += ", " + std::string(f.value());
    }
    return head;
  }
};

namespace {

// The body of a non-200 response (JSON {"error": ...}), for the log: at most kMaxErrorBodyBytes,
// read within one deadline for all of it, so that a peer sending a byte now and then cannot hold
// the replica here. A failure to read it ends the body there: the status alone is the answer.
std::string readErrorBody(StreamingGet& stream, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string body;
  uint8_t buf[4096];
  while (body.size() < kMaxErrorBodyBytes) {
    size_t n = 0;
    try {
      n = stream.readSome(buf, sizeof buf, deadline);
    } catch (const Error&) {
      break;
    }
    if (n == 0) break;
    body.append(reinterpret_cast<const char*>(buf), n);
  }
  // The body is the peer's text, bound for log lines and /status JSON.
  return printableText(body);
}

}  // namespace

StreamingGet::StreamingGet(UpstreamAccess access)
    : impl_(std::make_unique<Impl>(std::move(access))) {}
StreamingGet::~StreamingGet() = default;

HttpResponseHead StreamingGet::open(const std::string& host, const std::string& port,
                                    const std::string& target, std::chrono::milliseconds timeout,
                                    std::optional<std::chrono::milliseconds> responseTimeout) {
  Impl& m = *impl_;
  m.host = host + ":" + port;
  m.connect(host, port, timeout);
  m.sendRequest(host, target, timeout);
  m.readHead(responseTimeout.value_or(timeout));
  HttpResponseHead head = m.responseHead();
  if (head.status != 200) head.body = readErrorBody(*this, timeout);
  return head;
}

size_t StreamingGet::readSome(uint8_t* buf, size_t n, std::chrono::milliseconds timeout) {
  return readSome(buf, n, std::chrono::steady_clock::now() + timeout);
}

size_t StreamingGet::readSome(uint8_t* buf, size_t n,
                              std::chrono::steady_clock::time_point deadline) {
  Impl& m = *impl_;
  if (!m.parser) throw Error("stream from " + m.host + " is not open");
  // Beast's own read_some reads at most 64 KiB per system call; a snapshot is hundreds of MiB.
  // So the socket is read here, kSocketReadBytes at a time, and the parser is fed by hand: it
  // strips the chunk framing and copies body bytes into buf.
  auto& body = m.parser->get().body();
  for (;;) {
    if (m.parser->is_done()) return 0;
    if (m.buffer.size() > 0) {
      body.data = buf;
      body.size = n;
      beast::error_code ec;
      const size_t used = m.parser->put(m.buffer.data(), ec);
      m.buffer.consume(used);
      const size_t got = n - body.size;
      m.bodyBytes += got;
      if (ec == http::error::need_buffer) ec = {};  // buf is full: a normal partial read
      const bool needMore = ec == http::error::need_more;
      if (needMore) ec = {};
      m.checkBody(ec);
      if (got > 0) return got;
      if (m.parser->is_done()) return 0;
      // Only framing was parsed: parse on while bytes are left, else read more.
      if (!needMore && m.buffer.size() > 0) continue;
      // Everything buffered is one piece of framing that has not ended yet.
      if (needMore && m.buffer.size() > kMaxChunkFramingBytes) {
        throw Error("stream from " + m.host + ": more than " +
                    std::to_string(kMaxChunkFramingBytes) +
                    " bytes of chunk framing without its end (an endless chunk extension or "
                    "trailer)" +
                    m.where());
      }
    }
    beast::error_code ec;
    bool done = false;
    size_t read = 0;
    m.stream->expiresAt(deadline);
    m.stream->async_read_some(m.buffer.prepare(kSocketReadBytes),
                              [&](beast::error_code e, size_t k) {
                                ec = e;
                                read = k;
                                done = true;
                              });
    m.runUntil(done);
    m.buffer.commit(read);
    if (ec == asio::error::eof) {
      // The connection closed: partial_message unless the body may end here.
      beast::error_code eofEc;
      m.parser->put_eof(eofEc);
      m.checkBody(eofEc);
      return 0;
    }
    m.checkBody(ec);
  }
}

bool StreamingGet::hasBufferedData() {
  Impl& m = *impl_;
  if (!m.parser || m.parser->is_done()) return false;
  beast::error_code ec;
  const size_t inSocket = m.stream->socket().available(ec);
  if (ec) return false;
  return m.buffer.size() + inSocket > kChunkFramingBytes;
}

void StreamingGet::cancel() {
  impl_->cancelled = true;
  asio::post(impl_->ioc, [m = impl_.get()] {
    beast::error_code ignored;
    if (m->stream) {
      m->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      m->stream->cancel();
    } else {
      m->connecting.socket().shutdown(tcp::socket::shutdown_both, ignored);
      m->connecting.cancel();
    }
  });
}

std::string StreamingGet::remote() const {
  return impl_->host;
}

int StreamingGet::nativeSocket() {
  if (!impl_->stream) return -1;
  auto& socket = impl_->stream->socket();
  return socket.is_open() ? socket.native_handle() : -1;
}

}  // namespace walstream::client
