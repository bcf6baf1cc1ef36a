#include "storage/s3_client.h"

#include "core/printable_text.h"
#include "storage/object_store.h"
#include "storage/s3_xml.h"

namespace walstream::storage {

namespace {

using Kind = StorageError::Kind;

// `code`: the server's error code, empty when the reply had none (a HEAD's).
Kind kindOf(long status, const std::string& code) {
  // A missing bucket or multipart upload is no missing object: retrying does not help.
  if (status == 404)
    return code.empty() || code == "NoSuchKey" ? Kind::kNotFound : Kind::kPermanent;
  if (status == 429 || status >= 500) return Kind::kTransient;
  return Kind::kPermanent;
}

std::string whatOf(const std::string& storeUrl, const S3Call& call) {
  return storeUrl + ": cannot " + std::string(call.verb) + " " +
         (call.key.empty() ? std::string("the root") : printableText(call.key, 256));
}

StorageError failureOf(const std::string& what, const S3Reply& reply) {
  std::string message = what + ": HTTP " + std::to_string(reply.status);
  const auto error = parseS3Error(reply.body);
  if (error) {
    message += " " + printableText(error->code, 128) + ": " + printableText(error->message, 512);
  } else if (!reply.body.empty()) {
    message += ": " + printableText(reply.body, 256);
  }
  return StorageError(kindOf(reply.status, error ? error->code : std::string()), message);
}

}  // namespace

S3Client::S3Client(std::string storeUrl, S3Location location, const S3Credentials& credentials,
                   S3RetryPolicy retry, S3Timeouts timeouts)
    : storeUrl_(std::move(storeUrl)),
      location_(std::move(location)),
      retry_(retry),
      http_(credentials, location_.region, timeouts) {}

S3Reply S3Client::callOnce(const S3Call& call) {
  S3Request request;
  request.method = call.method;
  request.url = location_.bucketUrl() + s3UriEncode(call.name, true);
  if (!call.query.empty()) request.url += "?" + call.query;
  request.headers = call.headers;
  request.body = call.body;
  request.withContentMd5 = call.withContentMd5;
  request.rangeBody = call.rangeBody;
  const std::string what = whatOf(storeUrl_, call);
  S3Reply reply = http_.perform(request, what);
  if (reply.status == call.alsoAccepted) return reply;
  if (reply.status < 200 || reply.status >= 300) throw failureOf(what, reply);
  // CompleteMultipartUpload and CopyObject may fail after a 200 with an <Error> body.
  if (reply.status == 200 && std::string_view(call.method) == "POST") {
    if (const auto error = parseS3Error(reply.body)) {
      throw StorageError(Kind::kTransient, what + ": " + printableText(error->code, 128) + ": " +
                                               printableText(error->message, 512));
    }
  }
  return reply;
}

S3Reply S3Client::call(const S3Call& call) {
  S3Reply reply;
  withS3Retries(retry_, [&] { reply = callOnce(call); });
  return reply;
}

}  // namespace walstream::storage
