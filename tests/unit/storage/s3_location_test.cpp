// s3:// URLs (storage/s3_location.h), credentials (storage/s3_credentials.h) and opening an S3
// store through openObjectStore. None of these touch a server.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "storage/object_store.h"
#include "storage/s3_credentials.h"
#include "storage/s3_location.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

TEST_CASE("an s3 URL names a bucket, a prefix, an endpoint, a region and the addressing style") {
  const S3Location local = parseS3Url(
      "s3://backups/prod/app/?endpoint=http://127.0.0.1:9000/&region=eu-west-1&"
      "force-path-style=true");
  CHECK(local.bucket == "backups");
  CHECK(local.prefix == "prod/app");
  CHECK(local.endpoint == "http://127.0.0.1:9000");
  CHECK(local.region == "eu-west-1");
  CHECK(local.pathStyle);
  CHECK(local.bucketUrl() == "http://127.0.0.1:9000/backups/");
  CHECK(local.objectName("g/1") == "prod/app/g/1");

  // AWS's defaults: its regional endpoint, virtual-hosted style, us-east-1.
  const S3Location aws = parseS3Url("s3://my-bucket");
  CHECK(aws.prefix.empty());
  CHECK(aws.region == "us-east-1");
  CHECK_FALSE(aws.pathStyle);
  CHECK(aws.bucketUrl() == "https://my-bucket.s3.us-east-1.amazonaws.com/");
  CHECK(aws.objectName("g/1") == "g/1");
  CHECK(parseS3Url("s3://my-bucket?region=eu-central-1").bucketUrl() ==
        "https://my-bucket.s3.eu-central-1.amazonaws.com/");
  // A dotted bucket name does not fit AWS's certificate as a host name: path style.
  CHECK(parseS3Url("s3://my.bucket/x").pathStyle);
  // An endpoint of its own is path style unless told otherwise.
  CHECK(parseS3Url("s3://b12?endpoint=https://minio.example:9000").pathStyle);
  CHECK(parseS3Url("s3://b12?endpoint=https://r2.example&force-path-style=false").bucketUrl() ==
        "https://b12.r2.example/");
}

TEST_CASE("malformed s3 URLs are refused, naming the URL and the problem") {
  const struct {
    std::string url;
    std::string problem;
  } cases[] = {
      {"s3://", "is not a bucket name"},
      {"s3://Upper/x", "is not a bucket name"},
      {"s3://ab/x", "is not a bucket name"},
      {"s3://bucket//x", "is not a key"},
      {"s3://bucket/a/../b", "is not a key"},
      {"s3://bucket/x?endpoint=ftp://host", "not an http:// or https:// URL"},
      {"s3://bucket/x?endpoint=http://user:secret@host", "must not hold credentials"},
      {"s3://bucket/x?endpoint=http://host/path", "without a path"},
      {"s3://bucket/x?colour=blue", "unknown parameter 'colour'"},
      {"s3://bucket/x?region=a&region=b", "given twice"},
      {"s3://bucket/x?force-path-style=yes", "force-path-style wants true or false"},
      {"s3://bucket/x#frag", "a fragment is not allowed"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url);
    const auto failure = storageFailure([&] { parseS3Url(c.url); });
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kPermanent);
    const std::string message = failure->what();
    CHECK(message.find(c.problem) != std::string::npos);
    CHECK(message.find("secret") == std::string::npos);
  }
}

TEST_CASE("S3 credentials come from a credentials file's [default] section") {
  TempDir dir;
  const std::string file = dir.file("credentials");
  std::ofstream(file) << "# a comment\n[other]\naws_access_key_id = OTHER\n"
                      << "aws_secret_access_key = OTHER-SECRET\n\n[default]\n"
                      << "aws_access_key_id=AKIDEXAMPLE\n"
                      << "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n"
                      << "aws_session_token = TOKEN\n";
  const S3Credentials c = s3CredentialsFromFile(file);
  CHECK(c.accessKeyId == "AKIDEXAMPLE");
  CHECK(c.secretAccessKey == "wJalrXUtnFEMI/K7MDENG");
  CHECK(c.sessionToken == "TOKEN");
  CHECK(s3CredentialsFromFile(file, "other").accessKeyId == "OTHER");

  std::ofstream(dir.file("partial")) << "[default]\naws_access_key_id = AKID\n";
  for (const std::string& path : {dir.file("partial"), dir.file("missing")}) {
    const auto failure = storageFailure([&] { s3CredentialsFromFile(path); });
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kPermanent);
    CHECK(std::string(failure->what()).find(path) != std::string::npos);
  }
}

TEST_CASE("openObjectStore opens an s3 URL with a credentials file; url() is the URL as given") {
  TempDir dir;
  const std::string file = dir.file("credentials");
  std::ofstream(file) << "[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n";
  const std::string url = "s3://bucket/app?endpoint=http://127.0.0.1:1&force-path-style=true";
  StoreOptions options;
  options.s3CredentialsFile = file;
  const auto store = openObjectStore(url, options);
  CHECK(store->url() == url);
  CHECK(store->url().find("SECRET") == std::string::npos);

  options.s3PartSize = kMinS3PartSize - 1;
  const auto small = storageFailure([&] { openObjectStore(url, options); });
  REQUIRE(small);
  CHECK(std::string(small->what()).find("5 MiB") != std::string::npos);
}

TEST_CASE("S3 keys and listing parameters are percent-encoded as Signature V4 wants") {
  CHECK(s3UriEncode("a/b c+d~e_f.g-h", true) == "a/b%20c%2Bd~e_f.g-h");
  CHECK(s3UriEncode("a/b=&?", false) == "a%2Fb%3D%26%3F");
}
