// The wiring: the one place that spawns and wires every actor of the runtime
// (SPEC §9: "the one place that spawns and wires the actors"; §10) — the
// tenant storage actors, the outbox dispatchers, the pull and push feeds.
// Each actor is handed exactly the parts it needs when it is spawned, nothing
// else. The tenant directory (first use, respawn after passivation), the
// outbox lifecycle (start, stop) and the subscription builders call it
// directly; the runtime owns it and every part it hands out.
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <sourcery/detail/codec.hpp>
#include <sourcery/events.hpp>
#include <sourcery/storage/engine.hpp>

#include "outbox_dispatcher.hpp"
#include "subscription_feed.hpp"
#include "tenant_protocol.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace caf {
class actor_system;
}

namespace sourcery::detail {

class callback_pool;
class commit_path;
class decode_cache;
class runtime_metrics;
class settings_cell;
class tenant_slot;
class timer_queue;

class wiring {
public:
  /// Every part outlives the wiring and the actors it spawns.
  /// `metrics`: the instruments the actors update; null with metrics off.
  wiring(caf::actor_system& system, storage::engine& engine, const sourcery::codec& codec,
         const commit_path& commits, timer_queue& timers, const settings_cell& settings,
         runtime_metrics* metrics, callback_pool& callbacks, decode_cache& decodes)
    : system_(system), engine_(engine), codec_(codec), commits_(commits), timers_(timers),
      settings_(settings), metrics_(metrics), callbacks_(callbacks), decodes_(decodes) {}
  wiring(const wiring&) = delete;
  wiring& operator=(const wiring&) = delete;

  /// The storage actor of `slot`'s tenant: its streams from the engine, the
  /// commit path, its slot, and the idle time after which it passivates
  /// itself (settings' tenant_idle, R-ST5).
  tenant_storage_actor spawn_tenant(tenant_slot& slot) const;

  /// The dispatcher of outbox shard `shard` (on a thread of its own).
  outbox_dispatcher_actor spawn_dispatcher(std::size_t shard, dispatcher_slot* slot,
                                           dispatcher_config config) const;
  /// Stops `dispatchers` (exit messages) and waits until they are gone.
  void stop_dispatchers(const std::vector<outbox_dispatcher_actor>& dispatchers) const;

  /// The meter of a new subscription named `name` (null with metrics off).
  std::shared_ptr<subscription_meter> meter(std::optional<std::string> name) const;
  /// A pull feed over the log from `start`, keeping what matches `filter`,
  /// reporting to `meter` (may be null).
  feed_actor spawn_pull_feed(subscription_filter filter, position start,
                             std::shared_ptr<subscription_meter> meter) const;
  /// A push feed delivering to `target` and reporting to `progress` and
  /// `meter`; it buffers at least the settings' subscription_buffer records.
  /// A callback consumer's callbacks run on the callback pool.
  feed_actor spawn_push_feed(subscription_filter filter, position start, push_target target,
                             std::shared_ptr<push_progress> progress,
                             std::shared_ptr<subscription_meter> meter) const;

  /// The engine (subscription groups use its group store and log).
  storage::engine& engine() const noexcept { return engine_; }
  /// The codec the feeds' records are decoded with (for their handles).
  const sourcery::codec& codec() const noexcept { return codec_; }
  /// The decode cache every subscription decodes through (R-SUB-DECODE-ONCE).
  decode_cache& decodes() const noexcept { return decodes_; }
  /// The instruments; null with metrics off.
  runtime_metrics* metrics() const noexcept { return metrics_; }

private:
  caf::actor_system& system_;
  storage::engine& engine_;
  const sourcery::codec& codec_;
  const commit_path& commits_;
  timer_queue& timers_;
  const settings_cell& settings_;
  runtime_metrics* const metrics_;
  callback_pool& callbacks_;
  decode_cache& decodes_;
};

} // namespace sourcery::detail
