// The runtime behind every backend view: it owns the actor system and the
// parts the actors are handed (engine, codec, listeners, commit path, tenant
// directory, outbox lifecycle, settings), and stops everything in order.
// It spawns nothing itself: the backend's wiring (backend.cpp) does.
#pragma once

#include <sourcery/codec.hpp>
#include <sourcery/settings.hpp>
#include <sourcery/storage/engine.hpp>

#include "commit_path.hpp"
#include "listener_registry.hpp"
#include "outbox_lifecycle.hpp"
#include "subscription_feed.hpp"
#include "tenant_directory.hpp"
#include "timer_queue.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

namespace sourcery::detail {

class runtime;

/// How the runtime's actors are spawned; filled in by the backend, the one
/// place that spawns and wires actors (SPEC §9).
struct wiring {
  std::function<tenant_storage_actor(runtime&, tenant_slot&)> tenant;
  std::function<outbox_dispatcher_actor(runtime&, std::size_t shard, dispatcher_slot*,
                                        dispatcher_config)>
    dispatcher;
  /// A pull feed when `target` is none, else a push feed.
  std::function<feed_actor(runtime&, subscription_filter, position, std::optional<push_target>,
                           std::shared_ptr<push_progress>)>
    feed;
};

/// CAF's spawn keeps a reference to the actor system's logger in the calling
/// thread, and the system's destructor waits until every such reference is
/// gone. Called after spawning from a user's thread, it drops that reference
/// so the runtime can stop on any thread (on runtime threads it does nothing).
void release_caf_thread_state() noexcept;

/// How many runtimes exist in this process; waits until at most `n` do, at
/// most `timeout` (tests use it to see a runtime's teardown finish).
std::size_t runtimes_alive() noexcept;
bool await_runtimes_at_most(std::size_t n, std::chrono::milliseconds timeout);

/// The settings, read by every part that needs them.
class settings_cell {
public:
  settings get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }
  void set(const settings& s) {
    s.validate();
    std::lock_guard lock(mutex_);
    value_ = s;
  }

private:
  mutable std::mutex mutex_;
  settings value_; // GUARDED_BY(mutex_)
};

class runtime {
public:
  runtime(const runtime_options& options, std::shared_ptr<storage::engine> engine,
          std::shared_ptr<event_registry> registry, wiring wires);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// A shared_ptr whose last release stops the runtime — on a thread of its
  /// own when released on one of the runtime's threads (which could not wait
  /// for itself).
  static std::shared_ptr<runtime> make(const runtime_options& options,
                                       std::shared_ptr<storage::engine> engine,
                                       std::shared_ptr<event_registry> registry, wiring wires);

  caf::actor_system& system() noexcept { return *system_; }
  storage::engine& engine() noexcept { return *engine_; }
  const std::shared_ptr<storage::engine>& engine_ptr() const noexcept { return engine_; }
  sourcery::codec& codec() noexcept { return codec_; }
  const std::shared_ptr<listener_registry>& listeners() noexcept { return listeners_; }
  const commit_path& commits() const noexcept { return commits_; }
  tenant_directory& tenants() noexcept { return tenants_; }
  outbox_lifecycle& outbox() noexcept { return outbox_; }
  /// Cancellable timers (the outbox's retries).
  timer_queue& timers() noexcept { return timers_; }
  settings_cell& settings() noexcept { return settings_; }
  const wiring& wires() const noexcept { return wires_; }

  feed_actor spawn_feed(subscription_filter filter, position start,
                        std::optional<push_target> target,
                        std::shared_ptr<push_progress> progress) {
    return wires_.feed(*this, std::move(filter), start, std::move(target), std::move(progress));
  }

private:
  wiring wires_;
  std::shared_ptr<storage::engine> engine_;
  sourcery::codec codec_;
  std::shared_ptr<listener_registry> listeners_ = std::make_shared<listener_registry>();
  commit_path commits_;
  settings_cell settings_;
  tenant_directory tenants_;
  timer_queue timers_; // outlives the dispatchers, whose timers it holds
  outbox_lifecycle outbox_;
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
};

} // namespace sourcery::detail
