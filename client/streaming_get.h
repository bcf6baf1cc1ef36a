// A blocking HTTP/1.1 GET whose response body is read incrementally, with a deadline on every
// step. For the replica's stream thread, which does nothing but receive and apply, in order.
//
// Each call runs a private Asio io_context on the calling thread until the operation completes
// or its deadline passes, so timeouts are real (a silent or half-open connection fails the call)
// without a second thread. cancel() may be called from any thread (e.g. on SIGTERM): it aborts
// the pending or next call.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "client/upstream.h"

namespace walstream::client {

struct HttpResponseHead {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones comma-joined
  // The (bounded) body of a non-200 response, read whole, made printable (printable_text.h):
  // it is the peer's text, quoted in logs and /status.
  std::string body;
};

class StreamingGet {
 public:
  // Every request over TLS when `access` has a TLS context (the handshake within the connect
  // timeout, the server checked as the context says), with its bearer token when it has one.
  explicit StreamingGet(UpstreamAccess access = {});
  ~StreamingGet();
  StreamingGet(const StreamingGet&) = delete;
  StreamingGet& operator=(const StreamingGet&) = delete;

  // Resolves, connects and sends `GET target` within `timeout` each, then waits up to
  // `responseTimeout` for the response head (a primary may take a while to prepare a snapshot
  // or to reach a request in its setup queue), and when the status is not 200 reads the body:
  // at most 16 KiB, within one `timeout` for all of it. Throws walstream::Error naming the host
  // and the cause (for TLS in readable words: "certificate verify failed: certificate has
  // expired", "... hostname mismatch", ...).
  HttpResponseHead open(const std::string& host, const std::string& port, const std::string& target,
                        std::chrono::milliseconds timeout,
                        std::optional<std::chrono::milliseconds> responseTimeout = std::nullopt);

  // Reads the next bytes of the (de-chunked) body into buf; returns 0 at the end of the body.
  // Throws walstream::Error on a timeout, a reset connection, malformed or endless chunk
  // framing, or cancel(); its message names the peer and the stream offset (body bytes before
  // the failure). The timeout bounds the whole call (framing included), not each socket read.
  size_t readSome(uint8_t* buf, size_t n, std::chrono::milliseconds timeout);
  // The same with a deadline, for a body read whole within one (a status document, an error):
  // a peer sending a byte now and then cannot stretch it.
  size_t readSome(uint8_t* buf, size_t n, std::chrono::steady_clock::time_point deadline);

  // Whether body bytes are already here (read from the socket but not yet returned, or waiting in
  // its receive buffer), so that the next readSome returns without waiting for the network.
  // Bytes that may be only chunk framing (a chunk's CRLF and the next size line, at most
  // kChunkFramingBytes) do not count: waiting for the body behind them could take a heartbeat.
  bool hasBufferedData();

  void cancel();  // thread-safe
  // The connected socket, for socket options (client/tcp_keepalive.h); -1 before open().
  int nativeSocket();
  std::string remote() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace walstream::client
