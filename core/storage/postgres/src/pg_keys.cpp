#include "pg_keys.hpp"

#include "schema.hpp"

#include <algorithm>
#include <tuple>

namespace sourcery::storage::postgres_detail {

pg_keys::pg_keys(std::shared_ptr<pool> connections, std::string schema)
  : pool_(std::move(connections)), schema_(std::move(schema)) {}

std::optional<encryption_key> pg_keys::get(std::string_view tenant,
                                           std::string_view subject) const {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("SELECT key FROM @.keys WHERE tenant = $1 AND subject = $2",
                                schema_),
                      params{}.text(tenant).bytes(subject), "reading a key");
  if (PQntuples(r.get()) == 0)
    return std::nullopt;
  auto bytes = get_bytes(r.get(), 0, 0);
  return encryption_key(bytes.begin(), bytes.end());
}

bool pg_keys::store(std::string_view tenant, std::string_view subject,
                    const encryption_key& key) {
  auto conn = pool_->take();
  auto r = conn->exec(
    in_schema("INSERT INTO @.keys VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", schema_),
    params{}.text(tenant).bytes(subject).bytes(
      std::string_view(reinterpret_cast<const char*>(key.data()), key.size())),
    "storing a key");
  return std::string_view(PQcmdTuples(r.get())) == "1";
}

void pg_keys::remove(std::string_view tenant, std::string_view subject) {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("DELETE FROM @.keys WHERE tenant = $1 AND subject = $2", schema_),
                      params{}.text(tenant).bytes(subject), "deleting a key");
  if (std::string_view(PQcmdTuples(r.get())) != "0")
    conn->exec(in_schema("VACUUM @.keys", schema_), "vacuuming the keys table");
}

void pg_keys::retire(std::string_view tenant, std::string_view subject,
                     std::string_view key_id) {
  auto conn = pool_->take();
  conn->exec(in_schema("INSERT INTO @.retired_keys VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                       schema_),
             params{}.text(tenant).bytes(subject).bytes(key_id), "retiring a key");
}

bool pg_keys::retired(std::string_view tenant, std::string_view subject,
                      std::string_view key_id) const {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("SELECT 1 FROM @.retired_keys WHERE tenant = $1 AND subject = $2"
                                " AND key_id = $3",
                                schema_),
                      params{}.text(tenant).bytes(subject).bytes(key_id),
                      "looking up a retired key");
  return PQntuples(r.get()) > 0;
}

std::vector<subject_key> pg_keys::list() const {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("SELECT tenant, subject, key FROM @.keys", schema_), params{},
                      "listing the keys");
  std::vector<subject_key> out;
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    auto key = get_bytes(r.get(), row, 2);
    out.push_back({std::string(get_bytes(r.get(), row, 0)),
                   std::string(get_bytes(r.get(), row, 1)),
                   encryption_key(key.begin(), key.end())});
  }
  // Bytewise, as every engine lists them (ORDER BY would follow the collation).
  std::sort(out.begin(), out.end(), [](const subject_key& a, const subject_key& b) {
    return std::tie(a.tenant, a.subject) < std::tie(b.tenant, b.subject);
  });
  return out;
}

std::vector<retired_key_id> pg_keys::list_retired() const {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("SELECT tenant, subject, key_id FROM @.retired_keys", schema_),
                      params{}, "listing the retired keys");
  std::vector<retired_key_id> out;
  for (int row = 0; row < PQntuples(r.get()); ++row)
    out.push_back({std::string(get_bytes(r.get(), row, 0)),
                   std::string(get_bytes(r.get(), row, 1)),
                   std::string(get_bytes(r.get(), row, 2))});
  std::sort(out.begin(), out.end(), [](const retired_key_id& a, const retired_key_id& b) {
    return std::tie(a.tenant, a.subject, a.key_id) < std::tie(b.tenant, b.subject, b.key_id);
  });
  return out;
}

} // namespace sourcery::storage::postgres_detail
