// client::StreamingGet against a canned HTTP/1.1 response served from a thread on 127.0.0.1: the
// de-chunked body arrives exactly, however the bytes are cut, and a body cut short is an error.
#include "client/streaming_get.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/contains.h"

using namespace walstream;
using namespace std::chrono_literals;
using walstream::test::contains;

namespace {

// Accepts one connection, reads the request head, writes `response` in pieces of at most
// `piece` bytes, then closes. With a `pause`, the first `wholeFirst` bytes go at once and a
// pause follows every later piece. Stops early when the client has gone.
class CannedServer {
 public:
  CannedServer(std::string response, size_t piece,
               std::chrono::milliseconds pause = std::chrono::milliseconds(0),
               size_t wholeFirst = 0) {
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener_.valid());
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_.get(), 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, response = std::move(response), piece, pause, wholeFirst] {
      UniqueFd conn(::accept(listener_.get(), nullptr, nullptr));
      if (!conn.valid()) return;
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(conn.get(), buf, sizeof buf);
        if (n <= 0) return;
        request.append(buf, static_cast<size_t>(n));
      }
      for (size_t off = 0, n = 0; off < response.size(); off += n) {
        n = std::min(off < wholeFirst ? wholeFirst - off : piece, response.size() - off);
        if (::send(conn.get(), response.data() + off, n, MSG_NOSIGNAL) != static_cast<ssize_t>(n))
          return;
        if (pause.count() > 0 && off + n > wholeFirst) std::this_thread::sleep_for(pause);
      }
    });
  }
  ~CannedServer() { thread_.join(); }
  std::string port() const { return std::to_string(port_); }

 private:
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::thread thread_;
};

std::string randomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

const std::string kChunkedHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

// The message of the Error that `f` throws; "" when it throws none.
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

// A 200 response whose chunked body is `body` cut into chunks of the given sizes (the rest as
// one more chunk), ended by the final chunk unless `complete` is false.
std::string chunkedResponse(const std::string& body, const std::vector<size_t>& sizes,
                            bool complete = true) {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  size_t off = 0;
  auto chunk = [&](size_t n) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", n);
    out += hex;
    out.append(body, off, n);
    out += "\r\n";
    off += n;
  };
  for (size_t n : sizes) chunk(std::min(n, body.size() - off));
  if (off < body.size()) chunk(body.size() - off);
  if (complete) out += "0\r\n\r\n";
  return out;
}

std::string readBody(client::StreamingGet& stream, size_t bufSize) {
  std::string got;
  std::vector<uint8_t> buf(bufSize);
  while (const size_t n = stream.readSome(buf.data(), buf.size(), 5s)) {
    got.append(reinterpret_cast<const char*>(buf.data()), n);
  }
  return got;
}

}  // namespace

TEST_CASE("StreamingGet returns a chunked body exactly, however it is cut") {
  // Chunks larger than one socket read (1 MiB), small ones, and a body sent a few bytes at a
  // time so that chunk framing is split across reads.
  const std::string body = randomBytes((3 << 20) + 12345, 1);
  const std::vector<size_t> sizes{1, 2, 40, 4096, (2 << 20) + 7, 100000};
  for (const size_t piece : {size_t{7}, size_t{1000}, size_t{1} << 20}) {
    for (const size_t bufSize : {size_t{1}, size_t{4096}, size_t{256} << 10, size_t{4} << 20}) {
      if (piece == 7 && bufSize > 4096) continue;  // slow and adds nothing
      CAPTURE(piece);
      CAPTURE(bufSize);
      const size_t bodySize = piece == 7 ? 70000 : body.size();
      const std::string expect = body.substr(0, bodySize);
      CannedServer server(chunkedResponse(expect, sizes), piece);
      client::StreamingGet stream;
      const auto head = stream.open("127.0.0.1", server.port(), "/stream", 5s);
      CHECK(head.status == 200);
      CHECK(readBody(stream, bufSize) == expect);
      CHECK(stream.readSome(nullptr, 0, 1s) == 0);  // stays at the end
    }
  }
}

TEST_CASE("StreamingGet reports a body that the connection cuts short") {
  const std::string body = randomBytes(3 << 20, 2);
  const std::string full = chunkedResponse(body, {1 << 20, 1 << 20});
  SUBCASE("inside a chunk") {
    CannedServer server(full.substr(0, full.size() / 2), 64 << 10);
    client::StreamingGet stream;
    REQUIRE(stream.open("127.0.0.1", server.port(), "/stream", 5s).status == 200);
    CHECK_THROWS_AS(readBody(stream, 256 << 10), Error);
  }
  SUBCASE("at a chunk boundary, before the final chunk") {
    CannedServer server(chunkedResponse(body, {1 << 20, 1 << 20}, /*complete=*/false), 64 << 10);
    client::StreamingGet stream;
    REQUIRE(stream.open("127.0.0.1", server.port(), "/stream", 5s).status == 200);
    CHECK_THROWS_AS(readBody(stream, 256 << 10), Error);
  }
  SUBCASE("inside the chunk framing") {
    const size_t cut = full.find("\r\n", full.find("\r\n\r\n") + 4 + (1 << 20) + 8);
    CannedServer server(full.substr(0, cut + 1), 64 << 10);
    client::StreamingGet stream;
    REQUIRE(stream.open("127.0.0.1", server.port(), "/stream", 5s).status == 200);
    CHECK_THROWS_AS(readBody(stream, 256 << 10), Error);
  }
}

TEST_CASE("StreamingGet reads the body of an error response") {
  const std::string json = R"({"error":"no such database"})";
  CannedServer server("HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(json.size()) +
                          "\r\nContent-Type: application/json\r\n\r\n" + json,
                      5);
  client::StreamingGet stream;
  const auto head = stream.open("127.0.0.1", server.port(), "/stream", 5s);
  CHECK(head.status == 404);
  CHECK(head.body == json);
}

TEST_CASE("StreamingGet refuses chunk framing that never ends, holding little of it") {
  // 16 MiB of a chunk extension, or of a trailer after the last chunk: framing that the parser
  // buffers whole while it waits for the line's end.
  const std::string endless(size_t{16} << 20, 'a');
  SUBCASE("chunk extension") {
    CannedServer server(kChunkedHead + "5\r\nhello\r\n1;" + endless, 64 << 10);
    client::StreamingGet stream;
    REQUIRE(stream.open("127.0.0.1", server.port(), "/stream", 5s).status == 200);
    const std::string error = errorOf([&] { readBody(stream, 256 << 10); });
    MESSAGE(error);
    CHECK(contains(error, "stream from 127.0.0.1:" + server.port() + ": more than 8192 bytes"));
    CHECK(contains(error, "chunk framing without its end"));
    CHECK(contains(error, "at stream offset 5"));
  }
  SUBCASE("trailer") {
    CannedServer server(kChunkedHead + "5\r\nhello\r\n0\r\nX-Trailer: " + endless, 64 << 10);
    client::StreamingGet stream;
    REQUIRE(stream.open("127.0.0.1", server.port(), "/stream", 5s).status == 200);
    const std::string error = errorOf([&] { readBody(stream, 256 << 10); });
    MESSAGE(error);
    CHECK(contains(error, "chunk framing without its end"));
    CHECK(contains(error, "at stream offset 5"));
  }
}

TEST_CASE("StreamingGet errors name the peer and the stream offset") {
  SUBCASE("a malformed chunk size") {
    CannedServer server(kChunkedHead + "5\r\nhello\r\nzz\r\n", 64 << 10);
    client::StreamingGet stream;
    REQUIRE(stream.open("127.0.0.1", server.port(), "/stream", 5s).status == 200);
    const std::string error = errorOf([&] { readBody(stream, 3); });
    MESSAGE(error);
    CHECK(contains(error, "stream from 127.0.0.1:" + server.port() + ": bad chunk"));
    CHECK(contains(error, "at stream offset 5"));
  }
  SUBCASE("a body cut short") {
    const std::string body = randomBytes(100000, 3);
    CannedServer server(chunkedResponse(body, {70000}).substr(0, kChunkedHead.size() + 80000),
                        64 << 10);
    client::StreamingGet stream;
    REQUIRE(stream.open("127.0.0.1", server.port(), "/stream", 5s).status == 200);
    const std::string error = errorOf([&] { readBody(stream, 256 << 10); });
    MESSAGE(error);
    CHECK(contains(error, "stream from 127.0.0.1:" + server.port() + ": partial message"));
    CHECK(contains(error, "at stream offset "));
  }
}

TEST_CASE("StreamingGet reads an error body within one deadline, however slowly it comes") {
  // 100 bytes of body, one every 50 ms (5 s in all): each byte comes well within the 1 s
  // timeout, but the whole body does not.
  const std::string responseHead = "HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n";
  const std::string body(100, 'x');
  CannedServer server(responseHead + body, 1, 50ms, responseHead.size());
  client::StreamingGet stream;
  const auto start = std::chrono::steady_clock::now();
  const auto head = stream.open("127.0.0.1", server.port(), "/stream", 1s);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(head.status == 500);
  MESSAGE("open took ", std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), " ms");
  CHECK(took < 3s);
  CHECK(head.body.size() < body.size());
}

TEST_CASE("StreamingGet::readSome with a deadline bounds a body sent a byte at a time") {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  const std::string body(100, 'x');
  CannedServer server(head + body, 1, 50ms, head.size());
  client::StreamingGet stream;
  REQUIRE(stream.open("127.0.0.1", server.port(), "/status", 5s).status == 200);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + 1s;
  std::string got;
  const std::string error = errorOf([&] {
    uint8_t buf[64];
    while (const size_t n = stream.readSome(buf, sizeof buf, deadline)) {
      got.append(reinterpret_cast<const char*>(buf), n);
    }
  });
  const auto took = std::chrono::steady_clock::now() - start;
  MESSAGE(error);
  CHECK(contains(error, "timed out"));
  CHECK(took < 3s);
  CHECK(got.size() < body.size());
}
