// How one thread waits for an asynchronous call to end: the call's callback
// releases the latch, the caller waits on it. Used by the blocking facade
// (a runtime call), by RocksDB's blocking append (the writer's
// acknowledgement) and by PostgreSQL's group commit (the leader's).
//
// One waiter, any number of release() calls from any threads (the first one
// counts). A waiter given a spin_budget spins within it first, then sleeps:
// waking a sleeping thread costs tens of µs, as much as a short call. Once a
// wait has returned true the waiter may destroy the latch at once, even while
// the release() that ended it is still returning (but not while another
// release() may still come).
#pragma once

#include <sourcery/detail/spin_budget.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace sourcery::storage {

class completion_latch {
public:
  using clock = std::chrono::steady_clock;

  /// `budget`: the waiting thread's spin budget, told how long each wait
  /// took; null: a wait sleeps at once.
  explicit completion_latch(spin_budget* budget = nullptr) noexcept : budget_(budget) {}
  completion_latch(const completion_latch&) = delete;
  completion_latch& operator=(const completion_latch&) = delete;

  /// Ends the wait, or the next one if nobody waits yet. Later calls do
  /// nothing.
  void release() {
    // Only the first release moves the state on: a later one must not turn
    // `woken` back into `done` before the waiter has seen it.
    int s = state_.load(std::memory_order_acquire);
    while (s == waiting || s == sleeping) {
      if (state_.compare_exchange_weak(s, done, std::memory_order_acq_rel)) {
        if (s == sleeping) {
          std::lock_guard lock(mutex_);
          state_.store(woken, std::memory_order_release);
          cv_.notify_one();
        }
        return;
      }
    }
  }

  /// Whether release() has been called. A waiter that sees true may go on
  /// as after a wait that returned.
  bool released() const noexcept { return state_.load(std::memory_order_acquire) != waiting; }

  /// Returns once release() has been called (at once if it was).
  void wait() {
    timer timed{budget_};
    if (spin())
      return;
    std::unique_lock lock(mutex_);
    int expected = waiting;
    if (state_.compare_exchange_strong(expected, sleeping, std::memory_order_acq_rel))
      cv_.wait(lock, [&] { return state_.load(std::memory_order_acquire) == woken; });
  }

  /// As wait(), until `deadline` at most; returns whether released. After
  /// false the latch can be waited on again, as if this wait had never been.
  bool wait_until(clock::time_point deadline) {
    timer timed{budget_};
    if (spin())
      return true;
    std::unique_lock lock(mutex_);
    int expected = waiting;
    if (!state_.compare_exchange_strong(expected, sleeping, std::memory_order_acq_rel))
      return true; // released meanwhile
    auto is_woken = [&] { return state_.load(std::memory_order_acquire) == woken; };
    if (cv_.wait_until(lock, deadline, is_woken))
      return true;
    expected = sleeping;
    if (state_.compare_exchange_strong(expected, waiting, std::memory_order_acq_rel))
      return false;
    // release() saw us sleeping and waits for the lock to wake us: let it.
    cv_.wait(lock, is_woken);
    return true;
  }

private:
  /// Tells the budget, if any, how long this wait took, when it ends.
  struct timer {
    spin_budget* budget;
    clock::time_point start = budget ? clock::now() : clock::time_point{};
    ~timer() {
      if (budget)
        budget->took(clock::now() - start);
    }
  };

  /// Returns whether released while spinning (false at once without a budget).
  bool spin() const {
    return budget_ && budget_->spin([&] { return released(); });
  }

  // waiting → done (released, nobody asleep); waiting → sleeping → woken
  // (released while the waiter slept); sleeping → waiting (a timed-out wait).
  static constexpr int waiting = 0, done = 1, sleeping = 2, woken = 3;
  spin_budget* const budget_;
  std::atomic<int> state_{waiting};
  std::mutex mutex_;             // guards the sleeping → woken step
  std::condition_variable cv_;
};

} // namespace sourcery::storage
