// walstream generations | snapshots | wal URL: what a backup holds, as tables or JSON.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/store_arg.h"
#include "cli/time_text.h"
#include "core/error.h"
#include "core/pos.h"
#include "storage/object_store.h"

namespace walstream::cli {

namespace {

struct ListingArgs {
  std::string url;
  bool json = false;
  std::optional<uint64_t> generation;
};

std::string timeOrDash(int64_t ms) {
  return ms == 0 ? std::string("-") : formatRfc3339Ms(ms);
}

// One generation, summarised: what a restore can reach in it.
struct GenerationSummary {
  uint64_t generation = 0;
  size_t snapshots = 0;
  size_t walObjects = 0;
  uint64_t bytes = 0;
  int64_t firstSnapshotMs = 0;  // the oldest restorable time
  int64_t lastCaptureMs = 0;    // the newest
  Pos end;                      // the newest restorable position
};

GenerationSummary summarise(storage::ObjectStore& store, uint64_t generation) {
  const backup::GenerationListing g = backup::listGeneration(store, generation);
  GenerationSummary s;
  s.generation = generation;
  s.snapshots = g.snapshots.size();
  s.walObjects = g.walObjects.size();
  for (const auto& e : g.snapshots) s.bytes += e.size;
  for (const auto& e : g.walObjects) s.bytes += e.size;
  if (!g.snapshots.empty()) {
    const backup::SnapshotIndex first = backup::readSnapshotIndex(store, g.snapshots.front().key);
    const backup::SnapshotIndex last = backup::readSnapshotIndex(store, g.snapshots.back().key);
    s.firstSnapshotMs = first.capturedAtMs;
    s.lastCaptureMs = last.capturedAtMs;
    s.end = last.position;
  }
  if (!g.walObjects.empty()) {
    const backup::WalObjectHeader h = backup::readWalObjectHeader(store, g.walObjects.back());
    if (s.end.empty() || sameGenerationBefore(s.end, h.end())) {
      s.end = h.end();
      s.lastCaptureMs = std::max(s.lastCaptureMs, h.segments.back().capturedAtMs);
    }
  }
  return s;
}

std::vector<uint64_t> generationsOf(storage::ObjectStore& store, const ListingArgs& a) {
  if (!a.generation) return backup::listGenerations(store);
  return {*a.generation};
}

void printJson(const nlohmann::json& rows) {
  std::puts(rows.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

int listGenerationsCommand(storage::ObjectStore& store, const ListingArgs& a) {
  nlohmann::json rows = nlohmann::json::array();
  if (!a.json) {
    std::printf("%-16s %9s %11s %14s  %-24s  %-24s  %s\n", "GENERATION", "SNAPSHOTS", "WAL_OBJECTS",
                "BYTES", "RESTORABLE_FROM", "RESTORABLE_TO", "END");
  }
  for (uint64_t id : generationsOf(store, a)) {
    const GenerationSummary s = summarise(store, id);
    if (a.json) {
      rows.push_back(
          {{"generation", formatHex16(id)},
           {"snapshots", s.snapshots},
           {"wal_objects", s.walObjects},
           {"bytes", s.bytes},
           {"restorable_from", s.firstSnapshotMs ? formatRfc3339Ms(s.firstSnapshotMs) : ""},
           {"restorable_to", s.lastCaptureMs ? formatRfc3339Ms(s.lastCaptureMs) : ""},
           {"end", s.end.str()}});
    } else {
      std::printf("%-16s %9zu %11zu %14llu  %-24s  %-24s  %s\n", formatHex16(id).c_str(),
                  s.snapshots, s.walObjects, static_cast<unsigned long long>(s.bytes),
                  timeOrDash(s.firstSnapshotMs).c_str(), timeOrDash(s.lastCaptureMs).c_str(),
                  s.end.empty() ? "-" : s.end.str().c_str());
    }
  }
  if (a.json) printJson(rows);
  return 0;
}

int listSnapshotsCommand(storage::ObjectStore& store, const ListingArgs& a) {
  nlohmann::json rows = nlohmann::json::array();
  if (!a.json) {
    std::printf("%-50s %10s %6s %14s  %s\n", "POSITION", "PAGES", "PAGE", "BYTES", "CAPTURED");
  }
  for (uint64_t id : generationsOf(store, a)) {
    for (const backup::SnapshotEntry& e : backup::listGeneration(store, id).snapshots) {
      const backup::SnapshotIndex s = backup::readSnapshotIndex(store, e.key);
      if (a.json) {
        rows.push_back({{"key", e.key},
                        {"pos", s.position.str()},
                        {"page_count", s.pageCount},
                        {"page_size", s.pageSize},
                        {"bytes", e.size},
                        {"captured_at", formatRfc3339Ms(s.capturedAtMs)}});
      } else {
        std::printf("%-50s %10llu %6u %14llu  %s\n", s.position.str().c_str(),
                    static_cast<unsigned long long>(s.pageCount), s.pageSize,
                    static_cast<unsigned long long>(e.size),
                    formatRfc3339Ms(s.capturedAtMs).c_str());
      }
    }
  }
  if (a.json) printJson(rows);
  return 0;
}

int listWalCommand(storage::ObjectStore& store, const ListingArgs& a) {
  nlohmann::json rows = nlohmann::json::array();
  if (!a.json) {
    std::printf("%-50s %16s %8s %12s  %-24s  %s\n", "START", "END_OFFSET", "SEGMENTS", "BYTES",
                "FIRST_CAPTURE", "LAST_CAPTURE");
  }
  for (uint64_t id : generationsOf(store, a)) {
    for (const backup::WalObjectEntry& e : backup::listGeneration(store, id).walObjects) {
      const backup::WalObjectHeader h = backup::readWalObjectHeader(store, e);
      const int64_t first = h.segments.front().capturedAtMs;
      const int64_t last = h.segments.back().capturedAtMs;
      if (a.json) {
        rows.push_back({{"key", e.key},
                        {"start", h.start.str()},
                        {"end", h.end().str()},
                        {"segments", h.segments.size()},
                        {"bytes", e.size},
                        {"first_capture", formatRfc3339Ms(first)},
                        {"last_capture", formatRfc3339Ms(last)}});
      } else {
        std::printf("%-50s %16s %8zu %12llu  %-24s  %s\n", h.start.str().c_str(),
                    formatHex16(h.endOffset()).c_str(), h.segments.size(),
                    static_cast<unsigned long long>(e.size), formatRfc3339Ms(first).c_str(),
                    formatRfc3339Ms(last).c_str());
      }
    }
  }
  if (a.json) printJson(rows);
  return 0;
}

}  // namespace

int runBackupListing(const std::string& what, const std::vector<std::string>& args) {
  Flags flags;
  flags.define("json", "", "", "print JSON (an array of objects) instead of a table");
  if (what != "generations") {
    flags.define("generation", "GEN", "", "only this generation");
  }
  defineStoreFlags(flags);
  ListingArgs a;
  StoreArg storeArg;
  try {
    if (!flags.parse(args)) {
      std::printf("Usage: walstream %s [FLAGS] URL\n\n", what.c_str());
      if (what == "generations") {
        std::puts(
            "Lists the generations of the backup at URL, each with what a restore can reach\n"
            "in it: from its oldest snapshot to its newest capture.\n");
      } else if (what == "snapshots") {
        std::puts("Lists the backup's snapshots: position, size and when each was taken.\n");
      } else {
        std::puts(
            "Lists the backup's WAL objects: where each starts and ends, its segments and\n"
            "when they were captured.\n");
      }
      std::fputs("Flags:\n", stdout);
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    if (flags.positional().size() != 1) throw UsageError("want exactly one URL");
    storeArg = parseStoreArg(flags.positional().front(), flags);
    a.url = storeArg.url;
    a.json = flags.boolean("json");
    if (what != "generations" && flags.given("generation")) {
      try {
        a.generation = parseHex16(flags.str("generation"), "generation");
      } catch (const std::exception& e) {
        throw UsageError(std::string("invalid value for --generation: ") + e.what());
      }
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "walstream %s: %s\n", what.c_str(), e.what());
    return 2;
  }
  try {
    const auto store = storeArg.open();
    if (what == "generations") return listGenerationsCommand(*store, a);
    if (what == "snapshots") return listSnapshotsCommand(*store, a);
    return listWalCommand(*store, a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walstream %s: %s\n", what.c_str(), e.what());
    return 1;
  }
}

}  // namespace walstream::cli
