// Runtime settings (SPEC §12). Defaults match config/sourcery.conf.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sourcery {

/// How the runtime's actor system is set up.
struct runtime_options {
  /// CAF scheduler policy: "sharing" (default; measured 4× faster round trips
  /// on 2 cores) or "stealing".
  std::string scheduler_policy = "sharing";
  /// Worker threads; 0 = one per core.
  std::size_t scheduler_threads = 0;
  /// Messages an actor handles before yielding its thread; 0 = CAF default.
  std::size_t max_throughput = 0;
  /// Count what happens for backend::metrics() and the endpoint (R-MET). Off,
  /// the hot paths skip even their clock reads, and metrics() holds only the
  /// gauges read at the moment (engine, tenants, outbox, last position).
  bool metrics = true;
  /// Threads that run push subscriptions' callbacks (R-SUB-POOL), shared by
  /// every callback subscription of the runtime; 1 to 1024. A callback that
  /// blocks holds one of them: the others keep delivering.
  std::size_t subscription_callback_threads = 4;
  /// Decoded records the runtime keeps for its subscriptions to share
  /// (R-SUB-DECODE-ONCE): subscriptions reading the same records decode
  /// each once. Rounded up to a power of two; 0 = off (each subscription
  /// decodes for itself); at most 1,048,576. Memory: about one decoded event
  /// (its payload plus some 300 bytes) per slot in use.
  std::size_t subscription_decode_cache = 4096;

  /// Throws `invalid_argument` naming the first out-of-range option (the
  /// backend factories call it).
  void validate() const;
};

/// Behaviour settings, validated by `backend::configure` (invalid values throw
/// `invalid_argument` naming the setting).
struct settings {
  /// Attempts before an outbox entry moves to the dead letters (1 to
  /// INT32_MAX); the outbox's policy (`storage::outbox_policy::attempts`).
  std::uint32_t outbox_attempts = 3;
  /// First retry delay of the continuous outbox (> 0).
  std::chrono::milliseconds outbox_backoff_base{10};
  /// Largest retry delay (≥ base).
  std::chrono::milliseconds outbox_backoff_cap{1000};
  /// Records a push subscription keeps in flight to its consumer (≥ 1).
  std::size_t subscription_buffer = 1024;
  /// A tenant's storage actor idle this long is stopped and spawned again on
  /// its next call (R-ST5: idle tenants cost next to nothing); 0 = never.
  /// Applies to actors spawned after it is set.
  std::chrono::milliseconds tenant_idle{0};
  /// Serve the metrics over HTTP at this "host:port" (GET /metrics, the
  /// Prometheus text format); empty = no endpoint (the default). Port 0
  /// picks a free one (backend::metrics_address() tells which). A malformed
  /// address, or one that cannot be bound, throws invalid_argument.
  std::string metrics_listen{};
  /// Per-tenant series (events committed) for at most this many tenants,
  /// the busiest; 0 = none (0 to 10,000).
  std::size_t metrics_tenant_series = 0;

  /// Throws `invalid_argument` naming the first out-of-range setting.
  void validate() const;
};

} // namespace sourcery
