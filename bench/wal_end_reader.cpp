#include "bench/wal_end_reader.h"

#include <fcntl.h>

#include <array>

#include "core/error.h"
#include "core/wal_format.h"
#include "core/wal_index.h"

namespace walstream::bench {

WalEndReader::WalEndReader(const std::string& db)
    : path_(db + "-shm"), fd_(openFile(path_, O_RDONLY)) {}

WalEnd WalEndReader::read() const {
  // Both header copies; they differ only while a writer publishes a new header.
  alignas(8) std::array<uint8_t, 2 * kWalIndexHeaderSize> bytes{};
  for (int attempt = 0; attempt < 1000; ++attempt) {
    preadFull(fd_.get(), bytes.data(), bytes.size(), 0, path_);
    const auto header = readWalIndexHeader(bytes.data());
    if (!header) continue;
    const uint64_t end =
        header->mxFrame == 0 ? 0 : walFrameOffset(header->mxFrame + 1, header->pageSize());
    return {header->salt1(), header->salt2(), end};
  }
  throw Error("no consistent wal-index header in " + path_ + " after 1000 reads");
}

}  // namespace walstream::bench
