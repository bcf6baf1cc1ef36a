#include <doctest/doctest.h>

#include "client/replica_position.h"

using namespace walstream;
using namespace walstream::client;

namespace {

ReplicaPosition known() {
  ReplicaPosition p;
  p.pos = {0x0123456789abcdefULL, 3, 0x1f60};
  p.chain.pageSize = 4096;
  p.chain.salt1 = 0x11223344;
  p.chain.salt2 = 0x55667788;
  p.chain.checksum = {0xdeadbeef, 0x01020304};
  p.chainKnown = true;
  return p;
}

ReplicaPosition withLocal() {
  ReplicaPosition p = known();
  p.local =
      LocalWalState{{1, 2, 3, 4, 5, 6, 7, 8}, 0xfffffffe, {0xa1b2c3d4, 0x0000beef}, std::nullopt};
  return p;
}

// An empty local WAL: the database file's stat(2) is recorded too.
ReplicaPosition withDbFile() {
  ReplicaPosition p = known();
  p.local = LocalWalState{{1, 2, 3, 4, 5, 6, 7, 8},
                          0,
                          {0xa1b2c3d4, 0x0000beef},
                          DbFileStamp{0xffffffffffffffffULL, 1ULL << 40, 0x1800000000000001ULL, 2}};
  p.orderKnown = false;
  return p;
}

ReplicaPosition orderOpen() {
  ReplicaPosition p = withLocal();
  p.orderKnown = false;
  return p;
}

ReplicaPosition bigEndian() {
  ReplicaPosition p = known();
  p.chain.bigEndianChecksum = true;
  return p;
}

ReplicaPosition afterSnapshot() {
  ReplicaPosition p;
  p.pos = {0x0123456789abcdefULL, 0, 0};
  p.chain.pageSize = 65536;
  return p;
}

}  // namespace

TEST_CASE("a replica position round-trips through its text form") {
  for (const ReplicaPosition& p :
       {known(), afterSnapshot(), withLocal(), orderOpen(), bigEndian(), withDbFile()}) {
    const auto q = parseReplicaPosition(formatReplicaPosition(p));
    REQUIRE(q);
    CHECK(q->pos == p.pos);
    CHECK(q->chainKnown == p.chainKnown);
    CHECK(q->chain.pageSize == p.chain.pageSize);
    CHECK(q->chain.bigEndianChecksum == p.chain.bigEndianChecksum);
    CHECK(q->local == p.local);
    CHECK(q->orderKnown == p.orderKnown);
    if (p.chainKnown) {
      CHECK(q->chain.salt1 == p.chain.salt1);
      CHECK(q->chain.salt2 == p.chain.salt2);
      CHECK(q->chain.checksum == p.chain.checksum);
    }
  }
}

TEST_CASE("every replica position record has the same length, so it can be rewritten in place") {
  ReplicaPosition small = afterSnapshot();
  small.chain.pageSize = 512;
  CHECK(formatReplicaPosition(known()).size() == formatReplicaPosition(small).size());
  CHECK(formatReplicaPosition(withLocal()).size() == formatReplicaPosition(small).size());
  CHECK(formatReplicaPosition(orderOpen()).size() == formatReplicaPosition(small).size());
  CHECK(formatReplicaPosition(withDbFile()).size() == formatReplicaPosition(small).size());
  CHECK(formatReplicaPosition(known()).back() == '\n');
}

TEST_CASE("a torn or edited replica position record is refused") {
  const std::string good = formatReplicaPosition(withDbFile());
  // Each single changed byte (as a crash mixing two records would leave) is detected.
  for (size_t i = 0; i + 1 < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == '7' ? '8' : '7';
    CHECK_MESSAGE(!parseReplicaPosition(bad), "byte " << i);
  }
  // A newer record torn over an older one: the offset reads 2f60, neither record's.
  ReplicaPosition later = known();
  later.pos.offset = 0x2f80;
  later.chain.checksum = {1, 2};
  const std::string newer = formatReplicaPosition(later);
  CHECK_FALSE(parseReplicaPosition(newer.substr(0, 47) + good.substr(47)));
  CHECK_FALSE(parseReplicaPosition(good.substr(0, 60)));
  CHECK_FALSE(parseReplicaPosition(""));
}

TEST_CASE("a replica position line of the older format, without a checksum, is accepted") {
  const auto p = parseReplicaPosition(
      "0123456789abcdef/0000000000000003:0000000000001f60 deadbeef01020304 1122334455667788 4096 "
      "le\n");
  REQUIRE(p);
  CHECK(p->pos == known().pos);
  CHECK(p->chainKnown);
  CHECK(p->chain.checksum == known().chain.checksum);
  CHECK_FALSE(
      parseReplicaPosition("0123456789abcdef/0000000000000003:0000000000001f60 - - 4096\n"));
  CHECK_FALSE(
      parseReplicaPosition("0123456789abcdef/0000000000000003:0000000000001f60 - - 4096 le x\n"));
  CHECK_FALSE(parseReplicaPosition(
      "0123456789abcdef/0000000000000003:0000000000001f60 - - 4096 le local=12:34\n"));
}
