// Resident memory over a run (SPEC §13, R-ST5): sampled on a timer, checked
// for growth by the soak scenario.
#pragma once

#include "metrics.hpp"
#include "report.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "../allocator.hpp"

namespace harness {

/// This process's resident memory in bytes, from /proc/self/statm; 0 when
/// unreadable.
std::size_t resident_bytes();

using apps::allocator_name;

/// Samples resident memory, and what the storage engine says it holds
/// (`engine_bytes`, called on the sampler's thread), on its own thread from
/// start() until stop(), `period(t)` apart `t` seconds into the run (called
/// on the sampler's thread too; see sample_period in metrics.hpp).
/// Thread-safety: start, stop and samples from one thread.
class memory_sampler {
public:
  memory_sampler(std::function<std::size_t()> engine_bytes,
                 std::function<std::chrono::milliseconds(double)> period)
    : engine_bytes_(std::move(engine_bytes)), period_(std::move(period)) {}
  ~memory_sampler() { stop(); }
  memory_sampler(const memory_sampler&) = delete;
  memory_sampler& operator=(const memory_sampler&) = delete;

  /// Takes a sample at once (t = 0), then one per period.
  void start();
  /// Takes a last sample and joins the thread; no-op when not running.
  void stop();
  /// The samples in time order; call after stop().
  const std::vector<memory_sample>& samples() const noexcept { return samples_; }

private:
  void take(std::chrono::steady_clock::time_point start);

  std::function<std::size_t()> engine_bytes_;
  std::function<std::chrono::milliseconds(double)> period_;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;                // GUARDED_BY(m_)
  std::vector<memory_sample> samples_;   // GUARDED_BY(m_) while running
  std::chrono::steady_clock::time_point start_;
};

/// The soak rule: the level of resident memory at the end of `samples` is at
/// most (1 + max_growth) times its level at 20% of the last sample's time
/// (for a 10-minute run: minute 2). A level is the median of the samples in
/// a tenth of the run: 15-25% of it, and the last 10%. Needs at least two
/// samples.
check rss_growth_check(const std::vector<memory_sample>& samples, double max_growth);

} // namespace harness
