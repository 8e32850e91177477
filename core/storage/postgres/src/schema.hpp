// The PostgreSQL engine's tables, created and checked at open (R-ST6).
//
//   meta          key → value: "format" = "sourcery-postgres", "version",
//                 "outbox_shards"
//   head          one row: the last position taken (the counter commits lock)
//   events        position → the record (tenant, stream, id, created µs,
//                 version, type, data, context, schema) plus the stream's
//                 key and the event's number in it (version, or count on a
//                 versionless stream); indexed by (stream_key, position)
//   streams       stream key → versionless, current, since (first position of
//                 this life of the stream: a removed stream's events stay in
//                 the log but are not read), snap_number (events up to it are
//                 replaced by the snapshot)
//   snapshots     stream key → the latest snapshot
//   outbox        position → shard, failed attempts, state (0 pending,
//                 1 claimed, 2 held for a retry), owner node, lease end
//   dead_letters  position → shard, attempts, last error
//   keys          (tenant, subject) → key; retired_keys (tenant, subject, id)
//   cursors       (projection, stream key) → version
//
// A stream key is the tenant, the stream's UUID and its category, encoded as
// bytes (a name is not part of a stream's identity, R-S1).
#pragma once

#include "connection.hpp"

#include <string>
#include <string_view>

namespace sourcery::storage::postgres_detail {

inline constexpr std::string_view format_name = "sourcery-postgres";
inline constexpr int format_version = 1;

/// `tmpl` with every '@' replaced by `schema` (a checked identifier).
std::string in_schema(std::string_view tmpl, const std::string& schema);

/// Throws `invalid_argument` unless `schema` is a plain identifier.
void check_schema_name(const std::string& schema);

/// Opens or creates the store in `schema`, serialised with other nodes
/// opening it by an advisory lock. Returns the outbox shard count to use
/// (re-sharding stored entries when `wanted` differs from the stored count).
/// Throws `storage_corrupt` / `storage_version_mismatch` with nothing
/// modified.
std::size_t open_schema(connection& c, const std::string& schema, std::size_t wanted_shards,
                        bool create = true);

/// Renames a Sourcery store's schema (see rename_postgres_store).
void rename_schema(connection& c, const std::string& from, const std::string& to);
/// Drops a Sourcery store's schema (see drop_postgres_store).
void drop_schema(connection& c, const std::string& schema);

/// The outbox shard of a tenant: FNV-1a, stable across nodes and builds.
std::size_t shard_of(std::string_view tenant, std::size_t shards) noexcept;

} // namespace sourcery::storage::postgres_detail
