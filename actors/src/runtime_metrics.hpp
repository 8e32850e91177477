// The runtime's instruments (R-MET): what the tenant actors, feeds and
// dispatchers count as they work, and the snapshot that reads them with the
// gauges of the tenant directory, the outbox store and the engine.
//
// Hot paths only add to counters and histograms (relaxed atomics, no lock);
// the lock below guards the list of subscriptions, taken when one starts and
// by a scrape. With metrics off (runtime_options::metrics) the runtime holds
// no runtime_metrics at all and the hot paths skip their clock reads.
#pragma once

#include <sourcery/detail/instruments.hpp>
#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>
#include <sourcery/metrics.hpp>
#include <sourcery/storage/engine.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sourcery::detail {

class tenant_directory;

/// One subscription's progress, shared by its feed and the metrics.
struct subscription_meter {
  explicit subscription_meter(std::string name) : name(std::move(name)) {}
  const std::string name;
  /// The log position up to which records were handed to the consumer
  /// (or skipped by the filter, or skipped as undecodable).
  std::atomic<sourcery::position> at{0};
  counter delivered;
  counter undecodable;

  void reached(sourcery::position p) noexcept {
    if (p > at.load(std::memory_order_relaxed))
      at.store(p, std::memory_order_relaxed);
  }
};

class runtime_metrics {
public:
  using clock = std::chrono::steady_clock;

  /// Latencies are timed for one call in this many per thread (the first,
  /// then every 16th): a clock read costs about as much as 2% of a pipelined
  /// append here; the counts stay exact.
  static constexpr std::uint32_t latency_sampling = 16;
  /// Whether this thread's current call is one whose latency is timed.
  static bool sample_latency() noexcept {
    thread_local std::uint32_t calls = 0;
    return calls++ % latency_sampling == 0;
  }

  // -- appends (counted where the engine reports the outcome) ------------------

  /// `started`: when the append was called, if its latency is timed (else
  /// the epoch).
  void committed(std::size_t events, clock::time_point started) noexcept {
    appends_.add();
    events_committed_.add(events);
    if (started != clock::time_point{})
      append_latency_.observe(clock::now() - started);
  }
  /// An append that stored nothing, with the error it failed with.
  void refused(const std::exception_ptr& error) noexcept;

  // -- the outbox's dispatchers (pending, published, failures and dead
  // letters come from the outbox store's counts) ---------------------------------

  /// Entries a dispatcher claimed (in flight until reported).
  void claimed(std::size_t n) noexcept {
    outbox_in_flight_.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  }
  /// Claimed entries whose outcome was reported.
  void reported(std::size_t n) noexcept {
    outbox_in_flight_.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  }
  /// An entry was published; `created_us`: its record's commit time (its
  /// latency is timed for one in `latency_sampling`).
  void published(std::int64_t created_us) noexcept;

  // -- subscriptions -----------------------------------------------------------

  /// A meter for a new subscription, named `name` or "subscription-<n>".
  std::shared_ptr<subscription_meter> subscription(std::optional<std::string> name);

  // -- the snapshot ------------------------------------------------------------

  /// What a snapshot reads besides the instruments; all outlive this object.
  struct sources {
    storage::engine& engine;
    const tenant_directory& tenants;
    std::size_t tenant_series; // per-tenant series: at most this many (0 = none)
    bool outbox_on;
  };
  /// The instruments of `m` (null: metrics off, none) and the gauges of
  /// `from`, read now.
  static metrics_snapshot snapshot(const runtime_metrics* m, const sources& from);

private:
  counter appends_;
  counter events_committed_;
  histogram append_latency_{latency_bounds(), 1e-9};
  std::array<counter, 32> refused_{}; // by errc; [0]: not a Sourcery error

  std::atomic<std::int64_t> outbox_in_flight_{0};
  histogram publish_latency_{latency_bounds(), 1e-6}; // in µs: commit to published

  mutable std::mutex subscriptions_mutex_;
  // By label; a stopped subscription's entry expires and is dropped.
  mutable std::unordered_map<std::string, std::weak_ptr<subscription_meter>> subscriptions_; // GUARDED_BY
  std::uint64_t started_ = 0; // GUARDED_BY(subscriptions_mutex_)
};

} // namespace sourcery::detail
