#include "survey.hpp"

#include <algorithm>
#include <future>

namespace admin {

using namespace sourcery;

void for_each_record(const storage::log& log, position from, position to,
                     const std::function<void(const storage::record&)>& visit) {
  auto read = [&log, to](position after) {
    constexpr std::uint64_t batch = 8192;
    storage::record_batch b;
    log.read(after, std::min(batch, to - after), b);
    return b;
  };
  // The next batch is read on a thread of its own while `visit` sees this
  // one. A failed read throws from get(); a future of std::async waits for
  // its read when destroyed, so nothing outlives the call.
  auto after = from == 0 ? 0 : from - 1;
  if (after >= to)
    return;
  auto next = std::async(std::launch::async, read, after);
  for (;;) {
    auto b = next.get();
    if (b.records.empty())
      return;
    after = b.records.back().position;
    if (after < to)
      next = std::async(std::launch::async, read, after);
    for (const auto& r : b.records)
      visit(r);
    if (after >= to)
      return;
  }
}

void stream_key(std::string& key, std::string_view tenant, const stream_id& s) {
  key.assign(tenant);
  key += '\0';
  key.append(reinterpret_cast<const char*>(s.id().data), 16);
  if (s.category()) {
    key += '\1';
    key += *s.category();
  }
}

std::string stream_key(std::string_view tenant, const stream_id& s) {
  std::string key;
  stream_key(key, tenant, s);
  return key;
}

std::string tenant_text(const std::string& tenant) {
  return tenant.empty() ? "the default tenant" : std::string("tenant '") + tenant + "'";
}

void surveyor::add(const storage::record& r) {
  ++result.events;
  if (tenant_ && r.tenant != *tenant_)
    return;
  if (!tenant_entry_ || r.tenant != tenant_name_) { // runs of one tenant: one lookup each
    tenant_name_.assign(r.tenant);
    tenant_entry_ = &result.tenants[tenant_name_];
  }
  auto& t = *tenant_entry_;
  if (t.events++ == 0)
    t.first = r.position;
  t.last = r.position;
  stream_key(key_, r.tenant, *r.stream);
  auto it = index_.find(key_);
  if (it == index_.end()) {
    it = index_.emplace(key_, result.streams.size()).first;
    ++t.streams;
    result.streams.push_back({std::string(r.tenant), *r.stream, 0, r.position, 0});
  }
  auto& s = result.streams[it->second];
  ++s.events;
  s.last = r.position;
}

survey survey_store(storage::engine& e, const std::optional<std::string>& tenant) {
  auto& log = e.log();
  surveyor s(tenant);
  s.result.last_position = log.last_position();
  for_each_record(log, 1, s.result.last_position,
                  [&](const storage::record& r) { s.add(r); });
  return std::move(s.result);
}

} // namespace admin
