// The load harness's writers and the measurements they share (SPEC §13):
// each writer appends to its streams asynchronously, a bounded number of
// appends in flight; a push subscription's check counts what it receives.
// Used by the single-process run (main.cpp) and by each node of a nodes run
// (nodes_child.cpp).
#pragma once

#include "metrics.hpp"
#include "scenario.hpp"
#include "stream_check.hpp"

#include <sourcery/sourcery.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <latch>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace harness {

// -- measurements shared by threads ----------------------------------------------

/// Latencies of the whole run plus those of the current interval.
struct interval_latencies {
  std::mutex m;
  latency_histogram total, interval;

  template <class It>
  void record(It first, It last) {
    std::lock_guard lock(m);
    for (; first != last; ++first) {
      total.record_us(*first);
      interval.record_us(*first);
    }
  }
  void record(double us) { record(&us, &us + 1); }
  latency_histogram take_interval() {
    std::lock_guard lock(m);
    auto out = interval;
    interval = {};
    return out;
  }
};

/// One push subscription's verification: every committed event exactly once,
/// in strictly increasing, gap-free positions.
struct subscription_check {
  std::mutex m;
  std::condition_variable cv;
  sourcery::position last = 0;
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  latency_histogram e2e;

  void on_batch(std::span<const sourcery::recorded_event> batch, interval_latencies* live) {
    std::vector<double> lat;
    lat.reserve(batch.size());
    for (const auto& r : batch)
      lat.push_back(micros_since(r.created_at.micros()));
    std::lock_guard lock(m);
    for (const auto& r : batch) {
      out_of_order += r.position != last + 1;
      last = r.position;
      ++received;
    }
    for (double us : lat)
      e2e.record_us(us);
    if (live)
      live->record(lat.begin(), lat.end());
    cv.notify_all();
  }

  bool wait_for(std::uint64_t n, std::chrono::seconds deadline) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, deadline, [&] { return received >= n; });
  }
};

// -- the writers -------------------------------------------------------------------

struct writer_progress {
  std::mutex m;
  std::condition_variable cv;
  std::int64_t in_flight = 0;
};

struct run_state {
  const scenario& sc;
  std::vector<sourcery::event_store> stores;
  std::vector<std::vector<stream_slot>> streams_of_writer;
  std::atomic<std::uint64_t> committed{0}, appends{0}, failed_appends{0}, listened{0};
  std::atomic<bool> stop{false};
  std::mutex errors_m;
  std::vector<std::string> errors;
  interval_latencies append_latency;
  interval_latencies e2e_live;
  std::int64_t shred_count = 0; // subjects 0..shred_count-1 are shredded mid-run
  std::latch first_half_done;
  std::chrono::steady_clock::time_point start;

  explicit run_state(const scenario& s) : run_state(s, s.writers) {}
  /// `writers`: the writers of this process that count first_half_done down.
  run_state(const scenario& s, std::int64_t writers)
    : sc(s), first_half_done(static_cast<std::ptrdiff_t>(writers)) {}

  void error(std::string e) {
    std::lock_guard lock(errors_m);
    if (errors.size() < 10)
      errors.push_back(std::move(e));
  }
};

/// The JSON padding that makes an order_placed event about `payload_bytes` long.
std::string padding(std::int64_t payload_bytes);

/// Writer `w`: appends `quota` events (0 = until sc.seconds or st.stop) to
/// st.streams_of_writer[w], sc.batch per append, sc.in_flight in flight;
/// returns when every append it submitted completed.
void run_writer(run_state& st, std::size_t w, std::int64_t quota);

} // namespace harness
