// The RocksDB engine (R-ST2): embedded and durable, everything in one folder.
//
// Appends are acknowledged once their write batch is in RocksDB's
// write-ahead log (R-ST3); concurrent appends of all tenants share one batch
// and one fsync (group commit). Memory is bounded (R-ST5): recent records sit
// in a cache of `cache_mb`, which also holds RocksDB's block cache and
// memtables; older records and stream states are read from disk. Reopening
// the folder continues everything (R-ST4). A folder that is not a Sourcery
// store, a damaged one, or one written by a newer build is refused at open
// and left as it was (R-ST6).
//
// Thread-safety: as `engine` — every member may be called from any thread.
// One process opens a folder at a time (RocksDB's LOCK file enforces it).
#pragma once

#include <sourcery/storage/engine.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace sourcery::storage {

struct rocksdb_options {
  /// What an acknowledged append survives.
  enum class durability {
    /// The write-ahead log is fsync'd before `append` returns: survives a
    /// crash of the process and of the machine (power loss).
    full,
    /// The write-ahead log is written (to the operating system) but not
    /// fsync'd: survives a crash of the process, not of the machine.
    normal,
  } durability = durability::full;
  /// Memory for the recent-records cache plus RocksDB's block cache and
  /// memtables, in MB (at least 4 is used).
  std::size_t cache_mb = 64;
  /// Outbox shards (one dispatcher each); 0 = as stored, or one per core for
  /// a new store. A different count re-shards the stored entries at open.
  std::size_t outbox_shards = 0;
  /// Table files kept open at most, each with its reader in memory (about
  /// 6 KB) and a file descriptor (R-ST5); a read of another one opens it
  /// again. RocksDB's own default, all of them, grows with the data: a
  /// 10-minute soak ends with ~2,600 files. At least 64 is used (RocksDB's
  /// table cache has 64 shards, each holding at least one).
  std::size_t max_open_tables = 512;
  /// Opens an existing store without writing to it (for tools such as
  /// sourcery-admin): no file in the folder is created or changed, and a
  /// store another process has open can be read too — as it was when this
  /// open began (later commits of that process are not seen). Every table
  /// file is opened at once, so the other process's compactions do not take
  /// files from under the reader. Appends, snapshots, deletions, outbox
  /// reports and key changes fail with `storage_unavailable`. An absent or
  /// empty folder is refused (`storage_unavailable`), never created.
  bool read_only = false;
};

/// Opens the store in folder `path`, creating it (and the folder) when the
/// folder is absent or empty. Throws `storage_corrupt` when the folder is not
/// a Sourcery store or is damaged, `storage_version_mismatch` when its format
/// is newer than this build, `storage_unavailable` when it cannot be read or
/// written (e.g. another process has it open); in every one of these cases
/// nothing in the folder is modified.
std::shared_ptr<engine> open_rocksdb_engine(const std::string& path,
                                            rocksdb_options options = {});

/// Writes a consistent copy of the store `e` to the folder `dest` while
/// appends go on (a RocksDB checkpoint: table files hard-linked where the
/// file system allows, copied otherwise, plus the keys file): the copy holds
/// every append acknowledged before the call, and is itself a store that
/// open_rocksdb_engine opens. `dest` must not exist. Throws
/// `invalid_argument` when `e` is not a RocksDB engine or was opened
/// read-only, `storage_unavailable` when the copy cannot be written (then a
/// partial `dest` may remain).
void checkpoint_rocksdb(engine& e, const std::string& dest);

} // namespace sourcery::storage
