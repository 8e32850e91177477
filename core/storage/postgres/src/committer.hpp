// Group commit across tenants, and positions across nodes (R-ST3, R-N1,
// R-N2).
//
// Appends of this node queue up; the first to find no leader leads: it takes
// every queued append and commits them in one transaction on its own
// connection, in two round trips (the steps of committer::run):
//
//  1. BEGIN; lock the streams' rows (an upsert that creates a placeholder row
//     with current = 0 for an absent stream, in key order so two nodes never
//     deadlock); lock the counter row `head` and read the last position.
//  2. Here, with both locks held: each append in turn is checked against its
//     stream (check_append), takes the next positions and runs its hook; an
//     append that fails its check or hook is left out (it gets the error) and
//     the next one takes the same positions. An append that repeats one an
//     earlier transaction stored (R-ES6) gets that one's receipt and is left
//     out too; only on a conflict are the stream's stored events read, in
//     this transaction.
//  3. Insert the events and outbox entries, write the streams' states and the
//     counter, NOTIFY the new last position, COMMIT.
//
// The other appenders sleep, each on a completion_latch, until the leader
// has answered them, or until the first still queued is to lead next.
//
// The counter's row lock is held until COMMIT has made the transaction
// visible, so the commits that take positions are serialised across all
// nodes: a transaction takes positions only after the one before it is
// visible, hence a position is never visible before every lower one. Nothing
// is numbered outside a transaction: a rolled-back transaction consumes no
// position (its counter update is rolled back with it).
//
// Appends that queue while a leader commits form the next group: an append
// never waits more than one commit for others. The appenders of a group come
// back together once it commits, and the first back (usually the leader
// itself) would otherwise commit alone while the others queue behind it; so
// a new leader gathers first: it waits until as many appends queue as the
// previous group had, or half the previous commit's time (at most 2 ms),
// whichever comes first. Hooks run on the leader's thread, in position order.
#pragma once

#include "connection.hpp"

#include <sourcery/detail/completion_latch.hpp>
#include <sourcery/detail/instruments.hpp>
#include <sourcery/storage/engine.hpp>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace sourcery::storage::postgres_detail {

/// One append as it waits for its commit.
struct pending_append {
  std::string_view tenant;
  const stream_id* stream = nullptr;
  std::string key; // stream_key(tenant, stream)
  expected_version expected;
  std::span<const raw_event> events;
  std::span<const char> to_outbox;
  const commit_hook* hook = nullptr;
  std::int32_t shard = 0;

  // Set by the leader, under the queue's mutex.
  bool done = false;
  std::exception_ptr error;
  append_receipt receipt;
  /// What the append's thread sleeps on while another leads (released when
  /// it is done or is to lead); null while it does not sleep. GUARDED_BY the
  /// committer's mutex_.
  completion_latch* wake = nullptr;
};

/// The leader's transaction for one group (committer.cpp).
struct group_transaction;

class committer {
public:
  /// `published` runs on the leader's thread after a commit, with its last
  /// position, before the group's appends return.
  committer(connection_settings settings, std::string schema,
            std::function<void(position)> published);

  /// Commits `a` (possibly with others); returns its receipt or throws its
  /// error: the errors of check_append, what its hook threw, `storage_full`,
  /// `storage_unavailable`.
  append_receipt commit(pending_append& a);

  /// Events per committed group and the time each group's transaction took
  /// (R-MET).
  const sourcery::detail::histogram& group_events() const noexcept { return group_events_; }
  const sourcery::detail::histogram& commit_time() const noexcept { return commit_time_; }

private:
  void wait_for_leader(pending_append& a, std::unique_lock<std::mutex>& lock);
  void lead(std::unique_lock<std::mutex>& lock);
  void gather(std::unique_lock<std::mutex>& lock);
  void run(std::span<pending_append* const> group);

  // The steps of run(), one per phase of the file comment.
  connection& leader_connection();
  group_transaction lock_streams_and_counter(connection& c,
                                             std::span<pending_append* const> group);
  void check_number_and_run_hooks(connection& c, std::span<pending_append* const> group,
                                  group_transaction& t) const;
  bool write_and_commit(connection& c, group_transaction& t);
  std::vector<statement> event_inserts(const group_transaction& t) const;
  std::vector<statement> outbox_inserts(const group_transaction& t) const;
  statement stream_updates(const group_transaction& t) const;

  const connection_settings settings_;
  const std::string schema_;
  std::function<void(position)> published_;

  std::unique_ptr<connection> conn_; // the leader's alone

  std::mutex mutex_;
  std::vector<pending_append*> queue_; // GUARDED_BY(mutex_)
  bool leading_ = false;               // GUARDED_BY(mutex_)
  // Gathering (see the file comment).
  std::condition_variable arrived_;
  std::size_t gather_until_ = 0;              // GUARDED_BY(mutex_): 0 = not gathering
  std::size_t last_group_ = 0;                // GUARDED_BY(mutex_)
  std::chrono::microseconds last_commit_{0};  // GUARDED_BY(mutex_)

  sourcery::detail::histogram group_events_{sourcery::detail::size_bounds()};       // leaders update
  sourcery::detail::histogram commit_time_{sourcery::detail::latency_bounds(), 1e-9}; // in ns
};

} // namespace sourcery::storage::postgres_detail
