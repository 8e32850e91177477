// The in-memory engine's outbox entries, in shards of tenants (R-OB).
//
// Entries are added inside the commit (under the global log's lock), so they
// exist exactly for committed events, in position order within each shard.
// A publisher claims entries (pending → in flight) and reports each outcome;
// claiming under the shard's lock means two publishers never hold one entry.
// Fresh entries are taken from a cursor and failed ones from an ordered set,
// so claiming costs O(claimed), never a scan of the backlog.
//
// It is the in-memory engine's `storage::outbox_store`. A claim's handle is
// the address of its entry, which stays put while the entry exists.
#pragma once

#include "memory_log.hpp"

#include <sourcery/storage/admin.hpp>
#include <sourcery/storage/outbox_store.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace sourcery::storage::in_memory_detail {

enum class entry_state : std::uint8_t { pending, in_flight, held, done };

struct outbox_entry {
  explicit outbox_entry(const mem_record* r) : rec(r) {}
  const mem_record* rec;
  std::uint32_t attempts = 0;
  entry_state state = entry_state::pending;
  std::string last_error;
};

class memory_outbox final : public outbox_store {
public:
  explicit memory_outbox(std::size_t shards);

  std::size_t shards() const noexcept override { return shards_.size(); }
  std::size_t shard_of(std::string_view tenant) const noexcept override;

  /// Adds an entry for each record whose flag is set. Called under the
  /// commit lock, after everything that may roll the commit back.
  void add(std::span<const mem_record* const> records, std::span<const char> to_outbox);

  /// Throws invalid_argument for a shard that does not exist.
  std::vector<outbox_claim> claim(std::size_t shard, std::size_t limit) override;
  std::vector<outbox_claim> claim_all(std::size_t limit) override;
  std::optional<outbox_claim> claim_held(std::size_t shard, position pos) override;
  void release_held(std::size_t shard) override;

  std::vector<dead_entry> dead_letters() const override;
  std::size_t requeue(std::optional<position> at) override;
  std::size_t purge(std::optional<position> at) override;
  outbox_counts counts() const override;
  /// store_admin: entries not done, with their attempts, in position order.
  std::vector<pending_entry> pending_entries() const;
  /// store_admin::restore_outbox_entry.
  void restore(position pos, std::uint32_t attempts, const std::string* last_error);
  bool wait_until_empty(std::chrono::milliseconds timeout) const override;

private:
  outbox_outcome report(const outbox_claim& c, const std::string* failure,
                        const outbox_policy& policy) override;

  static outbox_claim claim_of(std::size_t shard, const outbox_entry* e);
  std::size_t total_pending() const;

  void settled(); // a shard's pending count reached 0

  mutable std::mutex empty_mutex_;
  mutable std::condition_variable empty_cv_;

  struct dead_letter {
    const mem_record* rec;
    std::uint32_t attempts;
    std::string last_error;
  };

  struct shard {
    mutable std::mutex mutex;
    std::deque<outbox_entry> entries;          // position order; done ones dropped at the front
    std::size_t fresh = 0;                     // index of the first never-claimed entry
    std::map<position, outbox_entry*> ready;   // failed, pending again
    std::unordered_map<position, outbox_entry*> held; // failed, held for a retry
    std::map<position, dead_letter> dead;
    std::map<position, outbox_entry> requeued; // dead letters given another chance
    std::size_t pending = 0;                   // entries not done
    std::size_t published = 0;
    std::size_t failures = 0;

    /// Position of the next claimable entry, 0 if none.
    position peek() const;
    outbox_entry* take();
    void compact();
  };

  outbox_outcome report_locked(shard& s, outbox_entry* e, const std::string* failure,
                               const outbox_policy& policy);

  std::vector<std::unique_ptr<shard>> shards_;
};

} // namespace sourcery::storage::in_memory_detail
