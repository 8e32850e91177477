// Reading every stream back through the public API (SPEC §13): each holds
// exactly the events its writer appended, with versions 1..n.
#pragma once

#include "report.hpp"

#include <sourcery/sourcery.hpp>

#include <cstdint>
#include <vector>

namespace harness {

/// One stream a writer appends to, and how many events it appended.
struct stream_slot {
  std::size_t tenant;
  sourcery::stream_id id;
  std::uint64_t submitted = 0; // events submitted, i.e. the expected final version
};

/// Loads every stream with events (asynchronously, 256 at a time) from
/// `stores[slot.tenant]` and checks: it holds `submitted` events with
/// versions 1..n; profile_updated events of subjects below `shred_count` read
/// as masks, the others in clear. Counts masked and readable encrypted events
/// into `masked_seen` and `clear_seen`. Blocks until every load completed.
check verify_streams(std::vector<sourcery::event_store>& stores,
                     const std::vector<std::vector<stream_slot>>& streams_of_writer,
                     std::int64_t shred_count, std::size_t& masked_seen, std::size_t& clear_seen);

} // namespace harness
