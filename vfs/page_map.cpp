#include "vfs/page_map.h"

namespace walstream::vfs {

const WalPage* PageMap::find(uint32_t page) const {
  const size_t c = (page - 1) / kChunkPages;
  if (page == 0 || c >= chunks_.size() || !chunks_[c]) return nullptr;
  const WalPage& slot = (*chunks_[c])[(page - 1) % kChunkPages];
  return slot.segment ? &slot : nullptr;
}

PageMap::Chunk& PageMap::writable(size_t c) {
  if (c >= chunks_.size()) {
    chunks_.resize(c + 1);
    owned_.resize(c + 1, false);
  }
  if (!chunks_[c]) {
    chunks_[c] = std::make_shared<Chunk>();
    owned_[c] = true;
  } else if (!owned_[c]) {
    chunks_[c] = std::make_shared<Chunk>(*chunks_[c]);  // a published view keeps the old one
    owned_[c] = true;
  }
  return *chunks_[c];
}

void PageMap::put(uint32_t page, WalPage location) {
  WalPage& slot = writable((page - 1) / kChunkPages)[(page - 1) % kChunkPages];
  if (!slot.segment) ++pages_;
  slot = std::move(location);
}

void PageMap::truncate(uint32_t pageCount) {
  // Chunk c holds pages c * kChunkPages + 1 ... (c + 1) * kChunkPages.
  for (size_t c = pageCount / kChunkPages; c < chunks_.size(); ++c) {
    if (!chunks_[c]) continue;
    const uint32_t keep = c == pageCount / kChunkPages ? pageCount % kChunkPages : 0;
    bool any = false;
    for (uint32_t i = keep; i < kChunkPages; ++i) any = any || (*chunks_[c])[i].segment;
    if (!any) continue;
    Chunk& chunk = writable(c);
    for (uint32_t i = keep; i < kChunkPages; ++i) {
      if (!chunk[i].segment) continue;
      chunk[i] = WalPage{};
      --pages_;
    }
  }
}

PageMap PageMap::share() {
  PageMap copy;
  copy.chunks_ = chunks_;
  copy.owned_.assign(chunks_.size(), false);
  copy.pages_ = pages_;
  owned_.assign(chunks_.size(), false);
  return copy;
}

}  // namespace walstream::vfs
