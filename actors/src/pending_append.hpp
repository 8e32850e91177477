// One append's life at its tenant's actor: it arrives, is handed to the
// engine, and its caller is answered exactly once (R-ES1, R-ST3).
//
// The actor hands the append over (commit_path::append) and takes its next
// message while the engine writes. The engine reports the outcome once:
//  - during the hand-over (an engine that commits synchronously, or an error
//    before anything is written): the actor answers as soon as the hand-over
//    returns (`handed_over` is true);
//  - later, on the engine's writer thread: the writer adds the append to the
//    actor's `committed_queue`, and the actor answers every queued append when
//    it takes them. The writer tells the actor (one `committed_atom`) only
//    when the queue was empty, so a write of many appends costs the writer
//    one message per tenant, not one per append. A caller blocked in the
//    facade (`caller_waits`) is woken by the writer itself, one thread hop
//    sooner; the actor's answer then finds its completion done.
// One atomic step decides between the two. When the actor is gone before the
// outcome arrives, the append is dropped, and its completion reports
// runtime_stopped. Nothing here allocates beyond the pending_append itself.
//
// Thread-safety: `report` runs on the engine's thread (or on the actor's,
// during the hand-over); the other members on the actor's thread.
// committed_queue is safe from any thread.
#pragma once

#include <sourcery/event_store.hpp>
#include <sourcery/storage/engine.hpp>

#include "completion.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace sourcery::detail {

class commit_path;
class counter;
class pending_append;
class runtime_metrics;

/// The tenant actor's appends whose outcome the engine reported after the
/// hand-over, in the order reported. The engine's thread adds them; the
/// actor takes them all at once.
class committed_queue {
public:
  /// `tell_actor` sends the actor its `committed_atom` (from any thread).
  explicit committed_queue(std::function<void()> tell_actor) : tell_actor_(std::move(tell_actor)) {}
  committed_queue(const committed_queue&) = delete;
  committed_queue& operator=(const committed_queue&) = delete;

  /// Adds `p`; when the queue was empty, tells the actor.
  void add(std::shared_ptr<pending_append> p);
  /// Everything added so far, oldest first.
  std::vector<std::shared_ptr<pending_append>> take();

private:
  const std::function<void()> tell_actor_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<pending_append>> appends_; // GUARDED_BY(mutex_)
};

class pending_append {
public:
  /// An append whose caller is `done`. `caller_waits`: `done` only wakes a
  /// thread blocked in the facade (no user code), so the engine's thread may
  /// run it the moment the outcome is in. `queue` is the actor's, held
  /// weakly: a queue holding this append must not keep itself alive.
  pending_append(completion<append_receipt> done, bool caller_waits,
                 std::weak_ptr<committed_queue> queue, const commit_path& commits)
    : done_(std::move(done)), caller_waits_(caller_waits), queue_(std::move(queue)),
      commits_(commits) {}

  /// What the outcome is counted in (R-MET): `metrics` (null: not counted),
  /// the tenant's `tenant_events`, the append's `events` and when it was
  /// called (`started`, for its latency).
  struct meter {
    runtime_metrics* metrics = nullptr;
    counter* tenant_events = nullptr;
    std::size_t events = 0;
    std::chrono::steady_clock::time_point started{};
  };
  pending_append(completion<append_receipt> done, bool caller_waits,
                 std::weak_ptr<committed_queue> queue, const commit_path& commits, meter m)
    : pending_append(std::move(done), caller_waits, std::move(queue), commits) {
    meter_ = m;
  }
  pending_append(const pending_append&) = delete;
  pending_append& operator=(const pending_append&) = delete;

  /// The engine's `done` for `p`: reports the outcome, then tells the commit
  /// path that it ran (commit_path::leave). It holds one shared_ptr, which
  /// std::function keeps without allocating.
  static storage::append_done engine_done(std::shared_ptr<pending_append> p);

  /// Records the engine's outcome for `p` (exactly once). During the
  /// hand-over it leaves the answer to the actor; afterwards it wakes a
  /// waiting caller and queues `p` for the actor (dropped when the actor is
  /// gone).
  static void report(const std::shared_ptr<pending_append>& p,
                     std::optional<append_receipt> receipt, std::exception_ptr error);

  /// The hand-over returned `shard` (the outbox shard to wake once durable;
  /// commit_path::no_shard for none). True when the outcome is in already:
  /// call `answer` now; false: the append comes back through the queue.
  bool handed_over(std::size_t shard);

  /// Answers the caller with the outcome and, when the commit is durable,
  /// wakes the outbox shard. On the actor's thread, after `handed_over` was
  /// true or once the append was taken from the queue.
  void answer();

private:
  enum : int { handing_over, deferred, arrived };

  void complete(); // `done_` with the outcome; a no-op once done

  completion<append_receipt> done_;
  const bool caller_waits_;
  const std::weak_ptr<committed_queue> queue_;
  const commit_path& commits_;
  meter meter_{};
  std::size_t wake_shard_ = SIZE_MAX;     // the actor's thread only
  std::atomic<int> stage_{handing_over};
  std::optional<append_receipt> receipt_; // written before `stage_` leaves handing_over
  std::exception_ptr error_;              // likewise
};

} // namespace sourcery::detail
