#include "pg_keys.hpp"

#include "schema.hpp"

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

} // namespace sourcery::storage::postgres_detail
