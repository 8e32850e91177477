// The PostgreSQL engine's outbox (R-OB, R-N3): rows of the `outbox` table,
// inserted in the transaction of their events, shared by every node.
//
// A claim is a row claim: `take` marks up to `limit` pending rows as claimed
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

#include <sourcery/storage/engine.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace sourcery::storage::postgres_detail {

class pg_outbox {
public:
  pg_outbox(std::shared_ptr<pool> connections, std::string schema, std::size_t shards,
            std::chrono::milliseconds lease);

  std::size_t shard_count() const noexcept { return shards_; }
  std::size_t shard_of(std::string_view tenant) const noexcept;

  std::vector<outbox_claim> take(std::optional<std::size_t> shard, std::size_t limit);
  outbox_outcome report(const outbox_claim& c, const std::string* failure, int max_attempts,
                        bool hold_for_retry);
  std::optional<outbox_claim> take_retry(std::size_t shard, position pos);
  void release_held(std::size_t shard);
  std::vector<dead_entry> dead_letters() const;
  std::size_t requeue(std::optional<position> at);
  std::size_t purge(std::optional<position> at);
  outbox_counts counts() const;
  bool wait_until_empty(std::chrono::milliseconds timeout) const;
  /// The time until the earliest running lease of `shard` ends; none when
  /// no row of `shard` is claimed or held with a lease still running.
  std::optional<std::chrono::milliseconds> next_release(std::size_t shard) const;

  /// Entries may have left the outbox (a report here or a notification
  /// from another node): wakes wait_until_empty.
  void changed() noexcept;

private:
  std::vector<outbox_claim> claims(result_ptr r) const;
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
