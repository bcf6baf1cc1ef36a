// A replica moves to the next WAL index only from the exact end of the one it is in: the primary
// announces each index change with an index-end record at that end (proto/stream_record.h), and
// a replica refuses an index change that is not announced, or announced at another position.
// A lossy path that drops the last segment of an index (a proxy here) would otherwise make the
// replica skip the transactions in it without noticing.
#include <doctest/doctest.h>

#include <mutex>
#include <optional>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/record_proxy.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

bool isType(const StreamRecord& r, proto::RecordType t) {
  return r.header.type == static_cast<uint32_t>(t);
}

// Holds every WAL segment back until the next one (or an index end) arrives, letting other
// records pass; at the first index change, drops the last segment of the index that ended, and
// the index-end record too unless `keepIndexEnd`. From then on it passes everything, so the
// replica's next connection gets the lost segment again.
class DropIndexTail {
 public:
  explicit DropIndexTail(bool keepIndexEnd) : keepIndexEnd_(keepIndexEnd) {}

  std::vector<StreamRecord> operator()(StreamRecord r) {
    std::lock_guard lock(mu_);
    if (dropped_) return {std::move(r)};
    std::vector<StreamRecord> out;
    const bool indexChange = isType(r, proto::RecordType::kIndexEnd) ||
                             (isType(r, proto::RecordType::kWalSegment) && held_ &&
                              r.header.offset == 0 && r.header.index == held_->header.index + 1);
    if (indexChange && held_) {
      dropped_ = true;  // the held segment, the last of its index, is lost
      held_.reset();
      if (!isType(r, proto::RecordType::kIndexEnd) || keepIndexEnd_) out.push_back(std::move(r));
      return out;
    }
    if (!isType(r, proto::RecordType::kWalSegment)) return {std::move(r)};  // heartbeats pass
    if (held_) out.push_back(std::move(*held_));
    held_ = std::move(r);
    return out;
  }

  bool dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  const bool keepIndexEnd_;
  mutable std::mutex mu_;
  std::optional<StreamRecord> held_;
  bool dropped_ = false;
};

void runThroughLossyPath(bool keepIndexEnd, const std::string& expectedError) {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  // Small checkpoint thresholds: capture restarts the WAL (a new index) every few hundred
  // frames.
  PrimaryProcess primary(app, dir.file("primary"),
                         {"--min-checkpoint-pages", "50", "--max-checkpoint-pages", "200"});
  auto filter = std::make_shared<DropIndexTail>(keepIndexEnd);
  RecordProxy proxy(primary.port(), [filter](StreamRecord r) { return (*filter)(std::move(r)); });
  ReplicaProcess replica(proxy.url(), rep, dir.file("replica"));
  REQUIRE(replica.waitForSnapshots(1, 60s) == 1);
  {
    BankWriter writer(app, 300, 100000);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!filter->dropped() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);  // polls the filter's state; the writer runs meanwhile
    }
    writer.waitFor(writer.transfers() + 300, 30s);  // and goes on past the drop
  }
  REQUIRE(filter->dropped());
  // The replica refused the index change, reconnected at its own position, and got the lost
  // segment again on the second connection.
  CHECK(waitForConvergence(app, rep, 60s));
  CHECK(proxy.connections() >= 2);
  const std::string log = replica.process().stderrText();
  CHECK_MESSAGE(log.find(expectedError) != std::string::npos, log);
  CHECK(replica.snapshotsApplied() == 1);  // a resume, not a new snapshot
}

}  // namespace

TEST_CASE("a replica refuses an index change the primary promised to announce and did not") {
  runThroughLossyPath(false, "did not confirm that index");
}

TEST_CASE("a replica refuses an index end announced past its position") {
  runThroughLossyPath(true, "segments are missing; reconnecting");
}
