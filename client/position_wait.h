// The replica's GET /wait (docs/read-your-writes.md): where a wanted position stands against the
// replica's applied one. Pure logic on ReplicaState; the status server waits and answers.
//
//   kApplied      same generation, applied position at or past the wanted one: every read
//                 transaction of LOCAL_DB that begins from now on sees it (200).
//   kNeverHere    the wanted generation is one this replica has left since it started: the
//                 position can never be applied here (409), even when the replica applied it
//                 before it left, since a new generation starts where continuity was lost.
//   kNotYet       anything else: the same generation and behind, no position yet, or a generation
//                 the replica has not seen (a new one it will reach by a snapshot, or one from
//                 before it started or from another primary, which it cannot tell apart): it
//                 waits, and times out with 408 naming both generations.
#pragma once

#include <string>

#include "client/replica_state.h"
#include "core/pos.h"

namespace walstream::client {

enum class WaitVerdict { kApplied, kNeverHere, kNotYet };

struct WaitStanding {
  WaitVerdict verdict = WaitVerdict::kNotYet;
  Pos applied;  // the replica's applied position when it was judged
};

// Reads `state` under its mutex.
WaitStanding judgeWait(const ReplicaState& state, const Pos& wanted);

// The answer's status and JSON body for a wait that ended: kApplied 200 {"pos":...}, kNeverHere
// 409, kNotYet (timed out) 408, with an error that names both positions.
struct WaitAnswer {
  unsigned status = 200;
  std::string body;  // for 200: the JSON; else the error message
};
WaitAnswer waitAnswer(const WaitStanding& standing, const Pos& wanted, const std::string& timeout);

}  // namespace walstream::client
