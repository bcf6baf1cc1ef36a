// A bank under observation: a primary and a bootstrapped replica of it, and a watch over a
// BankWriter and that replica together: the writer's rate, and how far the replica's transfer
// counter trails the writer's (sampled every few milliseconds).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/temp_dir.h"

namespace walstream::test {

// A new bank in `dir`, served by a primary (with `primaryFlags`, and `primaryLauncher` before
// its binary on the command line) and followed by one replica; the constructor returns once the
// replica has its snapshot.
struct ObservedBank {
  explicit ObservedBank(const TempDir& dir, std::vector<std::string> primaryFlags = {},
                        std::vector<std::string> primaryLauncher = {});

  const std::string db;
  const std::string replicaDb;
  PrimaryProcess primary;
  ReplicaProcess replica;
  std::string generation;  // the primary's once the replica had its snapshot
};

struct BankWindow {
  double transfersPerSecond = 0;
  int maxBehind = 0;  // transfers the replica lacked at the worst sample
  double seconds = 0;
};

// Observes for at least `minimum` and, while `busy()` returns true, up to `maximum`.
BankWindow observeBank(
    const BankWriter& writer, const std::string& replicaDb, std::chrono::milliseconds minimum,
    std::chrono::milliseconds maximum = std::chrono::milliseconds(0),
    const std::function<bool()>& busy = [] { return false; });

}  // namespace walstream::test
