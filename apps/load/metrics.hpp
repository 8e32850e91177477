// Latency histograms (Boost.Histogram, log-spaced bins from 1 µs to 100 s,
// about 2% wide) and the run's time series.
#pragma once

#include <boost/histogram.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace harness {

class latency_histogram {
public:
  using axis_t = boost::histogram::axis::regular<double, boost::histogram::axis::transform::log>;

  latency_histogram()
    : h_(boost::histogram::make_histogram(axis_t(1000, 1.0, 1e8, "us"))) {}

  void record_us(double us) {
    h_(std::max(us, 1.0));
    max_ = std::max(max_, us);
    ++count_;
  }

  void merge(const latency_histogram& other) {
    h_ += other.h_;
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
  }

  std::uint64_t count() const noexcept { return count_; }
  double max_us() const noexcept { return max_; }

  /// The q-quantile (0 < q ≤ 1) in µs: the upper edge of the bin holding it,
  /// capped at the exact maximum.
  double quantile_us(double q) const {
    if (count_ == 0)
      return 0;
    auto target = static_cast<double>(count_) * q;
    double seen = 0;
    for (auto&& bin : boost::histogram::indexed(h_, boost::histogram::coverage::all)) {
      seen += *bin;
      if (seen >= target && *bin > 0)
        return std::min(bin.bin().upper(), max_);
    }
    return max_;
  }

private:
  decltype(boost::histogram::make_histogram(std::declval<axis_t>())) h_;
  double max_ = 0;
  std::uint64_t count_ = 0;
};

/// A histogram shared by threads.
class shared_histogram {
public:
  void record_us(double us) {
    std::lock_guard lock(m_);
    h_.record_us(us);
  }
  template <class It>
  void record_all(It first, It last) {
    std::lock_guard lock(m_);
    for (; first != last; ++first)
      h_.record_us(*first);
  }
  latency_histogram snapshot() const {
    std::lock_guard lock(m_);
    return h_;
  }
  /// Returns the histogram and starts a fresh one.
  latency_histogram take() {
    std::lock_guard lock(m_);
    auto out = h_;
    h_ = latency_histogram{};
    return out;
  }

private:
  mutable std::mutex m_;
  latency_histogram h_;
};

/// The shortest and longest time between two samples of the run.
inline constexpr std::chrono::milliseconds min_sample_period{25}, max_sample_period{1000};

/// How long a run is expected to take, `elapsed` seconds into it with `done`
/// of `events` committed: `seconds` for a timed run (events = 0), else the
/// time so far scaled to all events (the sooner of the two when both are
/// set); 0 while nothing is known yet.
inline double expected_seconds(double elapsed, std::uint64_t done, std::int64_t events,
                               double seconds) {
  if (events <= 0)
    return seconds;
  if (done == 0)
    return 0;
  double by_events = elapsed * static_cast<double>(events) / static_cast<double>(done);
  return seconds > 0 ? std::min(by_events, seconds) : by_events;
}

/// The time between two samples of the run (throughput, latency, resident
/// memory), `elapsed` seconds into a run expected to take `expected`
/// seconds: a hundredth of it, between min_sample_period and
/// max_sample_period, so that every run draws a curve of evenly spaced
/// points — a half-second run 20, a 2-second one ~80, 10 s to 60 s
/// ~115-135, a 10-minute soak ~640 (one a second). Never more than a tenth
/// of the time so far, so that an early guess (the first appends are the
/// slowest) cannot skip a short run; just that while the length is not
/// known (0).
inline std::chrono::milliseconds sample_period(double expected, double elapsed) {
  double ms = std::max(elapsed, 0.0) * 1000 / 10;
  if (expected > 0 && std::isfinite(expected))
    ms = std::min(ms, expected * 1000 / 100);
  return std::chrono::milliseconds(static_cast<long>(
    std::clamp(ms, static_cast<double>(min_sample_period.count()),
               static_cast<double>(max_sample_period.count()))));
}

/// "every 25 ms to 1 s", for the reports.
inline std::string sample_period_text() {
  return "every " + std::to_string(min_sample_period.count()) + " ms to "
         + std::to_string(max_sample_period.count() / 1000) + " s";
}

/// One interval of the run, for the picture.
struct sample {
  double t = 0;             // seconds since start
  double events_per_s = 0;  // committed
  double append_p50 = 0, append_p99 = 0;
  double e2e_p50 = 0, e2e_p99 = 0;
};

/// Each verifying subscription's lag (log positions behind the last
/// committed one, from backend.metrics()) at one moment of the run.
struct lag_sample {
  double t = 0;            // seconds since start
  std::vector<double> lag; // per subscription, in order (verify-1, verify-2, …)
};

/// Resident memory at one moment of the run.
struct memory_sample {
  double t = 0;         // seconds since start
  std::size_t rss = 0;  // bytes
  std::size_t engine = 0; // bytes the storage engine reports holding (runtime_stats::log_bytes)
};

inline double micros_since(std::int64_t created_us) {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  return static_cast<double>(now - created_us);
}

} // namespace harness
