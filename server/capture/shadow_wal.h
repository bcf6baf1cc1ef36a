// The shadow WAL on disk: what capture writes and the stream serves.
//
//   DB-walstream/
//     generation                         current generation, 16 hex digits + "\n" (atomic write)
//     position                           last published position, text form + "\n" (in place)
//     generations/<gen>/wal/<index>/<offset>.wal.lz4
//     generations/<gen>/lineage          only in a promoted database's first generation: the
//                                        history it continues (core/promotion_record.h)
//
// A segment holds the primary's WAL bytes [offset, next offset) of WAL file <index>, whole
// transactions, as one LZ4 frame; the segment at offset 0 begins with the 32-byte WAL header.
// A segment file <offset>.wal.lz4 holds one or more consecutive segments, their frames back to
// back, the first at <offset>: each frame's header records its content size, so the next
// segment's offset is known without decompressing (listSegments walks the frames). Capture
// batches the segments of a few milliseconds into one file, so the file system sees tens of
// files a second rather than one per transaction. Segment files are written tmp + rename and
// never modified afterwards (but for cutting a damaged tail at start-up), so while the system
// runs a reader that sees a name can read the whole file.
//
// Durability is batched (makeDurable), not per segment: capture makes every segment durable,
// data and name, before it lets the WAL restart (wal_capture.h). Until then the pinned WAL still
// holds every frame of the index, so a segment that a power failure truncated or lost is copied
// again from the WAL on start; start-up therefore checks every segment of the last index and
// drops a damaged tail (WalCapture::readShadowTail). Per-segment fsyncs cost a file-system
// journal commit each, which on the machine measured was most of the replication lag.
// A segment file may be written over a pooled file's bytes (segment_file_pool.h), so what a
// power failure leaves of a segment not yet durable may also be bytes, or the length, of the
// segment the file held before. Those are frames of an older WAL (other salts) or of another
// offset, which break the checksum chain start-up checks, as any damage does; frames that do
// continue the chain at the same offset of the same WAL are the WAL's own bytes.
//
// Segments are the authority: the position file is a convenience for people and tools, and is
// rebuilt from the segments on start.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_system.h"
#include "core/pos.h"
#include "server/capture/segment_file_pool.h"

namespace walstream {

struct SegmentInfo {
  Pos pos;                // generation, index, and the WAL offset the segment starts at
  uint64_t size = 0;      // compressed bytes
  uint64_t walBytes = 0;  // uncompressed bytes (0 when listed from a damaged file)
  // The compressed bytes, when the segment was just published: shared by every stream tailing
  // it, so live data is read from disk at most once. Null for segments listed from disk.
  std::shared_ptr<const std::string> data;
  // Where the bytes are stored: in the segment file of the same index that starts at WAL
  // offset `fileOffset`, from byte `byteOffset` of it (set by listings and storeSegments).
  uint64_t fileOffset = 0;
  uint64_t byteOffset = 0;
  // At offset 0 of index I+1, set by a SegmentIterator that saw index I's last segment: the WAL
  // offset where index I ended. 0 when unknown.
  uint64_t previousIndexEnd = 0;
  // When capture copied the segment, by the system clock (Unix ms): set by newSegment; for a
  // segment listed from disk, the time its file was last written (within a few ms of it).
  // Backups record it, so that a restore can stop at a wall-clock time (docs/backup.md §4).
  int64_t capturedAtMs = 0;
};

// A sync of shadow WAL files failed (ShadowWal::makeDurable). The segments it covered cannot be
// made durable by syncing again, so their generation cannot be trusted after a power failure:
// the ShadowWal remembers it (syncFailedIn), and capture starts a new generation when it reopens
// rather than resuming that one.
class ShadowSyncError : public Error {
 public:
  using Error::Error;
};

class ShadowWal {
 public:
  // Writes, syncs, renames and removals of the shadow WAL's files go through `fs`
  // (core/file_system.h), which must outlive this; reads and listings do not.
  explicit ShadowWal(std::string root, FileSystem& fs = realFileSystem())
      : root_(std::move(root)), fs_(&fs) {}

  const std::string& root() const { return root_; }
  FileSystem& fileSystem() const { return *fs_; }

  // Whether a makeDurable() of this object covering `generation` failed: that generation must
  // not be resumed (ShadowSyncError). Thread-safe. Remembered only as long as this object
  // lives; see docs/capture.md for what a restart of the process after such a failure risks.
  bool syncFailedIn(uint64_t generation) const;
  std::string generationDir(uint64_t gen) const;
  // Where generation `gen` continues another history from (docs/promotion.md §2).
  std::string lineagePath(uint64_t gen) const { return generationDir(gen) + "/lineage"; }
  std::string indexDir(uint64_t gen, uint64_t index) const;
  std::string segmentPath(const Pos& pos) const;
  // mkdir -p, each directory it creates made durable (its parent fsynced) before the next: a
  // segment made durable in a new directory is reachable after a power failure only if the
  // names of every directory above it are durable too.
  void createDirs(const std::string& dir) const;

  std::vector<uint64_t> listGenerations() const;          // ascending
  std::vector<uint64_t> listIndexes(uint64_t gen) const;  // ascending
  // Every segment of the index, by offset, each file's frames walked in order. A file whose
  // frames cannot be walked to its end contributes the frames before the damage and then the
  // rest of the file as one segment, which fails to decompress when read.
  std::vector<SegmentInfo> listSegments(uint64_t gen, uint64_t index) const;
  // Every segment of `gen` at or after `from` (same generation), in (index, offset) order.
  std::vector<SegmentInfo> listSegmentsFrom(const Pos& from) const;

  // Writes a compressed segment, not yet durable (makeDurable); returns its info (with `data`
  // set). A valid `spare` (segment_file_pool.h) is used and consumed instead of creating a
  // file: creating one can stall behind other processes' fsyncs on the same file system
  // (0.07 ms alone, 0.3 to 1.4 ms beside a replica's fdatasyncs on the machine measured).
  SegmentInfo writeSegment(const Pos& pos, std::string compressed, uint64_t walBytes,
                           SpareFile* spare = nullptr) const;
  // The info of a segment with `data` set and no file yet: storeSegments writes it.
  static SegmentInfo newSegment(const Pos& pos, std::string compressed, uint64_t walBytes);
  // Writes consecutive segments made by newSegment (one index, each starting where the one
  // before ends) into one file named after the first, as writeSegment does; sets their
  // fileOffset and byteOffset. Not yet durable: makeDurable(the first's position).
  void storeSegments(std::span<SegmentInfo> segments, SpareFile* spare = nullptr) const;
  // Makes the segment files starting at `files` durable, data and names. Files removed
  // meanwhile are skipped. Throws ShadowSyncError when a sync fails: on Linux a failed fsync
  // may drop the dirty pages it could not write and mark them clean, so a later fsync of the
  // same files can succeed with their data lost. What was not durable then never will be.
  void makeDurable(const std::vector<Pos>& files) const;
  // Deletes the segments of `gen`/`index` at and after `from` (a damaged tail): later files
  // are removed, the file holding `from` is cut before it.
  void removeSegmentsFrom(const Pos& from) const;
  // The compressed bytes of a listed (or stored) segment: its `data`, or its bytes on disk.
  std::string readSegmentData(const SegmentInfo& segment) const;
  // The compressed bytes of consecutive listed segments of one file (as a listing returns them,
  // each starting where the one before ends in the file), read with one pread.
  std::vector<std::string> readSegmentRun(std::span<const SegmentInfo> run) const;
  // The compressed bytes of the segment starting at `pos`; throws Error when there is none.
  std::string readSegment(const Pos& pos) const;

  // nullopt when the file is absent, not 16 lowercase hex digits, or 0 ("no generation").
  std::optional<uint64_t> readGeneration() const;
  void writeGeneration(uint64_t gen) const;
  std::string positionPath() const { return root_ + "/position"; }

  // Deletes every generation other than `keep`, and indexes of `keep` below `firstIndexToKeep`;
  // their segment files go to `pool` when one is given. Returns how many directories were
  // removed.
  size_t removeOld(uint64_t keep, uint64_t firstIndexToKeep, SegmentFilePool* pool = nullptr) const;

 private:
  std::string root_;
  FileSystem* fs_;
  mutable std::mutex mu_;  // guards syncFailed_: capture's thread and its worker sync
  mutable std::set<uint64_t> syncFailed_;
};

}  // namespace walstream
