// The blocking facade's wait: submit an asynchronous call, then wait for its
// callback. Spins (yielding) before sleeping: waking a sleeping thread costs
// tens of µs on a virtual machine, as much as an in-memory call takes.
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/result.hpp>

#include "listener_registry.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace sourcery::detail {

/// How long a thread spins before it sleeps, from how long its recent waits
/// took: a little longer than they did while they were short (a blocking
/// append to RocksDB waits for one fsync, ~0.2 ms), 50 µs once they are
/// long (a loaded store: sleeping costs nothing then). Like RocksDB's own
/// write thread, the spin yields, so a thread with work gets the core.
class spin_budget {
public:
  using duration = std::chrono::nanoseconds;
  static constexpr duration floor = std::chrono::microseconds(50);
  static constexpr duration cap = std::chrono::microseconds(300);

  duration get() const noexcept {
    return average_ <= cap ? std::clamp(average_ * 3 / 2, floor, cap) : floor;
  }
  void took(duration d) noexcept { average_ = (average_ * 7 + std::min(d, 4 * cap)) / 8; }

  /// The calling thread's.
  static spin_budget& of_thread() noexcept {
    thread_local spin_budget b;
    return b;
  }

private:
  duration average_{0};
};

class completion_latch {
public:
  void release() {
    if (state_.exchange(done, std::memory_order_acq_rel) == sleeping) {
      std::lock_guard lock(mutex_);
      state_.store(woken, std::memory_order_release);
      cv_.notify_one();
    }
  }

  void wait() {
    auto timed = measure();
    if (spin())
      return;
    std::unique_lock lock(mutex_);
    int expected = waiting;
    if (state_.compare_exchange_strong(expected, sleeping, std::memory_order_acq_rel))
      cv_.wait(lock, [&] { return state_.load(std::memory_order_acquire) == woken; });
  }

  /// As wait(), until `deadline` at most; returns whether released. After
  /// false the latch waits again, as if wait() had never been called.
  bool wait_until(std::chrono::steady_clock::time_point deadline) {
    auto timed = measure();
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
  using clock = std::chrono::steady_clock;

  /// Tells the thread's spin budget how long this wait took, when it ends.
  struct timer {
    clock::time_point start = clock::now();
    ~timer() { spin_budget::of_thread().took(clock::now() - start); }
  };
  static timer measure() { return {}; }

  /// Spins, yielding, for the thread's budget; returns whether released.
  bool spin() const {
    auto spin_until = clock::now() + spin_budget::of_thread().get();
    for (int i = 0; state_.load(std::memory_order_acquire) == waiting; ++i)
      if ((i & 63) == 63) {
        if (clock::now() > spin_until)
          return false;
        std::this_thread::yield();
      }
    return true;
  }

  static constexpr int waiting = 0, done = 1, sleeping = 2, woken = 3;
  std::atomic<int> state_{waiting};
  std::mutex mutex_;
  std::condition_variable cv_;
};

/// Calls `submit(callback)` and blocks until the callback ran; returns its
/// value or rethrows its exception. Throws `reentrant_call` from a listener.
/// If `deadline` passes first, it calls `at_deadline()` once — which
/// must make the call complete soon (e.g. tell the actor to answer with what
/// it has) — and goes on waiting for the callback.
template <class T, class Submit, class AtDeadline>
T wait_for(Submit&& submit, std::chrono::steady_clock::time_point deadline,
           AtDeadline&& at_deadline) {
  if (in_listener())
    throw reentrant_call("a listener called the blocking API of the runtime it listens to; "
                         "this would deadlock the append that runs the listener");
  completion_latch latch;
  std::optional<result<T>> out;
  submit([&](result<T> r) {
    out.emplace(std::move(r));
    latch.release();
  });
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    latch.wait();
  } else if (!latch.wait_until(deadline)) {
    at_deadline();
    latch.wait();
  }
  return std::move(out->value());
}

/// As above, without a deadline.
template <class T, class Submit>
T wait_for(Submit&& submit) {
  return wait_for<T>(std::forward<Submit>(submit), std::chrono::steady_clock::time_point::max(),
                     [] {});
}

} // namespace sourcery::detail
