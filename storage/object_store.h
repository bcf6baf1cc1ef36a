// Where backups live: a flat namespace of objects named by keys, as in a directory tree or an
// S3 bucket. walstream's backups (backup/layout.h) and restores talk to storage only through
// this interface, so that each kind of storage is one implementation of it: a directory
// (`file:///srv/backups/app`, directory_store.h) and S3-compatible object storage
// (`s3://bucket/app`, s3_store.h).
//
// Keys are relative, '/'-separated paths of printable ASCII without "." or ".." parts, e.g.
// `generations/0123456789abcdef/wal/0000000000000003/0000000000001f60.wal.lz4` (the exact rules:
// object_key.h). A malformed key is refused with StorageError(kPermanent).
//
// Guarantees every implementation gives:
//   - An object appears whole or not at all: a writer that is not committed, or a process
//     killed in the middle of one, leaves nothing that list(), stat() or read() return.
//   - An object is durable once commit() returns (a power loss after it keeps it).
//   - Objects are never modified in place; writing an existing key replaces it atomically.
// Errors are thrown as StorageError, whose message names the store, the key and the cause.
//
// Thread-safety: one ObjectStore may be used from several threads at once (a restore downloads
// ahead in parallel); an ObjectWriter belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "storage/s3_retry_policy.h"

namespace walstream::storage {

class StorageError : public Error {
 public:
  enum class Kind {
    kNotFound,   // no such object (or bucket, or directory)
    kTransient,  // worth retrying as is: timeouts, connection errors, 5xx, 429, EIO
    kPermanent,  // retrying will not help: permissions, a full disk, a malformed key or reply
  };
  StorageError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  // When the store last wrote the object, by the store's clock. Backups record the primary's
  // own times inside their objects; this is for listings and retention of strays.
  std::chrono::system_clock::time_point modified;
};

// Writes one object. The bytes become visible under the key only at commit(); destroying a
// writer that was not committed abandons it and removes whatever it wrote (temporary file,
// multipart upload).
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual void write(std::span<const char> bytes) = 0;
  // Publishes the object atomically and durably. The writer is finished afterwards.
  virtual void commit() = 0;
  virtual uint64_t bytesWritten() const = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // The store's URL as given, for messages and /status (never with credentials).
  virtual std::string url() const = 0;

  // The names of the "directories" right under `prefix` (a prefix ending in '/', or empty for
  // the root): the distinct next path parts of keys that go deeper. With keys `a/b/c`, `a/b/d`
  // and `a/e`, listDirectories("a/") is {"b"}. Sorted. Empty, not an error, when nothing is
  // there.
  virtual std::vector<std::string> listDirectories(const std::string& prefix) = 0;

  // Every object whose key starts with `prefix`, at any depth, sorted by key. Empty, not an
  // error, when nothing is there.
  virtual std::vector<ObjectInfo> list(const std::string& prefix) = 0;

  // The objects of list(prefix) whose keys sort after `startAfter`: what a follower that has
  // seen everything up to startAfter lists next. The default filters list(); a store whose
  // server can leave the rest out (S3's start-after) overrides it, so that a poll costs requests
  // in proportion to what is new rather than to everything under the prefix.
  virtual std::vector<ObjectInfo> listAfter(const std::string& prefix,
                                            const std::string& startAfter);

  // The object's size and time; throws StorageError(kNotFound) when there is none.
  virtual ObjectInfo stat(const std::string& key) = 0;

  // Up to `maxBytes` bytes of the object from byte `offset` (fewer only at its end; empty at or
  // past the end). Throws StorageError(kNotFound) when there is no such object.
  virtual std::string read(const std::string& key, uint64_t offset, uint64_t maxBytes) = 0;

  // The same into memory the caller owns (and reuses: a restore reads gigabytes through a few
  // buffers): fills `out` from byte `offset` and returns how many bytes it got, fewer than
  // out.size() only at the object's end. The default copies from read(); stores override it to
  // read in place.
  virtual uint64_t readInto(const std::string& key, uint64_t offset, std::span<char> out);

  // A writer for `key`; nothing is visible until its commit().
  virtual std::unique_ptr<ObjectWriter> create(const std::string& key) = 0;

  // Removes these objects; keys that do not exist are not an error. Directories left empty by
  // the removal are removed too, where the store has directories.
  virtual void remove(const std::vector<std::string>& keys) = 0;
};

// S3's default part size for multipart uploads (s3_store.h).
constexpr uint64_t kDefaultS3PartSize = uint64_t{16} << 20;
// The smallest part S3 accepts (but for the last one).
constexpr uint64_t kMinS3PartSize = uint64_t{5} << 20;

// What a URL alone does not say about a store.
struct StoreOptions {
  // S3: the INI file of the credentials ([default], as ~/.aws/credentials); empty to take them
  // from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
  std::string s3CredentialsFile;
  uint64_t s3PartSize = kDefaultS3PartSize;  // at least kMinS3PartSize
  // S3: how each request is retried. A reader that answers a query while it waits (vfs/) keeps
  // these shorter than a backup writer does.
  S3RetryPolicy s3Retry;
};

// The store a URL names: `file:///ABSOLUTE/PATH` (directory_store.h) or
// `s3://BUCKET/PREFIX?endpoint=URL&region=REGION&force-path-style=true` (s3_location.h,
// s3_store.h). Throws StorageError(kPermanent) naming the URL for a malformed URL or an unknown
// scheme, and for S3 credentials that cannot be found (never quoting them). Opening does not
// touch the storage: a directory that does not exist yet is created by the first write.
std::unique_ptr<ObjectStore> openObjectStore(const std::string& url,
                                             const StoreOptions& options = {});

}  // namespace walstream::storage
