// Value types that say which events go where: what an append committed, which
// records a subscription receives, which events enter the outbox. Shared by
// the public API, the runtime and the storage engines.
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/stream_id.hpp>
#include <sourcery/values.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

namespace sourcery {

/// What a successful append committed.
struct append_receipt {
  /// Positions of the first and last appended event (consecutive).
  position first_position = 0;
  position last_position = 0;
  /// The stream's version afterwards; none for a versionless stream.
  std::optional<sourcery::version> version;
};

/// Which records a subscription receives.
struct subscription_filter {
  std::optional<std::string> category;
  std::vector<std::type_index> event_types; // empty = all types
  std::optional<std::string> tenant;        // none = all tenants
};

/// Receives a push subscription's batches, on the subscription's own thread.
using batch_handler = std::function<void(std::span<const recorded_event>)>;

/// What the outbox filter sees of an event about to be committed.
struct outbox_candidate {
  std::string_view name;
  const stream_id& stream;
  std::string_view tenant;
  /// The stored JSON (encrypted fields encrypted).
  std::string_view data;
};

/// Decides whether an event enters the outbox. Runs on the appending tenant's
/// actor before the commit; a throw fails that append and stores nothing.
using outbox_filter = std::function<bool(const outbox_candidate&)>;

/// Figures of the outbox.
struct outbox_counts {
  std::size_t pending = 0;   // waiting to be published (including retries)
  std::size_t dead = 0;      // in the dead letters
  std::size_t published = 0; // finished for good since the start
  std::size_t failures = 0;  // failed attempts since the start
};

} // namespace sourcery
