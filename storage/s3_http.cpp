#include "storage/s3_http.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "storage/object_store.h"
#include "storage/s3_range_body.h"

namespace walstream::storage {

namespace {

constexpr size_t kMaxIdleHandles = 8;
constexpr size_t kMaxErrorBody = 64 * 1024;

// curl_global_init is not thread-safe on every build of curl; once per process, before the
// first handle.
void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string hexOf(const unsigned char* bytes, unsigned size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

// SHA-256 (hex) or MD5 (base64) of `body`, by OpenSSL.
std::string digestOf(std::string_view body, const EVP_MD* md, bool base64) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  if (EVP_Digest(body.data(), body.size(), digest, &size, md, nullptr) != 1) {
    throw StorageError(StorageError::Kind::kPermanent, "S3: OpenSSL cannot compute a digest");
  }
  if (!base64) return hexOf(digest, size);
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  out.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                                 digest, static_cast<int>(size))));
  return out;
}

bool startsWithNoCase(std::string_view line, std::string_view prefix) {
  return line.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), line.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

std::string headerValue(std::string_view line, size_t nameSize) {
  std::string_view v = line.substr(nameSize);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  return std::string(v);
}

// A 2xx reply's body is the caller's, bounded by what it asked for (a range, a listing page);
// an error reply's is cut at kMaxErrorBody.
struct Transfer {
  S3Reply reply;
  S3RangeBody* rangeBody = nullptr;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const bool success = t->reply.status >= 200 && t->reply.status < 300;
  if (success && t->rangeBody) return t->rangeBody->take(t->reply, {data, n}) ? n : 0;
  const size_t room =
      success ? n : std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, t->reply.body.size()));
  t->reply.body.append(data, room);
  return n;
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (startsWithNoCase(line, "HTTP/")) {
    // A new status line (after a 100 Continue or a redirect): what came before is not this
    // reply's.
    t->reply = S3Reply{};
    const size_t space = line.find(' ');
    if (space != std::string_view::npos)
      t->reply.status = std::atol(std::string(line.substr(space + 1, 3)).c_str());
  } else if (startsWithNoCase(line, "etag:")) {
    t->reply.etag = headerValue(line, 5);
  } else if (startsWithNoCase(line, "last-modified:")) {
    t->reply.lastModified = headerValue(line, 14);
  } else if (startsWithNoCase(line, "content-range:")) {
    t->reply.contentRange = headerValue(line, 14);
  } else if (startsWithNoCase(line, "content-length:")) {
    t->reply.contentLength = std::strtoull(headerValue(line, 15).c_str(), nullptr, 10);
  }
  return line.size();
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& header) {
    curl_slist* grown = curl_slist_append(list, header.c_str());
    if (!grown) throw StorageError(StorageError::Kind::kTransient, "S3: out of memory for headers");
    list = grown;
  }
};

}  // namespace

S3Http::S3Http(S3Credentials credentials, std::string region, S3Timeouts timeouts)
    : credentials_(std::move(credentials)),
      sigv4_("aws:amz:" + region + ":s3"),
      timeouts_(timeouts) {
  initCurlOnce();
}

S3Http::~S3Http() {
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* S3Http::takeHandle() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  CURL* handle = curl_easy_init();
  if (!handle) throw StorageError(StorageError::Kind::kTransient, "S3: curl_easy_init failed");
  return handle;
}

void S3Http::giveBack(void* handle) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

S3Reply S3Http::perform(const S3Request& request, std::string_view what) {
  HeaderList headers;
  for (const std::string& h : request.headers) headers.add(h);
  // S3 wants the payload's hash in every signed request; curl signs with the one given here.
  headers.add("x-amz-content-sha256: " + digestOf(request.body, EVP_sha256(), false));
  if (request.withContentMd5)
    headers.add("Content-MD5: " + digestOf(request.body, EVP_md5(), true));
  if (!credentials_.sessionToken.empty()) {
    headers.add("x-amz-security-token: " + credentials_.sessionToken);
  }
  const std::string_view method = request.method;
  const bool typed =
      std::any_of(request.headers.begin(), request.headers.end(),
                  [](const std::string& h) { return startsWithNoCase(h, "content-type:"); });
  if ((method == "PUT" || method == "POST") && !typed) {
    headers.add("Content-Type: application/octet-stream");
  }

  CURL* curl = static_cast<CURL*>(takeHandle());
  curl_easy_reset(curl);
  Transfer transfer;
  transfer.rangeBody = request.rangeBody;
  if (request.rangeBody) request.rangeBody->restart();
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts_.connect.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(timeouts_.lowSpeedTime.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, timeouts_.lowSpeedBytesPerSecond);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(curl, CURLOPT_USERNAME, credentials_.accessKeyId.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, credentials_.secretAccessKey.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT" || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method);
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  giveBack(curl);
  // A range body stops a transfer once it has the range: curl calls that a write error.
  const bool rangeIn =
      code == CURLE_WRITE_ERROR && request.rangeBody && request.rangeBody->stopped();
  if (code != CURLE_OK && !rangeIn) {
    throw StorageError(StorageError::Kind::kTransient,
                       std::string(what) + ": " + (error[0] ? error : curl_easy_strerror(code)));
  }
  return std::move(transfer.reply);
}

}  // namespace walstream::storage
