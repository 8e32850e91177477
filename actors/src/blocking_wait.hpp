// The blocking facade's wait: submit an asynchronous call, then wait for its
// callback. Spins briefly before sleeping, since most calls complete within
// one actor round trip.
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/result.hpp>

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
    using clock = std::chrono::steady_clock;
    auto spin_until = clock::now() + std::chrono::microseconds(50);
    for (int i = 0; state_.load(std::memory_order_acquire) == waiting; ++i) {
      if ((i & 63) == 63 && clock::now() > spin_until) {
        std::unique_lock lock(mutex_);
        int expected = waiting;
        if (state_.compare_exchange_strong(expected, sleeping, std::memory_order_acq_rel))
          cv_.wait(lock, [&] { return state_.load(std::memory_order_acquire) == woken; });
        return;
      }
    }
  }

private:
  static constexpr int waiting = 0, done = 1, sleeping = 2, woken = 3;
  std::atomic<int> state_{waiting};
  std::mutex mutex_;
  std::condition_variable cv_;
};

/// Calls `submit(callback)` and blocks until the callback ran; returns its
/// value or rethrows its exception. Throws `reentrant_call` from a listener.
template <class T, class Submit>
T wait_for(Submit&& submit) {
  if (in_listener())
    throw reentrant_call("a listener called the blocking API of the runtime it listens to; "
                         "this would deadlock the append that runs the listener");
  completion_latch latch;
  std::optional<result<T>> out;
  submit([&](result<T> r) {
    out.emplace(std::move(r));
    latch.release();
  });
  latch.wait();
  return std::move(out->value());
}

} // namespace sourcery::detail
