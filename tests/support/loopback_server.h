// Pieces of the small test servers (canned_http_server.h, record_proxy.h): a listening socket on
// 127.0.0.1 and the request line of a connection, every wait short and bounded.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/file_util.h"

namespace walstream::test {

// A listening TCP socket on 127.0.0.1 at an ephemeral port, stored in `port`, with SO_REUSEADDR
// (so that listenOnLoopbackPort can listen on the port again once it is closed). Throws on
// failure.
UniqueFd listenOnLoopback(uint16_t& port);
// The same on a given port (SO_REUSEADDR): a server that restarts where its clients expect it.
UniqueFd listenOnLoopbackPort(uint16_t port);

// Accepts connections on `listener` one at a time until `stop`; reads each one's request head
// (a client gets 5 s to send it) and hands its target ("GET <target> HTTP/1.1") and descriptor
// to `handle`, closing the connection after. Connections that send no request are dropped.
void serveRequests(int listener, const std::atomic<bool>& stop,
                   const std::function<void(int fd, const std::string& target)>& handle);

// Sends all of `bytes`; false when the connection failed first.
bool sendAll(int fd, std::string_view bytes);

}  // namespace walstream::test
