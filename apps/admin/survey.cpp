#include "survey.hpp"

#include <algorithm>
#include <unordered_map>

namespace admin {

using namespace sourcery;

void for_each_record(const storage::log& log, position from, position to,
                     const std::function<void(const storage::record&)>& visit) {
  constexpr std::size_t batch = 8192;
  auto after = from == 0 ? 0 : from - 1;
  while (after < to) {
    storage::record_batch b;
    log.read(after, std::min<std::uint64_t>(batch, to - after), b);
    if (b.records.empty())
      return;
    for (const auto& r : b.records)
      visit(r);
    after = b.records.back().position;
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

survey survey_store(storage::engine& e, const std::optional<std::string>& tenant) {
  auto& log = e.log();
  survey out;
  out.last_position = log.last_position();
  std::unordered_map<std::string, std::size_t> index;
  std::string key;
  for_each_record(log, 1, out.last_position, [&](const storage::record& r) {
    ++out.events;
    if (tenant && r.tenant != *tenant)
      return;
    auto& t = out.tenants[std::string(r.tenant)];
    if (t.events++ == 0)
      t.first = r.position;
    t.last = r.position;
    stream_key(key, r.tenant, *r.stream);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, out.streams.size()).first;
      ++t.streams;
      out.streams.push_back({std::string(r.tenant), *r.stream, 0, r.position, 0});
    }
    auto& s = out.streams[it->second];
    ++s.events;
    s.last = r.position;
  });
  return out;
}

} // namespace admin
