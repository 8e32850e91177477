// Projector cursors: how far each projection got through each stream, kept
// by the engine beside the events (R-ST1, R-ST4: a durable engine keeps them
// across restarts).
//
// Thread-safety: every member may be called from any thread, any number at
// once; a load sees every store that returned before it started.
#pragma once

#include <sourcery/events.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace sourcery::storage {

/// Identifies one projector cursor: a projection's progress through one stream.
struct cursor_key {
  std::string projection;
  std::string tenant_id;
  sourcery::stream_id stream;

  friend bool operator==(const cursor_key&, const cursor_key&) = default;
};

std::size_t hash_value(const cursor_key& key) noexcept;

class cursor_store {
public:
  virtual ~cursor_store() = default;

  /// The last projected version; none when never stored.
  virtual std::optional<version> load(const cursor_key& key) const = 0;
  /// Sets the cursor to `v` (replacing any earlier value).
  virtual void store(const cursor_key& key, version v) = 0;
};

} // namespace sourcery::storage
