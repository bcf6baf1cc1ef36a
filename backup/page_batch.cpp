#include "backup/page_batch.h"

#include <sys/uio.h>

#include <algorithm>
#include <vector>

#include "core/file_util.h"

namespace walstream::backup {

namespace {

// At most IOV_MAX buffers per call.
constexpr size_t kMaxRun = 1024;

}  // namespace

void PageBatch::flush() {
  std::vector<std::pair<uint32_t, std::span<const uint8_t>>> sorted(pages_.begin(), pages_.end());
  pages_.clear();
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<iovec> run;
  for (size_t i = 0; i < sorted.size();) {
    size_t end = i + 1;
    while (end < sorted.size() && end - i < kMaxRun &&
           sorted[end].first == sorted[end - 1].first + 1) {
      ++end;
    }
    run.clear();
    for (size_t k = i; k < end; ++k) {
      run.push_back({const_cast<uint8_t*>(sorted[k].second.data()), sorted[k].second.size()});
    }
    pwritevFull(fd_, run, uint64_t{sorted[i].first - 1} * pageSize_, path_);
    i = end;
  }
}

}  // namespace walstream::backup
