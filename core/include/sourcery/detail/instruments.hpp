// The instruments behind the metrics (R-MET): counters and histograms that
// hot paths update with relaxed atomic additions — no lock, no allocation —
// and that a snapshot reads at any time from any thread.
//
//   detail::counter appends;           appends.add();
//   detail::histogram latency(detail::latency_bounds(), 1e-9); // observed in ns
//   latency.observe(ns);               out.push_back(latency.family("…", "…"));
#pragma once

#include <sourcery/metrics.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

namespace sourcery::detail {

/// A monotonically increasing count.
class counter {
public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<std::uint64_t> value_{0};
};

/// Observations of an integer quantity (nanoseconds, events) in fixed
/// buckets; exported scaled (`scale` 1e-9: nanoseconds as seconds).
class histogram {
public:
  /// `bounds`: the buckets' upper bounds in exported units, increasing.
  histogram(std::vector<double> bounds, double scale = 1.0)
    : bounds_(std::move(bounds)), scale_(scale),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
    raw_bounds_.reserve(bounds_.size());
    for (double b : bounds_)
      raw_bounds_.push_back(static_cast<std::uint64_t>(std::llround(b / scale_)));
  }
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  void observe(std::uint64_t x) noexcept {
    auto i = static_cast<std::size_t>(
      std::lower_bound(raw_bounds_.begin(), raw_bounds_.end(), x) - raw_bounds_.begin());
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(x, std::memory_order_relaxed);
  }
  void observe(std::chrono::nanoseconds d) noexcept {
    observe(static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count())));
  }

  /// The state now (counts read one by one: a snapshot taken during updates
  /// may miss the newest observations, never invent one).
  histogram_value value() const {
    histogram_value v;
    v.bounds = bounds_;
    v.counts.resize(bounds_.size() + 1);
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      v.counts[i] = counts_[i].load(std::memory_order_relaxed);
      v.count += v.counts[i];
    }
    v.sum = static_cast<double>(sum_.load(std::memory_order_relaxed)) * scale_;
    return v;
  }

private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> raw_bounds_;
  double scale_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<std::uint64_t> sum_{0};
};

/// Latency buckets in seconds: 10 µs to 10 s, about three per decade.
inline std::vector<double> latency_bounds() {
  return {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
          1e-2, 2.5e-2, 5e-2, 0.1,  0.25,   0.5,  1,    2.5,    5,    10};
}

/// Size buckets (events per commit group): 1 to 65,536, doubling.
inline std::vector<double> size_bounds() {
  std::vector<double> out;
  for (double b = 1; b <= 65536; b *= 2)
    out.push_back(b);
  return out;
}

// -- building a snapshot ---------------------------------------------------------

inline metric_family family(std::string name, std::string help, metric_type type) {
  return metric_family{std::move(name), std::move(help), type, {}};
}

/// A family with one unlabelled series.
inline metric_family single(std::string name, std::string help, metric_type type, double value) {
  auto f = family(std::move(name), std::move(help), type);
  f.samples.push_back(metric_sample{{}, value, std::nullopt});
  return f;
}

inline metric_family single(std::string name, std::string help, const histogram& h) {
  auto f = family(std::move(name), std::move(help), metric_type::histogram);
  f.samples.push_back(metric_sample{{}, 0, h.value()});
  return f;
}

/// What an engine with a group-committing writer reports (R-MET).
inline void add_commit_metrics(std::vector<metric_family>& out, const histogram& group_events,
                               const histogram& commit_time) {
  out.push_back(single("sourcery_commit_group_events",
                       "Events per commit group the engine's writer committed at once", group_events));
  out.push_back(single("sourcery_commit_duration_seconds",
                       "Time to write one commit group and make it durable", commit_time));
}

} // namespace sourcery::detail
