// Group commit (R-ST3): concurrent appends of all tenants share one
// RocksDB write batch and one fsync, written by one writer thread.
//
// An append goes through two steps:
//  1. Sequencing (`submit`, on the appender's thread, under
//     `sequence_mutex_`): the append takes the next positions, its commit
//     hook runs with them, and it joins the write queue. Positions are
//     assigned only here, one append at a time, so hooks run in position
//     order; a hook that throws leaves `next_position_` where it was — no
//     position is consumed — and nothing of the append is queued.
//  2. Writing, on the writer thread: it takes every queued commit (a
//     contiguous run of positions, in order), writes them in one WriteBatch
//     (fsync'd for durability full; each stream's state once, as its last
//     commit in the batch leaves it), then publishes them: the records go to
//     the cache, `last()` moves to the batch's last position, wake-ups run,
//     and each commit's `written` runs. Appends that queue meanwhile form
//     the next batch, so an append waits at most for one write before its
//     own, and the appender does not wait at all: it learns the outcome
//     from `written`.
//
// A failed write (I/O error, disk full) fails its batch and every commit
// queued behind it with `storage_unavailable`, takes their positions back so
// the log stays gap-free (their hooks had run, as when a database's commit
// fails after the transaction's triggers), and starts a new epoch: a commit
// whose stream state was read in an earlier epoch is refused at sequencing,
// since it may build on a failed one. The next write first asks RocksDB to
// resume.
#pragma once

#include "store.hpp"

#include <sourcery/detail/instruments.hpp>

#include <sourcery/detail/spin_budget.hpp>
#include <sourcery/detail/wake_ups.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace sourcery::storage::rocksdb_detail {

struct pending_commit;

/// Whom the writer tells that a commit is written (or failed).
class commit_owner {
public:
  /// Runs once per commit on the writer thread, after its batch is
  /// published: error empty = written. Must not throw.
  virtual void written(pending_commit& c, const std::string& error) noexcept = 0;

protected:
  ~commit_owner() = default;
};

/// One append as it waits for its write.
struct pending_commit {
  /// Its records, built before sequencing; positions are set by `submit`.
  std::vector<std::shared_ptr<stored_record>> records;
  std::string stream_key;
  /// The number in the stream of the first record (index keys count on).
  std::uint64_t first_number = 0;
  std::string state; // the stream's state after the append
  std::vector<char> to_outbox;
  std::uint32_t outbox_shard = 0;
  /// The epoch its stream state was read in (see `commit_queue::epoch`).
  std::uint64_t epoch = 0;
  /// Told once it is written; null: nobody waits.
  commit_owner* owner = nullptr;
  /// What the owner answers with: the receipt (positions are filled in
  /// once written) and whom.
  append_receipt receipt;
  append_done done;
};

class commit_queue {
public:
  /// `published` runs on the writer thread, in position order, once per
  /// written batch, before `last()` covers it.
  commit_queue(store& s, position last,
               std::function<void(std::span<const std::unique_ptr<pending_commit>>)> published);
  /// Writes what is queued, then stops the writer.
  ~commit_queue();

  /// The last position whose batch is written and published.
  position last() const noexcept { return last_.load(std::memory_order_seq_cst); }

  /// Failed writes so far: stream states read before a failure may count
  /// appends that were never stored.
  std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }

  /// Sequences `c`, runs `hook` with its records and queues it for the
  /// writer (moving from `c` only then); returns its first position. Throws
  /// (nothing queued, no position consumed, `c` left to the caller) what
  /// the hook throws, `storage_full`, or `storage_unavailable` when a write
  /// failed since `c->epoch`.
  position submit(std::unique_ptr<pending_commit>&& c, const commit_hook& hook);

  /// The wake-ups of the log, run after each published batch.
  storage::wake_ups& wake_ups() noexcept { return wake_ups_; }

  /// Events per written batch and the time each write (and its fsync) took
  /// (R-MET).
  const sourcery::detail::histogram& group_events() const noexcept { return group_events_; }
  const sourcery::detail::histogram& write_time() const noexcept { return write_time_; }

private:
  using clock = std::chrono::steady_clock;

  void run();
  bool write(std::vector<std::unique_ptr<pending_commit>>& group, bool resume);

  store& store_;
  std::function<void(std::span<const std::unique_ptr<pending_commit>>)> published_;
  std::atomic<position> last_;
  std::atomic<std::uint64_t> epoch_{0};

  std::mutex sequence_mutex_;
  position next_position_; // GUARDED_BY(sequence_mutex_)

  // Lock order: sequence_mutex_, then write_mutex_.
  std::mutex write_mutex_;
  std::condition_variable queued_;
  std::vector<std::unique_ptr<pending_commit>> queue_; // GUARDED_BY(write_mutex_)
  bool stopping_ = false;                              // GUARDED_BY(write_mutex_)
  std::atomic<bool> queued_any_{false}; // the queue got a commit: stop spinning
  clock::time_point first_queued_;      // GUARDED_BY(write_mutex_): into an empty queue
  // The writer spins before it sleeps while the next append has recently
  // come within 0.1 ms of the last write: a blocking caller's next append
  // (bench_rocksdb (c)), not a 100-event batch's (b). Writer thread only.
  storage::spin_budget idle_{std::chrono::nanoseconds(0), std::chrono::microseconds(100)};

  storage::wake_ups wake_ups_;
  sourcery::detail::histogram group_events_{sourcery::detail::size_bounds()};     // writer thread updates
  sourcery::detail::histogram write_time_{sourcery::detail::latency_bounds(), 1e-9}; // likewise, in ns
  std::thread writer_; // last: starts when everything above is ready
};

} // namespace sourcery::storage::rocksdb_detail
