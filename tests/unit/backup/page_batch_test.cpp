#include <doctest/doctest.h>

#include <fcntl.h>

#include <string>
#include <vector>

#include "backup/page_batch.h"
#include "core/file_util.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::backup;
using namespace walstream::test;

namespace {

std::span<const uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("a page batch writes the last version of each page, at its place, once flushed") {
  TempDir dir;
  const std::string path = dir.file("db");
  constexpr uint32_t kPage = 512;
  writeFileAtomic(path, std::string(8 * kPage, '.'));
  UniqueFd fd = openFile(path, O_RDWR);
  std::vector<std::string> versions;
  for (char c = 'a'; c <= 'h'; ++c) versions.emplace_back(kPage, c);
  PageBatch batch(fd.get(), path, kPage);
  // Pages 2, 3, 4 (a run), 7, and page 3 twice: the later version wins.
  batch.put(3, bytesOf(versions[0]));
  batch.put(7, bytesOf(versions[1]));
  batch.put(2, bytesOf(versions[2]));
  batch.put(3, bytesOf(versions[3]));
  batch.put(4, bytesOf(versions[4]));
  std::string before(8 * kPage, '\0');
  preadFull(fd.get(), before.data(), before.size(), 0, path);
  CHECK(before == std::string(8 * kPage, '.'));  // nothing written before flush()

  batch.flush();
  std::string after(8 * kPage, '\0');
  preadFull(fd.get(), after.data(), after.size(), 0, path);
  const std::string dots(kPage, '.');
  CHECK(after == dots + versions[2] + versions[3] + versions[4] + dots + dots + versions[1] + dots);

  batch.put(1, bytesOf(versions[5]));
  batch.flush();
  batch.flush();  // nothing left: writes nothing
  preadFull(fd.get(), after.data(), after.size(), 0, path);
  CHECK(after.substr(0, kPage) == versions[5]);
  CHECK(after.substr(kPage, kPage) == versions[2]);
}
