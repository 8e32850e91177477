// The shared runtime behind every backend view: the actor system, the
// global log, the tenants' storage actors and the listeners.
#pragma once

#include <sourcery/field_encryption.hpp>
#include <sourcery/registry.hpp>
#include <sourcery/settings.hpp>

#include "global_log.hpp"
#include "listener_registry.hpp"
#include "outbox_dispatcher.hpp"
#include "outbox_store.hpp"
#include "protocol.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sourcery::detail {

/// A tenant's storage actor with its interned id and its streams, which the
/// runtime owns so that they outlive the actor (records point at them).
struct tenant_slot {
  const std::string* id = nullptr;
  tenant_storage_actor actor;
  std::shared_ptr<void> storage;
};

class runtime {
public:
  runtime(const runtime_options& options, std::shared_ptr<event_registry> registry);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  caf::actor_system& system() noexcept { return *system_; }
  global_log& log() noexcept { return log_; }
  event_registry& registry() const noexcept { return *registry_; }
  const std::shared_ptr<listener_registry>& listeners() noexcept { return listeners_; }

  /// The tenant's storage, spawned on first use; throws illegal_tenant_id.
  tenant_slot& tenant(const std::string& id);
  std::size_t tenant_count() const;

  /// Decodes a committed record (for listeners, subscriptions, the outbox).
  recorded_event decode(const log_record& rec) const;
  /// Decodes a record into a wrapped event (for load_stream). Every read
  /// path decodes here, decrypting encrypted fields (R-EN).
  wrapped_event<> decode_wrapped(const log_record& rec) const;

  /// The stored form of `e`, of registered `type`, for `stream` of `tenant`,
  /// its encrypted fields encrypted. Throws `encryption_not_configured`,
  /// `no_subject_id_found`, `key_not_found`.
  raw_event encode(const wrapped_event<>& e, const event_type& type, const stream_id& stream,
                   const std::string& tenant) const;
  /// Decodes a stored snapshot of `stream` of `tenant`.
  wrapped_event<> decode_snapshot(const raw_event& raw, const stream_id& stream,
                                  const std::string& tenant) const;

  /// The encryption of fields for all tenants; null until configured.
  void set_encryption(std::shared_ptr<const field_encryption> encryption);
  std::shared_ptr<const field_encryption> encryption() const { return encryption_.load(); }

  settings current_settings() const;
  void configure(const settings& s);

  /// Commits one append through the global log: listeners run and outbox
  /// entries are added inside the commit (R-L, R-OB).
  std::vector<const log_record*> commit(const std::string* tenant, const stream_id* stream,
                                        std::span<const pending_event> events);

  // -- outbox -----------------------------------------------------------------

  /// Turns the outbox on for commits from now on; throws invalid_argument if
  /// it is on already.
  void enable_outbox(outbox_filter filter);
  /// The outbox's entries; throws invalid_argument when the outbox is off.
  outbox_store& outbox_entries();
  outbox_store* outbox() noexcept { return outbox_ptr_.load(std::memory_order_acquire); }
  /// Starts one dispatcher per shard; throws invalid_argument if running.
  void start_dispatchers(outbox_publisher publisher, const continuous_options& options);
  /// Stops the dispatchers after their in-flight publishes; idempotent.
  /// Throws reentrant_call from a listener or an outbox publisher.
  void stop_dispatchers();
  /// Wakes idle dispatchers (entries became pending outside a commit:
  /// re-queued dead letters, failures of run()).
  void kick_idle_dispatchers();

private:
  static void kick_if_idle(dispatcher_slot& slot);
  void halt_dispatchers();

  std::shared_ptr<event_registry> registry_;
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  global_log log_;
  std::shared_ptr<listener_registry> listeners_ = std::make_shared<listener_registry>();
  std::atomic<std::shared_ptr<const field_encryption>> encryption_;

  /// The event in `data`, its encrypted fields decrypted or masked.
  any_event decode_encrypted(const event_type& type, std::string_view data,
                             const stream_id& stream, const std::string& tenant) const;

  mutable std::mutex tenants_mutex_;
  std::unordered_map<std::string, tenant_slot> tenants_;

  mutable std::mutex settings_mutex_;
  settings settings_;

  std::unique_ptr<outbox_store> outbox_; // set once, under the commit lock
  std::atomic<outbox_store*> outbox_ptr_{nullptr};
  std::mutex dispatchers_mutex_;         // start/stop
  std::vector<std::unique_ptr<dispatcher_slot>> dispatchers_;
  std::atomic<bool> dispatching_{false};
};

/// Spawns the storage actor of the tenant in `slot` (sets its actor and storage).
void spawn_tenant_storage(runtime& rt, tenant_slot& slot);

} // namespace sourcery::detail
