// The storage seam (R-ST1): everything the runtime keeps, behind one
// abstract engine. The runtime (actors/) talks only to these headers; each
// engine (in_memory, rocksdb, postgres) is a folder that implements them and
// knows nothing of actors.
//
// An engine is a small root that hands out its parts, each a narrow
// interface with its contract in its own header:
//   log           the global log: committed events by position, wake-ups (log.hpp)
//   stream_store  one tenant's streams: appends, reads, snapshots, deletions
//                 (stream_store.hpp)
//   outbox_store  outbox entries in shards, attempts, dead letters (outbox_store.hpp)
//   cursor_store  projector cursors (cursor_store.hpp)
//   group_store   persistent subscription groups (group_store.hpp)
//   key_storage   data-subject keys of every tenant (<sourcery/encryption.hpp>)
//   store_admin   what an operator's tool needs besides (admin.hpp)
//
// Thread-safety: every member function of the engine and of its parts may be
// called from any thread, any number of threads at once, unless its comment
// says otherwise. Lifetime: the parts live as long as the engine; the
// references returned here stay valid, and are the same objects, for its
// whole life, so a caller may keep them. Memory of records: see record.hpp.
#pragma once

#include <sourcery/encryption.hpp>
#include <sourcery/metrics.hpp>
#include <sourcery/storage/admin.hpp>
#include <sourcery/storage/cursor_store.hpp>
#include <sourcery/storage/group_store.hpp>
#include <sourcery/storage/log.hpp>
#include <sourcery/storage/outbox_store.hpp>
#include <sourcery/storage/record.hpp>
#include <sourcery/storage/stream_store.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery::storage {

class engine {
public:
  virtual ~engine() = default;

  /// The engine's name as in configuration ("in_memory", "rocksdb", …).
  virtual std::string_view name() const noexcept = 0;

  /// The global log (R-P1, R-SUB-ORDER).
  virtual storage::log& log() noexcept = 0;

  /// The streams of `tenant`, created on first use; the same object for the
  /// same tenant. @pre `tenant` is a valid tenant id (R-T1).
  virtual std::shared_ptr<stream_store> streams(const std::string& tenant) = 0;

  /// The outbox (R-OB); publishers report through `outbox().open(policy)`.
  virtual outbox_store& outbox() noexcept = 0;

  /// Projector cursors.
  virtual cursor_store& cursors() noexcept = 0;

  /// Persistent subscription groups (R-SUB-GROUP); null for an engine
  /// that offers none.
  virtual group_store* groups() noexcept { return nullptr; }

  /// The data-subject keys of every tenant (R-EN, R-ST4).
  virtual std::shared_ptr<key_storage> keys() = 0;

  /// Bytes held in memory by records and their indexes (for the harness).
  virtual std::size_t memory_bytes() const = 0;

  /// Adds the engine's own metrics (R-MET) to `out`: commit groups and
  /// commit time, caches, files, connections — what this engine has. Names
  /// start with `sourcery_`; see docs/metrics.md. Called by a scrape, from
  /// any thread; nothing it reads may block a commit for long.
  virtual void collect_metrics(std::vector<metric_family>& out) const = 0;
  /// The operator's part (R-ADM1); null for an engine that offers none.
  virtual store_admin* admin() noexcept { return nullptr; }
};

} // namespace sourcery::storage
