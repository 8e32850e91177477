// The in-memory engine's outbox entries, in shards of tenants (R-OB).
//
// Entries are added inside the commit (under the global log's lock), so they
// exist exactly for committed events, in position order within each shard.
// A publisher claims entries (pending → in flight) and reports each outcome;
// claiming under the shard's lock means two publishers never hold one entry.
// Fresh entries are taken from a cursor and failed ones from an ordered set,
// so claiming costs O(claimed), never a scan of the backlog.
#pragma once

#include "memory_log.hpp"

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

enum class entry_state : std::uint8_t { pending, in_flight, waiting_retry, done };

struct outbox_entry {
  explicit outbox_entry(const mem_record* r) : rec(r) {}
  const mem_record* rec;
  std::uint32_t attempts = 0;
  entry_state state = entry_state::pending;
  std::string last_error;
};

/// A claimed entry: the publisher's to report on.
struct entry_claim {
  std::size_t shard;
  outbox_entry* entry;
};

using outcome = outbox_outcome;

class memory_outbox {
public:
  explicit memory_outbox(std::size_t shards);

  std::size_t shard_count() const noexcept { return shards_.size(); }
  std::size_t shard_of(std::string_view tenant) const noexcept;

  /// Adds an entry for each record whose flag is set. Called under the
  /// commit lock, after everything that may roll the commit back.
  void add(std::span<const mem_record* const> records, std::span<const char> to_outbox);

  /// Claims up to `limit` pending entries of all shards in position order.
  std::vector<entry_claim> claim_all(std::size_t limit);
  /// Claims up to `limit` pending entries of one shard in position order.
  std::vector<entry_claim> claim(std::size_t shard, std::size_t limit);

  /// Reports a publish: success finishes the entry; a failure counts an
  /// attempt and, below `max_attempts`, makes it pending again (or waiting
  /// for a scheduled retry when `scheduled_retry`), else moves it to the
  /// dead letters.
  outcome report(const entry_claim& c, const std::string* failure, int max_attempts,
                 bool scheduled_retry);

  /// A scheduled retry is due: claims the entry at `pos` if it still waits.
  std::optional<entry_claim> claim_retry(std::size_t shard, position pos);
  /// Makes every waiting retry of `shard` pending again (its dispatcher stopped).
  void release_waiting(std::size_t shard);

  std::vector<dead_entry> dead_letters() const;
  std::size_t requeue(std::optional<position> at);
  std::size_t purge(std::optional<position> at);
  outbox_counts counts() const;
  /// Waits until no shard has pending entries, at most `timeout`.
  bool wait_until_empty(std::chrono::milliseconds timeout) const;

private:
  std::size_t total_pending() const;

  void settled(); // a shard's pending count reached 0

  mutable std::mutex empty_mutex_;
  mutable std::condition_variable empty_cv_;

  struct dead_letter {
    const mem_record* rec;
    int attempts;
    std::string last_error;
  };

  struct shard {
    mutable std::mutex mutex;
    std::deque<outbox_entry> entries;          // position order; done ones dropped at the front
    std::size_t fresh = 0;                     // index of the first never-claimed entry
    std::map<position, outbox_entry*> ready;   // failed, pending again
    std::unordered_map<position, outbox_entry*> waiting; // failed, retry scheduled
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

  outcome report_locked(shard& s, const entry_claim& c, const std::string* failure,
                        int max_attempts, bool scheduled_retry);

  std::vector<std::unique_ptr<shard>> shards_;
};

} // namespace sourcery::storage::in_memory_detail
