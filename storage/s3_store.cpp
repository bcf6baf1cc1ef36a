#include "storage/s3_store.h"

#include <algorithm>

#include "storage/object_key.h"
#include "storage/s3_object_writer.h"
#include "storage/s3_range_body.h"
#include "storage/s3_xml.h"

namespace walstream::storage {

namespace {

using Kind = StorageError::Kind;

// DeleteObjects takes at most this many keys.
constexpr size_t kDeleteBatch = 1000;

std::chrono::system_clock::time_point timeOf(std::string_view text) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(s3TimeSeconds(text)));
}

bool isKey(std::string_view key) {
  try {
    checkKey({}, key);
    return true;
  } catch (const StorageError&) {
    return false;
  }
}

}  // namespace

S3Store::S3Store(std::string url, S3Location location, const S3StoreOptions& options)
    : partSize_(options.partSize),
      client_(std::move(url), std::move(location), options.credentials, options.retry,
              options.timeouts) {}

std::string S3Store::url() const {
  return client_.storeUrl();
}

std::string S3Store::keyOf(const std::string& name) const {
  const std::string& prefix = client_.location().prefix;
  if (prefix.empty()) return isKey(name) ? name : std::string();
  if (name.size() <= prefix.size() + 1 || name.compare(0, prefix.size(), prefix) != 0 ||
      name[prefix.size()] != '/') {
    return {};
  }
  std::string key = name.substr(prefix.size() + 1);
  return isKey(key) ? key : std::string();
}

template <class OnPage>
void S3Store::listPages(const std::string& name, std::string_view delimiter,
                        std::string_view prefix, OnPage&& onPage, const std::string& startAfter) {
  std::optional<std::string> token;
  do {
    // Parameters in canonical (sorted) order, as Signature V4 wants them.
    std::string query;
    if (token) query += "continuation-token=" + s3UriEncode(*token, false) + "&";
    if (!delimiter.empty()) query += "delimiter=" + s3UriEncode(delimiter, false) + "&";
    query += "list-type=2&prefix=" + s3UriEncode(name, false);
    if (!startAfter.empty()) query += "&start-after=" + s3UriEncode(startAfter, false);
    S3Call list("GET", {}, "list", prefix);
    list.query = std::move(query);
    const S3Reply reply = client_.call(list);
    S3ListPage page = parseS3ListPage(reply.body);
    onPage(page);
    token = std::move(page.continuationToken);
  } while (token);
}

std::vector<std::string> S3Store::listDirectories(const std::string& prefix) {
  checkDirectoryPrefix(url(), prefix);
  const std::string name =
      client_.location().prefix.empty() ? prefix : client_.location().prefix + "/" + prefix;
  std::vector<std::string> names;
  listPages(name, "/", prefix, [&](const S3ListPage& page) {
    for (const std::string& common : page.commonPrefixes) {
      if (common.size() <= name.size() + 1 || common.back() != '/') continue;
      std::string part = common.substr(name.size(), common.size() - name.size() - 1);
      if (isKeyPart(part)) names.push_back(std::move(part));
    }
  });
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<ObjectInfo> S3Store::list(const std::string& prefix) {
  return listObjects(prefix, {});
}

std::vector<ObjectInfo> S3Store::listAfter(const std::string& prefix,
                                           const std::string& startAfter) {
  return listObjects(prefix, startAfter);
}

std::vector<ObjectInfo> S3Store::listObjects(const std::string& prefix,
                                             const std::string& startAfter) {
  checkListPrefix(url(), prefix);
  std::vector<ObjectInfo> objects;
  const std::string after = startAfter.empty() ? "" : client_.location().objectName(startAfter);
  listPages(
      client_.location().objectName(prefix), {}, prefix,
      [&](const S3ListPage& page) {
        for (const S3ListPage::Object& o : page.objects) {
          std::string key = keyOf(o.name);
          if (!key.empty() && key > startAfter) {
            objects.push_back({std::move(key), o.size, timeOf(o.lastModified)});
          }
        }
      },
      after);
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

ObjectInfo S3Store::stat(const std::string& key) {
  checkKey(url(), key);
  const S3Reply reply =
      client_.call(S3Call("HEAD", client_.location().objectName(key), "stat", key));
  if (!reply.contentLength) {
    throw StorageError(Kind::kTransient,
                       url() + ": cannot stat " + key + ": the reply has no Content-Length");
  }
  return {key, *reply.contentLength, timeOf(reply.lastModified)};
}

std::string S3Store::read(const std::string& key, uint64_t offset, uint64_t maxBytes) {
  std::string out;
  S3RangeBody body(offset, maxBytes, out);
  readRange(key, offset, maxBytes, body);
  return out;
}

uint64_t S3Store::readInto(const std::string& key, uint64_t offset, std::span<char> out) {
  S3RangeBody body(offset, out);
  return readRange(key, offset, out.size(), body);
}

uint64_t S3Store::readRange(const std::string& key, uint64_t offset, uint64_t maxBytes,
                            S3RangeBody& body) {
  checkKey(url(), key);
  if (maxBytes == 0) {
    stat(key);  // still kNotFound for a missing object
    return 0;
  }
  const uint64_t last = maxBytes > UINT64_MAX - offset ? UINT64_MAX - 1 : offset + maxBytes - 1;
  S3Call get("GET", client_.location().objectName(key), "read", key);
  get.headers = {"Range: bytes=" + std::to_string(offset) + "-" + std::to_string(last)};
  get.alsoAccepted = 416;  // the range starts at or past the end of an object that exists
  get.rangeBody = &body;
  const S3Reply reply = client_.call(get);
  if (reply.status == 416) return 0;
  return body.finish(reply, url() + ": cannot read " + key);
}

std::unique_ptr<ObjectWriter> S3Store::create(const std::string& key) {
  checkKey(url(), key);
  return std::make_unique<S3ObjectWriter>(client_, key, partSize_);
}

void S3Store::remove(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) checkKey(url(), key);
  for (size_t begin = 0; begin < keys.size(); begin += kDeleteBatch) {
    removeBatch(keys, begin, std::min(keys.size(), begin + kDeleteBatch));
  }
}

void S3Store::removeBatch(const std::vector<std::string>& keys, size_t begin, size_t end) {
  std::vector<std::string> names;
  for (size_t i = begin; i < end; ++i) names.push_back(client_.location().objectName(keys[i]));
  const std::string body = s3DeleteRequest(names);
  S3Call deletion("POST", {}, "remove", keys[begin]);
  deletion.query = "delete=";
  deletion.headers = {"Content-Type: application/xml"};
  deletion.body = body;
  deletion.withContentMd5 = true;
  const S3Reply reply = client_.call(deletion);
  const std::vector<std::string> errors = parseS3DeleteErrors(reply.body);
  if (!errors.empty()) {
    throw StorageError(Kind::kTransient,
                       url() + ": cannot remove " + std::to_string(errors.size()) + " of " +
                           std::to_string(end - begin) + " objects, e.g. " + errors.front());
  }
}

}  // namespace walstream::storage
