#include "server/stream_session.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstdio>
#include <sstream>
#include <type_traits>

#include "core/error.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/lz4_codec.h"
#include "proto/heartbeat.h"
#include "proto/http/response.h"
#include "proto/snapshot_chain.h"
#include "proto/status_json.h"
#include "server/capture/segment_tail.h"
#include "server/http_error.h"

namespace walstream::server {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

// Largest HTTP chunk written at once (of a record that may be up to a WAL segment's size).
constexpr size_t kMaxWritePiece = 1024 * 1024;
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
// How long a stopping server waits for the final chunk of an idle stream.
constexpr std::chrono::milliseconds kStopWriteTimeout{2000};
// Disk segments read by one worker task (readSegmentThenWrite): about this many bytes.
constexpr size_t kReadRunBytes = 1024 * 1024;

// Thrown by a setup whose client went away before it ran.
struct ClientGone : std::exception {
  const char* what() const noexcept override { return "the client has gone"; }
};

}  // namespace

StreamSession::StreamSession(std::unique_ptr<httpd::Transport> transport, ServerContext& ctx,
                             ServedDatabase& db, StreamQuery query, std::string remote,
                             ConnectionCount::Slot connection, ConnectionCount::Slot stream)
    : transport_(std::move(transport)),
      executor_(transport_->get_executor()),
      ctx_(ctx),
      db_(db),
      query_(std::move(query)),
      remote_(std::move(remote)),
      connectedAt_(proto::formatRfc3339(std::chrono::system_clock::now())),
      connection_(std::move(connection)),
      stream_(std::move(stream)),
      writeTimer_(executor_),
      heartbeatTimer_(executor_),
      sentPos_(query_.request.pos) {}

StreamSession::~StreamSession() {
  if (iterator_) iterator_->close();
  disposeOnWorker(std::move(snapshot_));
  disposeOnWorker(std::move(compressor_));
}

template <class Work, class Done>
void StreamSession::runOnWorker(Work work, Done done) {
  using T = std::invoke_result_t<Work&>;
  net::post(ctx_.workers, [self = shared_from_this(), work = std::move(work),
                           done = std::move(done)]() mutable {
    WorkerResult<T> result;
    try {
      result.value.emplace(work());
    } catch (...) {
      result.error = std::current_exception();
    }
    auto executor = self->executor_;
    net::post(executor, [self = std::move(self), done = std::move(done),
                         result = std::move(result)]() mutable { done(std::move(result)); });
  });
}

template <class T>
void StreamSession::disposeOnWorker(T thing) {
  if (!thing) return;
  net::post(ctx_.workers, [thing = std::move(thing)]() mutable { thing = nullptr; });
}

void StreamSession::start() {
  registryId_ = ctx_.registry.add(weak_from_this());
  if (!registryId_) {
    closeNow("the server is shutting down");
    return;
  }
  // A client that sent its request and closed at once (a burst of them costs nothing then),
  // and from now on one that goes away while its setup waits, cancels it.
  if (clientClosed()) {
    closeNow("the client closed the connection");
    return;
  }
  watchClient();
  const bool admitted = ctx_.setups.submit(
      [weak = weak_from_this()] {
        auto self = weak.lock();
        return self && !self->gone_.load();
      },
      [self = shared_from_this()](SetupQueue::Slot slot) { self->plan(std::move(slot)); });
  if (!admitted) {
    sendError(503, db_.name.name + ": too many streams are being set up; retry shortly", true);
  }
}

void StreamSession::plan(SetupQueue::Slot slot) {
  runOnWorker(
      [self = shared_from_this(), slot = std::move(slot)]() mutable {
        // Checked again now that a worker has it: the client may have gone while it waited.
        if (self->gone_.load()) throw ClientGone();
        StreamPlan plan =
            planStream(self->db_.source, self->query_.request.pos, self->query_.request.checksum,
                       self->query_.request.continues, self->ctx_.limits.snapshotShareWindow,
                       self->ctx_.snapshots, [&self] { return !self->gone_.load(); });
        slot.release();
        return plan;
      },
      [this](WorkerResult<StreamPlan> r) { onPlanned(std::move(r)); });
}

void StreamSession::onPlanned(WorkerResult<StreamPlan> result) {
  if (result.error && phase_ == Phase::kDone) return;  // the client went away meanwhile
  if (result.error) {
    try {
      std::rethrow_exception(result.error);
    } catch (const HttpError& e) {
      sendError(static_cast<unsigned>(e.status()), e.what(), e.retryable());
    } catch (const Error& e) {
      sendError(503, db_.name.name + ": " + e.what(), true);
    } catch (const std::exception& e) {
      log::error(db_.name.name + ": cannot start a stream for " + remote_ + ": " + e.what());
      sendError(500, db_.name.name + ": " + e.what(), false);
    }
    return;
  }
  StreamPlan& plan = *result.value;
  if (phase_ == Phase::kDone) {
    if (plan.iterator) plan.iterator->close();
    disposeOnWorker(std::move(plan.snapshot));
    return;
  }
  iterator_ = std::move(plan.iterator);
  snapshot_ = std::move(plan.snapshot);
  // One sync can publish the whole WAL at once, and capture checkpoints it past
  // max-checkpoint-pages: a healthy client may briefly have that much queued, twice over.
  pendingByteLimit_ = std::max<uint64_t>(
      ctx_.limits.maxPendingBytes,
      uint64_t{2} * db_.source.maxPublishPages() * (uint64_t{plan.pageSize} + kWalFrameHeaderSize));
  snapshotPos_ = plan.start;
  // A resume may continue at the next index (resumePoint): the client still stands at the end
  // of the previous one, where its index-end record goes.
  // A continuation starts the client over at the new generation's 0:0 (docs/promotion.md §3).
  clientEnd_ = snapshot_ || plan.continues ? plan.start : query_.request.pos;
  continues_ = plan.continues;
  if (plan.first) enqueue(std::move(*plan.first));
  snapshotReason_ = std::move(plan.snapshotReason);
  if (snapshot_ && query_.request.compress) {
    prepareCompressed(plan.pageSize);
    return;
  }
  startStreaming(plan.pageSize);
}

void StreamSession::prepareCompressed(uint32_t pageSize) {
  // The size pass reads and compresses the whole image before the client gets a byte: admitted
  // like a setup, so that however many clients ask, it never takes more than its own threads,
  // and dropped (or stopped between chunks) once the client has gone.
  const bool admitted = ctx_.compressions.submit(
      [weak = weak_from_this()] {
        auto self = weak.lock();
        return self && !self->gone_.load();
      },
      [self = shared_from_this(), pageSize](SetupQueue::Slot slot) {
        // May run on a worker that released a slot: onto the strand first.
        auto executor = self->executor_;
        net::post(executor, [self = std::move(self), slot = std::move(slot), pageSize]() mutable {
          self->measureCompressed(std::move(slot), pageSize);
        });
      });
  if (!admitted) {
    sendError(503,
              db_.name.name + ": too many compressed snapshots are being prepared; retry shortly",
              true);
  }
}

void StreamSession::measureCompressed(SetupQueue::Slot slot, uint32_t pageSize) {
  if (phase_ == Phase::kDone) return;  // the slot goes with this call
  // The compressor's chunks are the stream's chunk buffers, taken from the budget now.
  takeChunkBuffers(pageSize);
  runOnWorker(
      [self = shared_from_this(), snapshot = std::move(snapshot_), chunk = chunkBytes_,
       slot = std::move(slot)]() mutable {
        auto compressor = std::make_shared<SnapshotCompressor>(std::move(snapshot), chunk);
        if (!compressor->measure([&self] { return !self->gone_.load(); })) throw ClientGone();
        slot.release();
        return compressor;
      },
      [this, pageSize](WorkerResult<std::shared_ptr<SnapshotCompressor>> r) {
        if (phase_ == Phase::kDone) {
          if (r.value) disposeOnWorker(std::move(*r.value));
          return;
        }
        if (r.error) {
          try {
            std::rethrow_exception(r.error);
          } catch (const std::exception& e) {
            sendError(503,
                      db_.name.name + ": cannot compress the snapshot at " + snapshotPos_.str() +
                          ": " + e.what(),
                      true);
          }
          return;
        }
        compressor_ = std::move(*r.value);
        startStreaming(pageSize);
      });
}

void StreamSession::startStreaming(uint32_t pageSize) {
  db_.streamsStarted.fetch_add(1);
  streaming_ = true;
  if (snapshot_ || compressor_) {
    log::info(db_.name.name + ": streaming to " + remote_ + " from a snapshot at " +
              snapshotPos_.str() + (compressor_ ? ", compressed" : "") + " (" + snapshotReason_ +
              ")");
  } else {
    log::info(db_.name.name + ": streaming to " + remote_ + " from " + snapshotPos_.str());
  }
  writeResponseHeader(pageSize);
  drainIterator();
}

void StreamSession::sendError(unsigned status, const std::string& message, bool retryable) {
  if (phase_ == Phase::kDone) return;
  if (status >= 500) {
    log::warn(db_.name.name + ": stream request from " + remote_ + " answered " +
              std::to_string(status) + ": " + message);
  }
  std::ostringstream text;
  text << httpd::makeJsonError(status, message, 11, false, retryable);
  rawWrite_ = text.str();
  endReason_ = "answered " + std::to_string(status) + ": " + message;
  // Watched like any write: a client that does not read (its earlier answers on this
  // connection may fill the send buffer) loses the connection after the stall timeout.
  startWrite({net::buffer(rawWrite_)}, WriteKind::kError, ctx_.limits.writeStallTimeout);
}

void StreamSession::writeResponseHeader(uint32_t pageSize) {
  http::response<http::empty_body> response;
  response.version(11);
  response.result(http::status::ok);
  response.set(http::field::server, "walstream");
  response.set(http::field::content_type, "application/octet-stream");
  response.set(http::field::cache_control, "no-store");
  response.set("Walstream-Page-Size", std::to_string(pageSize));
  response.set("Litestream-page-size", std::to_string(pageSize));
  if (query_.request.indexEnds) response.set(std::string(proto::kIndexEndsHeader), "1");
  if (continues_) response.set(std::string(proto::kContinuesHeader), continues_->str());
  if (const ReplicaChain* chain = db_.source.replicaChain()) {
    response.set("Walstream-Chain", chain->chainHeader());
  }
  const std::optional<WalChainState> chain = snapshot_     ? snapshot_->chain()
                                             : compressor_ ? compressor_->chain()
                                                           : std::nullopt;
  if (chain) {
    response.set(std::string(proto::kSnapshotChainHeader), proto::formatSnapshotChain(*chain));
  }
  response.keep_alive(false);
  response.chunked(true);
  std::ostringstream text;
  text << response.base();
  rawWrite_ = text.str();
  startWrite({net::buffer(rawWrite_)}, WriteKind::kResponseHeader, ctx_.limits.writeStallTimeout);
}

// --- snapshot ---------------------------------------------------------------------------------

void StreamSession::takeChunkBuffers(uint32_t pageSize) {
  const uint64_t floor = std::max<uint64_t>(ctx_.limits.minBufferBytes, pageSize);
  const uint64_t want = std::max<uint64_t>(ctx_.limits.snapshotChunkBytes, floor);
  ByteBudget::Grant first = ctx_.buffers.take(want, floor);
  chunkBytes_ = static_cast<size_t>(std::max<uint64_t>(first.bytes() / pageSize, 1) * pageSize);
  chunkGrants_.push_back(std::move(first));
  // The second buffer only reads ahead: taken only when the budget has room for all of it.
  ByteBudget::Grant second = ctx_.buffers.take(chunkBytes_, 0);
  if (second.bytes() == chunkBytes_) chunkGrants_.push_back(std::move(second));
  chunkSpares_.resize(chunkGrants_.size());
}

void StreamSession::beginSnapshot() {
  phase_ = Phase::kSnapshot;
  uint32_t flags = 0;
  if (compressor_) {
    // Measured before the response header (measureCompressed), its chunk buffers taken then.
    snapshotSize_ = compressor_->size();
    flags = proto::kFlagCompressed;
  } else {
    takeChunkBuffers(snapshot_->pageSize());
    snapshotSize_ = snapshot_->size();
  }
  writeRecord(proto::StreamRecordHeader::of(proto::RecordType::kSnapshot, snapshotPos_,
                                            snapshotSize_, flags),
              nullptr, WriteKind::kSnapshotHeader);
  readSnapshotChunk();
}

std::string StreamSession::snapshotProgress() const {
  return std::to_string(snapshotSent_) + " of its " + std::to_string(snapshotSize_) + " bytes sent";
}

void StreamSession::readSnapshotChunk() {
  if (readingChunk_ || chunkSpares_.empty() || snapshotRead_ == snapshotSize_) return;
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(chunkBytes_, snapshotSize_ - snapshotRead_));
  std::string buffer = std::move(chunkSpares_.back());
  chunkSpares_.pop_back();
  readingChunk_ = true;
  // A reused buffer already has the chunk's size: resizing it costs nothing, and the bytes are
  // overwritten by the read.
  if (compressor_) {
    // Compressed just before it is sent (snapshot_compressor.h); one task at a time owns it.
    runOnWorker(
        [compressor = compressor_, buffer = std::move(buffer)]() mutable {
          compressor->next(buffer);
          return std::move(buffer);
        },
        [this](WorkerResult<std::string> r) {
          readingChunk_ = false;
          if (phase_ == Phase::kDone) return;
          if (r.error) {
            try {
              std::rethrow_exception(r.error);
            } catch (const std::exception& e) {
              closeNow("cannot compress the snapshot at " + snapshotPos_.str() + " (" +
                       snapshotProgress() + "): " + e.what());
            }
            return;
          }
          onSnapshotChunk(std::move(*r.value));
        });
    return;
  }
  // The reader travels to the worker and back, so exactly one thread owns it at any time.
  runOnWorker(
      [snapshot = std::move(snapshot_), want, buffer = std::move(buffer)]() mutable {
        buffer.resize(std::max<size_t>(want, snapshot->pageSize()));
        buffer.resize(snapshot->readInto(buffer));
        return std::make_pair(std::move(snapshot), std::move(buffer));
      },
      [this](WorkerResult<std::pair<std::unique_ptr<SnapshotReader>, std::string>> r) {
        readingChunk_ = false;
        if (r.value) snapshot_ = std::move(r.value->first);
        if (phase_ == Phase::kDone) {
          disposeOnWorker(std::move(snapshot_));
          return;
        }
        if (r.error) {
          try {
            std::rethrow_exception(r.error);
          } catch (const std::exception& e) {
            closeNow("cannot read the snapshot at " + snapshotPos_.str() + " (" +
                     snapshotProgress() + "): " + e.what());
          }
          return;
        }
        onSnapshotChunk(std::move(r.value->second));
      });
}

void StreamSession::onSnapshotChunk(std::string data) {
  if (data.empty() || data.size() > snapshotSize_ - snapshotRead_) {
    closeNow("snapshot at " + snapshotPos_.str() + " does not match its announced size " +
             std::to_string(snapshotSize_) + " (chunk of " + std::to_string(data.size()) +
             " bytes after " + std::to_string(snapshotRead_) + ")");
    return;
  }
  snapshotRead_ += data.size();
  chunkReady_ = std::move(data);
  sendSnapshotChunk();
  readSnapshotChunk();
}

void StreamSession::sendSnapshotChunk() {
  if (writing_ || !chunkReady_) return;
  chunkWriting_ = std::move(*chunkReady_);
  chunkReady_.reset();
  snapshotSent_ += chunkWriting_.size();
  // Points at the member without owning it (owning the session from inside it would be a
  // cycle): the write's handler keeps the session, and so the buffer, alive until it completes.
  writePayload(std::shared_ptr<const std::string>(std::shared_ptr<void>(), &chunkWriting_),
               WriteKind::kSnapshotChunk);
}

void StreamSession::snapshotDone() {
  chunkSpares_ = {};  // the tail needs no chunk buffers
  chunkReady_.reset();
  chunkWriting_ = {};
  chunkGrants_.clear();
  if (compressor_) {
    snapshot_ = compressor_->release();  // its lease keeps the index until the iterator exists
    disposeOnWorker(std::move(compressor_));
  }
  setSentPos(snapshotPos_);
  phase_ = Phase::kTail;  // no iterator yet: pump() waits for it; a stop can end the body
  // The segments after the snapshot are read now, from the shadow WAL: none was queued while
  // the snapshot was sent, so however long that took it did not count against the limits on
  // queued segments. The snapshot reader keeps the index from retention (the source's snapshot
  // lease) until the iterator exists.
  runOnWorker(
      [&source = db_.source, pos = snapshotPos_, snapshot = std::move(snapshot_)]() mutable {
        // The snapshot's position may have become the end of a finished index meanwhile.
        const std::optional<Pos> from = resumePoint(source, pos, source.writtenPosition());
        if (!from) throw Error("no segment of the shadow WAL follows " + pos.str());
        auto it = source.openIterator(*from);
        snapshot.reset();
        return it;
      },
      [this](WorkerResult<std::shared_ptr<SegmentIterator>> r) {
        if (phase_ != Phase::kTail) {  // finishing or done meanwhile
          if (r.value) (*r.value)->close();
          return;
        }
        if (r.error) {
          try {
            std::rethrow_exception(r.error);
          } catch (const std::exception& e) {
            closeNow("cannot continue after the snapshot: " + std::string(e.what()));
          }
          return;
        }
        iterator_ = std::move(*r.value);
        startHeartbeats();
        drainIterator();
        pump();
      });
}

// --- segments ---------------------------------------------------------------------------------

std::function<void()> StreamSession::makeNotify() {
  // Runs on a capture thread: only posts, and only while the server's loop exists.
  return [weak = weak_from_this(), gate = ctx_.gate] {
    gate->run([&] {
      if (auto self = weak.lock()) {
        auto executor = self->executor_;
        net::post(executor, [self = std::move(self)] {
          self->drainIterator();
          self->pump();
        });
      }
    });
  };
}

void StreamSession::enqueue(SegmentInfo info) {
  if (info.data) {
    queuedLiveBytes_ += info.size;
    ++queuedLiveSegments_;
  }
  queue_.push_back(std::move(info));
}

SegmentInfo StreamSession::dequeue() {
  SegmentInfo info = std::move(queue_.front());
  queue_.pop_front();
  if (info.data) {
    queuedLiveBytes_ -= info.size;
    --queuedLiveSegments_;
  }
  return info;
}

void StreamSession::drainIterator() {
  if (phase_ == Phase::kDone || !iterator_) return;
  // Bounded by the rate of appends: it loops only when one lands between next() and armNotify().
  for (;;) {
    while (auto info = iterator_->next()) enqueue(std::move(*info));
    if (queuedLiveBytes_ > pendingByteLimit_ ||
        queuedLiveSegments_ > ctx_.limits.maxPendingSegments) {
      closeNow("client too far behind: " + std::to_string(queuedLiveSegments_) + " segments (" +
               std::to_string(queuedLiveBytes_) + " bytes) waiting");
      return;
    }
    if (iterator_->error()) return;
    if (iterator_->armNotify(makeNotify())) return;
  }
}

void StreamSession::pump() {
  for (;;) {
    if (phase_ != Phase::kTail || !iterator_ || writing_ || readingSegment_) return;
    if (heartbeatDue_) {
      writeHeartbeat();
      return;
    }
    const SegmentInfo* upcoming = !readAhead_.empty() ? &readAhead_.front().first
                                  : !queue_.empty()   ? &queue_.front()
                                                      : nullptr;
    if (upcoming && announceIndexEnd(*upcoming)) return;
    if (!readAhead_.empty()) {
      auto [info, data] = std::move(readAhead_.front());
      readAhead_.pop_front();
      if (readAhead_.empty()) readAheadGrant_.reset();
      writeSegment(info, std::move(data));
      return;
    }
    if (!queue_.empty()) {
      if (queue_.front().data) {
        SegmentInfo info = dequeue();
        auto data = info.data;
        writeSegment(info, std::move(data));
      } else {
        readSegmentThenWrite();
      }
      return;
    }
    if (auto ending = iterator_->ending()) {
      if (ending->reason == IteratorEnd::kGenerationChanged) {
        finish("the generation changed; the client reconnects for a snapshot",
               ctx_.limits.writeStallTimeout);
      } else {
        closeNow("segment iterator failed: " + ending->message);
      }
      return;
    }
    drainIterator();
    if (phase_ == Phase::kDone) return;
    if (queue_.empty() && !iterator_->error()) return;  // armed: the notify callback resumes
  }
}

void StreamSession::readSegmentThenWrite() {
  // A catching-up client is sent thousands of segments from disk: the ones that follow each
  // other in one segment file are read by one worker task (one pread), not one task each.
  std::vector<SegmentInfo> run;
  size_t bytes = 0;
  // At least the first segment, whatever the budget; more while it has room.
  readAheadGrant_ = ctx_.buffers.take(kReadRunBytes, queue_.front().size);
  while (!queue_.empty() && !queue_.front().data && bytes < readAheadGrant_.bytes()) {
    const SegmentInfo& next = queue_.front();
    if (!run.empty() &&
        (next.pos.index != run.back().pos.index || next.fileOffset != run.back().fileOffset ||
         next.byteOffset != run.back().byteOffset + run.back().size)) {
      break;
    }
    bytes += next.size;
    run.push_back(dequeue());
  }
  readingSegment_ = true;
  runOnWorker(
      [&shadow = db_.source.shadow(), run] {
        std::vector<std::shared_ptr<const std::string>> out;
        for (std::string& data : shadow.readSegmentRun(run)) {
          out.push_back(std::make_shared<const std::string>(std::move(data)));
        }
        return out;
      },
      [this, run](WorkerResult<std::vector<std::shared_ptr<const std::string>>> r) {
        readingSegment_ = false;
        if (phase_ == Phase::kDone) return;
        if (r.error) {
          try {
            std::rethrow_exception(r.error);
          } catch (const std::exception& e) {
            closeNow("cannot read segment " + run.front().pos.str() + ": " + e.what());
          }
          return;
        }
        for (size_t i = 0; i < run.size(); ++i) readAhead_.emplace_back(run[i], (*r.value)[i]);
        pump();
      });
}

void StreamSession::writeSegment(const SegmentInfo& info, std::shared_ptr<const std::string> data) {
  uint64_t walBytes = info.walBytes;
  if (walBytes == 0) walBytes = lz4ContentSize(asBytes(*data)).value_or(0);
  pendingSentPos_ = info.pos;
  pendingSentPos_.offset += walBytes;
  const auto header =
      proto::StreamRecordHeader::of(proto::RecordType::kWalSegment, info.pos, data->size());
  writeRecord(header, std::move(data), WriteKind::kSegment);
}

bool StreamSession::announceIndexEnd(const SegmentInfo& next) {
  const bool startsNextIndex =
      segmentSuccession(clientEnd_, next.pos) == SegmentSuccession::kStartsNextIndex;
  if (!startsNextIndex || indexEndWritten_) return false;
  // The iterator knows where the index ended when it saw its last segment; the client must
  // stand exactly there. (It does not when the stream resumed at the next index: resumePoint
  // proved the client's position to be the end then.)
  if (next.previousIndexEnd != 0 && next.previousIndexEnd != clientEnd_.offset) {
    closeNow("index " + formatHex16(clientEnd_.index) + " ended at WAL offset " +
             std::to_string(next.previousIndexEnd) + ", but the stream stands at " +
             clientEnd_.str() + ": segments are missing");
    return true;
  }
  if (!query_.request.indexEnds) return false;
  indexEndWritten_ = true;
  writeRecord(proto::StreamRecordHeader::of(proto::RecordType::kIndexEnd, clientEnd_), nullptr,
              WriteKind::kIndexEnd);
  return true;
}

// --- heartbeats -------------------------------------------------------------------------------

void StreamSession::startHeartbeats() {
  if (query_.request.heartbeat.count() == 0 || heartbeatsStarted_) return;
  heartbeatsStarted_ = true;
  scheduleHeartbeat();
}

void StreamSession::scheduleHeartbeat() {
  heartbeatTimer_.expires_after(query_.request.heartbeat);
  heartbeatTimer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->phase_ == Phase::kDone || self->heartbeatPreparing_) return;
    self->heartbeatPreparing_ = true;
    self->runOnWorker(
        [&db = self->db_] {
          const Pos pos = db.source.writtenPosition();  // the checksum comes from its file
          return std::make_pair(
              pos, db.heartbeatChecksums.at(db.source.shadow(), pos, db.source.pageSize()));
        },
        [raw = self.get()](WorkerResult<std::pair<Pos, Checksum>> r) {
          raw->heartbeatPreparing_ = false;
          if (raw->phase_ == Phase::kDone) return;
          if (r.error) {
            try {
              std::rethrow_exception(r.error);
            } catch (const std::exception& e) {
              log::warn(raw->db_.name.name + ": heartbeat checksum: " + e.what());
            }
            r.value = std::make_pair(raw->db_.source.writtenPosition(), Checksum{});
          }
          raw->heartbeatDue_ = *r.value;
          raw->pump();
        });
  });
}

void StreamSession::writeHeartbeat() {
  const auto [pos, checksum] = *heartbeatDue_;
  heartbeatDue_.reset();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto bytes = proto::HeartbeatPayload{static_cast<uint64_t>(micros), checksum}.encode();
  const auto header =
      proto::StreamRecordHeader::of(proto::RecordType::kHeartbeat, pos, bytes.size());
  writeRecord(header, std::make_shared<const std::string>(bytes.begin(), bytes.end()),
              WriteKind::kHeartbeat);
}

// --- writes -----------------------------------------------------------------------------------

void StreamSession::writeRecord(const proto::StreamRecordHeader& header,
                                std::shared_ptr<const std::string> payload, WriteKind kind) {
  recordHeader_ = header.encode();
  recordHeaderPending_ = true;
  payload_ = std::move(payload);
  payloadOffset_ = 0;
  writeKind_ = kind;
  writePiece();
}

void StreamSession::writePayload(std::shared_ptr<const std::string> payload, WriteKind kind) {
  recordHeaderPending_ = false;
  payload_ = std::move(payload);
  payloadOffset_ = 0;
  writeKind_ = kind;
  writePiece();
}

void StreamSession::writePiece() {
  size_t budget = kMaxWritePiece;
  net::const_buffer header;
  net::const_buffer payload;
  if (recordHeaderPending_) {
    header = net::buffer(recordHeader_);
    budget -= recordHeader_.size();
    recordHeaderPending_ = false;
  }
  if (payload_) {
    const size_t n = std::min(budget, payload_->size() - payloadOffset_);
    payload = net::buffer(payload_->data() + payloadOffset_, n);
    payloadOffset_ += n;
  }
  // One HTTP chunk: its size line, the bytes, CRLF.
  const int n = std::snprintf(chunkHead_.data(), chunkHead_.size(), "%zx\r\n",
                              header.size() + payload.size());
  chunkHeadSize_ = static_cast<size_t>(n);
  startWrite({net::buffer(chunkHead_.data(), chunkHeadSize_), header, payload, net::buffer(kCrlf)},
             writeKind_, ctx_.limits.writeStallTimeout);
}

void StreamSession::startWrite(WriteBuffers buffers, WriteKind kind,
                               std::chrono::milliseconds timeout, Timeout mode) {
  writeKind_ = kind;
  writeBuffers_.emplace(buffers);
  writeBytes_ = 0;
  writing_ = true;
  armWriteTimer(timeout, mode);
  writeSome();
}

void StreamSession::writeSome() {
  transport_->async_write_some(
      *writeBuffers_,
      [self = shared_from_this()](error_code ec, size_t n) { self->onWroteSome(ec, n); });
}

void StreamSession::onWroteSome(error_code ec, size_t bytes) {
  if (bytes > 0) {
    writeBuffers_->consume(bytes);
    writeBytes_ += bytes;
    handedBytes_ += static_cast<int64_t>(bytes);
    if (stallMode_ == Timeout::kStall) lastProgress_ = std::chrono::steady_clock::now();
  }
  if (!ec && phase_ != Phase::kDone && net::buffer_size(*writeBuffers_) > 0) {
    writeSome();
    return;
  }
  writeBuffers_.reset();
  onWritten(ec, writeBytes_);
}

void StreamSession::armWriteTimer(std::chrono::milliseconds timeout, Timeout mode) {
  stallTimeout_ = timeout;
  stallMode_ = mode;
  lastProgress_ = std::chrono::steady_clock::now();
  takenAtCheck_ = takenBytes();
  scheduleStallCheck();
}

void StreamSession::scheduleStallCheck() {
  // Checked a few times per timeout, so that a client that stops reading is cut about one
  // timeout after the last byte it took.
  const auto interval = std::max<std::chrono::milliseconds>(stallTimeout_ / 4, 1ms);
  const uint64_t seq = ++writeSeq_;
  writeTimer_.expires_at(
      std::min(lastProgress_ + stallTimeout_, std::chrono::steady_clock::now() + interval));
  writeTimer_.async_wait([self = shared_from_this(), seq](error_code ec) {
    if (ec || self->phase_ == Phase::kDone || !self->writing_ || seq != self->writeSeq_) return;
    self->checkStall();
  });
}

void StreamSession::checkStall() {
  const auto now = std::chrono::steady_clock::now();
  const int64_t taken = takenBytes();
  if (taken != takenAtCheck_ && stallMode_ == Timeout::kStall) {
    takenAtCheck_ = taken;
    lastProgress_ = now;
  }
  if (now - lastProgress_ >= stallTimeout_) {
    const std::string ms = std::to_string(stallTimeout_.count());
    closeNow(stallMode_ == Timeout::kStall
                 ? "the client has taken no byte for more than " + ms + " ms"
                 : "the client has not taken the end of the stream within " + ms + " ms");
    return;
  }
  scheduleStallCheck();
}

int64_t StreamSession::takenBytes() {
  // SIOCOUTQ: bytes written to the socket that the client's side has not acknowledged yet.
  int queued = 0;
  if (::ioctl(transport_->socket().native_handle(), SIOCOUTQ, &queued) != 0) {
    return handedBytes_;  // unknown: partial writes alone then count as progress
  }
  return handedBytes_ - queued;
}

void StreamSession::onWritten(error_code ec, size_t bytes) {
  writing_ = false;
  writeTimer_.cancel();
  if (phase_ == Phase::kDone) {
    payload_.reset();
    return;
  }
  if (writeKind_ == WriteKind::kError) {
    closeNow(endReason_);
    return;
  }
  if (ec) {
    closeNow("write failed: " + ec.message());
    return;
  }
  db_.bytesSent.fetch_add(bytes);
  if (payload_ && payloadOffset_ < payload_->size()) {
    writePiece();
    return;
  }
  payload_.reset();
  switch (writeKind_) {
    case WriteKind::kResponseHeader:
      if (snapshot_ || compressor_) {
        beginSnapshot();
      } else {
        phase_ = Phase::kTail;
        startHeartbeats();
        pump();
      }
      break;
    case WriteKind::kSnapshotHeader:
    case WriteKind::kSnapshotChunk:
      if (writeKind_ == WriteKind::kSnapshotChunk) chunkSpares_.push_back(std::move(chunkWriting_));
      if (snapshotSent_ == snapshotSize_) {
        snapshotDone();
      } else {
        sendSnapshotChunk();
        readSnapshotChunk();
      }
      break;
    case WriteKind::kSegment:
      clientEnd_ = pendingSentPos_;
      indexEndWritten_ = false;
      setSentPos(pendingSentPos_);
      iterator_->consumed(pendingSentPos_);
      pump();
      break;
    case WriteKind::kHeartbeat:
      scheduleHeartbeat();
      pump();
      break;
    case WriteKind::kIndexEnd:
      pump();
      break;
    case WriteKind::kLastChunk: {
      error_code ignored;
      transport_->socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
      closeNow(endReason_);
      break;
    }
    case WriteKind::kError:
      break;  // handled above
  }
}

void StreamSession::finish(std::string reason, std::chrono::milliseconds timeout, Timeout mode) {
  phase_ = Phase::kFinishing;
  endReason_ = std::move(reason);
  startWrite({net::buffer(kLastChunk)}, WriteKind::kLastChunk, timeout, mode);
}

bool StreamSession::clientClosed() {
  char byte = 0;
  const ssize_t n = ::recv(transport_->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// The client sends nothing after its request; a completed read means it went away. Without this
// an idle stream would only notice at its next write.
void StreamSession::watchClient() {
  transport_->async_read_some(net::buffer(clientByte_),
                              [self = shared_from_this()](error_code ec, size_t) {
                                if (self->phase_ == Phase::kDone) return;
                                if (ec == net::error::eof) {
                                  self->closeNow("the client closed the connection");
                                } else if (ec) {
                                  self->closeNow("client connection: " + ec.message());
                                } else {
                                  self->watchClient();
                                }
                              });
}

void StreamSession::close() {
  net::post(executor_, [self = shared_from_this()] {
    // Between records the body can end properly, so the client knows to reconnect; inside a
    // record (or before the response) the connection is simply closed.
    if (self->phase_ == Phase::kTail && !self->writing_ && !self->readingSegment_) {
      self->finish("the server is stopping", kStopWriteTimeout, Timeout::kDeadline);
    } else {
      self->closeNow("the server is stopping");
    }
  });
}

void StreamSession::closeNow(const std::string& reason) {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  gone_.store(true);
  if (streaming_) {
    const Pos at = streamListing()->pos;
    log::info(
        db_.name.name + ": stream to " + remote_ + " ended " +
        (at.empty() ? std::string("before its first record was complete") : "at " + at.str()) +
        ": " + reason);
  }
  if (iterator_) iterator_->close();
  error_code ignored;
  writeTimer_.cancel();
  heartbeatTimer_.cancel();
  transport_->socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  transport_->socket().close(ignored);
  connection_.reset();
  stream_.reset();
  disposeOnWorker(std::move(snapshot_));
  disposeOnWorker(std::move(compressor_));
  chunkGrants_.clear();
  readAhead_.clear();
  readAheadGrant_.reset();
  ctx_.trimmer.request();  // once the buffers of this stream are freed
  queue_.clear();
  queuedLiveBytes_ = 0;
  queuedLiveSegments_ = 0;
  if (registryId_) ctx_.registry.remove(*registryId_);
}

void StreamSession::setSentPos(const Pos& pos) {
  std::lock_guard lock(statusMu_);
  sentPos_ = pos;
}

std::optional<StreamListing> StreamSession::streamListing() const {
  std::lock_guard lock(statusMu_);
  return StreamListing{query_.database, remote_, sentPos_, connectedAt_};
}

}  // namespace walstream::server
