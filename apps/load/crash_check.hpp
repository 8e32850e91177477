// What the crash scenario checks after each kill (R-ST7), against the
// reopened store and what the children reported.
#pragma once

#include "crash_wire.hpp"
#include "scenario.hpp"

#include <sourcery/storage/engine.hpp>

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace harness {

/// Everything the children reported so far.
struct crash_reports {
  std::vector<crash_message> acknowledged;       // every acknowledged append
  std::unordered_set<sourcery::position> published; // positions a publish succeeded for
};

/// What one check found.
struct crash_findings {
  std::uint64_t events = 0;   // the last position
  std::uint64_t commits = 0;  // appends stored
  std::uint64_t pending = 0, dead = 0, published_only = 0; // outbox
  std::vector<std::string> violations; // empty = the store is sound
};

/// Reads the whole store through `engine` and checks: positions are 1..last
/// without gaps; each stream's versions are 1..n in position order and its
/// state and reads agree; every commit's events are all stored, at
/// consecutive positions (none half stored); every acknowledged append is
/// there with its positions and versions; every position has an outbox
/// entry (pending or dead) or was published, and pending + dead +
/// published-only = last. `sc` gives the tenants and streams.
crash_findings check_crashed_store(sourcery::storage::engine& engine, const scenario& sc,
                                   const crash_reports& reports);

} // namespace harness
