// The outbox (R-OB): events to publish to the outside world, at least once.
//
// Off until `backend.with_outbox(filter)`. Every committed event that passes
// the filter becomes an entry in the same commit (a rolled-back append leaves
// none). An entry leaves the outbox only after a publisher returned normally
// for it, or after it failed `outbox_attempts` times, when it moves to the
// dead letters (R-OB-DLQ), which can be listed, re-queued and purged.
//
// Publishing is either on demand (`run`) or continuous (`start`/`stop`), in
// which dispatcher actors — one per shard of tenants — publish entries as
// they are committed and retry failures with exponential backoff by delayed
// messages. Thread-safe; two concurrent publishers never get the same entry
// at the same time.
#pragma once

#include <sourcery/events.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery {

class codec;
namespace storage {
class engine;
} // namespace storage
namespace detail {
class outbox_lifecycle;
class settings_cell;
} // namespace detail

/// Publishes one event; returning normally means done, throwing means failed.
using outbox_publisher = std::function<void(const recorded_event&)>;

/// An entry that failed every attempt.
struct dead_letter {
  recorded_event event;
  std::uint32_t attempts = 0;
  std::string last_error;
};

struct continuous_options {
  /// Entries a dispatcher takes per message before yielding (≥ 1).
  std::size_t batch = 256;
};

class outbox {
public:
  /// Made by backend::outbox(): the runtime's outbox lifecycle (sharing
  /// ownership of the runtime, which owns the other parts as well), the
  /// codec entries are decoded with, the engine that stores them and the
  /// settings (attempts, backoff).
  outbox(std::shared_ptr<detail::outbox_lifecycle> lifecycle, const codec& codec,
         storage::engine& engine, const detail::settings_cell& settings)
    : lifecycle_(std::move(lifecycle)), codec_(&codec), engine_(&engine), settings_(&settings) {}

  /// Publishes up to `limit` pending entries of all tenants in position
  /// order, one call each; returns how many were handed to `publisher`.
  /// Entries already being published elsewhere, and entries continuous mode
  /// holds for a retry whose backoff has not passed, are skipped.
  std::size_t run(const outbox_publisher& publisher, std::size_t limit = 100);

  /// Starts continuous publishing; throws invalid_argument if running.
  void start(outbox_publisher publisher, continuous_options options = {});
  /// Stops continuous publishing; returns after in-flight publishes
  /// finished. Entries not yet published stay in the outbox; one held for
  /// its retry keeps its backoff: the next start() (or run()) takes it when
  /// the rest of its backoff has passed. Idempotent.
  void stop();

  std::vector<dead_letter> dead_letters() const;
  /// Moves dead letters back to pending with their attempts reset; all of
  /// them, or the one at `position`. Returns how many moved.
  std::size_t requeue(std::optional<position> at = std::nullopt);
  /// Deletes dead letters for good; all, or the one at `position`.
  std::size_t purge(std::optional<position> at = std::nullopt);

  outbox_counts counts() const;

  /// Blocks until no entry is pending (each was published or dead-lettered)
  /// or `timeout` passed; returns whether the outbox is empty. Event-driven:
  /// woken when the last pending entry settles.
  bool wait_until_empty(std::chrono::milliseconds timeout) const;

private:
  std::shared_ptr<detail::outbox_lifecycle> lifecycle_; // keeps the runtime, so the parts below
  const codec* codec_;
  storage::engine* engine_;
  const detail::settings_cell* settings_;
};

} // namespace sourcery
