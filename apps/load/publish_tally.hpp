// Which positions the outbox published (SPEC §13): exact marks for runs of a
// given number of events, a constant-size fingerprint for timed runs, so
// that a soak's bookkeeping does not grow with the events it writes.
#pragma once

#include <sourcery/events.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace harness {

/// Thread-safety: mark() from any thread; missing() once marking stopped.
class publish_tally {
public:
  /// `capacity` > 0: one byte per position 1..capacity, allocated up front
  /// (pages are touched as positions are); 0: only the fingerprint.
  explicit publish_tally(std::size_t capacity) : capacity_(capacity) {
    if (capacity_ > 0) {
      marks_.reset(static_cast<std::uint8_t*>(std::calloc(capacity_ + 1, 1)));
      if (!marks_)
        throw std::bad_alloc();
    }
  }

  /// Records a successful publish of position `p` (at most once per position).
  void mark(sourcery::position p) {
    if (p <= capacity_ && marks_)
      std::atomic_ref<std::uint8_t>(marks_.get()[p]).store(1, std::memory_order_relaxed);
    std::lock_guard lock(m_);
    ++count_;
    sum_ += p;
    squares_ += static_cast<unsigned __int128>(p) * p;
  }

  /// Checks that positions 1..total were each published once or are in
  /// `dead` (sorted). Empty when so; else what is wrong. With marks, names
  /// the first missing position; else compares count, sum and sum of squares.
  std::string missing(sourcery::position total, const std::vector<sourcery::position>& dead) const {
    auto is_dead = [&](sourcery::position p) { return std::binary_search(dead.begin(), dead.end(), p); };
    if (marks_ && total <= capacity_) {
      std::size_t lost = 0;
      sourcery::position first = 0;
      for (sourcery::position p = 1; p <= total; ++p)
        if (!std::atomic_ref<std::uint8_t>(marks_.get()[p]).load() && !is_dead(p) && lost++ == 0)
          first = p;
      if (lost > 0)
        return std::to_string(lost) + " entries lost, first at position " + std::to_string(first);
    }
    using u128 = unsigned __int128;
    u128 n = total, count = total, sum = n * (n + 1) / 2, squares = n * (n + 1) * (2 * n + 1) / 6;
    for (auto p : dead) {
      --count;
      sum -= p;
      squares -= static_cast<u128>(p) * p;
    }
    std::lock_guard lock(m_);
    if (count_ != count || sum_ != sum || squares_ != squares)
      return std::to_string(count_) + " publishes + " + std::to_string(dead.size())
             + " dead letters do not cover positions 1.." + std::to_string(total)
             + " once each (count or position fingerprint differs)";
    return {};
  }

private:
  struct free_deleter {
    void operator()(std::uint8_t* p) const noexcept { std::free(p); }
  };
  std::size_t capacity_;
  std::unique_ptr<std::uint8_t, free_deleter> marks_;
  mutable std::mutex m_;
  std::uint64_t count_ = 0;        // GUARDED_BY(m_)
  unsigned __int128 sum_ = 0;      // GUARDED_BY(m_)
  unsigned __int128 squares_ = 0;  // GUARDED_BY(m_)
};

} // namespace harness
