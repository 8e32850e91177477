// The backend: a dependency-injection container (R-B) that owns the runtime
// and hands out its parts, scoped to one tenant.
//
//   auto backend = sourcery::backend::in_memory();
//   backend.registry().add<account_opened>("account_opened");
//   auto store = backend.in_tenant_mode("acme").event_store();
//
// A backend is a cheap handle; copies share the runtime. Configure it
// (registry, settings) before handing it to other threads. The runtime shuts
// down, stopping its actors, when the last backend and store handle go away.
#pragma once

#include <sourcery/container.hpp>
#include <sourcery/encryption.hpp>
#include <sourcery/event_store.hpp>
#include <sourcery/listeners.hpp>
#include <sourcery/metrics.hpp>
#include <sourcery/outbox.hpp>
#include <sourcery/registry.hpp>
#include <sourcery/settings.hpp>
#include <sourcery/subscriptions.hpp>

#include <memory>
#include <optional>
#include <string>

namespace caf {
class actor_system;
} // namespace caf

namespace sourcery {

namespace storage {
class engine;
} // namespace storage

/// The tenant a container is bound to.
struct tenant_binding {
  std::string id;
};

/// Figures about the runtime, for the harness and benchmarks.
struct runtime_stats {
  std::size_t tenants = 0;
  position last_position = 0;
  /// Bytes the storage engine holds in memory (records, payloads, indexes).
  std::size_t log_bytes = 0;
  /// Tenants whose storage actor runs (the others are passivated, R-ST5).
  std::size_t active_tenants = 0;
  /// Tenant storage actors spawned so far: first uses plus respawns after
  /// passivation (passivations = tenant_spawns - active_tenants).
  std::size_t tenant_spawns = 0;
};

class backend {
public:
  /// The in-memory backend: nothing to install or start; spawns its own actor
  /// system with `options`.
  static backend in_memory(runtime_options options = {});
  /// A backend over `engine` (R-ST2).
  static backend on(std::shared_ptr<storage::engine> engine, runtime_options options = {});
  // The durable engines have factories of their own, each in the library
  // that links the engine: sourcery::rocksdb_backend(path) in
  // <sourcery/rocksdb_backend.hpp> (target sourcery::rocksdb) and
  // sourcery::postgres_backend(conninfo) in <sourcery/postgres_backend.hpp>
  // (target sourcery::postgres).

  // The runtime starts on the first call that needs it (event_store(),
  // subscriber(), in_tenant_mode(), …). Until then the providers in
  // services() — event_registry, storage::engine, encryption_strategy with
  // key_storage, runtime_options — may be replaced and take effect; once it
  // runs, replacing them throws invalid_argument saying what to do instead.

  /// A view of the same runtime scoped to `tenant` (R-MT); throws
  /// `illegal_tenant_id` for an invalid id.
  backend in_tenant_mode(const std::string& tenant) const;

  /// Validates and applies `s` to the runtime; throws `invalid_argument`
  /// naming the first out-of-range setting, or saying why the metrics
  /// endpoint (`s.metrics_listen`) cannot listen where asked.
  backend& configure(const settings& s);
  settings current_settings();

  /// Encrypts the declared fields of events (R-EN) with `strategy`, keeping
  /// keys in `keys`; for the whole runtime, every tenant's view included.
  /// Until called, appending an event type with encrypted fields fails with
  /// `encryption_not_configured`. Calling it again replaces both parts: data
  /// whose keys the new storage lacks then reads as masked, and values in
  /// another strategy's format fail with `decryption_failed`.
  backend& with_encryption(std::shared_ptr<encryption_strategy> strategy,
                           std::shared_ptr<key_storage> keys);
  /// As above with the defaults: libsodium AES-256-GCM on CPUs with AES
  /// instructions, else XChaCha20-Poly1305; keys in memory.
  backend& with_encryption();

  const std::string& tenant_id();
  event_registry& registry();
  sourcery::event_store event_store();
  /// The in-transaction listeners (R-L).
  listeners in_transaction();
  /// This tenant's data-subject keys: create, shred (R-EN). Throws
  /// `encryption_not_configured` before with_encryption.
  encryption_keys encryption();
  /// Turns the outbox on: committed events passing `filter` (default: all)
  /// become outbox entries (R-OB). Throws invalid_argument if already on.
  backend& with_outbox(outbox_filter filter = {});
  /// The outbox; its calls throw invalid_argument while it is off.
  sourcery::outbox outbox();
  /// Subscriptions over the global log: all tenants (R-SUB).
  sourcery::subscriber subscriber();
  /// Subscriptions to this backend's tenant only (R-MT).
  sourcery::subscriber tenant_subscriber();
  /// The runtime's CAF actor system (to spawn push consumers).
  caf::actor_system& actor_system();
  runtime_stats stats();
  /// Every metric now (R-MET): counters, gauges and histograms of the
  /// runtime and its engine, for a service's own metrics system or
  /// prometheus_text(). docs/metrics.md lists them.
  metrics_snapshot metrics();
  /// Where the metrics endpoint listens ("127.0.0.1:9464"), if it runs
  /// (settings::metrics_listen).
  std::optional<std::string> metrics_address();
  /// The storage engine the runtime runs on.
  std::shared_ptr<storage::engine> engine();

  /// The container itself, to add or override providers.
  container& services() noexcept { return *services_; }

private:
  explicit backend(std::shared_ptr<container> services) : services_(std::move(services)) {}
  std::shared_ptr<container> services_;
};

} // namespace sourcery
