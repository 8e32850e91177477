// The streams of one tenant (R-ES1..R-ES4, R-ES6, R-ST1): appends, reads,
// snapshots and deletions, and the rules every engine checks them by
// (`check_append`, `check_snapshot`).
//
// Thread-safety: every member may be called from any thread, any number at
// once. Appends are the hot path: an engine does one commit per call, with
// no work beyond what the commit needs. Memory: see record.hpp.
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/storage/record.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sourcery::storage {

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
  /// consumed. An append that repeats one already stored (R-ES6,
  /// `check_append`) stores nothing, runs no hook and returns that append's
  /// receipt. Throws the errors of `check_append`, `storage_full` when the
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

/// Reads the events an engine has stored in one stream with versions in
/// [first, stop), in version order, as `stream_store::read` would (none that
/// a snapshot replaced). `check_append` calls it only on a conflict — when the
/// stream is past the expected version — to recognise a repeated append.
///
/// A non-owning view of a callable, cheap to make on every append: valid
/// while the callable it was made from lives (pass a lambda straight to
/// `check_append`).
class stored_events {
public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, stored_events>)
  stored_events(F&& read) noexcept // NOLINT: made from lambdas at the call
    : object_(const_cast<void*>(static_cast<const void*>(std::addressof(read)))),
      call_([](void* o, version first, version stop) {
        return (*static_cast<std::remove_reference_t<F>*>(o))(first, stop);
      }) {}

  record_batch operator()(version first, version stop) const {
    return call_(object_, first, stop);
  }

private:
  void* object_;
  record_batch (*call_)(void*, version, version);
};

/// What `check_append` decided.
struct append_check {
  /// The versions to assign (0 for versionless), when the append is to be
  /// committed.
  std::vector<std::uint64_t> versions;
  /// Set when the append repeats one already stored (R-ES6): the receipt
  /// that append got. Commit nothing and return it.
  std::optional<append_receipt> repeated;
};

/// The versions an append assigns, checked against the stream (R-ES1), or
/// the receipt of the stored append it repeats (R-ES6): one rule for every
/// engine. `current` is the stream's state (none = absent); `stored` reads
/// the stream's events, called only when the stream is past `expected`.
/// Throws `invalid_argument` for no events, `concurrent_stream_write_error`,
/// `event_id_conflict` (ids stored at those versions with other content, or
/// only some of them), `expected_version_used_on_versionless_stream`,
/// `no_expected_version_given_on_versioned_stream`, `versioning_mismatch`,
/// whose messages name `stream` of `tenant`.
append_check check_append(const std::optional<stream_info>& current, expected_version expected,
                          std::span<const raw_event> events, const stream_id& stream,
                          std::string_view tenant, stored_events stored);

/// Checks a snapshot against the stream (R-ES3) and fills in its version;
/// throws `versioning_mismatch`.
void check_snapshot(const std::optional<stream_info>& current, raw_event& snapshot,
                    const stream_id& stream, std::string_view tenant);

/// "stream <id>[ of tenant 't']", for messages.
std::string describe_stream(const stream_id& stream, std::string_view tenant);

} // namespace sourcery::storage
