// Persistent subscription groups (R-SUB-GROUP): consumer groups over the
// global log, kept by the storage engine.
//
//   auto billing = backend.subscriber().group("billing").start_from(0)
//                    .to_category("invoice").per_stream_order().open();
//   auto member = billing.join();
//   for (;;)
//     for (auto& d : member.next(100, std::chrono::seconds(1))) {
//       try { charge(d.event); member.ack(d.event.position); }
//       catch (const std::exception& e) { member.nack(d.event.position, e.what()); }
//     }
//
// A group follows the log from its start position, keeping the records its
// filter accepts; members join and leave at any time. Each record is in one
// member's hands at a time, until that member acks it (done), nacks it
// (retried after a backoff, parked after `attempts` failures, as the
// outbox's dead letters are), leaves, or holds it past its lease (it goes to
// another member). With `per_stream_order()` a stream's records are handed
// out one at a time, in position order. The group's checkpoint is kept by
// the engine and advances past settled records only (acked, parked or not
// matching): a durable engine resumes the group there after a restart, and
// records in hand when a process stopped are offered again (at least once).
//
// Thread-safety: a subscription_group may be used from any thread; a
// group_member by one thread at a time. Different members are independent.
#pragma once

#include <sourcery/events.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sourcery {

namespace detail {
class wiring;
struct group_context;
} // namespace detail

/// A record handed to one member.
struct group_delivery {
  recorded_event event;
  /// Failed attempts before this one (0 the first time).
  std::uint32_t attempts = 0;
};

/// A group's state at one moment.
struct group_status {
  /// Every record at or below it is settled (acked, parked or not matching).
  position checkpoint = 0;
  std::size_t in_hand = 0;  // claimed by a member, not settled
  std::size_t waiting = 0;  // read, not claimed (pending or waiting for a retry)
  std::size_t parked = 0;
};

/// A record that failed every attempt (R-SUB-GROUP-PARK).
struct parked_event {
  position at = 0;
  std::uint32_t attempts = 0;
  std::string last_error;
};

/// One member of a group. Leaves the group when destroyed: the records it
/// holds go to the other members at once.
class group_member {
public:
  explicit group_member(std::shared_ptr<detail::group_context> group, std::string name);
  group_member(group_member&&) noexcept = default;
  group_member& operator=(group_member&&) noexcept;
  ~group_member();

  /// Claims up to `max` records (≥ 1), waiting up to `timelimit` (≥ 100 ms)
  /// for the first: none when it passes. The wait is event-driven (new
  /// records, a record freed by another member, a retry or lease coming
  /// due). Claiming renews the leases of the records this member holds. A
  /// record that cannot be decoded (unknown event, tampered ciphertext) is
  /// not delivered: it is nacked with its error, so it is parked after the
  /// group's attempts.
  std::vector<group_delivery> next(std::size_t max, std::chrono::duration<double> timelimit);
  /// Done with the record at `at`. A record this member does not hold (never
  /// claimed, settled, or given to another member after its lease ran out)
  /// → record_not_held, and nothing changes.
  void ack(position at);
  /// The record at `at` failed: retried after the backoff, or parked once it
  /// failed the group's attempts. Returns true when it was parked. Errors as
  /// for ack.
  bool nack(position at, const std::string& reason);
  /// Renews the leases of the records this member holds (for handling that
  /// takes longer than the lease).
  void renew();
  /// Hands every held record back to the group; the member may claim again.
  void leave();
  const std::string& name() const noexcept { return name_; }

private:
  std::shared_ptr<detail::group_context> group_;
  std::string name_;
};

/// An open group: its members, its checkpoint and its parked records.
class subscription_group {
public:
  explicit subscription_group(std::shared_ptr<detail::group_context> group)
    : group_(std::move(group)) {}

  /// A new member; `name` empty = a fresh unique name. A name unique within
  /// the group is the caller's to choose (e.g. per node and worker).
  group_member join(std::string name = {}) const;
  const std::string& name() const noexcept;
  /// Checkpoint and counts now.
  group_status status() const;
  /// The parked records, in position order.
  std::vector<parked_event> parked() const;
  /// Offers parked records (all, or the one at `at`) again with no
  /// attempts; returns how many.
  std::size_t replay(std::optional<position> at = std::nullopt) const;
  /// Deletes parked records (all, or the one at `at`); returns how many.
  std::size_t purge(std::optional<position> at = std::nullopt) const;

private:
  std::shared_ptr<detail::group_context> group_;
};

class group_builder {
public:
  group_builder(std::shared_ptr<const detail::wiring> actors, std::string name,
                std::optional<std::string> tenant);

  /// A new group offers records with position > `p` (default 0); an
  /// existing group resumes after its checkpoint.
  group_builder& start_from(position p) {
    start_ = p;
    return *this;
  }
  /// Only records of streams in `category`.
  group_builder& to_category(std::string category) {
    filter_.category = std::move(category);
    return *this;
  }
  /// Only records of the given event types.
  template <class... E>
  group_builder& to_events() {
    (filter_.event_types.push_back(typeid(E)), ...);
    return *this;
  }
  /// A stream's records go to one member at a time, in position order
  /// (R-SUB-GROUP-ORDER). Fixed when the group is created.
  group_builder& per_stream_order() {
    per_stream_order_ = true;
    return *this;
  }
  /// Failed attempts before a record is parked (default 3; 0 → invalid_argument).
  group_builder& attempts(int n);
  /// Retry delay after the n-th failure: min(cap, base · 2^(n-1)); default
  /// 100 ms and 10 s.
  group_builder& backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap);
  /// How long a member holds a record without acking, nacking or renewing
  /// before it goes to another member (default 30 s; under 1 ms →
  /// invalid_argument).
  group_builder& lease(std::chrono::milliseconds d);

  /// Opens (creating if new) the group. An engine without groups, or a
  /// per_stream_order() other than the existing group's → invalid_argument.
  subscription_group open();

private:
  std::shared_ptr<const detail::wiring> actors_;
  std::string name_;
  position start_ = 0;
  subscription_filter filter_;
  bool per_stream_order_ = false;
  std::uint32_t attempts_ = 3;
  std::chrono::milliseconds backoff_base_{100}, backoff_cap_{10'000}, lease_{30'000};
};

} // namespace sourcery
