// Group commit (R-ST3): concurrent appends of all tenants share one
// RocksDB write batch and one fsync.
//
// An append goes through two steps:
//  1. Sequencing, under `sequence_mutex_`: the append takes the next
//     positions, its commit hook runs on the caller's thread with them, and
//     it joins the write queue. Positions are assigned only here, one append
//     at a time, so hooks run in position order; a hook that throws leaves
//     `next_position_` where it was — no position is consumed and the next
//     append takes the same ones — and nothing of the append is queued.
//  2. Writing: the first appender to find no leader becomes the leader. It
//     takes every queued commit (a contiguous run of positions, in order),
//     writes them in one WriteBatch (fsync'd for durability full), then
//     publishes them: the records go to the cache, `last()` moves to the
//     last position, and wake-ups run. Appends that queued meanwhile wait
//     for that write to end and then form the next batch: an append never
//     waits more than one commit for others. Each append sleeps on its own
//     condition variable; the leader wakes the appends it wrote and the
//     first queued one (the next leader), never all waiters.
//
// A failed write (I/O error, disk full) fails its batch and every commit
// queued behind it with `storage_unavailable`, and takes the positions back
// so the log stays gap-free; their hooks had run (as when a database's
// commit fails after the transaction's triggers). The next write first asks
// RocksDB to resume.
#pragma once

#include "store.hpp"

#include <sourcery/storage/wake_ups.hpp>

#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace sourcery::storage::rocksdb_detail {

/// One append as it waits for its write.
struct pending_commit {
  /// Its records, built before sequencing; positions are set by `commit`.
  std::vector<std::shared_ptr<stored_record>> records;
  std::string stream_key;
  /// The number in the stream of the first record (index keys count on).
  std::uint64_t first_number = 0;
  std::string state; // the stream's state after the append
  std::span<const char> to_outbox;
  std::uint32_t outbox_shard = 0;

  // Set by the queue, under its write mutex.
  bool done = false;
  /// Wakes this append alone: when it is written, or when it should lead.
  std::condition_variable wake;
  std::string error; // empty = written
};

class commit_queue {
public:
  /// `published` runs on the leader's thread, in position order, once per
  /// written batch, before `last()` covers it.
  commit_queue(store& s, position last,
               std::function<void(std::span<pending_commit* const>)> published);

  /// The last position whose batch is written and published.
  position last() const noexcept { return last_.load(std::memory_order_seq_cst); }

  /// Sequences `c`, runs `hook` with its records, waits until it is written.
  /// Throws what the hook throws (nothing queued, no position consumed),
  /// `storage_full`, or `storage_unavailable` when the write failed.
  void commit(pending_commit& c, const commit_hook& hook);

  /// The wake-ups of the log, run after each published batch.
  storage::wake_ups& wake_ups() noexcept { return wake_ups_; }

private:
  void lead(std::unique_lock<std::mutex>& lock);
  void fail_queued(const std::string& error);

  store& store_;
  std::function<void(std::span<pending_commit* const>)> published_;
  std::atomic<position> last_;

  std::mutex sequence_mutex_;
  position next_position_; // GUARDED_BY(sequence_mutex_)

  // Lock order: sequence_mutex_, then write_mutex_.
  std::mutex write_mutex_;
  std::vector<pending_commit*> queue_; // GUARDED_BY(write_mutex_)
  bool leading_ = false;               // GUARDED_BY(write_mutex_)
  bool resume_ = false;                // GUARDED_BY(write_mutex_): a write failed

  storage::wake_ups wake_ups_;
};

} // namespace sourcery::storage::rocksdb_detail
