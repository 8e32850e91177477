// What the parts of the RocksDB engine share: the open database with its
// column families, the write options of each durability, the recent-records
// cache, and reading records back.
#pragma once

#include "layout.hpp"

#include <rocksdb/db.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sourcery::storage::rocksdb_detail {

/// The column families, in the order they are opened.
enum class family : std::size_t {
  meta,      // "format" → magic + version; "outbox_shards" → u32
  log,       // position → record
  streams,   // stream key → state
  index,     // stream key + n → position
  snapshots, // stream key → snapshot
  outbox,    // shard + position → attempts
  dead,      // position → attempts + last error
  cursors,   // projection + stream key → version
};
inline constexpr std::size_t family_count = 8;
/// Their names; "default" is the meta family.
extern const char* const family_names[family_count];

/// Throws for a failed status: `storage_corrupt` for corruption,
/// `storage_unavailable` (with RocksDB's message) for anything else.
void check(const rocksdb::Status& s, std::string_view what);

/// Recent records in position order, within a byte budget (R-ST5). Holds
/// a contiguous run of positions ending at the last published one.
class record_cache {
public:
  explicit record_cache(std::size_t budget_bytes) : budget_(budget_bytes) {}

  /// Appends records that follow the cached ones; evicts the oldest past the
  /// budget. @pre records[0].pos is one past the last cached position, or
  /// the cache is empty.
  void add(std::span<const std::shared_ptr<stored_record>> records);
  /// Appends to `out` the cached records of positions [from, to] that are
  /// cached; returns the first position it found (to + 1 when none).
  position get(position from, position to,
               std::vector<std::shared_ptr<const stored_record>>& out) const;
  std::size_t bytes() const;

private:
  const std::size_t budget_;
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<const stored_record>> records_; // GUARDED_BY(mutex_)
  std::size_t bytes_ = 0;                                    // GUARDED_BY(mutex_)
};

/// Records read from the log in one iteration, handed out as views: their
/// bytes copied into a few large chunks (not one allocation each), a stream
/// id kept once for each run of records of one stream.
class log_run {
public:
  /// Keeps a copy of the log value at `p` and appends its view to `out`;
  /// throws `storage_corrupt`.
  void add(position p, std::string_view bytes, std::vector<record>& out);

private:
  std::string_view copy(std::string_view bytes);

  static constexpr std::size_t chunk_size = 1 << 20;
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;  // where the next copy goes, in chunks_.back()
  std::size_t left_ = 0; // bytes free there
  std::deque<stream_id> streams_; // stable: records point at them
  std::string_view last_stream_;  // stored form of streams_.back(), in a chunk
};

struct store {
  store() = default;
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  rocksdb::ColumnFamilyHandle* cf(family f) const { return families[static_cast<std::size_t>(f)]; }

  /// The record at `p`, from the cache or the log; throws `storage_corrupt`
  /// when it is missing.
  std::shared_ptr<const stored_record> record_at(position p) const;
  /// Records of positions [from, to], cached or read from the log in one
  /// iteration, in position order.
  std::vector<std::shared_ptr<const stored_record>> records(position from, position to) const;
  /// The same as views appended to `out.records`, whose `owner` then keeps
  /// them alive (with what it kept before): the log's read path.
  void read_log(position from, position to, record_batch& out) const;

  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  rocksdb::WriteOptions commit_write; // appends, snapshots, deletions: as the durability says
  rocksdb::WriteOptions state_write;  // outbox progress and cursors: written, not fsync'd
  std::unique_ptr<record_cache> cache;
};

} // namespace sourcery::storage::rocksdb_detail
