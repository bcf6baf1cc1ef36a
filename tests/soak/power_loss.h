// Simulated power loss on a replica (tests/soak/README.md): what a dead replica's files may
// look like after the machine lost power, derived from the replica's durability contract
// (client/replica_applier.h, client/replica_position.h, README.md "Replica"):
//  - LOCAL_DB itself is written only by SQLite's checkpoints, which flush the WAL before and
//    the database after backfilling, and by the first snapshot (fsynced before it is moved into
//    place): it never loses anything.
//  - LOCAL_DB's WAL is flushed only by checkpoints (the whole file, before backfilling) and on a
//    clean stop. Frames appended after the last flush may be lost: the WAL may end at any frame
//    boundary at or after the last flushed size (a lost frame in the middle is the same to
//    SQLite's recovery as a shorter file: it stops at the first frame that does not verify).
//  - The position file is rewritten in place after every apply and flushed only before
//    checkpoints: it holds the last flushed record or any later one, or a torn mix (its
//    checksum tells).
//  - The -shm is rebuilt by the first connection after a reboot: it is deleted.
//
// The test cannot see when the replica last flushed its WAL, so it only ever cuts the WAL at or
// after a bound that is provably at or after the flushed size (PowerLossPlan::floorFrames):
//  - the wal-index records checkpoints: nBackfillAttempted > 0 means a checkpoint flushed the
//    current WAL at some point, when it had at most the frames it has now, so nothing before the
//    current mxFrame may go; nBackfillAttempted == 0 (it is reset when the WAL restarts) means no
//    checkpoint flushed any frame of the current WAL, which may then be lost whole;
//  - the WAL's salts when it was last made durable otherwise (a clean stop, or a previous
//    simulated power loss whose surviving files count as on the disk) keep the whole current WAL;
//  - the wal-index is read once before the kill (with a random delay between, the moment of the
//    loss) and once after; if a checkpoint ran in between, nothing is cut.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

namespace walstream::soak {

// The parts of LOCAL_DB's wal-index (-shm) that tell what was flushed.
struct ShmState {
  uint32_t mxFrame = 0;
  uint32_t pageSize = 0;
  std::array<uint8_t, 8> salt{};
  uint32_t nBackfill = 0;
  uint32_t nBackfillAttempted = 0;
  // Same WAL, and no checkpoint backfilled or attempted anything in between.
  bool sameCheckpointState(const ShmState& o) const {
    return salt == o.salt && nBackfill == o.nBackfill && nBackfillAttempted == o.nBackfillAttempted;
  }
};

// Reads the -shm's header and checkpoint info; retries (bounded) while a concurrent publish
// makes the two header copies differ. nullopt when missing or never consistent.
// Only call while this process has no SQLite connection open on the database: closing the
// descriptor used here drops every POSIX lock this process holds on the -shm (SQLite's too).
std::optional<ShmState> readShm(const std::string& shmPath);

// The salts of a WAL file's header (bytes 16..23), nullopt when it has no header.
std::optional<std::array<uint8_t, 8>> walSalts(const std::string& walPath);

// What one power loss does to the files of a dead replica.
struct PowerLossPlan {
  std::string why;                      // how floorFrames was derived
  uint32_t floorFrames = 0;             // the WAL may be cut to any frame count >= this
  uint32_t mxFrame = 0;                 // frames published when the replica died
  std::optional<uint32_t> cutToFrames;  // nullopt: the WAL file is kept as it is
  enum class Position { kNew, kOld, kTorn } position = Position::kNew;
  std::string describe() const;
};

// State the soak keeps between power losses: the salts of the WAL the last time the test knows
// it was durable (clean stop, previous power loss).
struct DurabilityTracker {
  std::optional<std::array<uint8_t, 8>> durableSalt;
  void noteDurable(const std::string& walPath) { durableSalt = walSalts(walPath); }
};

// Chooses a legal outcome of a power loss from the wal-index before (`before`, read before the
// kill; nullopt when unreadable) and after the kill.
PowerLossPlan planPowerLoss(const std::optional<ShmState>& before,
                            const std::optional<ShmState>& after, const DurabilityTracker& tracker,
                            std::mt19937_64& rng);

// Applies the plan to the dead replica's files: cuts the WAL, puts back `oldPosition` (the
// position file's bytes read before the kill) or tears the record, deletes the -shm.
void applyPowerLoss(const std::string& localDb, const PowerLossPlan& plan,
                    const std::string& oldPosition, std::mt19937_64& rng);

}  // namespace walstream::soak
