// The commit path: what one append does once its tenant's actor takes it.
// The outbox filter picks the events that enter the outbox (on the tenant's
// actor, before anything is stored); the engine commits atomically, running
// the in-transaction listeners inside the commit (R-L); the caller learns
// the outcome, and once the commit is durable wakes the outbox's dispatcher
// for the tenant's shard.
#pragma once

#include <sourcery/detail/codec.hpp>
#include <sourcery/events.hpp>
#include <sourcery/storage/engine.hpp>

#include "listener_registry.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace sourcery::detail {

class commit_path {
public:
  commit_path(const storage::outbox_store& outbox, const codec& codec,
              std::shared_ptr<listener_registry> listeners)
    : outbox_store_(outbox), codec_(codec), listeners_(std::move(listeners)) {}

  static constexpr std::size_t no_shard = SIZE_MAX;

  /// Appends `events` to `stream` of `store`'s tenant (the engine's
  /// `append_async`): `done` runs exactly once, with the receipt once the
  /// commit is durable, or with what the engine, a listener or the outbox
  /// filter threw (nothing is stored then) — on this thread before
  /// returning, or on the engine's writer — and must end by calling
  /// `leave()`. Returns the outbox shard to `wake` once the commit is
  /// durable (`no_shard`: none).
  std::size_t append(storage::stream_store& store, const stream_id& stream,
                     expected_version expected, std::span<const raw_event> events,
                     storage::append_done done) const;

  /// Kicks the outbox dispatcher of `shard` if it idles (no_shard: nothing).
  void wake(std::size_t shard) const;

  /// An append's `done` has run (see `drain`).
  void leave() const;

  /// Waits until every append handed to the engine has had its outcome
  /// (the runtime's teardown: nothing may call back into it afterwards).
  void drain() const;

  /// Turns the outbox on for commits from now on; `wake(shard)` is called
  /// after a commit that added entries to `shard`. Throws invalid_argument if
  /// it is on already.
  void enable_outbox(outbox_filter filter, std::function<void(std::size_t)> wake);
  bool outbox_enabled() const noexcept { return outbox_.load(std::memory_order_acquire) != nullptr; }

private:
  struct outbox_route {
    outbox_filter filter;
    std::function<void(std::size_t)> wake;
  };

  const storage::outbox_store& outbox_store_; // the shard an append's entries go to
  const codec& codec_;
  std::shared_ptr<listener_registry> listeners_;
  // Set once, never replaced (enable_outbox refuses a second call), so
  // committers read it with one atomic load.
  std::mutex enable_mutex_;
  std::unique_ptr<const outbox_route> route_; // GUARDED_BY(enable_mutex_) for writes
  std::atomic<const outbox_route*> outbox_{nullptr};
  mutable std::atomic<std::size_t> in_flight_{0}; // appends whose `done` has not run
};

} // namespace sourcery::detail
