#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backup/ordered_fetcher.h"
#include "storage/directory_store.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::backup;
using namespace walstream::test;

namespace {

void put(storage::ObjectStore& store, const std::string& key, const std::string& bytes) {
  auto w = store.create(key);
  w->write(bytes);
  w->commit();
}

}  // namespace

TEST_CASE("ranges read by several threads come out in list order, whole") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  std::vector<FetchJob> jobs;
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    const std::string key = "o/" + std::to_string(i);
    const std::string bytes(1000 + i * 37, static_cast<char>('a' + i % 26));
    put(store, key, bytes);
    jobs.push_back({key, 10, bytes.size() - 20});
    expected.push_back(bytes.substr(10, bytes.size() - 20));
  }
  // A budget smaller than most pairs of jobs: they are read one or two at a time.
  OrderedFetcher fetcher(store, jobs, 4, 2500);
  for (const std::string& want : expected) {
    std::optional<std::string> got = fetcher.next();
    REQUIRE(got);
    CHECK(*got == want);
  }
  CHECK_FALSE(fetcher.next());
}

TEST_CASE("a job larger than the budget is read alone rather than never") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  put(store, "big", std::string(10000, 'x'));
  put(store, "small", "yz");
  OrderedFetcher fetcher(store, {{"small", 0, 2}, {"big", 0, 10000}, {"small", 1, 1}}, 2, 100);
  CHECK(fetcher.next() == std::optional<std::string>("yz"));
  CHECK(fetcher.next()->size() == 10000);
  CHECK(fetcher.next() == std::optional<std::string>("z"));
  CHECK_FALSE(fetcher.next());
}

TEST_CASE("a missing or short object fails at its turn, naming it") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  put(store, "a", "0123456789");
  OrderedFetcher fetcher(store, {{"a", 0, 10}, {"a", 5, 10}, {"gone", 0, 1}}, 3, 1000);
  CHECK(fetcher.next() == std::optional<std::string>("0123456789"));
  CHECK_THROWS_WITH_AS(fetcher.next(), doctest::Contains("a: truncated"), Error);
}

TEST_CASE("a fetcher dropped with jobs untaken stops its readers") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  std::vector<FetchJob> jobs;
  for (int i = 0; i < 100; ++i) {
    put(store, "k" + std::to_string(i), std::string(100, 'q'));
    jobs.push_back({"k" + std::to_string(i), 0, 100});
  }
  {
    OrderedFetcher fetcher(store, jobs, 4, 300);
    CHECK(fetcher.next()->size() == 100);
  }  // the destructor returns (the test would hang otherwise): readers waiting for budget stop
}
