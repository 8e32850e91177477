// The wake-ups of an engine's log: one-shot callbacks registered for "a
// position above p is published", run by the committer after it publishes.
// One mechanism for every engine (notify_after / cancel / cancel_all of
// `storage::log`).
//
// Thread-safe. `last` is the engine's published position; the committer
// calls `published()` after every publication, which costs one atomic load
// while nobody waits.
#pragma once

#include <sourcery/storage/log.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace sourcery::storage {

class wake_ups {
public:
  /// `last` reads the engine's last published position.
  explicit wake_ups(std::function<position()> last) : last_(std::move(last)) {}

  /// Runs `wake` once as soon as last() > `after`: at once (on this thread)
  /// if it already is, else from the thread that calls published(). Returns
  /// an id for cancel().
  std::uint64_t notify_after(position after, wake_fn wake);
  /// Drops a wake-up that has not run; no-op for one that ran or an unknown id.
  void cancel(std::uint64_t id);
  void cancel_all();
  /// Runs the wake-ups whose position is now passed. Call after publishing.
  void published() {
    if (has_waiters_.load(std::memory_order_seq_cst))
      wake_ready();
  }

private:
  void wake_ready();

  struct waiter {
    position after;
    wake_fn wake;
  };
  std::function<position()> last_;
  std::mutex mutex_;
  std::atomic<bool> has_waiters_{false};
  std::uint64_t next_id_ = 1;                         // GUARDED_BY(mutex_)
  std::unordered_map<std::uint64_t, waiter> waiters_; // GUARDED_BY(mutex_)
};

} // namespace sourcery::storage
