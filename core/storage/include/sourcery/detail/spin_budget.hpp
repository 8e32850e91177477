// How long a thread that waits spins before it sleeps. Waking a sleeping
// thread costs tens of µs on a virtual machine — as much as an in-memory
// call, a quarter of an fsync — so a wait that usually ends soon is cheaper
// spun than slept. Learnt per waiter from how long its recent waits took,
// so a thread whose waits are long sleeps at once and costs no CPU. Like
// RocksDB's own write thread, the spin yields: a thread with work gets the
// core.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace sourcery::storage {

class spin_budget {
public:
  using clock = std::chrono::steady_clock;
  using duration = std::chrono::nanoseconds;

  /// Spins for 1.5 × the average recent wait, within [floor, cap], while that
  /// average is at most `cap`; for `floor` once waits take longer.
  constexpr spin_budget(duration floor, duration cap) noexcept : floor_(floor), cap_(cap) {}

  duration get() const noexcept {
    return average_ <= cap_ ? std::clamp(average_ * 3 / 2, floor_, cap_) : floor_;
  }

  /// Records how long a wait took (from its start until it ended).
  void took(duration d) noexcept { average_ = (average_ * 7 + std::min(d, 4 * cap_)) / 8; }

  /// Spins, yielding, until `done()` or the budget is spent; returns done().
  template <class Done>
  bool spin(Done&& done) const {
    auto until = clock::now() + get();
    for (int i = 0; !done(); ++i)
      if ((i & 63) == 63) {
        if (clock::now() > until)
          return done();
        std::this_thread::yield();
      }
    return true;
  }

private:
  duration floor_, cap_;
  duration average_{0};
};

} // namespace sourcery::storage
