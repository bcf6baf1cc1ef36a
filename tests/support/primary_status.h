// Reading a running primary's GET /status from tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/pos.h"
#include "proto/status_json.h"

namespace walstream::test {

proto::PrimaryStatusJson fetchStatus(uint16_t port);

// Polls /status (bounded) until every database is healthy with a position; throws otherwise.
proto::PrimaryStatusJson waitForCapture(
    uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The published position of database `name` (by /status).
Pos primaryPosition(uint16_t port, const std::string& name);

// With the application's writer stopped: waits (bounded) until capture's position of database
// `name` stays put for 300 ms, which it does once every commit is copied, and returns it.
// Throws when it keeps moving.
Pos waitForCaptureIdle(uint16_t port, const std::string& name);

// The streams /status lists, over every database.
size_t streamsListed(uint16_t port);

// Polls /status (bounded) until it lists `want` streams; whether it did.
bool waitForStreams(uint16_t port, size_t want, std::chrono::milliseconds timeout);

// Asks GET /healthz every 100 ms (bounded) until it answers 200; whether it did. Connections
// refused or cut meanwhile (a full connection cap, a backlog being drained) are retried.
bool waitUntilServing(uint16_t port, std::chrono::milliseconds timeout);

}  // namespace walstream::test
