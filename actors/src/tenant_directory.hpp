// The tenant directory: each tenant's storage actor, spawned on first use
// (R-MT) and again after it was passivated for idleness (R-ST5), by the
// runtime's wiring (wiring.hpp).
#pragma once

#include "tenant_protocol.hpp"

#include <sourcery/detail/instruments.hpp>

#include <caf/send.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sourcery::detail {

class runtime_metrics;
class tenant_directory;
class wiring;

/// A tenant's place in the directory: its id and, while it is active, its
/// storage actor. Messages go through `send`, under the slot's lock, so an
/// actor that passivates itself (also under that lock, with an empty
/// mailbox) never loses one: the next send spawns a fresh actor.
class tenant_slot {
public:
  tenant_slot(std::string id, tenant_directory& directory)
    : id(std::move(id)), directory_(directory) {}

  const std::string id;
  /// Events committed for this tenant (per-tenant metrics, R-MET).
  counter events_committed;

  template <class... Ts>
  void send(Ts&&... xs) {
    std::lock_guard lock(mutex_);
    if (!actor_)
      spawn();
    caf::anon_send(actor_, std::forward<Ts>(xs)...);
  }

  /// Called by the actor `self` when idle: clears the slot and returns true
  /// when nothing waits in its mailbox (it must then quit), else false.
  template <class Self>
  bool try_passivate(Self* self) {
    std::lock_guard lock(mutex_);
    if (!self->mailbox().empty() || actor_ != caf::actor_cast<tenant_storage_actor>(self))
      return false;
    actor_ = nullptr;
    return true;
  }

  /// The runtime's instruments; null with metrics off.
  runtime_metrics* metrics() const noexcept;

  /// The active actor, if any (for shutdown).
  tenant_storage_actor actor() const {
    std::lock_guard lock(mutex_);
    return actor_;
  }

private:
  void spawn(); // @pre mutex_ held

  tenant_directory& directory_;
  mutable std::mutex mutex_;
  tenant_storage_actor actor_; // GUARDED_BY(mutex_); null while passivated
};

class tenant_directory {
public:
  /// Tenant actors are spawned by `actors`, which outlives the directory.
  explicit tenant_directory(const wiring& actors) : actors_(actors) {}

  const wiring& spawner() const noexcept { return actors_; }
  tenant_directory(const tenant_directory&) = delete;
  tenant_directory& operator=(const tenant_directory&) = delete;

  /// The tenant's slot (its actor spawns on the first message); throws
  /// illegal_tenant_id. The slot lives as long as the directory.
  std::shared_ptr<tenant_slot> get(const std::string& tenant);
  /// Tenants used so far.
  std::size_t size() const;
  /// Tenants whose actor is running (not passivated).
  std::size_t active() const;
  /// Tenant actors spawned so far: first uses plus respawns after
  /// passivation (so passivations = spawns - active).
  std::size_t spawns() const { return spawns_.load(std::memory_order_relaxed); }
  /// Every running actor (for shutdown).
  std::vector<tenant_storage_actor> actors() const;
  /// The `n` tenants with the most events committed, most first.
  std::vector<std::pair<std::string, std::uint64_t>> events_by_tenant(std::size_t n) const;

private:
  friend class tenant_slot;
  /// Spawns `slot`'s actor and counts it (under the slot's lock).
  tenant_storage_actor spawn(tenant_slot& slot);

  const wiring& actors_;
  std::atomic<std::size_t> spawns_{0};
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<tenant_slot>> tenants_; // GUARDED_BY
};

} // namespace sourcery::detail
