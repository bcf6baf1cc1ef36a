#include "client/apply/wal_batch.h"

#include <string>

#include "core/error.h"

namespace walstream {

WalTransaction WalBatchMerger::merge(std::span<const WalTransaction> transactions) {
  if (transactions.empty()) throw Error("no transactions to merge");
  size_t total = 0;
  for (size_t t = 0; t < transactions.size(); ++t) {
    const auto& frames = transactions[t].frames;
    if (frames.empty() || !frames.back().header.isCommit()) {
      throw Error("transaction " + std::to_string(t) + " of a batch does not end with a commit");
    }
    total += frames.size();
  }
  if (total >= UINT32_MAX) throw Error("too many frames in one batch");

  lastVersion_.clear();
  lastVersion_.reserve(total);
  uint32_t i = 0;
  for (const auto& t : transactions) {
    for (const auto& f : t.frames) lastVersion_[f.header.pageNumber] = i++;
  }
  WalTransaction out;
  out.frames.reserve(lastVersion_.size());
  i = 0;
  for (const auto& t : transactions) {
    for (const auto& f : t.frames) {
      if (lastVersion_.find(f.header.pageNumber)->second == i++) {
        out.frames.push_back(f);
        out.frames.back().header.commitSize = 0;
      }
    }
  }
  // The very last frame is its page's last version, so it ends the merged transaction.
  out.frames.back().header.commitSize = transactions.back().commitSize();
  return out;
}

}  // namespace walstream
