// The tenant directory: each tenant's storage actor, spawned on first use
// (R-MT). It does not know how to spawn one: the backend hands it that.
#pragma once

#include "tenant_protocol.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sourcery::detail {

/// A tenant's storage actor and the id it serves.
struct tenant_slot {
  std::string id;
  tenant_storage_actor actor;
};

class tenant_directory {
public:
  using spawn_fn = std::function<tenant_storage_actor(const std::string& tenant)>;

  explicit tenant_directory(spawn_fn spawn) : spawn_(std::move(spawn)) {}

  /// The tenant's slot, its actor spawned on first use; throws
  /// illegal_tenant_id. The slot lives as long as the directory.
  std::shared_ptr<const tenant_slot> get(const std::string& tenant);
  std::size_t size() const;
  /// Every actor spawned so far (for shutdown).
  std::vector<tenant_storage_actor> actors() const;

private:
  spawn_fn spawn_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const tenant_slot>> tenants_; // GUARDED_BY
};

} // namespace sourcery::detail
