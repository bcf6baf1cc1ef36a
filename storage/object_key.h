// The rules for keys and listing prefixes that every store enforces (object_store.h), so that a
// key means the same object in a directory and in a bucket, and no key can name anything outside
// a directory store's root.
//
// A key is one or more '/'-separated parts; a part is non-empty printable ASCII (0x20-0x7e), not
// "." or "..", and not a directory store's temporary name (directory_store.h), which listings
// could never return.
#pragma once

#include <string>
#include <string_view>

namespace walstream::storage {

// Each throws StorageError(kPermanent) "<url>: bad key '<key>': <what is wrong>" (or "bad
// prefix").
void checkKey(std::string_view url, std::string_view key);
// A list() prefix: empty, or a key, or a key's beginning (every part before the last '/' a valid
// part; the rest printable).
void checkListPrefix(std::string_view url, std::string_view prefix);
// A listDirectories() prefix: empty, or a key followed by '/'.
void checkDirectoryPrefix(std::string_view url, std::string_view prefix);

// Whether `part` may stand between two '/' of a key.
bool isKeyPart(std::string_view part);

// `.<name>.tmp-<16 lowercase hex>`: where a directory store writes an object before renaming it.
bool isTemporaryName(std::string_view name);

}  // namespace walstream::storage
