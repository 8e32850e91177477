#include "tenant_directory.hpp"

#include <sourcery/events.hpp>

#include "wiring.hpp"

namespace sourcery::detail {

void tenant_slot::spawn() {
  actor_ = directory_.spawn(*this);
}

tenant_storage_actor tenant_directory::spawn(tenant_slot& slot) {
  auto actor = actors_.spawn_tenant(slot);
  spawns_.fetch_add(1, std::memory_order_relaxed);
  return actor;
}

std::shared_ptr<tenant_slot> tenant_directory::get(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  if (auto it = tenants_.find(tenant); it != tenants_.end())
    return it->second;
  validate_tenant_id(tenant);
  auto slot = std::make_shared<tenant_slot>(tenant, *this);
  tenants_.emplace(tenant, slot);
  return slot;
}

std::size_t tenant_directory::active() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, slot] : tenants_)
    n += slot->actor() ? 1 : 0;
  return n;
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
    if (auto a = slot->actor())
      out.push_back(std::move(a));
  return out;
}

} // namespace sourcery::detail
