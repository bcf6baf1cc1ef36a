#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <thread>
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

// The next job's bytes as a string, nullopt after the last.
std::optional<std::string> nextBytes(OrderedFetcher& fetcher) {
  const std::optional<std::span<const char>> bytes = fetcher.next();
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

// Upper-cases what it is given and appends the job's number; refuses a job holding '!'.
class UpperCaseDecoder : public FetchDecoder {
 public:
  size_t decode(size_t job, std::span<const char> fetched, std::span<char> out) override {
    const std::string suffix = "#" + std::to_string(job);
    REQUIRE(out.size() >= fetched.size() + suffix.size());
    for (size_t i = 0; i < fetched.size(); ++i) {
      if (fetched[i] == '!') throw Error("job " + std::to_string(job) + " holds a '!'");
      out[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(fetched[i])));
    }
    std::copy(suffix.begin(), suffix.end(), out.begin() + fetched.size());
    return fetched.size() + suffix.size();
  }
};

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
    std::optional<std::string> got = nextBytes(fetcher);
    REQUIRE(got);
    CHECK(*got == want);
  }
  CHECK_FALSE(nextBytes(fetcher));
}

TEST_CASE("a job larger than the budget is read alone rather than never") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  put(store, "big", std::string(10000, 'x'));
  put(store, "small", "yz");
  OrderedFetcher fetcher(store, {{"small", 0, 2}, {"big", 0, 10000}, {"small", 1, 1}}, 2, 100);
  CHECK(nextBytes(fetcher) == std::optional<std::string>("yz"));
  CHECK(nextBytes(fetcher)->size() == 10000);
  CHECK(nextBytes(fetcher) == std::optional<std::string>("z"));
  CHECK_FALSE(nextBytes(fetcher));
}

TEST_CASE("a missing or short object fails at its turn, naming it") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  put(store, "a", "0123456789");
  OrderedFetcher fetcher(store, {{"a", 0, 10}, {"a", 5, 10}, {"gone", 0, 1}}, 3, 1000);
  CHECK(nextBytes(fetcher) == std::optional<std::string>("0123456789"));
  CHECK_THROWS_WITH_AS(nextBytes(fetcher), doctest::Contains("a: truncated"), Error);
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
    CHECK(nextBytes(fetcher)->size() == 100);
  }  // the destructor returns (the test would hang otherwise): readers waiting for budget stop
}

TEST_CASE("a decoder runs on the readers, and its results come out in list order") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  std::vector<FetchJob> jobs;
  for (int i = 0; i < 30; ++i) {
    const std::string key = "d/" + std::to_string(i);
    put(store, key, std::string(200 + i, static_cast<char>('a' + i % 26)));
    jobs.push_back({key, 0, 200u + i, 210u + i});
  }
  jobs.push_back({"d/bad", 0, 3, 10});
  put(store, "d/bad", "ab!");
  // A ring smaller than most pairs of jobs: they wrap around it one or two at a time.
  OrderedFetcher fetcher(store, jobs, 3, 1000, [] { return std::make_unique<UpperCaseDecoder>(); });
  for (int i = 0; i < 30; ++i) {
    CHECK(nextBytes(fetcher) ==
          std::string(200 + i, static_cast<char>('A' + i % 26)) + "#" + std::to_string(i));
  }
  CHECK_THROWS_WITH_AS(fetcher.next(), doctest::Contains("job 30 holds a '!'"), Error);
  // The failure stays: a consumer that asks again is told again.
  CHECK_THROWS_WITH_AS(fetcher.next(), doctest::Contains("job 30 holds a '!'"), Error);
}

TEST_CASE("bytes handed out stay intact until the next call, whatever the readers do meanwhile") {
  TempDir dir;
  storage::DirectoryStore store(dir.file("store"));
  std::vector<FetchJob> jobs;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "w/" + std::to_string(i);
    put(store, key, std::string(1 + (i * 7919) % 3000, static_cast<char>('a' + i % 26)));
    jobs.push_back({key, 0, 1 + (i * 7919) % 3000u});
  }
  // Jobs of mixed sizes in a ring of about two of the largest: they wrap around it constantly,
  // and the readers are kept busy while the consumer holds each job's bytes.
  OrderedFetcher fetcher(store, jobs, 4, 6500);
  for (int i = 0; i < 200; ++i) {
    const std::optional<std::span<const char>> bytes = fetcher.next();
    REQUIRE(bytes);
    const std::string first(bytes->begin(), bytes->end());
    std::this_thread::yield();
    CHECK(std::string(bytes->begin(), bytes->end()) == first);
    CHECK(first == std::string(1 + (i * 7919) % 3000, static_cast<char>('a' + i % 26)));
  }
  CHECK_FALSE(fetcher.next());
}
