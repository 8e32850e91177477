// The RocksDB engine's subscription groups (R-SUB-GROUP): a group_ledger
// whose journal keeps each group under one key of the meta family,
//   "group/" name → u8 layout (1), u8 per-stream order, u64 start,
//                   u64 checkpoint, u32 n, n × (u64 position, u32 attempts,
//                   u8 flags (1 parked, 2 acked above the checkpoint),
//                   string last error)
// written like the outbox's progress (store::state_write: it survives the
// process, not necessarily the machine losing power). Stores written before
// groups existed simply have no such key. Claims and leases are not kept:
// records in hand when the process ended are offered again.
#pragma once

#include "store.hpp"

#include <sourcery/detail/group_ledger.hpp>

namespace sourcery::storage::rocksdb_detail {

class durable_groups final : public group_journal {
public:
  explicit durable_groups(store& st) : store_(st) {}

  void save(const group_spec& spec, position checkpoint,
            std::span<const group_kept_entry> kept) override;
  /// Restores every stored group into `ledger`.
  void restore_into(group_ledger& ledger) const;

private:
  store& store_;
};

} // namespace sourcery::storage::rocksdb_detail
