// A committed event as an engine hands it out, and a batch of them (R-ST1).
//
// Memory: a `record` holds views. They stay valid while the `record_batch`
// (or outbox claim, or dead entry) that carried them lives; engines that
// keep every record in memory for their lifetime (in_memory) leave `owner`
// empty and their views stay valid while the engine lives.
#pragma once

#include <sourcery/events.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace sourcery::storage {

/// One committed event as stored: the raw event plus where it was committed.
struct record {
  sourcery::position position = 0;
  std::string_view tenant;
  const sourcery::stream_id* stream = nullptr;
  uuid id{};
  std::int64_t created_us = 0;
  std::uint64_t version = 0; // 0 = versionless stream
  std::string_view type;     // the registered name it was written under
  std::string_view data;     // JSON, encrypted fields encrypted
  std::string_view context;  // JSON
  std::uint32_t schema = 1;  // schema version of the type it was written with (R-UP1)

  std::optional<sourcery::version> opt_version() const noexcept {
    return version == 0 ? std::nullopt : std::optional<sourcery::version>(version);
  }
};

/// Records returned by one read, with whatever keeps their memory alive.
struct record_batch {
  std::vector<record> records;
  /// Owns the memory the records view, when the engine does not.
  std::shared_ptr<const void> owner;
};

} // namespace sourcery::storage
