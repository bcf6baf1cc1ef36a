// A hostile or lossy network path in tests: an HTTP server on 127.0.0.1 (ephemeral port) that
// relays each /stream request to a real primary and passes the response's records through a
// filter that may drop them, one connection at a time. The status and the walstream response
// headers are forwarded as they are; a /stream body is re-chunked record by record, any other
// body relayed whole. Its thread stops
// and is joined on destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "core/file_util.h"
#include "tests/support/stream_replay.h"

namespace walstream::test {

class RecordProxy {
 public:
  // Called on the proxy's thread for every record, in stream order, across connections.
  // Returns the records to send in its place: usually {record} or {}. It may hold a record back
  // and send it with a later one.
  using Filter = std::function<std::vector<StreamRecord>(StreamRecord record)>;

  RecordProxy(uint16_t upstreamPort, Filter filter);
  ~RecordProxy();
  RecordProxy(const RecordProxy&) = delete;
  RecordProxy& operator=(const RecordProxy&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }  // requests relayed so far

 private:
  void serve();
  void relay(int client, const std::string& target);

  const uint16_t upstreamPort_;
  const Filter filter_;
  uint16_t port_ = 0;  // before listener_, which sets it
  UniqueFd listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace walstream::test
