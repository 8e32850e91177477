// The PostgreSQL engine (R-ST2, R-N1–R-N4): a server shared by several
// Sourcery processes (nodes), each of which serves every tenant.
//
// Everything lives in one schema of one database: the global log, each
// tenant's streams, snapshots, the outbox with its dead letters, data-subject
// keys and projector cursors. Positions are assigned inside the committing
// transaction under a row lock on a one-row counter, so the commits that take
// positions are serialised across nodes and a lower position is always
// visible before a higher one (see the README's "PostgreSQL engine" section
// for the argument). Each node learns of other nodes' commits from LISTEN /
// NOTIFY on a listener connection; it never polls.
//
// Concurrent appends of one node share one transaction (group commit, R-ST3).
// An append is acknowledged after its COMMIT returned: with durability full
// (synchronous_commit = on) that is after PostgreSQL flushed its WAL.
//
// Thread-safety: as `engine` — every member may be called from any thread.
// Any number of processes may open the same schema at once.
#pragma once

#include <sourcery/storage/engine.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace sourcery::storage {

struct postgres_options {
  /// The schema holding the store: letters, digits and '_', starting with a
  /// letter or '_', at most 40 characters. Created when absent.
  std::string schema = "sourcery";
  /// What an acknowledged append survives.
  enum class durability {
    /// synchronous_commit = on: the commit's WAL is flushed on the server
    /// before `append` returns (survives a crash of the server's machine).
    full,
    /// synchronous_commit = off: the server acknowledges before flushing;
    /// survives a crash of this process, not of the database server.
    normal,
  } durability = durability::full;
  /// Connections for reads, snapshots, the outbox and keys (appends use one
  /// more of their own, the listener another).
  std::size_t pool_size = 4;
  /// Outbox shards; 0 = as stored, or 4 for a new store. Every node of one
  /// store must use the same count; a different count re-shards at open.
  std::size_t outbox_shards = 0;
  /// An outbox claim (or a held retry) of a node that stops reporting is
  /// released after this long and can be claimed by another node (R-N3).
  /// Must exceed the longest publish plus retry delay.
  std::chrono::milliseconds outbox_lease{30'000};
  /// Seconds to wait for a connection (libpq's connect_timeout) unless the
  /// conninfo sets one.
  int connect_timeout_s = 5;
  /// Any statement running longer fails with `storage_unavailable`.
  std::chrono::milliseconds statement_timeout{30'000};
  /// Whether an absent or empty schema is made a new store; when false it
  /// is refused with `storage_unavailable` and nothing is created (tools
  /// that only read, such as sourcery-admin).
  bool create = true;
};

/// Opens the store in `options.schema` of the database `conninfo` names (a
/// libpq connection string or URI; empty = libpq's PG* environment
/// variables), creating the schema's tables when the schema is absent or
/// empty. Throws `storage_unavailable` when the server cannot be reached,
/// `storage_corrupt` when the schema holds something that is not a Sourcery
/// store, `storage_version_mismatch` when the store was written by a newer
/// build, `invalid_argument` for a malformed schema name; in each of these
/// cases nothing in the database is modified.
std::shared_ptr<engine> open_postgres_engine(const std::string& conninfo,
                                             postgres_options options = {});

/// Drops the schema `schema` and everything in it, if it is a Sourcery store
/// (or absent: no-op). Throws `storage_corrupt` (and drops nothing) when it
/// holds something else, `storage_unavailable` when the server cannot be
/// reached. For tests and tools; no engine may have it open.
void drop_postgres_store(const std::string& conninfo, const std::string& schema);

/// Moves the store in schema `from` to schema `to` in one transaction,
/// replacing what `to` holds if that is nothing, an empty schema or a store
/// without events (an import fills a store beside its target and moves it
/// there when complete). Throws `invalid_argument` (and changes nothing) when
/// `to` holds a store with events or a name is malformed, `storage_corrupt`
/// when either schema holds something that is not a Sourcery store,
/// `storage_unavailable` when `from` holds no store or the server cannot be
/// reached. No engine may have either open.
void rename_postgres_store(const std::string& conninfo, const std::string& from,
                           const std::string& to);

} // namespace sourcery::storage
