#include "storage/s3_xml.h"

#include <curl/curl.h>

#include <cstdio>
#include <ctime>
#include <pugixml.hpp>
#include <sstream>

#include "core/printable_text.h"
#include "storage/object_store.h"

namespace walstream::storage {

namespace {

[[noreturn]] void malformed(std::string_view what, std::string_view xml) {
  throw StorageError(StorageError::Kind::kTransient,
                     "malformed S3 reply (" + std::string(what) + "): " + printableText(xml, 300));
}

pugi::xml_document parsed(std::string_view xml, std::string_view what) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) malformed(what, xml);
  return doc;
}

// The root element, which must be named `name`.
pugi::xml_node rootOf(const pugi::xml_document& doc, const char* name, std::string_view xml) {
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) != name) malformed(std::string("want ") + name, xml);
  return root;
}

std::string xmlText(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

}  // namespace

S3ListPage parseS3ListPage(std::string_view xml) {
  const pugi::xml_document doc = parsed(xml, "ListBucketResult");
  const pugi::xml_node root = rootOf(doc, "ListBucketResult", xml);
  S3ListPage page;
  for (pugi::xml_node c : root.children("Contents")) {
    if (!c.child("Key")) malformed("Contents without a Key", xml);
    page.objects.push_back(
        {c.child_value("Key"), c.child("Size").text().as_ullong(), c.child_value("LastModified")});
  }
  for (pugi::xml_node p : root.children("CommonPrefixes")) {
    page.commonPrefixes.push_back(p.child_value("Prefix"));
  }
  if (root.child("IsTruncated").text().as_bool()) {
    const std::string token = root.child_value("NextContinuationToken");
    if (token.empty()) malformed("truncated without a NextContinuationToken", xml);
    page.continuationToken = token;
  }
  return page;
}

std::optional<S3ErrorReply> parseS3Error(std::string_view xml) {
  pugi::xml_document doc;
  if (xml.empty() || !doc.load_buffer(xml.data(), xml.size())) return std::nullopt;
  const pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) != "Error") return std::nullopt;
  return S3ErrorReply{root.child_value("Code"), root.child_value("Message")};
}

std::string parseS3UploadId(std::string_view xml) {
  const pugi::xml_document doc = parsed(xml, "InitiateMultipartUploadResult");
  const std::string id = rootOf(doc, "InitiateMultipartUploadResult", xml).child_value("UploadId");
  if (id.empty()) malformed("no UploadId", xml);
  return id;
}

std::vector<std::string> parseS3DeleteErrors(std::string_view xml) {
  const pugi::xml_document doc = parsed(xml, "DeleteResult");
  std::vector<std::string> errors;
  for (pugi::xml_node e : rootOf(doc, "DeleteResult", xml).children("Error")) {
    errors.push_back(std::string(e.child_value("Key")) + ": " + e.child_value("Code") + " " +
                     e.child_value("Message"));
  }
  return errors;
}

std::string s3DeleteRequest(const std::vector<std::string>& names) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("Delete");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  root.append_child("Quiet").text() = "true";
  for (const std::string& name : names) {
    root.append_child("Object").append_child("Key").text() = name.c_str();
  }
  return xmlText(doc);
}

std::string s3CompleteMultipartRequest(const std::vector<std::string>& partETags) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (size_t i = 0; i < partETags.size(); ++i) {
    pugi::xml_node part = root.append_child("Part");
    part.append_child("PartNumber").text() = static_cast<unsigned long long>(i + 1);
    part.append_child("ETag").text() = partETags[i].c_str();
  }
  return xmlText(doc);
}

int64_t s3TimeSeconds(std::string_view text) {
  const std::string t(text);
  struct tm fields {};
  if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d", &fields.tm_year, &fields.tm_mon, &fields.tm_mday,
                  &fields.tm_hour, &fields.tm_min, &fields.tm_sec) == 6) {
    fields.tm_year -= 1900;
    fields.tm_mon -= 1;
    return static_cast<int64_t>(timegm(&fields));
  }
  const time_t seconds = curl_getdate(t.c_str(), nullptr);  // RFC 7231
  return seconds < 0 ? 0 : static_cast<int64_t>(seconds);
}

}  // namespace walstream::storage
