// Which of a primary's databases LOCAL_DB is a replica of: LOCAL_DB-walstream/db, one line
// "db=<name>\n" with the name the primary serves it under (as in /stream?db=NAME).
//
// The replica records the name once a primary has streamed that database to it, and from then
// on asks for it by name, so that a primary on the same address serving another database is
// refused (404) instead of snapshotted into LOCAL_DB. The record means something only beside
// an existing LOCAL_DB: the replica forgets it when LOCAL_DB is absent (removing LOCAL_DB is how
// an operator lets the replica follow another database; naming one with --db is the other).
#pragma once

#include <optional>
#include <string>

namespace walstream::client {

std::string followedDbPath(const std::string& localPath);

// nullopt when the file is missing or malformed (a malformed one is logged).
std::optional<std::string> loadFollowedDb(const std::string& path);
// Durably (written beside, fsynced, renamed into place); creates the directory.
void saveFollowedDb(const std::string& path, const std::string& name);
void forgetFollowedDb(const std::string& path);  // missing is fine

}  // namespace walstream::client
