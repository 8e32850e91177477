// The group store (R-SUB-GROUP): persistent subscription groups — consumer
// groups over the global log — kept by the engine.
//
// A group is named; it follows the log from its start position, keeping the
// records its filter accepts. Members (named by the caller, unique within
// the group) claim records, and each claimed record is in that one member's
// hands until it acks it, nacks it, leaves, or its lease runs out. A nack
// counts an attempt: below `group_policy::attempts` the record is offered
// again after a backoff; at that many it is parked — listed, replayed or
// purged, as the outbox's dead letters are (R-OB-DLQ).
//
// The checkpoint: every record at or below it is settled (acked, parked, or
// not accepted by the filter). It advances past settled records only, so an
// engine that keeps it (RocksDB, across restarts) resumes a group without
// losing a record; records claimed but not acked when the process ended are
// offered again (at least once).
//
// Per-stream order (`group_spec::per_stream_order`): a record is claimable
// only when no earlier record of its stream (tenant and stream id) is in a
// member's hands or waiting for its retry, so a stream's records are handled
// one at a time, in position order. A parked record no longer holds its
// stream back.
//
// Every member of a group passes the same filter; records it rejects are
// settled without being offered.
//
// Thread-safety: every member may be called from any thread, any number at
// once. Memory: a claim's and a parked record's views live as long as its
// `owner` (see record.hpp).
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/storage/record.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sourcery::storage {

/// What a group follows; given when it is opened.
struct group_spec {
  std::string name;
  /// A new group offers records with positions above `start`; an existing
  /// one resumes after its checkpoint and ignores it.
  position start = 0;
  /// See the header comment. Must be the same each time a group is opened.
  bool per_stream_order = false;
};

/// How a group treats failures and silence; given with each call that
/// hands out or settles records.
struct group_policy {
  /// Failed attempts after which a record is parked (≥ 1).
  std::uint32_t attempts = 3;
  /// The retry delay after the n-th failure is min(cap, base · 2^(n-1)).
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{10'000};
  /// A claim not acked, nacked or renewed within this time is offered to
  /// the group again (≥ 1 ms).
  std::chrono::milliseconds lease{30'000};
};

/// Which records a group keeps; called with records in position order.
using record_filter = std::function<bool(const record&)>;

/// A record in one member's hands.
struct group_claim {
  storage::record record;
  /// Failed attempts before this one.
  std::uint32_t attempts = 0;
  std::shared_ptr<const void> owner;
};

/// What became of a nacked record.
enum class nack_outcome { retry, parked };

/// A record that failed every attempt.
struct parked_record {
  storage::record record;
  std::uint32_t attempts = 0;
  std::string last_error;
  std::shared_ptr<const void> owner;
};

/// A group's state at one moment.
struct group_status {
  position checkpoint = 0;
  std::size_t in_hand = 0;  // claimed, not settled
  std::size_t waiting = 0;  // read from the log, not claimed (pending or in backoff)
  std::size_t parked = 0;
};

class group_store {
public:
  virtual ~group_store() = default;

  /// Creates the group `spec.name` (checkpoint `spec.start`) unless it
  /// exists. An empty name, or a `per_stream_order` other than the existing
  /// group's → invalid_argument, and nothing changes.
  virtual void open(const group_spec& spec) = 0;
  /// The names of the groups, sorted.
  virtual std::vector<std::string> groups() const = 0;

  /// Hands `member` up to `limit` claimable records of `group`, in position
  /// order, each leased for `policy.lease`; also renews the member's other
  /// claims. Reads further along the log as needed, keeping what `accept`
  /// takes. Empty when nothing is claimable now. Unknown group →
  /// unknown_group.
  virtual std::vector<group_claim> claim(const std::string& group, const std::string& member,
                                         std::size_t limit, const record_filter& accept,
                                         const group_policy& policy) = 0;
  /// Settles the record at `pos` held by `member`. Unknown group →
  /// unknown_group; a record the member does not hold → record_not_held;
  /// nothing changes then.
  virtual void ack(const std::string& group, const std::string& member, position pos) = 0;
  /// Counts a failed attempt of the record at `pos` held by `member`: it is
  /// offered again after the backoff, or parked with `error` once it failed
  /// `policy.attempts` times. Errors as for ack.
  virtual nack_outcome nack(const std::string& group, const std::string& member, position pos,
                            const std::string& error, const group_policy& policy) = 0;
  /// Renews the leases of every claim `member` holds, for `policy.lease`.
  virtual void renew(const std::string& group, const std::string& member,
                     const group_policy& policy) = 0;
  /// Offers every record `member` holds to the group again at once, without
  /// counting an attempt. No-op for a member holding nothing.
  virtual void leave(const std::string& group, const std::string& member) = 0;

  virtual group_status status(const std::string& group) const = 0;
  /// The parked records of `group`, in position order.
  virtual std::vector<parked_record> parked(const std::string& group) const = 0;
  /// Offers parked records (all, or the one at `at`) again with no attempts;
  /// returns how many.
  virtual std::size_t replay(const std::string& group, std::optional<position> at) = 0;
  /// Deletes parked records (all, or the one at `at`); returns how many.
  virtual std::size_t purge(const std::string& group, std::optional<position> at) = 0;

  /// The time until a record of `group` waiting for its retry, or a lease,
  /// comes due; none when nothing waits on time.
  virtual std::optional<std::chrono::milliseconds> next_due(const std::string& group) const = 0;
  /// Calls `changed` once, from any thread, the next time records of `group`
  /// become claimable other than by the log growing (an ack or leave that
  /// frees a stream, a replay); returns an id for `cancel_wake`.
  virtual std::uint64_t notify_change(const std::string& group, std::function<void()> changed) = 0;
  /// Drops a wake-up that has not run; no-op otherwise.
  virtual void cancel_wake(std::uint64_t id) = 0;
};

} // namespace sourcery::storage
