// The S3 store against a real S3 server (s3rver, tests/support/s3_server.h) on loopback.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <thread>

#include "storage/s3_store.h"
#include "tests/support/canned_http_server.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/s3_server.h"
#include "tests/support/s3_test_store.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();

std::string patterned(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

// A reply of a fake S3 server: `status` with an S3 <Error> body.
std::string errorReply(const std::string& status, const std::string& code) {
  const std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                           "</Code><Message>the message of " + code + "</Message></Error>";
  return "HTTP/1.1 " + status +
         "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

std::vector<std::string> keysOf(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const auto& o : objects) keys.push_back(o.key);
  return keys;
}

}  // namespace

TEST_CASE("S3: objects round-trip under the URL's prefix, and stat reports size and time") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("backups/app"));
  const auto before = std::chrono::system_clock::now() - std::chrono::seconds(5);
  putObject(*store, "g/0001/wal/a.wal", "hello");
  putObject(*store, "g/0001/snapshot", "");
  putObject(*store, "odd name+%=&?#;@!$'()*,~/x", "odd");

  CHECK(store->read("g/0001/wal/a.wal", 0, kAll) == "hello");
  CHECK(store->read("g/0001/snapshot", 0, kAll).empty());
  CHECK(store->read("odd name+%=&?#;@!$'()*,~/x", 0, kAll) == "odd");
  const ObjectInfo info = store->stat("g/0001/wal/a.wal");
  CHECK(info.size == 5);
  CHECK(info.modified > before);
  CHECK(info.modified < std::chrono::system_clock::now() + std::chrono::seconds(5));
  CHECK(keysOf(store->list("")) == std::vector<std::string>{"g/0001/snapshot", "g/0001/wal/a.wal",
                                                            "odd name+%=&?#;@!$'()*,~/x"});
  CHECK(keysOf(store->list("g/0001/w")) == std::vector<std::string>{"g/0001/wal/a.wal"});
  CHECK(store->list("g/0001/wal/a.wal")[0].size == 5);

  // Writing a key again replaces the object.
  putObject(*store, "g/0001/wal/a.wal", "replaced");
  CHECK(store->read("g/0001/wal/a.wal", 0, kAll) == "replaced");

  // The prefix is the store's: another prefix in the same bucket sees nothing of it.
  auto other = openS3TestStore(server.storeUrl("backups/other"));
  CHECK(other->list("").empty());
  auto root = openS3TestStore(server.storeUrl(""));
  CHECK(root->read("backups/app/g/0001/wal/a.wal", 0, kAll) == "replaced");

  store->remove({"g/0001/wal/a.wal", "g/0001/never-written"});
  CHECK(keysOf(store->list("")) ==
        std::vector<std::string>{"g/0001/snapshot", "odd name+%=&?#;@!$'()*,~/x"});
}

TEST_CASE("S3: listDirectories names the next parts of deeper keys, sorted") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("p"));
  for (const char* key : {"a/b/c", "a/b/d", "a/e", "a/f/g/h", "z"}) putObject(*store, key, "x");
  CHECK(store->listDirectories("") == std::vector<std::string>{"a"});
  CHECK(store->listDirectories("a/") == std::vector<std::string>{"b", "f"});
  CHECK(store->listDirectories("a/f/") == std::vector<std::string>{"g"});
  CHECK(store->listDirectories("a/b/").empty());
  CHECK(store->listDirectories("nothing/").empty());
  CHECK(store->list("nothing").empty());
}

TEST_CASE("S3: more than 1,000 objects list completely, and one remove() takes them all") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("many"));
  constexpr int kCount = 1003;
  std::vector<std::string> keys;
  for (int i = 0; i < kCount; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "d/%04d/o", i);
    keys.push_back(key);
    putObject(*store, key, "x");
  }
  CHECK(keysOf(store->list("d/")) == keys);
  CHECK(keysOf(store->listAfter("d/", "")) == keys);
  CHECK(keysOf(store->listAfter("d/", "d/0999/o")) ==
        std::vector<std::string>{"d/1000/o", "d/1001/o", "d/1002/o"});
  CHECK(keysOf(store->listAfter("d/", "d/0999")) ==  // keys inside "d/0999/" sort after it
        std::vector<std::string>{"d/0999/o", "d/1000/o", "d/1001/o", "d/1002/o"});
  CHECK(store->listAfter("d/", "d/1002/o").empty());
  const auto directories = store->listDirectories("d/");
  REQUIRE(directories.size() == kCount);
  CHECK(directories.front() == "0000");
  CHECK(directories.back() == "1002");

  store->remove(keys);  // two DeleteObjects requests: at most 1,000 keys each
  CHECK(store->list("").empty());
}

TEST_CASE("S3: ranged reads, reads past the end, and missing keys") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("r"));
  const std::string bytes = patterned(10000);
  putObject(*store, "obj", bytes);
  CHECK(store->read("obj", 0, 10) == bytes.substr(0, 10));
  CHECK(store->read("obj", 4096, 4096) == bytes.substr(4096, 4096));
  CHECK(store->read("obj", 9990, 100) == bytes.substr(9990));
  CHECK(store->read("obj", 10000, 100).empty());
  CHECK(store->read("obj", 20000, 1).empty());
  CHECK(store->read("obj", 5, 0).empty());
  CHECK(store->read("obj", 1, kAll) == bytes.substr(1));

  std::string buffer(4096, '\0');
  CHECK(store->readInto("obj", 4096, buffer) == 4096);
  CHECK(buffer == bytes.substr(4096, 4096));
  CHECK(store->readInto("obj", 9000, buffer) == 1000);
  CHECK(buffer.substr(0, 1000) == bytes.substr(9000));
  CHECK(store->readInto("obj", 10000, buffer) == 0);
  CHECK(store->readInto("obj", 3, std::span<char>()) == 0);

  for (auto call :
       {std::function<void()>([&] { store->stat("missing"); }),
        std::function<void()>([&] { store->read("missing", 0, 10); }),
        std::function<void()>([&] { store->read("missing", 0, 0); }), std::function<void()>([&] {
          std::string into(10, '\0');
          store->readInto("missing", 0, into);
        })}) {
    const auto failure = storageFailure(call);
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kNotFound);
    CHECK(std::string(failure->what()).find("missing") != std::string::npos);
  }
}

TEST_CASE("S3: an object larger than the part size goes up in parts and reads back exactly") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("mp"));
  const std::string bytes = patterned(kMinS3PartSize * 2 + 12345, 3);
  {
    auto writer = store->create("big");
    // Pieces that straddle part boundaries.
    for (size_t at = 0; at < bytes.size(); at += 1000003) {
      writer->write(std::string_view(bytes).substr(at, 1000003));
    }
    CHECK(writer->bytesWritten() == bytes.size());
    CHECK(store->list("").empty());  // nothing visible before commit()
    writer->commit();
  }
  CHECK(store->stat("big").size == bytes.size());
  CHECK(store->read("big", 0, kAll) == bytes);
  CHECK(store->read("big", kMinS3PartSize - 10, 20) == bytes.substr(kMinS3PartSize - 10, 20));

  // Exactly one part's worth: the last part is the full one, no empty part after it.
  const std::string one = patterned(kMinS3PartSize, 5);
  putObject(*store, "one-part", one);
  CHECK(store->read("one-part", 0, kAll) == one);
}

TEST_CASE("S3: a writer destroyed before commit() leaves no object, with or without parts") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("ab"));
  putObject(*store, "kept", "old");
  {
    auto writer = store->create("kept");
    writer->write(patterned(kMinS3PartSize + 10));  // one part uploaded
  }
  {
    auto writer = store->create("small");
    writer->write("never committed");
  }
  CHECK(keysOf(store->list("")) == std::vector<std::string>{"kept"});
  CHECK(store->read("kept", 0, kAll) == "old");
  const auto failure = storageFailure([&] { store->stat("small"); });
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kNotFound);
}

TEST_CASE("S3: a missing bucket and an unknown access key are permanent, with S3's code") {
  S3Server server;
  auto missing =
      openS3TestStore(server.storeUrl("p").replace(5, server.bucket().size(), "no-such-bucket"));
  for (auto call : {std::function<void()>([&] { missing->list(""); }),
                    std::function<void()>([&] { putObject(*missing, "k", "v"); })}) {
    const auto failure = storageFailure(call);
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kPermanent);
    CHECK(std::string(failure->what()).find("NoSuchBucket") != std::string::npos);
  }

  S3StoreOptions wrongKey = s3TestOptions();
  wrongKey.credentials = {"NOT-A-KEY", "NOT-THE-SECRET", ""};
  auto refused = openS3TestStore(server.storeUrl("p"), wrongKey);
  const auto failure = storageFailure([&] { putObject(*refused, "k", "v"); });
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kPermanent);
  const std::string message = failure->what();
  CHECK(message.find("InvalidAccessKeyId") != std::string::npos);
  CHECK(message.find("NOT-THE-SECRET") == std::string::npos);
  CHECK(refused->url().find("NOT-THE-SECRET") == std::string::npos);
}

TEST_CASE("S3: a dead server is a transient failure after bounded retries, in bounded time") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("dead"));
  putObject(*store, "k", "v");
  // s3rver answers a small PUT before the object's bytes reach its file (it does not wait for
  // its write stream), and a SIGKILL in between left an object it then served as empty (a 416
  // to the read after the restart below): the kill comes once the object reads back whole.
  for (const auto until = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(5));
       store->read("k", 0, kAll) != "v" && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(store->read("k", 0, kAll) == "v");
  server.kill();
  const auto start = std::chrono::steady_clock::now();
  const auto failure = storageFailure([&] { store->read("k", 0, kAll); });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kTransient);
  CHECK(std::string(failure->what()).find("gave up after 4 tries") != std::string::npos);
  // The options' maxTotal of 5 s, and a margin.
  CHECK(elapsed < scaled(std::chrono::seconds(6)));

  server.restart();
  CHECK(store->read("k", 0, kAll) == "v");  // the data survived; the store carries on
}

TEST_CASE("S3: an error reply other than 429 or 5xx fails at once with its code and message") {
  // s3rver does not check Signature V4 signatures, so a wrong secret is a fake server's reply.
  CannedHttpServer server(errorReply("403 Forbidden", "SignatureDoesNotMatch"));
  auto store = openS3TestStore("s3://bucket/p?endpoint=" + server.url());
  const auto failure = storageFailure([&] { store->list(""); });
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kPermanent);
  const std::string message = failure->what();
  CHECK(message.find("HTTP 403 SignatureDoesNotMatch: the message of SignatureDoesNotMatch") !=
        std::string::npos);
  CHECK(message.find(S3Server::kSecretAccessKey) == std::string::npos);
  CHECK(server.targets().size() == 1);
}

TEST_CASE("S3: 503 and 429 replies are retried, then reported as transient") {
  for (const std::string status : {"503 Service Unavailable", "429 Too Many Requests"}) {
    CAPTURE(status);
    CannedHttpServer server(errorReply(status, "SlowDown"));
    auto store = openS3TestStore("s3://bucket/p?endpoint=" + server.url());
    const auto failure = storageFailure([&] { store->stat("k"); });
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kTransient);
    CHECK(std::string(failure->what()).find("gave up after 4 tries") != std::string::npos);
    CHECK(server.targets().size() == 4);
  }
}

TEST_CASE("S3: a writer whose part upload fails is finished, and leaves no object") {
  S3Server server;
  auto store = openS3TestStore(server.storeUrl("wf"));
  auto writer = store->create("big");
  writer->write(patterned(1000));
  server.kill();
  const auto failure =
      storageFailure([&] { writer->write(patterned(kMinS3PartSize)); });  // fills a part
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kTransient);
  CHECK(std::string(failure->what()).find("cannot write big") != std::string::npos);
  const auto again = storageFailure([&] { writer->commit(); });
  REQUIRE(again);
  CHECK(again->kind() == StorageError::Kind::kPermanent);
  CHECK(std::string(again->what()).find("the writer is finished") != std::string::npos);

  server.restart();
  CHECK(store->list("").empty());
}

TEST_CASE("S3: a server that ignores Range: reads take their slice of its 200 and stop there") {
  // An object of 256 MiB that the server sends whole to every GET, Range or not.
  constexpr uint64_t kObjectBytes = uint64_t{256} << 20;
  const std::string piece = patterned(4096);
  const auto expected = [&](uint64_t offset, size_t n) {
    std::string out;
    for (uint64_t i = offset; i < offset + n; ++i) out += piece[i % piece.size()];
    return out;
  };
  std::atomic<uint64_t> sent{0};
  {
    CannedHttpServer server([&](int fd, const std::string&) {
      if (!server.sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kObjectBytes) +
                                  "\r\nConnection: close\r\n\r\n")) {
        return;
      }
      sent += server.sendRepeated(fd, piece, kObjectBytes);
    });
    auto store = openS3TestStore("s3://bucket/p?endpoint=" + server.url());
    CHECK(store->read("k", 5000, 100) == expected(5000, 100));
    std::string buffer(3000, '\0');
    CHECK(store->readInto("k", 1 << 20, buffer) == buffer.size());
    CHECK(buffer == expected(1 << 20, buffer.size()));
    CHECK(server.targets().size() == 2);
  }
  // Each transfer stopped once its range was in: the server got rid of the kernel's socket
  // buffers' worth, not of the object.
  CHECK(sent.load() < kObjectBytes / 8);

  const std::string body = "0123456789";
  CannedHttpServer small("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n" +
                         body);
  auto store = openS3TestStore("s3://bucket/p?endpoint=" + small.url());
  CHECK(store->read("k", 3, 4) == "3456");
  CHECK(store->read("k", 8, kAll) == "89");
  CHECK(store->read("k", 10, 5).empty());
  std::string buffer(8, '\0');
  CHECK(store->readInto("k", 4, buffer) == 6);
  CHECK(buffer.substr(0, 6) == "456789");
  CHECK(store->readInto("k", 20, buffer) == 0);
}

TEST_CASE("S3: a 206 of another range than the one asked for is refused, as permanent") {
  const std::string partial =
      "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nConnection: close\r\n";
  struct Case {
    std::string contentRange;
    uint64_t offset;
    std::string expected;  // in the message
  };
  for (const Case& c :
       {Case{"bytes 0-9/100", 50, "sent bytes 0-9 (the server does not honour"},
        Case{"bytes 50-59/100", 50, "sent bytes 50-59"}, Case{"", 0, "which names no range"},
        Case{"bytes 0-19/100", 0, "sent 10 of the 20 bytes"}}) {
    CAPTURE(c.contentRange);
    CannedHttpServer server(
        partial + (c.contentRange.empty() ? "" : "Content-Range: " + c.contentRange + "\r\n") +
        "\r\n0123456789");
    auto store = openS3TestStore("s3://bucket/p?endpoint=" + server.url());
    std::string buffer(c.expected == "sent bytes 50-59" ? 5 : 20, '\0');
    for (auto call : {std::function<void()>([&] { store->read("k", c.offset, buffer.size()); }),
                      std::function<void()>([&] { store->readInto("k", c.offset, buffer); })}) {
      const auto failure = storageFailure(call);
      REQUIRE(failure);
      CHECK(failure->kind() == StorageError::Kind::kPermanent);
      const std::string message = failure->what();
      CHECK(message.find("cannot read k: HTTP 206") != std::string::npos);
      CHECK(message.find(c.expected) != std::string::npos);
    }
  }
  CannedHttpServer honest(partial + "Content-Range: bytes 40-49/100\r\n\r\n0123456789");
  auto store = openS3TestStore("s3://bucket/p?endpoint=" + honest.url());
  CHECK(store->read("k", 40, 10) == "0123456789");
  std::string buffer(20, '\0');
  CHECK(store->readInto("k", 40, buffer) == 10);
  CHECK(buffer.substr(0, 10) == "0123456789");
}

TEST_CASE("S3: listAfter asks the server for the keys after the given one, not for all of them") {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>bucket</Name>"
      "<Prefix>p/g/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>";
  CannedHttpServer server("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  auto store = openS3TestStore("s3://bucket/p?endpoint=" + server.url());
  CHECK(store->listAfter("g/", "g/0001/x").empty());
  REQUIRE(server.targets().size() == 1);
  const std::string target = server.targets()[0];
  INFO(target);
  // The bucket name of the key, under the store's prefix, percent-encoded as Signature V4 wants.
  CHECK(target.find("start-after=p%2Fg%2F0001%2Fx") != std::string::npos);
  CHECK(target.find("prefix=p%2Fg%2F") != std::string::npos);
}
