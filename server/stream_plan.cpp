#include "server/stream_plan.h"

#include "core/error.h"
#include "core/log.h"
#include "core/promotion_record.h"
#include "server/capture/segment_tail.h"
#include "server/counted_snapshot.h"
#include "server/http_error.h"

namespace walstream::server {

namespace {

std::string checksumText(const Checksum& c) {
  return formatHex16((uint64_t{c.s0} << 32) | c.s1);
}

// Why the client cannot resume at `requested`; "" when it can try.
std::string resumeObstacle(const Pos& requested, const Pos& end) {
  if (requested.empty()) return "no position given";
  if (requested.generation != end.generation) {
    return "position " + requested.str() + " is of another generation (current " +
           formatHex16(end.generation) + ")";
  }
  if (sameGenerationBefore(end, requested)) {
    return "position " + requested.str() + " is beyond the primary's end " + end.str();
  }
  return "";
}

// The plan that resumes at `from` (a resume point); nullopt, with `reason` set, when retention
// removed its segments between the check and the listing.
std::optional<StreamPlan> openResume(StreamSource& source, const Pos& from, std::string& reason) {
  StreamPlan plan;
  plan.iterator = source.openIterator(from);
  plan.first = plan.iterator->next();
  // A segment removed by retention between the check and the listing would leave a gap: the
  // first segment must start exactly where the client is, unless nothing follows yet.
  const bool contiguous = plan.first
                              ? plan.first->pos == from
                              : (plan.iterator->error().has_value() || source.position() == from);
  if (contiguous) {
    plan.start = from;
    plan.pageSize = source.pageSize();
    return plan;
  }
  plan.iterator->close();
  reason = "segments at " + from.str() + " were removed meanwhile";
  return std::nullopt;
}

// Where a client at `requested`, in the history the current generation of `end` was promoted
// from, continues: the generation's 0:0, when its lineage names exactly that position and
// checksum (docs/promotion.md §3) and the generation's first segment is still retained.
std::optional<Pos> continuationPoint(const StreamSource& source, const Pos& requested,
                                     const std::optional<Checksum>& checksum, const Pos& end) {
  if (!checksum || requested.empty() || requested.generation == end.generation) {
    return std::nullopt;
  }
  const std::optional<PromotionRecord> lineage =
      loadPromotionRecord(source.shadow().lineagePath(end.generation));
  // Without the file stamp (promote was resumed after a crash, or the file changed before capture
  // started), 0:0 is not known to be the state at the lineage's position.
  if (!lineage || !lineage->dbFile || lineage->position != requested ||
      lineage->checksum != checksum) {
    return std::nullopt;
  }
  return resumePoint(source, Pos{end.generation, 0, 0}, end);
}

}  // namespace

std::optional<Pos> resumePoint(const StreamSource& source, const Pos& requested, const Pos& end) {
  if (requested == end) return requested;
  const ShadowWal& shadow = source.shadow();
  auto segments = shadow.listSegments(requested.generation, requested.index);
  for (const auto& s : segments) {
    if (s.pos.offset == requested.offset) return requested;
  }
  // The exact end of a finished index continues at the next index's start.
  if (requested.index < end.index && !segments.empty() &&
      segments.back().pos.offset < requested.offset) {
    SegmentTail tail = readListedSegmentTail(shadow, segments.back(), source.pageSize());
    if (segments.back().pos.offset + tail.walBytes == requested.offset) {
      auto next = shadow.listSegments(requested.generation, requested.index + 1);
      if (!next.empty() && next.front().pos.offset == 0) {
        return Pos{requested.generation, requested.index + 1, 0};
      }
    }
  }
  return std::nullopt;
}

StreamPlan planStream(StreamSource& source, const Pos& requested,
                      const std::optional<Checksum>& checksum, bool mayContinue,
                      std::chrono::milliseconds snapshotShareWindow, SnapshotCount& snapshots,
                      const std::function<bool()>& wanted) {
  const Pos end = source.position();
  if (end.empty() || !source.healthy()) {
    std::string reason = source.healthReason();
    throw HttpError(
        503, source.name() + ": capture is not ready" + (reason.empty() ? "" : ": " + reason),
        true);
  }

  if (source.followsUpstream() && !requested.empty() && requested.generation == end.generation &&
      sameGenerationBefore(end, requested)) {
    // The client was served further by another source of this history; this one catches up.
    throw HttpError(503,
                    source.name() + ": this replica is at " + end.str() +
                        ", behind the requested position " + requested.str() + "; retry shortly",
                    true);
  }
  std::string reason = resumeObstacle(requested, end);
  if (mayContinue) {
    try {
      const Pos written = source.writtenPosition();
      if (const auto from = continuationPoint(source, requested, checksum, written)) {
        if (auto plan = openResume(source, *from, reason)) {
          plan->continues = requested;
          return std::move(*plan);
        }
      }
    } catch (const Error& e) {
      log::warn(source.name() + ": cannot continue " + requested.str() + ": " + e.what());
    }
  }
  if (reason.empty()) {
    try {
      // Live streams get segments before their files are written (database.h): a client that
      // saw one may resume past writtenPosition() for a few milliseconds. A sync writes them.
      Pos written = source.writtenPosition();
      if (sameGenerationBefore(written, requested)) {
        if (auto w = source.syncBarrier(std::chrono::seconds(1))) written = *w;
      }
      std::optional<Pos> from = resumePoint(source, requested, written);
      std::optional<Checksum> ours;
      if (from && checksum) ours = checksumAt(source.shadow(), requested, source.pageSize());
      if (!from) {
        reason =
            "position " + requested.str() + " is not a segment boundary of the retained shadow WAL";
      } else if (ours && *ours != *checksum) {
        reason = "checksum mismatch at " + requested.str() + ": client " + checksumText(*checksum) +
                 ", primary " + checksumText(*ours);
      } else if (auto plan = openResume(source, *from, reason)) {
        return std::move(*plan);
      }
    } catch (const Error& e) {
      reason = std::string("cannot resume: ") + e.what();
      log::warn(source.name() + ": " + reason);
    }
  }

  SnapshotCount::Slot slot;
  if (!snapshots.tryTake(slot)) {
    throw HttpError(503,
                    source.name() + ": a snapshot is needed (" + reason + "), but " +
                        std::to_string(snapshots.max()) +
                        " snapshots are being sent (--max-snapshots); retry shortly",
                    true);
  }
  StreamPlan plan;
  try {
    plan.snapshot = std::make_unique<CountedSnapshotReader>(
        source.openSnapshot(snapshotShareWindow, wanted), std::move(slot));
  } catch (const SnapshotAbandoned&) {
    throw;  // nobody to answer
  } catch (const Error& e) {
    throw HttpError(503, source.name() + ": cannot take a snapshot: " + e.what(), true);
  }
  plan.start = plan.snapshot->position();
  plan.pageSize = plan.snapshot->pageSize();
  plan.snapshotReason = reason;
  return plan;
}

}  // namespace walstream::server
