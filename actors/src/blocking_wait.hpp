// The blocking facade's wait: submit an asynchronous call, then wait for its
// callback; spins first (storage::spin_budget).
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/result.hpp>
#include <sourcery/storage/spin_budget.hpp>

#include "listener_registry.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace sourcery::detail {

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
    timer timed;
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
    timer timed;
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

  /// The calling thread's: a blocking append to RocksDB waits for one
  /// fsync, ~0.2 ms; an in-memory call, tens of µs.
  static storage::spin_budget& budget() noexcept {
    using namespace std::chrono_literals;
    thread_local storage::spin_budget b(50us, 300us);
    return b;
  }

  /// Tells the thread's budget how long this wait took, when it ends.
  struct timer {
    clock::time_point start = clock::now();
    ~timer() { budget().took(clock::now() - start); }
  };

  /// Returns whether released while spinning.
  bool spin() const {
    return budget().spin([&] { return state_.load(std::memory_order_acquire) != waiting; });
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
