#include "client/position_wait.h"

#include <algorithm>

#include "proto/wait_request.h"

namespace walstream::client {

WaitStanding judgeWait(const ReplicaState& state, const Pos& wanted) {
  std::lock_guard lock(state.mu);
  WaitStanding out{WaitVerdict::kNotYet, state.pos};
  if (state.pos.generation == wanted.generation) {
    if (!sameGenerationBefore(state.pos, wanted)) out.verdict = WaitVerdict::kApplied;
  } else if (std::find(state.leftGenerations.begin(), state.leftGenerations.end(),
                       wanted.generation) != state.leftGenerations.end()) {
    out.verdict = WaitVerdict::kNeverHere;
  }
  return out;
}

WaitAnswer waitAnswer(const WaitStanding& standing, const Pos& wanted, const std::string& timeout) {
  const std::string applied =
      standing.applied.empty() ? std::string("no position yet") : "at " + standing.applied.str();
  switch (standing.verdict) {
    case WaitVerdict::kApplied:
      return {200, proto::positionJson("", standing.applied)};
    case WaitVerdict::kNeverHere:
      return {409, "position " + wanted.str() + " is in generation " +
                       formatHex16(wanted.generation) + ", which this replica has left (it is " +
                       applied +
                       "): it can never be applied here; ask the primary for a new position"};
    case WaitVerdict::kNotYet:
      break;
  }
  const bool otherGeneration =
      !standing.applied.empty() && standing.applied.generation != wanted.generation;
  return {408, "position " + wanted.str() + " was not applied within " + timeout +
                   " (the replica is " + applied +
                   (otherGeneration ? ", in another generation" : "") + ")"};
}

}  // namespace walstream::client
