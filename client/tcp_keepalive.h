// TCP keepalive on the replica's stream connection, for upstreams that send no heartbeats (the
// original protocol, docs/wire-format.md §9): an idle stream is normal there, so silence cannot
// tell a dead connection, but the kernel's keepalive probes can. A peer host that is gone, or a
// path that dropped the connection, fails the pending read (ETIMEDOUT) once the connection has
// been idle for kKeepaliveIdle and kKeepaliveProbes probes kKeepaliveInterval apart went
// unanswered: within 25 s of the last byte. A primary process that died closes or resets the
// connection at once, as always.
#pragma once

#include <chrono>

namespace walstream::client {

inline constexpr std::chrono::seconds kKeepaliveIdle{10};
inline constexpr std::chrono::seconds kKeepaliveInterval{5};
inline constexpr int kKeepaliveProbes = 3;

// Turns keepalive on for the connected socket `fd` with the settings above. Throws Error.
void enableTcpKeepalive(int fd);

}  // namespace walstream::client
