#include "tenant_directory.hpp"

#include <sourcery/tenant_id.hpp>

namespace sourcery::detail {

std::shared_ptr<const tenant_slot> tenant_directory::get(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  if (auto it = tenants_.find(tenant); it != tenants_.end())
    return it->second;
  validate_tenant_id(tenant);
  auto slot = std::make_shared<const tenant_slot>(tenant_slot{tenant, spawn_(tenant)});
  tenants_.emplace(tenant, slot);
  return slot;
}

std::size_t tenant_directory::size() const {
  std::lock_guard lock(mutex_);
  return tenants_.size();
}

std::vector<tenant_storage_actor> tenant_directory::actors() const {
  std::lock_guard lock(mutex_);
  std::vector<tenant_storage_actor> out;
  out.reserve(tenants_.size());
  for (const auto& [id, slot] : tenants_)
    out.push_back(slot->actor);
  return out;
}

} // namespace sourcery::detail
