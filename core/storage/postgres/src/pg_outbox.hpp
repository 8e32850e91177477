// The PostgreSQL engine's outbox (R-OB, R-N3): rows of the `outbox` table,
// inserted in the transaction of their events, shared by every node.
//
// It is the PostgreSQL engine's `storage::outbox_store`, shared by every
// node (`shared()` is true); a claim's handle is its row's position.
//
// A claim is a row claim: `claim` marks up to `limit` pending rows as claimed
// by this node (state 1, owner = this node's id, lease_until = now + lease),
// choosing them with FOR UPDATE SKIP LOCKED so that nodes claiming at once
// never wait for or take each other's rows. A claimed (or held) row whose
// lease ran out is pending again for every node: the claims of a node that
// died are published by another. Attempts and dead letters are columns and
// rows of the database, so every node sees the same.
//
// A report only changes a row this node still holds; a report for a row it
// no longer holds (its lease ran out and another node took it) throws
// `invalid_argument` and changes nothing.
//
// `published` and `failures` in the counts are this node's, since it started
// (as for the other engines); `pending` and `dead` are the database's.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include "connection.hpp"

#include <sourcery/storage/outbox_store.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace sourcery::storage::postgres_detail {

class pg_outbox final : public outbox_store {
public:
  pg_outbox(std::shared_ptr<pool> connections, std::string schema, std::size_t shards,
            std::chrono::milliseconds lease);

  std::size_t shards() const noexcept override { return shards_; }
  std::size_t shard_of(std::string_view tenant) const noexcept override;

  /// Throws invalid_argument for a shard that does not exist.
  std::vector<outbox_claim> claim(std::size_t shard, std::size_t limit) override;
  std::vector<outbox_claim> claim_all(std::size_t limit) override;
  std::optional<outbox_claim> claim_held(std::size_t shard, position pos) override;
  void release_held(std::size_t shard) override;
  std::vector<dead_entry> dead_letters() const override;
  std::size_t requeue(std::optional<position> at) override;
  std::size_t purge(std::optional<position> at) override;
  outbox_counts counts() const override;
  bool wait_until_empty(std::chrono::milliseconds timeout) const override;
  bool shared() const noexcept override { return true; }
  /// The time until the earliest running lease of `shard` ends; none when
  /// no row of `shard` is claimed or held with a lease still running.
  std::optional<std::chrono::milliseconds> next_release(std::size_t shard) const override;

  /// Entries may have left the outbox (a report here or a notification
  /// from another node): wakes wait_until_empty.
  void changed() noexcept;

private:
  outbox_outcome report(const outbox_claim& c, const std::string* failure,
                        const outbox_policy& policy) override;
  /// Claims pending rows of `shard` (none = all shards).
  std::vector<outbox_claim> claim_rows(std::optional<std::size_t> shard, std::size_t limit);
  std::vector<outbox_claim> claims_of(result_ptr r) const;
  std::size_t pending() const;

  std::shared_ptr<pool> pool_;
  const std::string schema_;
  const std::size_t shards_;
  const std::chrono::milliseconds lease_;
  const uuid node_; // this engine's id in the owner column
  const std::string channel_;

  std::atomic<std::size_t> published_{0}, failures_{0};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::uint64_t generation_ = 0; // GUARDED_BY(mutex_)
};

} // namespace sourcery::storage::postgres_detail
