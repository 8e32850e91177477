// The runtime behind every backend view: it owns the actor system and the
// parts the actors are handed (engine, codec, listeners, commit path, tenant
// directory, outbox lifecycle, settings), the wiring that spawns the actors
// (wiring.hpp), and stops everything in order. The backend (backend.cpp)
// hands each facade the few parts it uses, each sharing ownership of the
// runtime; nothing else reaches into it.
#pragma once

#include <sourcery/detail/codec.hpp>
#include <sourcery/settings.hpp>
#include <sourcery/storage/engine.hpp>

#include "callback_pool.hpp"
#include "decode_cache.hpp"
#include "commit_path.hpp"
#include "listener_registry.hpp"
#include "metrics_endpoint.hpp"
#include "outbox_lifecycle.hpp"
#include "runtime_metrics.hpp"
#include "settings_cell.hpp"
#include "tenant_directory.hpp"
#include "timer_queue.hpp"
#include "wiring.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace sourcery::detail {

/// CAF's spawn keeps a reference to the actor system's logger in the calling
/// thread, and the system's destructor waits until every such reference is
/// gone. Called after spawning from a user's thread, it drops that reference
/// so the runtime can stop on any thread (on runtime threads it does nothing).
void release_caf_thread_state() noexcept;

/// Marks the calling thread as one of the runtime's (the callback pool's
/// threads): release_caf_thread_state() leaves it alone, and a runtime
/// released there is stopped on a thread of its own.
void mark_runtime_thread() noexcept;

/// How many runtimes exist in this process; waits until at most `n` do, at
/// most `timeout` (tests use it to see a runtime's teardown finish).
std::size_t runtimes_alive() noexcept;
bool await_runtimes_at_most(std::size_t n, std::chrono::milliseconds timeout);

class runtime {
public:
  runtime(const runtime_options& options, std::shared_ptr<storage::engine> engine,
          std::shared_ptr<event_registry> registry);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// A shared_ptr whose last release stops the runtime — on a thread of its
  /// own when released on one of the runtime's threads (which could not wait
  /// for itself). The facades' parts share it (aliasing shared_ptrs).
  static std::shared_ptr<runtime> make(const runtime_options& options,
                                       std::shared_ptr<storage::engine> engine,
                                       std::shared_ptr<event_registry> registry);

  caf::actor_system& system() noexcept { return *system_; }
  const std::shared_ptr<storage::engine>& engine() const noexcept { return engine_; }
  sourcery::codec& codec() noexcept { return codec_; }
  const std::shared_ptr<listener_registry>& listeners() const noexcept { return listeners_; }
  tenant_directory& tenants() noexcept { return tenants_; }
  outbox_lifecycle& outbox() noexcept { return outbox_; }
  settings_cell& settings() noexcept { return settings_; }
  /// Spawns the actors (the subscription builders spawn feeds with it).
  const detail::wiring& wiring() const noexcept { return wiring_; }

  /// Validates and applies `s`; starts, moves or stops the metrics
  /// endpoint as `s.metrics_listen` says (throws invalid_argument, changing
  /// nothing, when it cannot listen there).
  void configure(const sourcery::settings& s);
  /// Every metric now (R-MET).
  metrics_snapshot metrics() const;
  /// The endpoint's bound address, if it runs.
  std::optional<std::string> metrics_address() const;

private:
  std::shared_ptr<storage::engine> engine_;
  sourcery::codec codec_;
  std::shared_ptr<listener_registry> listeners_ = std::make_shared<listener_registry>();
  commit_path commits_;
  settings_cell settings_;
  std::unique_ptr<runtime_metrics> metrics_; // null with runtime_options::metrics off
  decode_cache decodes_; // subscriptions' decoded records; outlives the actors and the pool
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_; // stopped by the destructor, before the parts below
  callback_pool callbacks_; // push subscriptions' callbacks; the destructor stops it first
  detail::wiring wiring_;
  tenant_directory tenants_;
  timer_queue timers_; // outlives the dispatchers, whose timers it holds
  outbox_lifecycle outbox_;
  mutable std::mutex endpoint_mutex_;          // configure() calls one at a time
  std::unique_ptr<metrics_endpoint> endpoint_; // GUARDED_BY(endpoint_mutex_); first to stop
};

} // namespace sourcery::detail
