#include "tenant_directory.hpp"

#include <sourcery/events.hpp>

#include "wiring.hpp"

#include <algorithm>

namespace sourcery::detail {

void tenant_slot::spawn() {
  actor_ = directory_.spawn(*this);
}

runtime_metrics* tenant_slot::metrics() const noexcept {
  return directory_.spawner().metrics();
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

std::vector<std::pair<std::string, std::uint64_t>>
tenant_directory::events_by_tenant(std::size_t n) const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(tenants_.size());
    for (const auto& [id, slot] : tenants_)
      out.emplace_back(id, slot->events_committed.value());
  }
  auto most = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (out.size() > n) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), most);
    out.resize(n);
  } else {
    std::sort(out.begin(), out.end(), most);
  }
  return out;
}

} // namespace sourcery::detail
