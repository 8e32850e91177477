// The shared runtime behind every backend view: the actor system, the
// global log, the tenants' storage actors and the listeners.
#pragma once

#include <sourcery/registry.hpp>
#include <sourcery/settings.hpp>

#include "global_log.hpp"
#include "listener_registry.hpp"
#include "protocol.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sourcery::detail {

/// A tenant's storage actor with its interned id.
struct tenant_slot {
  const std::string* id = nullptr;
  tenant_storage_actor actor;
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
  /// Decodes a record into a wrapped event (for load_stream).
  wrapped_event<> decode_wrapped(const log_record& rec) const;

  settings current_settings() const;
  void configure(const settings& s);

private:
  std::shared_ptr<event_registry> registry_;
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  global_log log_;
  std::shared_ptr<listener_registry> listeners_ = std::make_shared<listener_registry>();

  mutable std::mutex tenants_mutex_;
  std::unordered_map<std::string, tenant_slot> tenants_;

  mutable std::mutex settings_mutex_;
  settings settings_;
};

/// Spawns the storage actor of `tenant`.
tenant_storage_actor spawn_tenant_storage(runtime& rt, const std::string* tenant);

} // namespace sourcery::detail
