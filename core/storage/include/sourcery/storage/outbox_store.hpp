// The outbox store (R-OB, R-OB-DLQ, R-N3): the entries of committed events
// still to publish, kept by the engine in shards of tenants (one dispatcher
// serves a shard), with their failed attempts and the dead letters.
//
// Entries are added by the append that commits their events (the
// `to_outbox` flags of `stream_store::append`). A publisher claims entries,
// publishes them and reports each outcome through an `outbox_reporter`,
// opened once with the `outbox_policy` its failures follow. A claimed entry
// is in no other claim until reported. A failed entry is pending again, or
// held for its publisher's retry, or — once it failed `policy.attempts`
// times — a dead letter.
//
// Thread-safety: every member may be called from any thread, any number at
// once. Memory: a claim's and a dead entry's record live as long as the
// claim or entry (see record.hpp).
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/storage/record.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery::storage {

/// An outbox entry handed to one publisher.
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
  std::uint32_t attempts = 0;
  std::string last_error;
  std::shared_ptr<const void> owner;
};

/// How the outbox treats one publisher's failures; given once, when the
/// publisher opens the outbox (`outbox_store::open`).
struct outbox_policy {
  /// Failed attempts after which an entry moves to the dead letters (≥ 1;
  /// the `sourcery.outbox-attempts` setting).
  std::uint32_t attempts = 3;
  /// Whether an entry that failed fewer times is held for its publisher's
  /// retry (`outbox_store::claim_held`) rather than pending again at once.
  bool hold_for_retry = false;
};

/// One claim's publish attempt, for `outbox_reporter::report_all`.
struct outbox_attempt {
  const outbox_claim* claim = nullptr;
  const std::string* failure = nullptr; // none = published
};

class outbox_store;

/// A publisher's reports, under the policy the outbox was opened with. A
/// small value (the store and the policy); valid while the engine lives.
class outbox_reporter {
public:
  /// Reports a publish of claim `c`. Success (`failure` null) finishes the
  /// entry. A failure counts an attempt; below `policy().attempts` the entry
  /// is pending again — or, with `policy().hold_for_retry`, held for
  /// `claim_held` — else it moves to the dead letters.
  outbox_outcome report(const outbox_claim& c, const std::string* failure) const;
  /// `report` for several claims, in order; returns their outcomes. An
  /// engine may record them in one write. On a throw, the claims not
  /// recorded are pending again.
  std::vector<outbox_outcome> report_all(std::span<const outbox_attempt> attempts) const;

  const outbox_policy& policy() const noexcept { return policy_; }

private:
  friend class outbox_store;
  outbox_reporter(outbox_store& store, outbox_policy policy) : store_(&store), policy_(policy) {}

  outbox_store* store_;
  outbox_policy policy_;
};

class outbox_store {
public:
  virtual ~outbox_store() = default;

  /// The reporter of a publisher whose failures follow `policy`.
  outbox_reporter open(outbox_policy policy) noexcept { return outbox_reporter(*this, policy); }

  /// The number of shards; at least 1.
  virtual std::size_t shards() const noexcept = 0;
  /// The shard that holds `tenant`'s entries.
  virtual std::size_t shard_of(std::string_view tenant) const noexcept = 0;

  /// Claims up to `limit` pending entries of `shard` in position order.
  virtual std::vector<outbox_claim> claim(std::size_t shard, std::size_t limit) = 0;
  /// As above, over all shards, in position order.
  virtual std::vector<outbox_claim> claim_all(std::size_t limit) = 0;
  /// Claims the held entry at `pos` of `shard` (its retry is due); none when
  /// it is not held.
  virtual std::optional<outbox_claim> claim_held(std::size_t shard, position pos) = 0;
  /// Makes every held entry of `shard` pending again (its dispatcher stopped).
  virtual void release_held(std::size_t shard) = 0;

  /// The dead letters, in position order.
  virtual std::vector<dead_entry> dead_letters() const = 0;
  /// Moves dead letters (all, or the one at `at`) back to pending with no
  /// attempts; returns how many moved.
  virtual std::size_t requeue(std::optional<position> at) = 0;
  /// Deletes dead letters (all, or the one at `at`); returns how many.
  virtual std::size_t purge(std::optional<position> at) = 0;

  virtual outbox_counts counts() const = 0;
  /// Blocks until no entry is pending or `timeout` passed; event-driven.
  virtual bool wait_until_empty(std::chrono::milliseconds timeout) const = 0;

  /// Whether other processes add entries to this outbox and claim from it
  /// (several nodes on one database, R-N3). Then an idle dispatcher is woken
  /// also when the log grows (another node may have committed entries) and
  /// when a lease of its shard ends (`next_release`). False by default.
  virtual bool shared() const noexcept { return false; }
  /// For a shared outbox: the time until the earliest lease of an entry of
  /// `shard` claimed or held by anyone runs out (the entry is pending for
  /// every node then); none when no lease of `shard` is running.
  virtual std::optional<std::chrono::milliseconds> next_release(std::size_t shard) const {
    (void)shard;
    return std::nullopt;
  }

protected:
  friend class outbox_reporter;

  /// The engine's side of `outbox_reporter::report`, with the reporter's policy.
  virtual outbox_outcome report(const outbox_claim& c, const std::string* failure,
                                const outbox_policy& policy) = 0;
  /// The engine's side of `outbox_reporter::report_all`; the default
  /// reports the claims one by one.
  virtual std::vector<outbox_outcome> report_all(std::span<const outbox_attempt> attempts,
                                                 const outbox_policy& policy) {
    std::vector<outbox_outcome> out;
    out.reserve(attempts.size());
    for (const auto& a : attempts)
      out.push_back(report(*a.claim, a.failure, policy));
    return out;
  }
};

inline outbox_outcome outbox_reporter::report(const outbox_claim& c,
                                              const std::string* failure) const {
  return store_->report(c, failure, policy_);
}

inline std::vector<outbox_outcome>
outbox_reporter::report_all(std::span<const outbox_attempt> attempts) const {
  return store_->report_all(attempts, policy_);
}

} // namespace sourcery::storage
