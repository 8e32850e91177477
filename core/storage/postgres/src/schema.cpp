#include "schema.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <set>

namespace sourcery::storage::postgres_detail {

namespace {

constexpr const char* tables[] = {"meta",         "head", "events",       "streams",
                                  "snapshots",    "outbox", "dead_letters", "keys",
                                  "retired_keys", "cursors"};

constexpr std::string_view create_sql = R"(
CREATE SCHEMA IF NOT EXISTS @;
CREATE TABLE @.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE @.head (id integer PRIMARY KEY CHECK (id = 1), last bigint NOT NULL);
INSERT INTO @.head VALUES (1, 0);
CREATE TABLE @.events (
  position bigint PRIMARY KEY, stream_key bytea NOT NULL, number bigint NOT NULL,
  tenant text NOT NULL, stream uuid NOT NULL, category bytea, name bytea,
  id uuid NOT NULL, created_us bigint NOT NULL, version bigint NOT NULL,
  type bytea NOT NULL, data bytea NOT NULL, context bytea NOT NULL, schema integer NOT NULL);
CREATE INDEX events_by_stream ON @.events (stream_key, position);
CREATE TABLE @.streams (
  key bytea PRIMARY KEY, versionless boolean NOT NULL, current bigint NOT NULL,
  since bigint NOT NULL, snap_number bigint NOT NULL);
CREATE TABLE @.snapshots (
  key bytea PRIMARY KEY, id uuid NOT NULL, created_us bigint NOT NULL, version bigint,
  type bytea NOT NULL, data bytea NOT NULL, context bytea NOT NULL, schema integer NOT NULL);
CREATE TABLE @.outbox (
  position bigint PRIMARY KEY, shard integer NOT NULL, attempts integer NOT NULL,
  state smallint NOT NULL, owner uuid, lease_until timestamptz);
CREATE INDEX outbox_by_shard ON @.outbox (shard, position);
CREATE TABLE @.dead_letters (
  position bigint PRIMARY KEY, shard integer NOT NULL, attempts integer NOT NULL,
  last_error bytea NOT NULL);
CREATE TABLE @.keys (tenant text, subject bytea, key bytea NOT NULL,
  PRIMARY KEY (tenant, subject));
CREATE TABLE @.retired_keys (tenant text, subject bytea, key_id bytea,
  PRIMARY KEY (tenant, subject, key_id));
CREATE TABLE @.cursors (projection bytea, stream_key bytea, version bigint NOT NULL,
  PRIMARY KEY (projection, stream_key));
)";

/// Subscription groups (pg_groups.hpp): created with a new store and added
/// to a store made before they existed, so they are not among `tables`.
constexpr std::string_view group_tables_sql = R"(
CREATE TABLE IF NOT EXISTS @.sub_groups (name bytea PRIMARY KEY,
  per_stream_order boolean NOT NULL, checkpoint bigint NOT NULL, frontier bigint NOT NULL);
CREATE TABLE IF NOT EXISTS @.sub_group_entries (grp bytea NOT NULL, position bigint NOT NULL,
  stream_key bytea NOT NULL, state smallint NOT NULL, attempts integer NOT NULL,
  member bytea, lease_until timestamptz, last_error bytea, PRIMARY KEY (grp, position));
)";

/// Runs the statements of `sql`, one at a time.
void run_statements(connection& c, std::string_view sql, const std::string& schema) {
  for (std::size_t at = 0; at < sql.size();) {
    auto end = std::min(sql.find(';', at), sql.size());
    auto one = sql.substr(at, end - at);
    if (one.find_first_not_of(" \n") != std::string_view::npos)
      c.exec(in_schema(one, schema), "creating the store's tables");
    at = end + 1;
  }
}

/// The names of the relations in `schema`; none when it does not exist.
std::optional<std::set<std::string>> relations(connection& c, const std::string& schema) {
  auto ns = c.exec("SELECT 1 FROM pg_namespace WHERE nspname = $1",
                   params{}.text(schema), "looking for the schema");
  if (PQntuples(ns.get()) == 0)
    return std::nullopt;
  auto r = c.exec("SELECT c.relname::text FROM pg_class c JOIN pg_namespace n"
                  " ON n.oid = c.relnamespace WHERE n.nspname = $1",
                  params{}.text(schema), "listing the schema's tables");
  std::set<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    out.emplace(get_bytes(r.get(), i, 0));
  return out;
}

/// Throws unless `schema` holds a Sourcery store this build can read.
void check_existing(connection& c, const std::string& schema,
                    const std::set<std::string>& names) {
  auto where = "schema '" + schema + "'";
  if (!names.contains("meta"))
    throw storage_corrupt(where + " is not a Sourcery store (it holds other tables)");
  auto r = c.exec(in_schema("SELECT key, value FROM @.meta", schema), "reading the store's format");
  std::optional<std::string> format, version;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    auto key = get_bytes(r.get(), i, 0);
    if (key == "format")
      format = std::string(get_bytes(r.get(), i, 1));
    else if (key == "version")
      version = std::string(get_bytes(r.get(), i, 1));
  }
  if (format != std::string(format_name) || !version)
    throw storage_corrupt(where + " is not a Sourcery store (no or unknown format in its meta table)");
  int v = 0;
  try {
    v = std::stoi(*version);
  } catch (const std::exception&) {
    throw storage_corrupt(where + " has a malformed format version '" + *version + "'");
  }
  if (v > format_version)
    throw storage_version_mismatch("the store in " + where + " has format version "
                                   + std::to_string(v) + "; this build reads up to "
                                   + std::to_string(format_version));
  for (auto* t : tables)
    if (!names.contains(t))
      throw storage_corrupt("the store in " + where + " is damaged: its table '" + t
                            + "' is missing");
}

std::size_t stored_shards(connection& c, const std::string& schema) {
  auto r = c.exec(in_schema("SELECT value FROM @.meta WHERE key = 'outbox_shards'", schema),
                  "reading the outbox shard count");
  if (PQntuples(r.get()) == 0)
    return 0;
  try {
    return std::stoul(std::string(get_bytes(r.get(), 0, 0)));
  } catch (const std::exception&) {
    throw storage_corrupt("the outbox shard count of schema '" + schema + "' is malformed");
  }
}

void reshard(connection& c, const std::string& schema, std::size_t shards) {
  auto r = c.exec(in_schema("SELECT o.position, e.tenant FROM @.outbox o JOIN @.events e"
                            " USING (position) UNION ALL SELECT d.position, e.tenant"
                            " FROM @.dead_letters d JOIN @.events e USING (position)",
                            schema),
                  "reading the outbox to re-shard it");
  std::vector<std::vector<std::int64_t>> by_shard(shards);
  for (int i = 0; i < PQntuples(r.get()); ++i)
    by_shard[shard_of(get_bytes(r.get(), i, 1), shards)].push_back(get_i64(r.get(), i, 0));
  for (std::size_t s = 0; s < shards; ++s) {
    if (by_shard[s].empty())
      continue;
    params p;
    p.i32(static_cast<std::int32_t>(s)).int8_array(by_shard[s]);
    c.exec(in_schema("UPDATE @.outbox SET shard = $1 WHERE position = ANY($2)", schema), p,
           "re-sharding the outbox");
    c.exec(in_schema("UPDATE @.dead_letters SET shard = $1 WHERE position = ANY($2)", schema),
           p, "re-sharding the dead letters");
  }
  c.exec(in_schema("INSERT INTO @.meta VALUES ('outbox_shards', $1) ON CONFLICT (key)"
                   " DO UPDATE SET value = EXCLUDED.value",
                   schema),
         params{}.text(std::to_string(shards)), "recording the outbox shard count");
}

} // namespace

std::string in_schema(std::string_view tmpl, const std::string& schema) {
  std::string out;
  out.reserve(tmpl.size() + 8 * schema.size());
  for (char ch : tmpl)
    if (ch == '@')
      out += schema;
    else
      out += ch;
  return out;
}

void check_schema_name(const std::string& schema) {
  auto ok = !schema.empty() && schema.size() <= 40
            && (std::isalpha(static_cast<unsigned char>(schema[0])) || schema[0] == '_')
            && std::all_of(schema.begin(), schema.end(), [](char ch) {
                 return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
               });
  if (!ok)
    throw invalid_argument("PostgreSQL schema name '" + schema
                           + "': must be letters, digits and '_' (at most 40), not starting "
                             "with a digit");
}

std::size_t shard_of(std::string_view tenant, std::size_t shards) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : tenant)
    h = (h ^ ch) * 1099511628211ull;
  return h % shards;
}

std::size_t open_schema(connection& c, const std::string& raw_schema, std::size_t wanted,
                        bool create) {
  // PostgreSQL folds unquoted identifiers to lower case.
  std::string schema = raw_schema;
  std::transform(schema.begin(), schema.end(), schema.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  try {
    c.exec("BEGIN", "opening the store");
    c.exec("SELECT pg_advisory_xact_lock(hashtext('sourcery-open:' || $1))",
           params{}.text(schema), "locking the store for opening");
    auto names = relations(c, schema);
    std::size_t shards = 0;
    if ((!names || names->empty()) && !create)
      throw storage_unavailable("there is no store in schema " + schema);
    if (!names || names->empty()) {
      shards = wanted ? wanted : 4;
      run_statements(c, create_sql, schema);
      c.exec(in_schema("INSERT INTO @.meta VALUES ('format', $1), ('version', $2),"
                       " ('outbox_shards', $3)",
                       schema),
             params{}
               .text(format_name)
               .text(std::to_string(format_version))
               .text(std::to_string(shards)),
             "writing the store's format");
    } else {
      check_existing(c, schema, *names);
      auto stored = stored_shards(c, schema);
      shards = wanted ? wanted : stored ? stored : 4;
      if (shards != stored)
        reshard(c, schema, shards);
    }
    run_statements(c, group_tables_sql, schema); // new, or added to an older store
    c.exec("COMMIT", "opening the store");
    return shards;
  } catch (...) {
    c.rollback();
    throw;
  }
}

namespace {

/// A checked schema name as PostgreSQL keeps it (unquoted: lower case).
std::string folded(const std::string& raw_schema) {
  check_schema_name(raw_schema);
  std::string schema = raw_schema;
  std::transform(schema.begin(), schema.end(), schema.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return schema;
}

} // namespace

void rename_schema(connection& c, const std::string& raw_from, const std::string& raw_to) {
  auto from = folded(raw_from), to = folded(raw_to);
  if (from == to)
    return;
  try {
    c.exec("BEGIN", "moving the store");
    // Both open-locks, in one order whoever takes them.
    for (const auto& s : from < to ? std::array{from, to} : std::array{to, from})
      c.exec("SELECT pg_advisory_xact_lock(hashtext('sourcery-open:' || $1))",
             params{}.text(s), "locking the store for moving");
    auto moved = relations(c, from);
    if (!moved || moved->empty())
      throw storage_unavailable("there is no store in schema " + from);
    check_existing(c, from, *moved);
    if (auto replaced = relations(c, to)) {
      if (!replaced->empty()) {
        check_existing(c, to, *replaced);
        auto r = c.exec(in_schema("SELECT last FROM @.head", to), "reading the store's head");
        if (PQntuples(r.get()) > 0 && get_i64(r.get(), 0, 0) != 0)
          throw invalid_argument("the store in schema " + to + " is not empty (last position "
                                 + std::to_string(get_i64(r.get(), 0, 0)) + ")");
      }
      c.exec(in_schema("DROP SCHEMA @ CASCADE", to), "dropping the empty store");
    }
    c.exec("ALTER SCHEMA " + from + " RENAME TO " + to, "moving the store");
    c.exec("COMMIT", "moving the store");
  } catch (...) {
    c.rollback();
    throw;
  }
}

void drop_schema(connection& c, const std::string& raw_schema) {
  auto schema = folded(raw_schema);
  try {
    c.exec("BEGIN", "dropping the store");
    c.exec("SELECT pg_advisory_xact_lock(hashtext('sourcery-open:' || $1))",
           params{}.text(schema), "locking the store for dropping");
    auto names = relations(c, schema);
    if (names) {
      if (!names->empty())
        check_existing(c, schema, *names);
      c.exec(in_schema("DROP SCHEMA @ CASCADE", schema), "dropping the store");
    }
    c.exec("COMMIT", "dropping the store");
  } catch (...) {
    c.rollback();
    throw;
  }
}

} // namespace sourcery::storage::postgres_detail
