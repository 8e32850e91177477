// A timer thread whose timers can be cancelled.
//
// CAF 0.17's delayed messages cannot be cancelled: each stays in the actor
// clock, holding a strong reference to its receiver, until its time. The
// outbox's retries need timers that end with the dispatcher that set them,
// so a stopped dispatcher leaves none behind. Callbacks run on the queue's
// one thread, in due order; they must be short (send a message, no more).
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace sourcery::detail {

class timer_queue {
public:
  using clock = std::chrono::steady_clock;
  using timer_id = std::uint64_t;

  timer_queue() = default;
  /// Drops the pending timers unrun; waits for a callback that runs (so a
  /// callback must not destroy its queue).
  ~timer_queue();
  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;

  /// Runs `fn` at `due` (at once when it passed) unless cancelled first. The
  /// thread starts with the first timer.
  timer_id schedule(clock::time_point due, std::function<void()> fn);

  /// Cancels timer `id`; false when it ran, runs or was cancelled before.
  bool cancel(timer_id id);

  /// Timers scheduled and neither run nor cancelled.
  std::size_t pending() const;

private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::pair<clock::time_point, timer_id>, std::function<void()>> due_; // GUARDED_BY(mutex_)
  std::unordered_map<timer_id, clock::time_point> when_; // GUARDED_BY(mutex_)
  timer_id last_id_ = 0;                                  // GUARDED_BY(mutex_)
  bool stopping_ = false;                                 // GUARDED_BY(mutex_)
  std::thread thread_;                                    // started under mutex_
};

} // namespace sourcery::detail
