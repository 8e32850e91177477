// The storage interface (R-ST1): everything the runtime keeps, behind one
// abstract engine. The runtime (actors/) talks only to this header; each
// engine (in_memory, and the durable ones) is a folder that implements it
// and knows nothing of actors.
//
// An engine holds: committed events with their positions (the global log),
// the streams of each tenant (versions, snapshots, deletions), outbox entries
// (attempts, dead letters), data-subject keys per tenant, projector cursors.
//
// Thread-safety: every member function may be called from any thread, any
// number of threads at once, unless its comment says otherwise. Memory: a
// `record` holds views; they stay valid while the `record_batch` (or claim)
// that carried them lives, and — for engines whose `owns_records()` is true,
// like in_memory — while the engine lives.
#pragma once

#include <sourcery/encryption.hpp>
#include <sourcery/events.hpp>
#include <sourcery/filters.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery::storage {

/// One committed event as stored: the raw event plus where it was committed.
struct record {
  sourcery::position position = 0;
  std::string_view tenant;
  const sourcery::stream_id* stream = nullptr;
  uuid id{};
  std::int64_t created_us = 0;
  std::uint64_t version = 0; // 0 = versionless stream
  std::string_view type;     // the registered name it was written under
  std::string_view data;     // JSON, encrypted fields encrypted
  std::string_view context;  // JSON
  std::uint32_t schema = 1;  // schema version of the type it was written with (R-UP1)

  std::optional<sourcery::version> opt_version() const noexcept {
    return version == 0 ? std::nullopt : std::optional<sourcery::version>(version);
  }
};

/// Records returned by one read, with whatever keeps their memory alive.
struct record_batch {
  std::vector<record> records;
  /// Owns the memory the records view, when the engine does not.
  std::shared_ptr<const void> owner;
};

/// A stream's state: versioned streams count versions, versionless ones
/// count events.
struct stream_info {
  bool versionless = false;
  version current = 0;
};

/// What `stream_store::read` returns: the latest snapshot within the range
/// and the events after it within the range, in version order.
struct stream_read {
  std::optional<raw_event> snapshot;
  record_batch events;
};

/// Runs inside a commit with its records (positions and versions assigned)
/// before they become visible to readers: the in-transaction listeners. A
/// throw rolls the commit back — nothing stored, no position consumed — and
/// propagates to the caller of `append`.
using commit_hook = std::function<void(std::span<const record>)>;

/// How an asynchronous append ended: the receipt, or (receipt empty) the
/// error that stopped it.
using append_done = std::function<void(std::optional<append_receipt>, std::exception_ptr)>;

/// The streams of one tenant.
///
/// Appends to one stream are serialised by the engine: of two appends with
/// the same expected version exactly one succeeds (R-ES1). Reads see every
/// append that returned before they started.
class stream_store {
public:
  virtual ~stream_store() = default;

  /// The tenant these streams belong to.
  virtual const std::string& tenant() const noexcept = 0;

  /// Commits `events` to `stream` atomically (R-ST1): checks `expected`
  /// against the stream (`check_append`), assigns consecutive positions and
  /// versions, runs `hook`, adds an outbox entry for each event whose
  /// `to_outbox` flag is set (empty span = none), then makes everything
  /// visible at once. On any throw nothing is stored and no position is
  /// consumed. Throws the errors of `check_append`, `storage_full` when the
  /// log cannot take more positions, and whatever `hook` throws.
  virtual append_receipt append(const stream_id& stream, expected_version expected,
                                std::span<const raw_event> events,
                                std::span<const char> to_outbox, const commit_hook& hook) = 0;

  /// The same commit, without waiting for it to be durable: checks, assigns
  /// positions and versions and runs `hook` before it returns, then `done`
  /// runs exactly once — with the receipt once the commit is as durable as
  /// `append`'s, or with the error (nothing stored, no position consumed) —
  /// on any thread: this one before returning (always for engines that
  /// commit synchronously, and for errors found before the commit is
  /// queued), or the engine's writer. `done` must be quick and must not call
  /// back into this engine's appends.
  ///
  /// Appends to one stream are checked in the order of their calls, each
  /// against the stream as the earlier ones leave it, acknowledged or not:
  /// a caller may pipeline appends to one stream. If an earlier one then
  /// fails to be written, the later ones fail too. The default commits with
  /// `append` and calls `done` before returning.
  virtual void append_async(const stream_id& stream, expected_version expected,
                            std::span<const raw_event> events, std::span<const char> to_outbox,
                            const commit_hook& hook, append_done done) {
    std::optional<append_receipt> receipt;
    std::exception_ptr error;
    try {
      receipt = append(stream, expected, events, to_outbox, hook);
    } catch (...) {
      error = std::current_exception();
    }
    done(std::move(receipt), std::move(error));
  }

  /// The stream's state; none when absent (never appended, or deleted).
  virtual std::optional<stream_info> info(const stream_id& stream) const = 0;

  /// The stream's latest snapshot and the events after it whose versions are
  /// in [start, stop) (versionless events are always in range). An absent
  /// stream reads as empty.
  virtual stream_read read(const stream_id& stream, std::optional<version> start,
                           std::optional<version> stop) const = 0;

  /// Saves `snapshot` as the stream's latest (R-ES3); earlier snapshots and
  /// events are no longer read. Its version must equal the stream's current
  /// version (none = current; versionless streams take none), else
  /// `versioning_mismatch`, also for an absent stream.
  virtual void save_snapshot(const stream_id& stream, raw_event snapshot) = 0;

  /// Removes the stream (R-ES4); its events stay in the global log. No-op
  /// when absent.
  virtual void remove(const stream_id& stream) = 0;
};

/// Identifies one projector cursor: a projection's progress through one stream.
struct cursor_key {
  std::string projection;
  std::string tenant_id;
  sourcery::stream_id stream;

  friend bool operator==(const cursor_key&, const cursor_key&) = default;
};

std::size_t hash_value(const cursor_key& key) noexcept;

/// An outbox entry handed to one publisher. Its record's memory lives as
/// long as the claim (see `record_batch`).
struct outbox_claim {
  std::size_t shard = 0;
  storage::record record;
  /// Failed attempts before this one.
  std::uint32_t attempts = 0;
  /// The engine's reference to the entry; opaque to the runtime.
  std::uint64_t handle = 0;
  std::shared_ptr<const void> owner;
};

/// What became of a reported entry.
enum class outbox_outcome { done, retry, dead };

/// An entry that failed every attempt (R-OB-DLQ).
struct dead_entry {
  storage::record record;
  int attempts = 0;
  std::string last_error;
  std::shared_ptr<const void> owner;
};

/// Called once, from any thread, when the log has a position above the one
/// a wake-up was registered for.
using wake_fn = std::function<void()>;

class engine {
public:
  virtual ~engine() = default;

  /// The engine's name as in configuration ("in_memory", "rocksdb", …).
  virtual std::string_view name() const noexcept = 0;

  /// The streams of `tenant`, created on first use; the same object for the
  /// same tenant. @pre `tenant` is a valid tenant id (R-T1).
  virtual std::shared_ptr<stream_store> streams(const std::string& tenant) = 0;

  // -- the global log (R-P1, R-SUB-ORDER) -------------------------------------

  /// The last committed position; 0 when nothing was committed. Every record
  /// up to it is readable.
  virtual position last_position() const = 0;

  /// Appends to `out` up to `max` records with positions above `after`, in
  /// position order, without gaps, none above last_position() at the call.
  virtual void read(position after, std::size_t max, record_batch& out) const = 0;

  /// Calls `wake` once, as soon as last_position() > `after` (at once if it
  /// already is), from the committing thread or this one. Returns an id for
  /// `cancel`.
  virtual std::uint64_t notify_after(position after, wake_fn wake) = 0;
  /// Drops a wake-up that has not run; no-op for one that ran or an unknown id.
  virtual void cancel(std::uint64_t id) = 0;
  /// Drops every wake-up (at shutdown).
  virtual void cancel_all() = 0;

  // -- the outbox (R-OB) --------------------------------------------------------

  /// Entries are kept in shards of tenants; one dispatcher serves a shard.
  virtual std::size_t outbox_shards() const noexcept = 0;
  virtual std::size_t outbox_shard_of(std::string_view tenant) const noexcept = 0;
  /// Claims up to `limit` pending entries of `shard` in position order.
  /// A claimed entry is in no other claim until reported.
  virtual std::vector<outbox_claim> outbox_take(std::size_t shard, std::size_t limit) = 0;
  /// As above, over all shards, in position order.
  virtual std::vector<outbox_claim> outbox_take_all(std::size_t limit) = 0;
  /// Reports a publish of claim `c`. Success (`failure` null) finishes the
  /// entry. A failure counts an attempt; below `max_attempts` the entry is
  /// pending again — or, with `hold_for_retry`, held for `outbox_take_retry`
  /// — else it moves to the dead letters.
  virtual outbox_outcome outbox_report(const outbox_claim& c, const std::string* failure,
                                       int max_attempts, bool hold_for_retry) = 0;
  /// One claim's publish attempt, for `outbox_report_all`.
  struct attempt {
    const outbox_claim* claim = nullptr;
    const std::string* failure = nullptr; // none = published
  };
  /// `outbox_report` for several claims, in order; returns their outcomes.
  /// An engine may record them in one write (the default reports one by
  /// one). On a throw, the claims not recorded are pending again.
  virtual std::vector<outbox_outcome> outbox_report_all(std::span<const attempt> attempts,
                                                        int max_attempts, bool hold_for_retry) {
    std::vector<outbox_outcome> out;
    out.reserve(attempts.size());
    for (const auto& a : attempts)
      out.push_back(outbox_report(*a.claim, a.failure, max_attempts, hold_for_retry));
    return out;
  }
  /// Claims the held entry at `pos` of `shard`; none when it is not held.
  virtual std::optional<outbox_claim> outbox_take_retry(std::size_t shard, position pos) = 0;
  /// Makes every held entry of `shard` pending again (its dispatcher stopped).
  virtual void outbox_release_held(std::size_t shard) = 0;
  virtual std::vector<dead_entry> outbox_dead_letters() const = 0;
  /// Moves dead letters (all, or the one at `at`) back to pending with no
  /// attempts; returns how many moved.
  virtual std::size_t outbox_requeue(std::optional<position> at) = 0;
  /// Deletes dead letters (all, or the one at `at`); returns how many.
  virtual std::size_t outbox_purge(std::optional<position> at) = 0;
  virtual outbox_counts outbox_count() const = 0;
  /// Blocks until no entry is pending or `timeout` passed; event-driven.
  virtual bool outbox_wait_until_empty(std::chrono::milliseconds timeout) const = 0;
  /// Whether other processes add entries to this outbox and claim from it
  /// (several nodes on one database, R-N3). Then an idle dispatcher is woken
  /// also when the log grows (another node may have committed entries) and
  /// when a lease of `shard` ends (outbox_next_release). False by default.
  virtual bool outbox_shared() const noexcept { return false; }
  /// For a shared outbox: the time until the earliest lease of an entry of
  /// `shard` claimed or held by anyone runs out (the entry is pending for
  /// every node then); none when no lease of `shard` is running.
  virtual std::optional<std::chrono::milliseconds> outbox_next_release(std::size_t shard) const {
    (void)shard;
    return std::nullopt;
  }

  // -- keys and cursors ---------------------------------------------------------

  /// The data-subject keys of every tenant (R-EN, R-ST4).
  virtual std::shared_ptr<key_storage> keys() = 0;

  /// A projector cursor: the last projected version; none when unset.
  virtual std::optional<version> load_cursor(const cursor_key& key) const = 0;
  virtual void store_cursor(const cursor_key& key, version v) = 0;

  // -- figures ------------------------------------------------------------------

  /// Bytes held in memory by records and their indexes (for the harness).
  virtual std::size_t memory_bytes() const = 0;
};

/// The versions an append assigns, checked against the stream (R-ES1): one
/// rule for every engine. `current` is the stream's state (none = absent).
/// Returns the versions (0 for versionless). Throws `invalid_argument` for no
/// events, `concurrent_stream_write_error`,
/// `expected_version_used_on_versionless_stream`,
/// `no_expected_version_given_on_versioned_stream`, `versioning_mismatch`,
/// whose messages name `stream` of `tenant`.
std::vector<std::uint64_t> check_append(const std::optional<stream_info>& current,
                                        expected_version expected,
                                        std::span<const raw_event> events,
                                        const stream_id& stream, std::string_view tenant);

/// Checks a snapshot against the stream (R-ES3) and fills in its version;
/// throws `versioning_mismatch`.
void check_snapshot(const std::optional<stream_info>& current, raw_event& snapshot,
                    const stream_id& stream, std::string_view tenant);

/// "stream <id>[ of tenant 't']", for messages.
std::string describe_stream(const stream_id& stream, std::string_view tenant);

} // namespace sourcery::storage
