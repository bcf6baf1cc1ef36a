#include "client/replica.h"

#include "client/followed_db.h"
#include "client/streaming_get.h"
#include "client/tcp_keepalive.h"
#include "core/backoff.h"
#include "core/error.h"
#include "core/log.h"
#include "core/lz4_codec.h"
#include "core/printable_text.h"
#include "proto/header_number.h"
#include "proto/heartbeat.h"
#include "proto/original_stream_request.h"
#include "proto/record_decoder.h"
#include "proto/snapshot_chain.h"
#include "proto/status_json.h"
#include "proto/stream_request.h"

namespace walstream::client {

namespace {

// While more of the stream is already here, segments are gathered into one batch (applied as one
// transaction, with one device flush) up to this many bytes. Each segment counts the larger of
// the decompressed size its lz4 header declares and the compressed bytes it carries: an
// upstream cannot make a batch grow without bound by declaring little, and both the compressed
// batch and (once its sizes are checked) the decompressed one stay within this plus their last
// segment. The primary cuts segments at the first commit past 4 MiB, so a catching-up replica
// holds about 16 + 4 MiB of each; a segment holding one huge transaction is bounded by the
// record decoder's limit (proto::RecordLimits, compressed) and kMaxWalSegmentBytes
// (decompressed, checked before any memory is taken for it). A live replica applies each segment
// as it arrives: nothing more is buffered then.
constexpr uint64_t kBatchBytes = uint64_t{16} << 20;

// What a received segment counts against kBatchBytes (at most all of it, so that the sum of
// declared sizes cannot wrap).
uint64_t batchCost(std::span<const uint8_t> lz4) {
  // Without a declared size (never from walstream) a segment counts as a full batch.
  const uint64_t declared = lz4ContentSize(lz4).value_or(kBatchBytes);
  return std::min(std::max<uint64_t>(declared, lz4.size()), kBatchBytes);
}

// How long the replica waits before asking again a primary that rejected its request as
// invalid (400): a configuration error does not go away by retrying, but the operator may fix
// the primary's side (or upgrade it) without restarting the replica.
constexpr std::chrono::seconds kRejectedRetry{30};

// The primary answered 400 (the replica's request is one it does not accept) or 404 (it does
// not serve the database LOCAL_DB follows): configuration errors.
class RequestRejectedError : public Error {
 public:
  using Error::Error;
};

// The primary's /status is small; anything longer is not one.
constexpr size_t kMaxStatusBytes = size_t{1} << 20;

// Stream bytes that count as progress when they arrive without completing a record (a large
// snapshot or segment on a slow link): a peer that sends a byte now and then does not.
constexpr uint64_t kProgressBytes = 64 * 1024;

// A primary that sends nothing (no data, no heartbeat) for this long is taken for dead.
std::chrono::milliseconds silenceLimit(std::chrono::milliseconds heartbeat) {
  return std::max<std::chrono::milliseconds>(std::chrono::seconds(3), heartbeat * 5);
}

// A primary of the original protocol sends no heartbeats: its stream is silent while its
// database is idle, which says nothing of the connection. TCP keepalive (client/tcp_keepalive.h)
// detects a dead one instead; a connection silent for this long is still made again, which
// costs a resend of the current WAL index, verified and skipped.
constexpr std::chrono::minutes kOriginalSilenceLimit{15};

}  // namespace

int64_t ReplicaState::lagMillis() const {
  if (!behind) return 0;
  if (caughtUpAt == std::chrono::steady_clock::time_point{}) return -1;  // never caught up
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               caughtUpAt)
      .count();
}

void ReplicaState::setPos(const Pos& applied) {
  if (!pos.empty() && pos.generation != applied.generation) {
    std::erase(leftGenerations, applied.generation);  // a generation may be entered again
    leftGenerations.push_back(pos.generation);
    if (leftGenerations.size() > kLeftGenerationsKept)
      leftGenerations.erase(leftGenerations.begin());
  }
  pos = applied;
}

void ReplicaState::setPositionListener(std::function<void()> listener) {
  std::lock_guard lock(listenerMu_);
  listener_ = std::move(listener);
}

void ReplicaState::positionPublished() {
  std::lock_guard lock(listenerMu_);
  if (listener_) listener_();
}

int64_t ReplicaState::stalledMillis() const {
  if (stalledSince == std::chrono::steady_clock::time_point{}) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               stalledSince)
      .count();
}

Replica::Replica(ReplicaOptions options, ReplicaState& state)
    : options_(std::move(options)),
      state_(state),
      applier_(options_.localPath, options_.applier),
      db_(options_.db),
      followedPath_(followedDbPath(options_.localPath)),
      original_(options_.upstreamProtocol == UpstreamProtocol::kOriginal) {
  if (pathExists(options_.localPath)) {
    followed_ = loadFollowedDb(followedPath_);
  } else {
    forgetFollowedDb(followedPath_);  // of an earlier LOCAL_DB
  }
  if (db_.empty() && followed_) {
    db_ = *followed_;
  } else if (followed_ && *followed_ != db_) {
    log::warn(options_.localPath + " is a replica of the primary's " + *followed_ + "; following " +
              db_ + " instead, as --db names it (a snapshot replaces it)");
  }
  std::lock_guard lock(state_.mu);
  state_.upstream = upstream().url;
  state_.db = db_;
  if (applier_.position()) state_.setPos(applier_.position()->pos);
}

Replica::~Replica() = default;

void Replica::stop() {
  stopping_ = true;
  std::lock_guard lock(mu_);
  if (stream_) stream_->cancel();
  wake_.notify_all();
}

std::string Replica::requestTarget() const {
  if (original_) {
    return proto::originalStreamTarget(db_, applier_.position() ? applier_.position()->pos : Pos{});
  }
  proto::StreamRequest request;
  request.db = db_;
  request.dbAsPath = namesDatabaseByPath(db_);
  if (const auto& p = applier_.position()) {
    request.pos = p->pos;
    if (p->chainKnown) request.checksum = p->chain.checksum;
  }
  request.heartbeat = options_.heartbeatInterval;
  request.indexEnds = true;
  request.continues = true;
  return request.target();
}

// Registered under mu_ so that stop() either sees the connection (and cancels it) or has set
// stopping_ first (and the connection is never used). Not attached once stopping.
class Replica::StreamAttachment {
 public:
  StreamAttachment(Replica& replica, StreamingGet& stream) : replica_(replica) {
    std::lock_guard lock(replica_.mu_);
    if (replica_.stopping_) return;
    replica_.stream_ = &stream;
    attached_ = true;
  }
  ~StreamAttachment() {
    if (!attached_) return;
    std::lock_guard lock(replica_.mu_);
    replica_.stream_ = nullptr;
  }
  StreamAttachment(const StreamAttachment&) = delete;
  StreamAttachment& operator=(const StreamAttachment&) = delete;
  explicit operator bool() const { return attached_; }

 private:
  Replica& replica_;
  bool attached_ = false;
};

std::string Replica::discoverDatabase() {
  StreamingGet status(options_.access);
  const StreamAttachment attached(*this, status);
  if (!attached) throw Error("stopping");
  const HttpResponseHead head =
      status.open(upstream().host, upstream().port, "/status", options_.connectTimeout);
  rejectUnauthorized(head);
  if (head.status != 200) {
    throw Error(upstream().url + "/status answered " + std::to_string(head.status) + ": " +
                head.body);
  }
  // One deadline for the whole document: a peer sending a byte now and then cannot stretch it.
  const auto deadline = std::chrono::steady_clock::now() + options_.connectTimeout;
  std::string body;
  uint8_t buf[16384];
  for (;;) {
    const size_t n = status.readSome(buf, sizeof buf, deadline);
    if (n == 0) break;
    body.append(reinterpret_cast<const char*>(buf), n);
    if (body.size() > kMaxStatusBytes) {
      throw Error(upstream().url + "/status is longer than " + std::to_string(kMaxStatusBytes) +
                  " bytes");
    }
  }
  const proto::PrimaryStatusJson served = proto::decodeStatusJson(body);
  if (served.databases.empty()) throw Error(upstream().url + " serves no database");
  if (served.databases.size() == 1) return served.databases.front().name;
  return baseName(options_.localPath);  // several: the one named like LOCAL_DB
}

void Replica::recordFollowedDb() {
  if (followed_ == db_) return;
  saveFollowedDb(followedPath_, db_);
  followed_ = db_;
  log::info(options_.localPath + ": recorded as a replica of the primary's " + db_ + " (in " +
            followedPath_ + ")");
}

void Replica::noteError(const std::string& message, bool configuration) {
  std::lock_guard lock(state_.mu);
  if (state_.lastError != message) {
    if (configuration) {
      log::error(options_.localPath + ": configuration error: " + message);
    } else {
      log::warn(options_.localPath + ": " + message);
    }
  }
  state_.lastError = message;
}

void Replica::setConnected(bool connected) {
  std::lock_guard lock(state_.mu);
  if (state_.connected == connected) return;
  state_.connected = connected;
  if (connected) {
    log::info(options_.localPath + ": connected to " + upstream().url);
  } else {
    ++state_.reconnects;
    state_.stalledSince = {};
    log::info(options_.localPath + ": disconnected from " + upstream().url);
  }
}

void Replica::waitBackoff(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, d, [&] { return stopping_.load(); });
}

void Replica::reloadUpstreamToken() {
  const std::string before = options_.access.token;
  try {
    refreshToken(options_.access);
  } catch (const Error& e) {
    noteError(std::string(e.what()) + "; sending the token read before");
    return;
  }
  if (options_.access.token != before) {
    log::info(options_.localPath + ": a new upstream token was read from " +
              options_.access.tokenFile);
  }
}

bool Replica::failOver(const std::string& why) {
  if (options_.upstreams.size() < 2) return false;
  const std::string from = upstream().url;
  current_ = (current_ + 1) % options_.upstreams.size();
  ++failedInRound_;
  log::warn(options_.localPath + ": leaving " + from + " (" + why + "); following " +
            upstream().url + " from the applied position");
  {
    std::lock_guard lock(state_.mu);
    state_.upstream = upstream().url;
    state_.upstreamProtocol.clear();
  }
  if (failedInRound_ < options_.upstreams.size()) return true;
  failedInRound_ = 0;  // every upstream failed in turn: wait before the next round
  return false;
}

void Replica::run() {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
  while (!stopping_) {
    try {
      reloadUpstreamToken();
      streamOnce();
      backoff.reset();  // a clean end (generation change): reconnect at once
    } catch (const ReplicaModifiedError& e) {
      setConnected(false);
      noteError(std::string(e.what()) +
                "; the replica is read-only: writes are discarded by a new snapshot");
      backoff.reset();
    } catch (const WalDivergedError& e) {
      setConnected(false);
      noteError(std::string(e.what()) + "; fetching a snapshot");
      backoff.reset();
    } catch (const RequestRejectedError& e) {
      setConnected(false);
      if (stopping_) break;
      {
        std::lock_guard lock(state_.mu);
        state_.refused = true;
      }
      if (failOver(e.what())) {
        noteError(e.what(), /*configuration=*/true);
        continue;
      }
      noteError(
          std::string(e.what()) + "; retrying in " + std::to_string(kRejectedRetry.count()) + "s",
          /*configuration=*/true);
      waitBackoff(kRejectedRetry);
    } catch (const std::exception& e) {
      setConnected(false);
      if (stopping_) break;
      noteError(e.what());
      if (!failOver(e.what())) waitBackoff(backoff.next());
    }
  }
  setConnected(false);
}

void Replica::rejectUnauthorized(const HttpResponseHead& head) const {
  if (head.status != 401) return;
  throw RequestRejectedError(
      upstream().url + " refuses the replica's credentials (401: " + head.body + "): " +
      (options_.access.token.empty()
           ? std::string("it wants a bearer token (--upstream-token-file or "
                         "WALSTREAM_UPSTREAM_TOKEN)")
           : std::string("the token from --upstream-token-file or WALSTREAM_UPSTREAM_TOKEN is "
                         "not one it accepts")));
}

void Replica::checkStreamResponse(const HttpResponseHead& head) const {
  rejectUnauthorized(head);
  if (head.status == 404) {
    if (followed_ == db_) {
      throw RequestRejectedError(
          upstream().url + " does not serve " + db_ + ", the database " + options_.localPath +
          " is a replica of (recorded in " + followedPath_ + "): " + head.body +
          ". LOCAL_DB is left as it is; to follow another database, remove LOCAL_DB or name it "
          "with --db");
    }
    throw RequestRejectedError(upstream().url + " does not serve " + db_ + ": " + head.body);
  }
  if (head.status == 503) {
    throw Error(upstream().url + " is not ready (503): " + head.body);
  }
  if (head.status == 409) {
    // A cycle of replicas (docs/cascading.md §5): a configuration error.
    throw RequestRejectedError(upstream().url +
                               " refuses the replica's stream (409): " + head.body);
  }
  if (head.status == 400) {
    throw RequestRejectedError(upstream().url + " rejects the replica's request " +
                               requestTarget() + " as invalid (400: " + head.body +
                               "): a flag value or a protocol version the primary does not accept" +
                               (head.body.find("Database name required") != std::string::npos
                                    ? " (a primary of the original protocol: give --db the "
                                      "database's absolute path, or --upstream-protocol original)"
                                    : ""));
  }
  if (head.status != 200) {
    throw Error(upstream().url + " answered " + std::to_string(head.status) + ": " + head.body);
  }
}

// One connection's stream, from its response head on: the decoder, the batch of segments not
// applied yet, what the last heartbeat said, and stall detection. Each record type has its
// handler; follow() reads and dispatches until the primary ends the stream.
class Replica::StreamConnection {
 public:
  // Reads what the response head says of the stream (page size, snapshot chain, index-end
  // records); throws for a page size or snapshot chain it cannot use.
  StreamConnection(Replica& replica, StreamingGet& stream, const HttpResponseHead& head);
  // A snapshot cut short (the connection broke, the stream lied, a check failed) leaves no
  // partial file behind.
  ~StreamConnection() {
    if (inSnapshot_) applier_.abortSnapshot();
  }
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  // Returns when the primary ends the stream (a new generation); throws on any failure.
  void follow();

 private:
  void endOfStream();
  void decodeAll();
  void onRecordBegin(const proto::StreamRecordHeader& h);
  void onSnapshotEnd();
  void onRecord(proto::StreamRecord r);
  void onWalSegment(proto::StreamRecord r);
  void onIndexEnd(const proto::StreamRecordHeader& h);
  void onHeartbeat(const proto::StreamRecord& r);
  void applyPending();
  void progressed();
  void checkStall();

  Replica& replica_;
  StreamingGet& stream_;
  const ReplicaOptions& options_;
  ReplicaState& state_;
  ReplicaApplier& applier_;

  const uint32_t pageSize_;
  std::optional<WalChainState> snapshotChain_;  // the head's, for a snapshot mid-index
  // A primary that promises index-end records announces every WAL index change with one.
  bool indexEndsPromised_ = false;
  // From the response header (proto::kContinuesHeader) until the first segment arrives.
  std::optional<Pos> continues_;
  // A primary of the original protocol: no heartbeats, so silence is no sign of a dead
  // connection (kOriginalSilenceLimit, TCP keepalive).
  const bool original_;
  std::optional<Pos> confirmedIndexEnd_;  // the last index-end record, checked against LOCAL_DB

  proto::RecordDecoder decoder_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(256 * 1024);
  std::vector<ReceivedSegment> pending_;
  uint64_t pendingBytes_ = 0;  // what `pending_` counts against kBatchBytes (batchCost)
  std::optional<Pos> heartbeatPos_;
  bool inSnapshot_ = false;

  // Stall detection (ReplicaOptions::stallTimeout). Progress: data applied, a heartbeat at the
  // applied position, or kProgressBytes of records received. The primary claims more while its
  // last heartbeat is ahead of the applied position or a record is unfinished.
  std::chrono::steady_clock::time_point lastProgress_;  // set when follow() starts
  uint64_t bytesSinceProgress_ = 0;
};

Replica::StreamConnection::StreamConnection(Replica& replica, StreamingGet& stream,
                                            const HttpResponseHead& head)
    : replica_(replica),
      stream_(stream),
      options_(replica.options_),
      state_(replica.state_),
      applier_(replica.applier_),
      pageSize_(replica.streamPageSize(head)),
      original_(respondsInOriginalProtocol(head)) {
  if (original_) enableTcpKeepalive(stream_.nativeSocket());
  if (auto it = head.headers.find("walstream-snapshot-chain"); it != head.headers.end()) {
    snapshotChain_ = proto::parseSnapshotChain(it->second, pageSize_);
    if (!snapshotChain_) {
      throw Error(replica_.upstream().url + " sent a malformed " +
                  std::string(proto::kSnapshotChainHeader) + " header");
    }
  }
  const auto indexEnds = head.headers.find("walstream-index-ends");
  indexEndsPromised_ = indexEnds != head.headers.end() && indexEnds->second == "1";
  if (auto it = head.headers.find("walstream-continues"); it != head.headers.end()) {
    try {
      continues_ = parsePos(it->second);
    } catch (const Error& e) {
      throw Error(replica_.upstream().url + " sent a malformed " +
                  std::string(proto::kContinuesHeader) + " header: " + e.what());
    }
    const auto& applied = applier_.position();
    if (continues_->empty() || !applied || applied->pos != *continues_) {
      throw Error(replica_.upstream().url + " continues " + continues_->str() + ", but " +
                  options_.localPath + " stands at " +
                  (applied ? applied->pos.str() : std::string("no position")));
    }
  }
}

void Replica::StreamConnection::follow() {
  lastProgress_ = std::chrono::steady_clock::now();
  for (;;) {
    if (replica_.stopping_) return;
    const size_t n = stream_.readSome(
        buf_.data(), buf_.size(),
        original_ ? kOriginalSilenceLimit : silenceLimit(options_.heartbeatInterval));
    if (n == 0) return endOfStream();
    {
      std::lock_guard lock(state_.mu);
      state_.bytesReceived += n;
    }
    bytesSinceProgress_ += n;
    decoder_.feed({buf_.data(), n});
    decodeAll();
    // Behind the primary, the next bytes are already here: gather them into the same batch.
    if (pendingBytes_ < kBatchBytes && stream_.hasBufferedData()) continue;
    applyPending();
    if (bytesSinceProgress_ >= kProgressBytes) progressed();
    checkStall();
  }
}

void Replica::StreamConnection::endOfStream() {
  proto::StreamStatus st = decoder_.finish();
  if (!st.ok()) throw Error("stream from " + replica_.upstream().url + ": " + st.message());
  applyPending();
  log::info(options_.localPath + ": the primary ended the stream (new generation); reconnecting");
  replica_.setConnected(false);
}

// Handles every event the bytes fed so far complete.
void Replica::StreamConnection::decodeAll() {
  for (;;) {
    switch (decoder_.next()) {
      case proto::DecodeEvent::kNeedInput:
        return;
      case proto::DecodeEvent::kRecordBegin:
        onRecordBegin(decoder_.header());
        break;
      case proto::DecodeEvent::kPayloadChunk:
        if (inSnapshot_) applier_.snapshotBytes(decoder_.chunk());
        break;
      case proto::DecodeEvent::kRecordEnd:
        if (inSnapshot_) onSnapshotEnd();
        break;
      case proto::DecodeEvent::kRecord:
        onRecord(decoder_.takeRecord());
        break;
      case proto::DecodeEvent::kError:
        if (inSnapshot_) applier_.abortSnapshot();
        throw Error("stream from " + replica_.upstream().url + ": " + decoder_.error().message());
    }
  }
}

// Snapshots are the records delivered in chunks: each is written to its file as it arrives.
void Replica::StreamConnection::onRecordBegin(const proto::StreamRecordHeader& h) {
  if (h.type != static_cast<uint32_t>(proto::RecordType::kSnapshot)) return;
  if (h.flags != 0) throw Error("compressed snapshots were not requested");
  applyPending();
  log::info(options_.localPath + ": receiving a snapshot at " + h.pos().str() + " (" +
            std::to_string(h.size) + " bytes)");
  applier_.beginSnapshot(h.pos(), pageSize_, h.size, snapshotChain_);
  inSnapshot_ = true;
}

void Replica::StreamConnection::onSnapshotEnd() {
  applier_.endSnapshot();
  inSnapshot_ = false;
  log::info(options_.localPath + ": snapshot applied at " + decoder_.header().pos().str());
  {
    std::lock_guard lock(state_.mu);
    ++state_.snapshotsApplied;
    state_.setPos(decoder_.header().pos());
    state_.stalledSince = {};
  }
  state_.positionPublished();
  lastProgress_ = std::chrono::steady_clock::now();
  bytesSinceProgress_ = 0;
}

void Replica::StreamConnection::onRecord(proto::StreamRecord r) {
  if (r.header.type == static_cast<uint32_t>(proto::RecordType::kWalSegment)) {
    onWalSegment(std::move(r));
  } else if (r.header.type == static_cast<uint32_t>(proto::RecordType::kIndexEnd)) {
    onIndexEnd(r.header);
  } else if (r.header.type == static_cast<uint32_t>(proto::RecordType::kHeartbeat)) {
    onHeartbeat(r);
  }
}

// Segments wait in pending_ for the batch they are applied in (follow()).
void Replica::StreamConnection::onWalSegment(proto::StreamRecord r) {
  pendingBytes_ += batchCost(r.payload);
  const Pos at = r.header.pos();
  if (continues_) {
    // The first segment names the generation the upstream continues into (docs/promotion.md §3).
    applier_.continueGeneration(*continues_, at);
    log::info(options_.localPath + ": continuing " + continues_->str() + " in generation " +
              formatHex16(at.generation) + " without a snapshot");
    continues_.reset();
  }
  const bool confirmed = confirmedIndexEnd_ && confirmedIndexEnd_->generation == at.generation &&
                         confirmedIndexEnd_->index + 1 == at.index;
  pending_.push_back({at, std::move(r.payload), !indexEndsPromised_ || confirmed});
}

void Replica::StreamConnection::onIndexEnd(const proto::StreamRecordHeader& h) {
  // Everything before it is applied first, so the position it names is checkable.
  applyPending();
  const auto& applied = applier_.position();
  if (!applied || applied->pos != h.pos()) {
    throw Error(replica_.upstream().url + " says WAL index " + formatHex16(h.index) + " ended at " +
                h.pos().str() + ", but " + options_.localPath + " stands at " +
                (applied ? applied->pos.str() : std::string("no position")) +
                ": segments are missing; reconnecting");
  }
  confirmedIndexEnd_ = h.pos();
}

// Lag accounting: the replica is caught up when it has applied what the heartbeat names.
void Replica::StreamConnection::onHeartbeat(const proto::StreamRecord& r) {
  heartbeatPos_ = r.header.pos();
  // Heartbeats alone are not progress (bytes of a record are).
  const uint64_t recordBytes = proto::kStreamRecordHeaderSize + r.payload.size();
  bytesSinceProgress_ -= std::min(bytesSinceProgress_, recordBytes);
  std::lock_guard lock(state_.mu);
  state_.upstreamPos = *heartbeatPos_;
  const bool caughtUp = heartbeatPos_->generation == state_.pos.generation &&
                        !sameGenerationBefore(state_.pos, *heartbeatPos_) && pending_.empty();
  if (caughtUp) {
    state_.caughtUpAt = std::chrono::steady_clock::now();
    state_.behind = false;
  } else {
    state_.behind = true;
  }
}

// Applies the batch gathered so far as one transaction.
void Replica::StreamConnection::applyPending() {
  // Once stop() was called no apply starts: a promotion may follow the stop (POST /promote),
  // and what was not applied is sent again at the next start anyway.
  if (pending_.empty() || replica_.stopping_) return;
  progressed();
  const uint64_t n = applier_.applySegments(pending_);
  // Visible to new readers from here: /wait is told before the checkpoint, which may take long.
  {
    std::lock_guard lock(state_.mu);
    state_.transactionsApplied += n;
    state_.segmentsApplied += pending_.size();
    state_.setPos(applier_.position()->pos);
    if (!heartbeatPos_ || !sameGenerationBefore(state_.pos, *heartbeatPos_)) {
      state_.caughtUpAt = std::chrono::steady_clock::now();
      state_.behind = false;
    }
    state_.lastError.clear();
  }
  state_.positionPublished();
  pending_.clear();
  pendingBytes_ = 0;
  if (applier_.maybeCheckpoint()) {
    std::lock_guard lock(state_.mu);
    ++state_.checkpoints;
  }
}

void Replica::StreamConnection::progressed() {
  lastProgress_ = std::chrono::steady_clock::now();
  bytesSinceProgress_ = 0;
  std::lock_guard lock(state_.mu);
  state_.stalledSince = {};
}

// Throws once the primary has claimed more for longer than the stall timeout without progress.
void Replica::StreamConnection::checkStall() {
  std::unique_lock lock(state_.mu);
  const bool heartbeatAhead =
      heartbeatPos_ && (heartbeatPos_->generation != state_.pos.generation ||
                        sameGenerationBefore(state_.pos, *heartbeatPos_));
  const Pos applied = state_.pos;
  lock.unlock();
  const bool unfinished = !decoder_.finish().ok();
  if (!heartbeatAhead && !unfinished) return progressed();
  const auto now = std::chrono::steady_clock::now();
  if (now - lastProgress_ > options_.heartbeatInterval * 2) {
    lock.lock();
    state_.stalledSince = lastProgress_;
    lock.unlock();
  }
  if (now - lastProgress_ <= options_.stallTimeout) return;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now - lastProgress_).count();
  throw Error("no progress from " + replica_.upstream().url + " for " + std::to_string(seconds) +
              "s while it claims more (" +
              (heartbeatAhead ? "its position " + heartbeatPos_->str() + ", the replica's " +
                                    (applied.empty() ? std::string("none") : applied.str())
                              : "a record left unfinished at stream offset " +
                                    std::to_string(decoder_.offset())) +
              "); reconnecting");
}

void Replica::streamOnce() {
  // Before the stream is registered for stop(): discovery registers its own request.
  if (db_.empty() && original_) {
    throw RequestRejectedError(
        "a primary of the original protocol has no /status to name its "
        "database: name it with --db (its path on the primary)");
  }
  if (db_.empty()) {
    db_ = discoverDatabase();
    std::lock_guard lock(state_.mu);
    state_.db = db_;
  }
  StreamingGet stream(options_.access);
  const StreamAttachment attached(*this, stream);
  if (!attached) return;
  {
    std::lock_guard lock(state_.mu);
    state_.upstreamPos = {};
    state_.stalledSince = {};
  }

  // The head comes once the primary has prepared the stream: a snapshot, behind others in its
  // setup queue, can take longer than a connection; giving up sooner would only requeue the
  // request, and the primary abandons work for clients that are gone.
  const HttpResponseHead head = stream.open(upstream().host, upstream().port, requestTarget(),
                                            options_.connectTimeout, options_.stallTimeout);
  checkStreamResponse(head);
  noteUpstreamProtocol(head);
  if (AppliedStateListener* listener = options_.applier.listener) {
    const auto chain = head.headers.find("walstream-chain");
    listener->upstreamChain(chain == head.headers.end() ? std::string() : chain->second);
  }
  StreamConnection connection(*this, stream, head);
  recordFollowedDb();
  {
    std::lock_guard lock(state_.mu);
    state_.refused = false;
  }
  setConnected(true);
  failedInRound_ = 0;
  connection.follow();
}

void Replica::noteUpstreamProtocol(const HttpResponseHead& head) {
  const bool original = respondsInOriginalProtocol(head);
  if (options_.upstreamProtocol == UpstreamProtocol::kAuto) original_ = original;
  std::lock_guard lock(state_.mu);
  const std::string name(protocolName(original));
  if (state_.upstreamProtocol == name) return;
  state_.upstreamProtocol = name;
  log::info(options_.localPath + ": " + upstream().url + " speaks the " + name +
            " stream protocol" +
            (original ? " (no heartbeats: an idle stream is kept, TCP keepalive watches it)" : ""));
}

uint32_t Replica::streamPageSize(const HttpResponseHead& head) const {
  // Both names when both are sent (walstream sends both): they must agree.
  std::optional<uint64_t> size;
  for (const char* name : {"walstream-page-size", "litestream-page-size"}) {
    const auto it = head.headers.find(name);
    if (it == head.headers.end()) continue;
    const std::optional<uint64_t> v = proto::parseHeaderNumber(it->second, 65536);
    if (!v || !isValidPageSize(static_cast<uint32_t>(*v)) || (size && *size != *v)) {
      throw Error(upstream().url + " sent an invalid page size: " + name + ": \"" +
                  printableText(it->second, 64) + "\"");
    }
    size = v;
  }
  if (!size) throw Error(upstream().url + " sent no page size");
  return static_cast<uint32_t>(*size);
}

}  // namespace walstream::client
