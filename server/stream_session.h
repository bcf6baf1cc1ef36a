// One GET /stream response: a long-lived chunked body of stream records (proto/stream_record.h).
//
// Lifetime: shared_from_this; every pending operation (socket write, client watch, timers,
// worker task, notify callback) holds the session. All members are touched only on the
// session's strand, except streamListing() (under statusMu_) and the notify callback (which only
// posts, through the server's PostGate).
//
// Flow: plan on a worker (stream_plan.h) -> response header -> snapshot record, read chunk by
// chunk on a worker into two reused buffers, the next chunk read while the current one is
// written (so the socket does not idle during a disk read, and memory stays two chunks) -> segment
// records as the iterator yields them, then live ones as capture publishes them. A write is
// never started while another is in flight, so a slow client only delays itself. After a
// snapshot the iterator is opened only once the snapshot is sent: what capture published
// meanwhile is read from the shadow WAL, so a snapshot that takes long (a slow link, a large
// database) queues nothing and cannot be cut for being too far behind.
//
// Bounds: live segments queued for this client are counted (bytes and entries) and the client
// is disconnected past StreamLimits (the byte bound is raised to two full WALs, 2 x
// max-checkpoint-pages frames, since one sync may publish a whole WAL at once); a write whose
// client takes no byte for writeStallTimeout disconnects too, whatever the write (response
// header, error answer, record, last chunk). Segments listed from disk carry no bytes until
// read, one at a time. A snapshot holds one of --max-snapshots places (counted_snapshot.h); the
// size pass of a compress=1 snapshot runs under its own admission queue before the response
// header, and stops when the client goes.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "proto/http/transport.h"
#include "proto/stream_record.h"
#include "server/capture/segment_iterator.h"
#include "server/capture/snapshot.h"
#include "server/query.h"
#include "server/server_context.h"
#include "server/session_registry.h"
#include "server/setup_queue.h"
#include "server/snapshot_compressor.h"
#include "server/stream_plan.h"

namespace walstream::server {

class StreamSession : public Session, public std::enable_shared_from_this<StreamSession> {
 public:
  // `transport`'s executor is the session's strand; plain TCP or TLS alike (its socket() is the
  // TCP socket underneath, whose send queue the stall check reads). `stream` is its place among
  // --max-streams (ServerContext::streamCount), held until the socket is closed.
  StreamSession(std::unique_ptr<httpd::Transport> transport, ServerContext& ctx, ServedDatabase& db,
                StreamQuery query, std::string remote, ConnectionCount::Slot connection,
                ConnectionCount::Slot stream);
  ~StreamSession() override;

  // Call on the socket's strand.
  void start();
  void close() override;
  std::optional<StreamListing> streamListing() const override;

 private:
  enum class Phase { kPlanning, kSnapshot, kTail, kFinishing, kDone };
  enum class WriteKind {
    kResponseHeader,
    kSnapshotHeader,
    kSnapshotChunk,
    kSegment,
    kHeartbeat,
    kIndexEnd,
    kLastChunk,
    kError,  // an error answer instead of the stream
  };
  using WriteBuffers = std::array<boost::asio::const_buffer, 4>;
  static_assert(std::tuple_size_v<WriteBuffers> <= httpd::Transport::kMaxWriteBuffers);

  template <class T>
  struct WorkerResult {
    std::optional<T> value;
    std::exception_ptr error;
  };
  // Runs work() on the worker pool, then done(WorkerResult) on the session's strand.
  template <class Work, class Done>
  void runOnWorker(Work work, Done done);
  // Destroys `thing` on the worker pool (snapshot readers end SQLite transactions).
  template <class T>
  void disposeOnWorker(T thing);

  // Plans the stream on a worker, holding the setup slot until the plan is made.
  void plan(SetupQueue::Slot slot);
  void onPlanned(WorkerResult<StreamPlan> result);
  // compress=1: the size pass (snapshot_compressor.h), admitted by ctx_.compressions, then
  // startStreaming(). Answers 503 when the queue is full.
  void prepareCompressed(uint32_t pageSize);
  void measureCompressed(SetupQueue::Slot slot, uint32_t pageSize);
  // Logs the stream's start and writes the response header.
  void startStreaming(uint32_t pageSize);
  void sendError(unsigned status, const std::string& message, bool retryable);
  void writeResponseHeader(uint32_t pageSize);

  // Takes the snapshot's chunk buffers from the server's budget (byte_budget.h): one of at
  // least the floor, and a second (read ahead while the first is written) only if it has room.
  void takeChunkBuffers(uint32_t pageSize);
  void beginSnapshot();
  // Starts reading the next chunk into a free buffer, unless one is being read already.
  void readSnapshotChunk();
  void onSnapshotChunk(std::string data);
  // Writes the chunk read ahead, if any, once the socket is free.
  void sendSnapshotChunk();
  void snapshotDone();
  std::string snapshotProgress() const;  // "N of its M bytes sent", for error messages

  void drainIterator();
  std::function<void()> makeNotify();
  void enqueue(SegmentInfo info);
  SegmentInfo dequeue();
  void pump();
  void readSegmentThenWrite();  // reads the disk segments at the head of queue_
  void writeSegment(const SegmentInfo& info, std::shared_ptr<const std::string> data);
  // Before the first segment of the index after clientEnd_'s: writes the index-end record (when
  // the client asked for them) and returns true, or closes the session on a hole.
  bool announceIndexEnd(const SegmentInfo& next);

  void startHeartbeats();
  void scheduleHeartbeat();
  void writeHeartbeat();

  // Record writes: the header and payload go out as HTTP chunks of at most kMaxWritePiece bytes
  // (the memory a write refers to).
  void writeRecord(const proto::StreamRecordHeader& header,
                   std::shared_ptr<const std::string> payload, WriteKind kind);
  void writePayload(std::shared_ptr<const std::string> payload, WriteKind kind);
  void writePiece();
  // Every write: `buffers` (which must stay valid until it completes) handed to the socket by
  // async_write_some until all are taken, watched by the stall timer; then onWritten(). With
  // Timeout::kDeadline the write must be complete within `timeout`, whatever the client takes.
  enum class Timeout { kStall, kDeadline };
  void startWrite(WriteBuffers buffers, WriteKind kind, std::chrono::milliseconds timeout,
                  Timeout mode = Timeout::kStall);
  void writeSome();
  void onWroteSome(boost::system::error_code ec, size_t bytes);
  // The stall timer: the write is cut once its client has taken no byte for `timeout`. Progress
  // is a partial write that moved bytes, or bytes the client's side acknowledged (the socket's
  // unacknowledged queue shrank): the kernel wakes a blocked writer only once a third of the
  // send buffer is free, which a slow reader may take longer than the timeout to drain.
  void armWriteTimer(std::chrono::milliseconds timeout, Timeout mode);
  void scheduleStallCheck();
  void checkStall();
  // Bytes of this session's writes that the client's side has acknowledged (it may be negative
  // while answers written before the stream began are still queued).
  int64_t takenBytes();
  void onWritten(boost::system::error_code ec, size_t bytes);
  // Ends the body with the final zero-size chunk, then closes. A stopping server gives it a
  // deadline: a slow reader with a backlog in the socket must not hold the shutdown.
  void finish(std::string reason, std::chrono::milliseconds timeout,
              Timeout mode = Timeout::kStall);
  void watchClient();
  // Whether the client has already closed its side (or reset the connection): a look at the
  // socket that neither waits nor consumes anything.
  bool clientClosed();
  void closeNow(const std::string& reason);
  void setSentPos(const Pos& pos);

  std::unique_ptr<httpd::Transport> transport_;
  const boost::asio::any_io_executor executor_;
  ServerContext& ctx_;
  ServedDatabase& db_;
  const StreamQuery query_;
  const std::string remote_;
  const std::string connectedAt_;
  ConnectionCount::Slot connection_;  // released when the socket is closed
  ConnectionCount::Slot stream_;      // likewise
  std::optional<uint64_t> registryId_;

  Phase phase_ = Phase::kPlanning;
  // Set with phase_ = kDone; read by the setup queue and the planning worker, off the strand.
  std::atomic<bool> gone_{false};
  bool streaming_ = false;  // planned and logged "streaming to": its end is logged too
  std::string endReason_;
  std::string snapshotReason_;  // why the stream begins with a snapshot, for the log

  // Writes.
  bool writing_ = false;
  WriteKind writeKind_ = WriteKind::kResponseHeader;
  uint64_t writeSeq_ = 0;
  boost::asio::steady_timer writeTimer_;
  std::optional<boost::beast::buffers_suffix<WriteBuffers>> writeBuffers_;  // not yet taken
  size_t writeBytes_ = 0;    // bytes of the current write taken by the socket
  int64_t handedBytes_ = 0;  // bytes of all writes taken by the socket
  std::chrono::milliseconds stallTimeout_{0};
  Timeout stallMode_ = Timeout::kStall;
  std::chrono::steady_clock::time_point lastProgress_;
  int64_t takenAtCheck_ = 0;          // takenBytes() at the last stall check
  std::string rawWrite_;              // the response header or error answer being written
  std::array<char, 24> chunkHead_{};  // "<hex size>\r\n" of the chunk being written
  size_t chunkHeadSize_ = 0;
  std::array<uint8_t, proto::kStreamRecordHeaderSize> recordHeader_{};
  bool recordHeaderPending_ = false;
  std::shared_ptr<const std::string> payload_;
  size_t payloadOffset_ = 0;
  Pos pendingSentPos_;
  // Where the client stands once it has applied every record written: the snapshot's position,
  // or the one it resumed at, then the end of each segment written.
  Pos clientEnd_;
  // The client's position in the history this generation continues, announced in the response
  // header (proto::kContinuesHeader); set only by a plan that continues it.
  std::optional<Pos> continues_;
  bool indexEndWritten_ = false;  // an index-end record at clientEnd_ went out
  std::array<char, 1> clientByte_{};

  // Snapshot.
  std::unique_ptr<SnapshotReader> snapshot_;
  // compress=1: owns the snapshot while it is sent; shared only with the one task using it.
  std::shared_ptr<SnapshotCompressor> compressor_;
  Pos snapshotPos_;
  uint64_t snapshotSize_ = 0;
  uint64_t snapshotRead_ = 0;  // bytes read from the image; snapshotSent_ <= this
  uint64_t snapshotSent_ = 0;
  // Chunk buffers: one per grant, each in exactly one of these places (or on the worker being
  // filled). The payload being written aliases chunkWriting_.
  std::vector<ByteBudget::Grant> chunkGrants_;
  size_t chunkBytes_ = 0;  // bytes read per chunk: whole pages, at most a grant
  std::vector<std::string> chunkSpares_;
  std::optional<std::string> chunkReady_;
  std::string chunkWriting_;
  bool readingChunk_ = false;

  // Segments.
  std::shared_ptr<SegmentIterator> iterator_;
  std::deque<SegmentInfo> queue_;
  // Segments read from disk by one worker task (readSegmentThenWrite), written before queue_.
  std::deque<std::pair<SegmentInfo, std::shared_ptr<const std::string>>> readAhead_;
  ByteBudget::Grant readAheadGrant_;  // for readAhead_, until it is empty
  uint64_t queuedLiveBytes_ = 0;
  uint64_t pendingByteLimit_ = 0;  // StreamLimits::maxPendingBytes, raised to two full WALs
  size_t queuedLiveSegments_ = 0;
  bool readingSegment_ = false;

  // Heartbeats.
  boost::asio::steady_timer heartbeatTimer_;
  bool heartbeatsStarted_ = false;
  bool heartbeatPreparing_ = false;
  std::optional<std::pair<Pos, Checksum>> heartbeatDue_;

  mutable std::mutex statusMu_;
  Pos sentPos_;  // under statusMu_
};

}  // namespace walstream::server
