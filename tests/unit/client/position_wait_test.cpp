#include <doctest/doctest.h>

#include <string>

#include "client/position_wait.h"

using namespace walstream;
using namespace walstream::client;

namespace {

const Pos kApplied = parsePos("00000000000000a1/0000000000000002:0000000000001000");

Pos at(uint64_t generation, uint64_t index, uint64_t offset) {
  return Pos{generation, index, offset};
}

}  // namespace

TEST_CASE("a position at or before the applied one in its generation is applied") {
  ReplicaState state;
  state.setPos(kApplied);
  CHECK(judgeWait(state, kApplied).verdict == WaitVerdict::kApplied);
  CHECK(judgeWait(state, at(0xa1, 2, 0x20)).verdict == WaitVerdict::kApplied);
  CHECK(judgeWait(state, at(0xa1, 1, 0xffffff)).verdict == WaitVerdict::kApplied);
  const WaitStanding s = judgeWait(state, at(0xa1, 2, 0x20));
  CHECK(s.applied == kApplied);
  const WaitAnswer a = waitAnswer(s, at(0xa1, 2, 0x20), "1s");
  CHECK(a.status == 200);
  CHECK(a.body.find(kApplied.str()) != std::string::npos);
}

TEST_CASE("a later position, no position yet, or a generation never seen is not yet: 408") {
  ReplicaState empty;
  CHECK(judgeWait(empty, kApplied).verdict == WaitVerdict::kNotYet);
  ReplicaState state;
  state.setPos(kApplied);
  CHECK(judgeWait(state, at(0xa1, 2, 0x1001)).verdict == WaitVerdict::kNotYet);
  CHECK(judgeWait(state, at(0xa1, 3, 0)).verdict == WaitVerdict::kNotYet);
  const WaitStanding unseen = judgeWait(state, at(0xb2, 0, 0x20));
  CHECK(unseen.verdict == WaitVerdict::kNotYet);
  const WaitAnswer a = waitAnswer(unseen, at(0xb2, 0, 0x20), "250ms");
  CHECK(a.status == 408);
  CHECK(a.body.find("within 250ms") != std::string::npos);
  CHECK(a.body.find("in another generation") != std::string::npos);
}

TEST_CASE("a generation the replica has left can never be applied: 409") {
  ReplicaState state;
  state.setPos(kApplied);
  state.setPos(at(0xb2, 0, 0x20));  // a snapshot of a new generation
  CHECK(state.leftGenerations == std::vector<uint64_t>{0xa1});
  // Even a position it had applied before it left.
  const WaitStanding s = judgeWait(state, at(0xa1, 1, 0x20));
  CHECK(s.verdict == WaitVerdict::kNeverHere);
  const WaitAnswer a = waitAnswer(s, at(0xa1, 1, 0x20), "1s");
  CHECK(a.status == 409);
  CHECK(a.body.find("has left") != std::string::npos);
  // Moving on within the new generation keeps the record; only the last 64 are kept.
  state.setPos(at(0xb2, 0, 0x40));
  CHECK(state.leftGenerations.size() == 1);
  for (uint64_t g = 0xc0; g < 0xc0 + 70; ++g) state.setPos(at(g, 0, 0x20));
  CHECK(state.leftGenerations.size() == ReplicaState::kLeftGenerationsKept);
  CHECK(judgeWait(state, at(0xa1, 1, 0x20)).verdict == WaitVerdict::kNotYet);  // forgotten
}
