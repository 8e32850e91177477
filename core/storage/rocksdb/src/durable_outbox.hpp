// The RocksDB engine's outbox (R-OB, R-ST4): entries live in the `outbox`
// column family (shard, position → failed attempts), written in the same
// batch as their events; dead letters in `dead` (position → attempts, last
// error).
//
// Memory holds only what is in motion, never the backlog (R-ST5): per shard
// a scan cursor — every pending entry at or after it has never been claimed
// in this run and is found by iterating RocksDB from it — and the entries
// before it that are claimed, held for a retry, or failed and pending again.
// After a restart the cursor starts at 0, so every stored entry is pending
// again with its stored attempt count: claims in flight when the process
// ended are simply claimable again (at-least-once).
//
// Progress (a publish, an attempt, a dead letter) is written to the WAL
// without fsync: a process crash loses none of it; a machine crash may
// forget the last few, and those entries are published again.
//
// It is the RocksDB engine's `storage::outbox_store`; a claim's handle is
// its entry's position.
//
// Thread-safety: every member may be called from any thread; one mutex
// guards the shards (claims and reports are short next to a publish).
#pragma once

#include "commit_queue.hpp"
#include "store.hpp"

#include <sourcery/storage/admin.hpp>
#include <sourcery/storage/outbox_store.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sourcery::storage::rocksdb_detail {

class durable_outbox final : public outbox_store {
public:
  /// Reads the stored entries' counts. `last` is the last readable position.
  durable_outbox(store& s, std::size_t shards, std::function<position()> last);

  /// Moves the stored entries from `from` shards to `to` shards (a store
  /// reopened with another shard count) and records `to` in the meta family.
  static void reshard(store& s, std::size_t from, std::size_t to);

  std::size_t shards() const noexcept override { return shards_.size(); }
  /// A stable hash of the tenant (FNV-1a): stored keys depend on it.
  std::size_t shard_of(std::string_view tenant) const noexcept override;
  static std::size_t shard_of(std::string_view tenant, std::size_t shards) noexcept;

  /// A batch was written: counts its entries as pending. noexcept.
  void added(std::span<const std::unique_ptr<pending_commit>> group) noexcept;

  /// Throws invalid_argument for a shard that does not exist.
  std::vector<outbox_claim> claim(std::size_t shard, std::size_t limit) override;
  std::vector<outbox_claim> claim_all(std::size_t limit) override;
  std::optional<outbox_claim> claim_held(std::size_t shard, position pos) override;
  void release_held(std::size_t shard) override;
  std::vector<dead_entry> dead_letters() const override;
  std::size_t requeue(std::optional<position> at) override;
  std::size_t purge(std::optional<position> at) override;
  outbox_counts counts() const override;
  /// store_admin: the stored entries with their attempts, in position order.
  std::vector<pending_entry> pending_entries() const;
  /// store_admin::restore_outbox_entry.
  void restore(position pos, std::uint32_t attempts, const std::string* last_error);
  bool wait_until_empty(std::chrono::milliseconds timeout) const override;

private:
  outbox_outcome report(const outbox_claim& c, const std::string* failure,
                        const outbox_policy& policy) override;
  /// Several reports in one write.
  std::vector<outbox_outcome> report_all(std::span<const outbox_attempt> attempts,
                                         const outbox_policy& policy) override;

  struct candidate {
    position pos;
    std::uint32_t attempts;
    bool fresh; // found by the scan, not in `ready`
  };

  struct shard {
    position cursor = 0;                                 // see the file comment
    std::map<position, std::uint32_t> ready;             // failed, pending again
    std::unordered_map<position, std::uint32_t> held;    // failed, held for a retry
    std::unordered_set<position> in_flight;
    std::size_t pending = 0; // stored entries (in flight and held included)
  };

  std::vector<candidate> candidates(std::size_t index, std::size_t limit) const;
  /// The records of `cs`, in their order.
  std::vector<std::shared_ptr<const stored_record>> records_of(std::span<const candidate> cs) const;
  outbox_claim claim_of(std::size_t index, const candidate& c,
                        std::shared_ptr<const stored_record> rec);
  std::size_t total_pending() const;

  store& store_;
  std::function<position()> last_;
  mutable std::mutex mutex_;
  mutable std::condition_variable empty_;
  std::vector<shard> shards_;  // GUARDED_BY(mutex_)
  std::size_t dead_ = 0;       // GUARDED_BY(mutex_)
  std::size_t published_ = 0;  // GUARDED_BY(mutex_)
  std::size_t failures_ = 0;   // GUARDED_BY(mutex_)
};

} // namespace sourcery::storage::rocksdb_detail
