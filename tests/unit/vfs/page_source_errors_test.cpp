// A store that fails: transient failures are retried a bounded number of times, then reach the
// caller; nothing of a failed fetch is cached, and the same read succeeds once storage is back.
#include <doctest/doctest.h>

#include <atomic>
#include <string>

#include "storage/directory_store.h"
#include "tests/support/backup_fixture.h"
#include "tests/support/temp_dir.h"
#include "vfs/page_source.h"
#include "vfs/view_builder.h"

using namespace walstream;
using namespace walstream::test;
using namespace walstream::vfs;

namespace {

// A directory store whose reads fail, on demand, with StorageError of a chosen kind.
class FailingStore : public storage::ObjectStore {
 public:
  explicit FailingStore(storage::ObjectStore& inner) : inner_(inner) {}
  void failReads(std::optional<storage::StorageError::Kind> kind) { kind_ = kind; }
  int failures() const { return failures_.load(); }

  std::string url() const override { return inner_.url(); }
  std::vector<std::string> listDirectories(const std::string& prefix) override {
    return inner_.listDirectories(prefix);
  }
  std::vector<storage::ObjectInfo> list(const std::string& prefix) override {
    return inner_.list(prefix);
  }
  storage::ObjectInfo stat(const std::string& key) override { return inner_.stat(key); }
  std::string read(const std::string& key, uint64_t offset, uint64_t maxBytes) override {
    if (kind_) {
      ++failures_;
      throw storage::StorageError(*kind_, url() + "/" + key + ": injected failure");
    }
    return inner_.read(key, offset, maxBytes);
  }
  std::unique_ptr<storage::ObjectWriter> create(const std::string& key) override {
    return inner_.create(key);
  }
  void remove(const std::vector<std::string>& keys) override { inner_.remove(keys); }

 private:
  storage::ObjectStore& inner_;
  std::optional<storage::StorageError::Kind> kind_;
  std::atomic<int> failures_{0};
};

}  // namespace

TEST_CASE("a transient failure is retried a bounded number of times, then reaches the reader") {
  TempDir dir;
  BackupFixture backup(dir);
  backup.db().exec("INSERT INTO t VALUES (1, randomblob(5000))");
  backup.snapshot();
  backup.db().exec("INSERT INTO t VALUES (2, randomblob(5000))");
  REQUIRE(backup.backUpWal());

  FailingStore store(backup.store());
  ViewBuilder builder(store);
  const auto view = builder.view(1);
  FetchPolicy policy;
  policy.maxAttempts = 3;
  policy.baseDelay = std::chrono::milliseconds(1);
  std::vector<uint8_t> page(view->pageSize);
  uint32_t inSnapshot = 1;
  while (inSnapshot < view->pageCount && view->walPages.find(inSnapshot) != nullptr) ++inSnapshot;
  REQUIRE(view->walPages.find(inSnapshot) == nullptr);
  REQUIRE(view->walPages.find(view->pageCount) != nullptr);

  for (uint32_t p : {inSnapshot, view->pageCount}) {  // a snapshot page, then a WAL page
    CAPTURE(p);
    PageCache cache(1 << 20);
    PageSource pages(store, cache, policy);
    store.failReads(storage::StorageError::Kind::kTransient);
    const int before = store.failures();
    const size_t cached = cache.entries();
    try {
      pages.readPage(*view, p, page);
      FAIL("the read succeeded");
    } catch (const storage::StorageError& e) {
      CHECK(std::string(e.what()).find("injected failure") != std::string::npos);
      CHECK(std::string(e.what()).find("3 tries") != std::string::npos);
    }
    CHECK(store.failures() - before == 3);
    CHECK(cache.entries() == cached);  // nothing cached from a failed fetch

    store.failReads(std::nullopt);
    pages.readPage(*view, p, page);
    CHECK(cache.entries() > cached);
  }
}

TEST_CASE("a permanent failure is not retried") {
  TempDir dir;
  BackupFixture backup(dir);
  backup.snapshot();
  FailingStore store(backup.store());
  ViewBuilder builder(store);
  const auto view = builder.view(1);
  PageCache cache(1 << 20);
  PageSource pages(store, cache);
  std::vector<uint8_t> page(view->pageSize);
  store.failReads(storage::StorageError::Kind::kPermanent);
  CHECK_THROWS_AS(pages.readPage(*view, 1, page), storage::StorageError);
  CHECK(store.failures() == 1);
}
