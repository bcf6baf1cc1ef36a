#include "tests/soak/power_loss.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "core/error.h"
#include "core/file_util.h"
#include "core/wal_format.h"
#include "core/wal_index.h"

namespace walstream::soak {

namespace {

constexpr size_t kShmPrefix = 136;  // two header copies and the checkpoint info

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);  // host order, as SQLite writes the wal-index
  return v;
}

}  // namespace

std::optional<ShmState> readShm(const std::string& shmPath) {
  // A live replica publishes copy 1 then copy 0; a read overlapping a publish sees them differ.
  // The replica publishes for microseconds at a time, so a few tries get a stable read.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    UniqueFd fd = openFileIfExists(shmPath, O_RDONLY);
    if (!fd.valid()) return std::nullopt;
    uint8_t b[kShmPrefix];
    if (preadFull(fd.get(), b, sizeof b, 0, shmPath) != sizeof b) return std::nullopt;
    if (std::memcmp(b, b + kWalIndexHeaderSize, kWalIndexHeaderSize) != 0) continue;
    const std::optional<WalIndexHeader> h = WalIndexHeader::decode(b);
    if (!h) continue;
    ShmState s;
    s.mxFrame = h->mxFrame;
    s.pageSize = h->pageSize();
    s.salt = h->salt;
    s.nBackfill = load32(b + 96);
    s.nBackfillAttempted = load32(b + 128);
    return s;
  }
  return std::nullopt;
}

std::optional<std::array<uint8_t, 8>> walSalts(const std::string& walPath) {
  UniqueFd fd = openFileIfExists(walPath, O_RDONLY);
  if (!fd.valid()) return std::nullopt;
  uint8_t b[kWalHeaderSize];
  if (preadFull(fd.get(), b, sizeof b, 0, walPath) != sizeof b) return std::nullopt;
  if (!WalHeader::decode({b, sizeof b})) return std::nullopt;
  std::array<uint8_t, 8> salt;
  std::memcpy(salt.data(), b + 16, salt.size());
  return salt;
}

std::string PowerLossPlan::describe() const {
  std::string s = "wal ";
  s += cutToFrames ? "cut to " + std::to_string(*cutToFrames) + " frames" : "kept";
  s += " (published " + std::to_string(mxFrame) + ", floor " + std::to_string(floorFrames) + ": " +
       why + "), position ";
  s += position == Position::kNew ? "new" : position == Position::kOld ? "old" : "torn";
  s += ", shm deleted";
  return s;
}

PowerLossPlan planPowerLoss(const std::optional<ShmState>& before,
                            const std::optional<ShmState>& after, const DurabilityTracker& tracker,
                            std::mt19937_64& rng) {
  PowerLossPlan plan;
  // The position file: new (as the kill left it), the copy read before the kill (which is at or
  // after the last flushed record, since no checkpoint ran in between; checked below), or torn.
  const uint64_t p = rng() % 100;
  plan.position = p < 45   ? PowerLossPlan::Position::kNew
                  : p < 85 ? PowerLossPlan::Position::kOld
                           : PowerLossPlan::Position::kTorn;
  if (!after) {
    plan.why = "no wal-index after the kill";
    plan.position = PowerLossPlan::Position::kNew;
    return plan;
  }
  plan.mxFrame = after->mxFrame;
  if (!before) {
    plan.why = "no wal-index before the kill";
    plan.floorFrames = after->mxFrame;
    if (plan.position == PowerLossPlan::Position::kOld)
      plan.position = PowerLossPlan::Position::kNew;
  } else if (!before->sameCheckpointState(*after) || after->mxFrame < before->mxFrame) {
    // A checkpoint flushed the WAL (and the position) between the two reads.
    plan.why = "checkpoint during the kill window";
    plan.floorFrames = after->mxFrame;
    if (plan.position == PowerLossPlan::Position::kOld)
      plan.position = PowerLossPlan::Position::kNew;
  } else if (before->nBackfillAttempted > 0) {
    plan.why = "a checkpoint flushed this WAL";
    plan.floorFrames = before->mxFrame;
  } else if (tracker.durableSalt && *tracker.durableSalt == before->salt) {
    plan.why = "this WAL was durable at a clean stop or earlier power loss";
    plan.floorFrames = before->mxFrame;
  } else {
    plan.why = "no frame of this WAL was flushed";
    plan.floorFrames = 0;
  }
  const uint64_t w = rng() % 100;
  if (w < 20 || plan.floorFrames >= plan.mxFrame) {
    plan.cutToFrames.reset();  // everything reached the disk
  } else if (w < 60) {
    plan.cutToFrames = plan.floorFrames;  // nothing after the last flush did
  } else {
    plan.cutToFrames =
        plan.floorFrames + static_cast<uint32_t>(rng() % (plan.mxFrame - plan.floorFrames + 1));
  }
  return plan;
}

void applyPowerLoss(const std::string& localDb, const PowerLossPlan& plan,
                    const std::string& oldPosition, std::mt19937_64& rng) {
  const std::string walPath = localDb + "-wal";
  const std::string positionPath = localDb + "-walstream/position";
  if (plan.cutToFrames && pathExists(walPath)) {
    UniqueFd fd = openFile(walPath, O_RDWR);
    uint8_t header[kWalHeaderSize];
    if (preadFull(fd.get(), header, sizeof header, 0, walPath) == sizeof header) {
      const std::optional<WalHeader> h = WalHeader::decode({header, sizeof header});
      // Frame boundaries come from the WAL's own page size; a WAL without a valid header holds
      // no frames SQLite would recover, so it is cut to nothing.
      uint64_t size = 0;
      if (h && *plan.cutToFrames > 0) {
        size = kWalHeaderSize + uint64_t{*plan.cutToFrames} * (h->pageSize + kWalFrameHeaderSize);
      }
      if (size < fileSize(fd.get(), walPath) &&
          ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
        throwErrno("cannot truncate", walPath);
      }
    }
  }
  if (pathExists(positionPath)) {
    std::string now = readFile(positionPath);
    if (plan.position == PowerLossPlan::Position::kOld && !oldPosition.empty()) {
      writeFileAtomic(positionPath, oldPosition);
    } else if (plan.position == PowerLossPlan::Position::kTorn && now.size() > 2) {
      // A write torn between sectors: the start of one record and the rest of another, or a
      // damaged byte when there is no other record.
      if (oldPosition.size() == now.size() && oldPosition != now) {
        const size_t cut = 1 + rng() % (now.size() - 1);
        now = now.substr(0, cut) + oldPosition.substr(cut);
      } else {
        now[rng() % (now.size() - 1)] ^= 0x5a;
      }
      writeFileAtomic(positionPath, now);
    }
  }
  ::unlink((localDb + "-shm").c_str());
}

}  // namespace walstream::soak
