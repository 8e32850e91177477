// Projectors (issue #6): keep a read model in step with the streams it
// follows, exactly once per stream version.
//
//   sourcery::projector balances("balances", backend, [&](const sourcery::recorded_event& r) {
//     sourcery::visit_event<deposited, withdrawn>(r.event, [&](const auto& e) { apply(e); });
//   });
//   for (const auto& r : records) balances.project(r);   // e.g. a subscription's batches
//
// Per projection name, tenant and stream, a cursor holds the last projected
// version. An event right after the cursor is projected and advances it; one
// further ahead first makes the projector load the missed events from the
// tenant's store and project them in order; one at or behind the cursor is
// skipped. The cursor advances after each event the handler accepted, so an
// event whose handler threw is projected again when fed again (at least
// once; exactly once for handlers that do not throw).
#pragma once

#include <sourcery/backend.hpp>
#include <sourcery/events.hpp>
#include <sourcery/storage/engine.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

namespace sourcery {

/// Identifies one cursor: a projection's progress through one stream.
using cursor_key = storage::cursor_key;

/// Where projectors keep their cursors. Implementations must be safe for
/// concurrent calls.
class cursor_storage {
public:
  virtual ~cursor_storage() = default;
  /// The last projected version; none when nothing was projected yet.
  virtual std::optional<version> load(const cursor_key& key) = 0;
  /// Records `v` as the last projected version.
  virtual void store(const cursor_key& key, version v) = 0;
};

/// Cursors in memory, lost with the process. Thread-safe.
class in_memory_cursor_storage final : public cursor_storage {
public:
  std::optional<version> load(const cursor_key& key) override;
  void store(const cursor_key& key, version v) override;

private:
  struct key_hash {
    std::size_t operator()(const cursor_key& k) const noexcept { return hash_value(k); }
  };
  std::mutex mutex_;
  std::unordered_map<cursor_key, version, key_hash> cursors_;
};

/// Cursors kept by a storage engine (R-ST1): durable on durable engines.
class engine_cursor_storage final : public cursor_storage {
public:
  explicit engine_cursor_storage(std::shared_ptr<storage::engine> engine)
    : engine_(std::move(engine)) {}
  std::optional<version> load(const cursor_key& key) override {
    return engine_->cursors().load(key);
  }
  void store(const cursor_key& key, version v) override { engine_->cursors().store(key, v); }

private:
  std::shared_ptr<storage::engine> engine_;
};

/// Feeds recorded events to a handler, in stream order, once per version.
/// Use one projector from one thread at a time (e.g. one subscription); the
/// handler runs on that thread.
class projector {
public:
  using handler = std::function<void(const recorded_event&)>;

  /// The projection `name` (its cursors' key) handing events to `h`. The
  /// backend gives each tenant's store, read to catch up missed events.
  /// Cursors are kept in `cursors`, by default in the backend's storage
  /// engine.
  projector(std::string name, sourcery::backend backend, handler h,
            std::shared_ptr<cursor_storage> cursors = nullptr);

  /// Projects `e` (after the missed events before it, loaded from the
  /// store) unless its version is at or behind the cursor. Returns how many
  /// events reached the handler: 0 when skipped. Events caught up from the
  /// store carry position 0: the store does not say where they sit in the
  /// global log.
  ///
  /// Throws `invalid_argument` for an event without a version,
  /// `versioning_mismatch` when the store no longer holds the missed events
  /// (the stream was snapshotted or deleted past the cursor; nothing is
  /// projected then), and whatever the handler throws (the cursor stays at
  /// the last event the handler accepted). Catching up calls the blocking
  /// store API, so do not feed a projector from an in-transaction listener.
  std::size_t project(const recorded_event& e);

  /// Projects each event in order; returns the total of project().
  std::size_t project(std::span<const recorded_event> events);

  /// The cursor of `stream` in `tenant`; none before its first event.
  std::optional<version> cursor(const stream_id& stream,
                                const std::string& tenant = std::string()) const;

  const std::string& name() const noexcept { return name_; }

private:
  std::size_t catch_up(const cursor_key& key, version cursor, version next);
  void hand_over(const cursor_key& key, const recorded_event& e);

  std::string name_;
  sourcery::backend backend_;
  handler handler_;
  std::shared_ptr<cursor_storage> cursors_;
};

} // namespace sourcery
