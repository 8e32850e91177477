// bench_subscriptions: append→subscriber latency, catch-up rate and fan-out of
// subscriptions, beside the raw decode rate measured in the same run (issue 3,
// item 6).
//
//   bench_subscriptions               # the full run (about 20 seconds)
//   bench_subscriptions --max-rate-ms=300 --latency-ms=300 --catchup-events=20000
//                       --loads=10 --fanout-subscriptions=10 --fanout-events=5000
//                                     # (one line) a tiny run, for CI
//   bench_subscriptions --cases=3     # the fan-out rows only, beside the decode baseline
//   bench_subscriptions --help        # every option
//
// What it measures, each on a fresh in-memory backend:
//   (0) the maximum rate of pipelined single-event appends (bounded in-flight
//       window, round robin over --streams streams) for --max-rate-ms;
//   (1) append→subscriber latency of one push subscription (build_push) while
//       appends arrive at half that rate, paced by a steady-clock schedule, and
//       again at --low-rate appends/s (--latency-rate fixes the first rate
//       instead, for comparable runs). Each event carries the steady-clock
//       nanosecond at which its append was submitted; the subscriber's callback
//       subtracts it from its own clock reading on receipt;
//   (2) catch-up: --catchup-events stored (--store-batch events per append), then
//       a fresh subscription from position 0 receives all of them, (a) pulled
//       with build_batch(--pull-batch, 1 s), (b) pushed with build_push;
//   (3) fan-out: --fanout-subscriptions push subscriptions each receive all of
//       --fanout-events appended while they run, once per --fanout-batches
//       size (events per append: 1 = every event its own commit);
//   (4) dropped subscriptions: blocking single-event appends (--blocking-appends)
//       timed, then --dropped-subscriptions push subscriptions started past
//       the end and stopped, then the same appends timed again, with the
//       resident memory's growth (a stopped subscription leaves nothing behind);
//   baseline: decoding, load_stream of a --load-size-event stream.
// Completion is awaited on condition variables signalled by the subscribers'
// callbacks, never by sleeping; the only sleep is the pacing driver's wait for
// its next slot. Figures are wall-clock on whatever else the machine is doing:
// the table shows the load average and the share of CPU other processes took.
// Exit code 0 whether or not targets are met, 1 when a correctness check
// failed ("!!" on stderr: lost or reordered records, failed appends), 2 for
// bad options.
#include "bench_common.hpp"

#include <sourcery/push_protocol.hpp>

#include <malloc.h>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using bench::clock_type;
using bench::number;
using bench::seconds_since;
using bench::with_commas;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clock_type::now().time_since_epoch())
    .count();
}

// -- the event: bench::order_placed with a submit stamp ------------------------------

/// Registered as "order_placed"; about 110 bytes of JSON.
struct timed_order_placed {
  /// steady_clock nanoseconds when the append was submitted; 0 = not timed.
  std::int64_t sent_ns = 0;
  std::string customer;
  std::string sku;
  int quantity = 0;
  double price = 0;
  std::string note;
};
BOOST_DESCRIBE_STRUCT(timed_order_placed, (), (sent_ns, customer, sku, quantity, price, note))

/// Event `i` of the pool, not timed (sent_ns = 0).
sourcery::wrapped_event<> wrapped(std::size_t i) {
  return bench::wrapped<timed_order_placed>(i);
}

/// Event `i` of the pool, stamped with its submit time.
sourcery::wrapped_event<> stamped(std::size_t i) {
  const auto& pool = bench::event_pool<timed_order_placed>();
  auto e = pool[i % pool.size()];
  e.sent_ns = now_ns();
  return sourcery::wrap(std::move(e));
}

sourcery::backend make_backend(const bench::config& cfg) {
  return bench::make_backend<timed_order_placed>(cfg);
}
sourcery::backend make_backend(const bench::config& cfg, bool with_metrics) {
  return bench::make_backend<timed_order_placed>(cfg, with_metrics);
}

// -- options ------------------------------------------------------------------------

struct bench_config : bench::config {
  std::size_t streams = 1'000;
  std::size_t window = 1'000;
  std::size_t max_rate_ms = 2'000;
  std::size_t latency_ms = 2'000;
  std::size_t low_rate = 1'000;
  std::size_t latency_rate = 0;
  std::size_t catchup_events = 1'000'000;
  std::size_t store_batch = 100;
  std::size_t pull_batch = 1'000;
  std::size_t push_batch = 256;
  std::size_t loads = 1'000;
  std::size_t load_size = 1'000;
  std::size_t fanout_subscriptions = 100;
  std::size_t fanout_events = 100'000;
  std::vector<std::size_t> fanout_batches{1, 100};
  std::size_t dropped_subscriptions = 100'000;
  std::size_t blocking_appends = 5'000;
  std::size_t isolation_subscriptions = 20;
  std::size_t isolation_rate = 200;
  std::size_t isolation_ms = 3'000;
  std::size_t sleeper_ms = 1'000;
  std::size_t many_subscriptions = 10'000;
  std::size_t many_appends = 100;
  std::vector<std::size_t> cases{0, 1, 2, 3, 4, 5, 6};

  bool runs(std::size_t c) const { return std::find(cases.begin(), cases.end(), c) != cases.end(); }

  /// The command line: what it parses, what --help prints.
  cli::options options() {
    using namespace bench::limits;
    cli::options o("bench_subscriptions",
                   "Append->subscriber latency, catch-up rate and fan-out of subscriptions (in "
                   "memory), beside the decode rate measured in the same run; one table on "
                   "stdout.");
    o.count(streams, "streams", "streams appends go to, round robin", 1, bench::limits::streams)
      .count(window, "window", "(0, 1, 3) appends in flight at most", 1, in_flight)
      .count(max_rate_ms, "max-rate-ms", "(0) how long to measure the maximum append rate", 1,
             milliseconds)
      .count(latency_ms, "latency-ms", "(1) how long each latency row runs", 1, milliseconds)
      .count(low_rate, "low-rate", "(1) the fixed low rate, appends/s", 1, 10'000'000)
      .count(latency_rate, "latency-rate",
             "(1) the first row's rate, appends/s; 0 = half the measured maximum", 0, 10'000'000)
      .count(catchup_events, "catchup-events",
             "(2) events stored before catching up (rounded up to --pull-batch)", 1, stored)
      .count(store_batch, "store-batch", "(2) events per append when storing", 1, batch)
      .count(pull_batch, "pull-batch", "(2a) build_batch size", 1, in_flight)
      .count(push_batch, "push-batch", "(1, 2b, 3) build_push max batch", 1, in_flight)
      .count(loads, "loads", "baseline: loads of one stream", 1, operations)
      .count(load_size, "load-size", "baseline: events in the loaded stream", 1, stored)
      .count(fanout_subscriptions, "fanout-subscriptions", "(3) concurrent push subscriptions", 1,
             100'000)
      .count(fanout_events, "fanout-events", "(3) events appended while they run", 1, stored)
      .counts(fanout_batches, "fanout-batches",
              "(3) events per append, one fan-out run each, e.g. 1,100", 1, batch)
      .count(dropped_subscriptions, "dropped-subscriptions",
             "(4) push subscriptions started past the end, then stopped; 0 = no such row", 0,
             bench::limits::streams)
      .count(blocking_appends, "blocking-appends",
             "(4, 6) blocking single-event appends timed before and after", 1, operations)
      .count(isolation_subscriptions, "isolation-subscriptions",
             "(5) callback subscriptions whose latency is measured; 0 = no such rows", 0,
             100'000)
      .count(isolation_rate, "isolation-rate", "(5) paced appends/s", 1, 1'000'000)
      .count(isolation_ms, "isolation-ms", "(5) how long each of the two runs appends", 1,
             milliseconds)
      .count(sleeper_ms, "sleeper-ms", "(5) the slow callback's sleep per batch", 1, milliseconds)
      .count(many_subscriptions, "many-subscriptions",
             "(6) idle push subscriptions, half callback, half actor; 0 = no such rows", 0,
             1'000'000)
      .count(many_appends, "many-appends",
             "(6) blocking appends with them in place, each delivered to all", 1, operations)
      .counts(cases, "cases", "measurements to run, e.g. 3 (the decode baseline always runs)", 0,
              6);
    add_scheduler_options(o);
    return o;
  }
};

// -- helpers ---------------------------------------------------------------------------

/// Counts what a subscriber received; wakes a waiter when a target is reached.
class arrival_counter {
public:
  /// Adds `n`; returns the new total.
  std::size_t add(std::size_t n) {
    std::lock_guard lock(mutex_);
    count_ += n;
    if (count_ >= target_)
      cv_.notify_all();
    return count_;
  }

  /// Blocks until at least `target` arrived, at most `timeout`; returns whether they did.
  bool wait_for(std::size_t target, std::chrono::seconds timeout = std::chrono::seconds(600)) {
    std::unique_lock lock(mutex_);
    target_ = target;
    return cv_.wait_for(lock, timeout, [&] { return count_ >= target; });
  }

  std::size_t count() {
    std::lock_guard lock(mutex_);
    return count_;
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t count_ = 0;
  std::size_t target_ = SIZE_MAX;
};

/// Checks positions arrive strictly increasing and gap-free (the store is
/// fresh, so every position is a match).
struct order_check {
  sourcery::position last = 0;
  std::size_t violations = 0;
  void see(sourcery::position p) {
    violations += p == last + 1 ? 0 : 1;
    last = p;
  }
};

// -- the table ---------------------------------------------------------------------------

struct row {
  std::string what{};
  double value = 0;
  std::string unit{};
  double target = 0; // 0 = none
  bool lower_is_better = false;
  std::string note{};
  bool quoted = false; // not measured: quoted from the issue
};

std::vector<row> rows;

void record(row r) {
  bench::print_progress(58, r.what, number(r.value), r.unit);
  rows.push_back(std::move(r));
}

/// The row's table line: the target with "<=" or ">=", met or not.
bench::table_row table_line(const row& r) {
  std::string target;
  std::string met;
  if (r.target > 0) {
    target = (r.lower_is_better ? "<= " : ">= ") + number(r.target);
    met = (r.lower_is_better ? r.value <= r.target : r.value >= r.target) ? "yes" : "NO";
  }
  return {r.what, number(r.value), r.unit, target, met, r.note};
}

void print_table(const bench_config& cfg, const bench::machine_watch& machine) {
  bench::print_title("subscriptions", cfg);
  std::printf("event payload: %zu bytes of JSON; %s\n",
              bench::payload_bytes<timed_order_placed>(), machine.load_averages().c_str());
  std::printf("%s\n\n", machine.others_cpu().c_str());
  std::vector<bench::table_row> lines;
  for (const auto& r : rows)
    lines.push_back(table_line(r));
  bench::print_table({62, 12, 13, 10, 4, 44},
                     {"measurement", "value", "unit", "target", "met", "note"}, lines);
}

// -- baseline: decoding ----------------------------------------------------------------------

double decode_baseline(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  auto rate = bench::decode_rate<timed_order_placed>(backend, cfg.load_size, cfg.loads);
  record({"baseline: load_stream of " + with_commas(cfg.load_size) + " events, decoded", rate,
          "events/s", 0, false, "pure decoding, no subscription"});
  return rate;
}

// -- (0) the maximum append rate -----------------------------------------------------------

double max_append_rate(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  bench::appender app(backend.event_store(), cfg.streams, cfg.window);
  for (std::size_t i = 0; i < 1000; ++i)
    app.append(wrapped(i)); // warm-up: spawns the tenant, first log chunk
  app.drain("warm-up");
  auto duration = std::chrono::milliseconds(cfg.max_rate_ms);
  auto cpu = bench::sample_cpu();
  auto start = clock_type::now();
  std::size_t n = 0;
  for (;;) {
    app.append(wrapped(n++));
    if (n % 256 == 0 && clock_type::now() - start >= duration)
      break;
  }
  app.drain("max rate");
  auto s = seconds_since(start);
  auto busy = bench::cores_used(cpu);
  auto rate = n / s;
  record({"(0) max rate: pipelined single-event appends, " + with_commas(cfg.streams) + " str.",
          rate, "events/s", 0, false,
          with_commas(n) + " in " + number(s) + " s, " + with_commas(cfg.window)
            + " in flight; CPU " + number(busy) + " cores"});
  return rate;
}

// -- (1) latency ------------------------------------------------------------------------------

struct latency_figures {
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
  double achieved_rate = 0;
  double cores = 0; // CPU this process used while appending and delivering
  std::size_t samples = 0;
};

latency_figures latency_at(const bench_config& cfg, double rate) {
  auto backend = make_backend(cfg);
  auto count = static_cast<std::size_t>(rate * cfg.latency_ms / 1000.0);
  count = std::max<std::size_t>(count, 1);
  constexpr std::size_t warm_up = 1000;

  // The subscriber: only its callback thread touches `samples` until the
  // counter (a mutex) hands them over.
  std::vector<std::int64_t> samples;
  samples.reserve(count);
  arrival_counter arrived;
  auto sub = backend.subscriber().start_from(0).build_push(
    [&](std::span<const sourcery::recorded_event> batch) {
      auto received = now_ns();
      for (const auto& r : batch) {
        auto sent = r.event.as<timed_order_placed>().sent_ns;
        if (sent != 0)
          samples.push_back(received - sent);
      }
      arrived.add(batch.size());
    },
    cfg.push_batch);

  bench::appender app(backend.event_store(), cfg.streams, cfg.window);
  for (std::size_t i = 0; i < warm_up; ++i)
    app.append(wrapped(i)); // not timed (sent_ns = 0)
  app.drain("latency warm-up");
  arrived.wait_for(warm_up);

  // Open-loop pacing: append i is issued when its slot start + i/rate comes.
  auto interval = std::chrono::duration<double>(1.0 / rate);
  auto cpu = bench::sample_cpu();
  auto start = clock_type::now() + std::chrono::milliseconds(1);
  for (std::size_t i = 0; i < count; ++i) {
    auto slot = start + std::chrono::duration_cast<clock_type::duration>(interval * i);
    if (clock_type::now() < slot)
      std::this_thread::sleep_until(slot);
    app.append(stamped(i));
  }
  auto issued = seconds_since(start);
  app.drain("latency");
  if (!arrived.wait_for(warm_up + count))
    bench::fail("subscriber received %zu of %zu", arrived.count() - warm_up, count);
  auto busy = bench::cores_used(cpu);
  sub.stop();
  if (auto e = sub.error()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      bench::fail("subscriber failed: %s", x.what());
    }
  }

  latency_figures f;
  f.samples = samples.size();
  f.achieved_rate = count / issued;
  f.cores = busy;
  if (samples.empty())
    return f;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    auto i = std::min(samples.size() - 1, static_cast<std::size_t>(q * samples.size()));
    return samples[i] / 1000.0;
  };
  f.p50_us = at(0.50);
  f.p99_us = at(0.99);
  f.p999_us = at(0.999);
  f.max_us = samples.back() / 1000.0;
  return f;
}

void latency_rows(const bench_config& cfg, double rate, const std::string& label) {
  auto f = latency_at(cfg, rate);
  record({"(1) append->push subscriber latency p50, " + label, f.p50_us, "us", 100, true,
          with_commas(f.samples) + " samples at " + with_commas(f.achieved_rate)
            + "/s; CPU " + number(f.cores) + " cores"});
  record({"(1) append->push subscriber latency p99, " + label, f.p99_us, "us", 1000, true,
          "p99.9 " + number(f.p999_us) + " us, max " + number(f.max_us) + " us"});
}

// -- (2) catch-up -------------------------------------------------------------------------------

void catch_up(const bench_config& cfg, double decode_rate, bool with_metrics) {
  auto n = (cfg.catchup_events + cfg.pull_batch - 1) / cfg.pull_batch * cfg.pull_batch;
  auto backend = make_backend(cfg, with_metrics);
  auto label = cfg.metrics_label(with_metrics);
  std::fprintf(stderr, "  storing %s events …\n", with_commas(n).c_str());
  bench::append_events<timed_order_placed>(backend.event_store(), n, cfg.store_batch,
                                           cfg.streams);
  auto vs = [&](double rate) { return bench::times(rate / decode_rate, "decode baseline"); };

  { // (a) pull
    order_check order;
    std::size_t got = 0;
    auto start = clock_type::now();
    auto sub = backend.subscriber().start_from(0).build_batch(cfg.pull_batch,
                                                              std::chrono::seconds(1));
    while (got < n) {
      auto batch = sub.next();
      if (batch.empty()) {
        bench::fail("pull catch-up: an empty batch after %zu records", got);
        break;
      }
      for (const auto& r : batch)
        order.see(r.position);
      got += batch.size();
    }
    auto s = seconds_since(start);
    if (order.violations || got != n)
      bench::fail("pull catch-up: %zu of %zu, %zu order violations", got, n, order.violations);
    record({"(2a) catch-up from 0 over " + with_commas(n) + ", pull build_batch("
              + with_commas(cfg.pull_batch) + ")" + label,
            got / s, "events/s", 1'000'000, false, vs(got / s)});
  }
  { // (b) push
    order_check order;
    arrival_counter arrived;
    auto start = clock_type::now();
    auto sub = backend.subscriber().start_from(0).build_push(
      [&](std::span<const sourcery::recorded_event> batch) {
        for (const auto& r : batch)
          order.see(r.position);
        arrived.add(batch.size());
      },
      cfg.push_batch);
    if (!arrived.wait_for(n))
      bench::fail("push catch-up: %zu of %zu", arrived.count(), n);
    auto s = seconds_since(start);
    sub.stop();
    if (order.violations)
      bench::fail("push catch-up: %zu order violations", order.violations);
    record({"(2b) catch-up from 0 over " + with_commas(n) + ", push build_push("
              + with_commas(cfg.push_batch) + ")" + label,
            n / s, "events/s", 1'000'000, false, vs(n / s)});
  }
}

// -- (3) fan-out -----------------------------------------------------------------------------------

void fan_out(const bench_config& cfg, std::size_t append_batch, double decode_rate) {
  auto backend = make_backend(cfg);
  auto n = cfg.fanout_events;
  auto subs_n = cfg.fanout_subscriptions;

  std::mutex done_mutex;
  std::condition_variable done_cv;
  std::size_t done = 0;
  struct state {
    std::size_t got = 0;
    order_check order;
  };
  std::vector<std::unique_ptr<state>> states;
  std::vector<sourcery::push_subscription> subs;
  for (std::size_t i = 0; i < subs_n; ++i) {
    states.push_back(std::make_unique<state>());
    auto* st = states.back().get();
    subs.push_back(backend.subscriber().start_from(0).build_push(
      [&, st](std::span<const sourcery::recorded_event> batch) {
        for (const auto& r : batch)
          st->order.see(r.position);
        st->got += batch.size();
        if (st->got == n) {
          std::lock_guard lock(done_mutex);
          if (++done == subs_n)
            done_cv.notify_all();
        }
      },
      cfg.push_batch));
  }

  bench::appender app(backend.event_store(), cfg.streams, cfg.window);
  auto start = clock_type::now();
  for (std::size_t i = 0; i < n; i += append_batch) {
    auto m = std::min(append_batch, n - i);
    if (m == 1) {
      app.append(wrapped(i));
    } else {
      std::vector<sourcery::wrapped_event<>> events;
      for (std::size_t j = 0; j < m; ++j)
        events.push_back(wrapped(i + j));
      app.append_batch(std::move(events));
    }
  }
  app.drain("fan-out");
  auto appended = seconds_since(start);
  bool all = false;
  {
    std::unique_lock lock(done_mutex);
    all = done_cv.wait_for(lock, std::chrono::seconds(600), [&] { return done == subs_n; });
  }
  auto s = seconds_since(start);
  for (auto& sub : subs)
    sub.stop();
  std::size_t violations = 0;
  for (auto& st : states)
    violations += st->order.violations;
  if (!all || violations)
    bench::fail("fan-out: %zu of %zu subscriptions complete, %zu order violations", done, subs_n,
                violations);
  auto label = with_commas(subs_n) + " subs x " + with_commas(n) + ", "
               + with_commas(append_batch) + "-event appends";
  record({"(3) fan-out, " + label + ": total time", s * 1000, "ms", 0, false,
          "first append to last sub complete; appends " + number(appended * 1000) + " ms"});
  auto rate = static_cast<double>(subs_n * n) / s;
  // R-SUB-DECODE-ONCE: 100 subscriptions of one-event appends at 4,000,000 deliveries/s.
  double target = append_batch == 1 && subs_n >= 100 ? 4'000'000 : 0;
  record({"(3) fan-out, " + label + ": deliveries", rate, "events/s", target, false,
          "aggregate over all subscriptions; "
            + bench::times(rate / decode_rate, "decode baseline")});
}

// -- latency samples -----------------------------------------------------------------------

struct percentiles {
  double p50_us = 0, p99_us = 0, max_us = 0;
  std::size_t samples = 0;
};

percentiles percentiles_of(std::vector<std::int64_t> ns) {
  percentiles p;
  p.samples = ns.size();
  if (ns.empty())
    return p;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    return ns[std::min(ns.size() - 1, static_cast<std::size_t>(q * ns.size()))] / 1000.0;
  };
  p.p50_us = at(0.5);
  p.p99_us = at(0.99);
  p.max_us = ns.back() / 1000.0;
  return p;
}

// -- (5) a slow callback beside the others (R-SUB-POOL) --------------------------------------------
// --isolation-subscriptions callback subscriptions receive paced, stamped
// appends; their append->delivery latency, once alone and once beside one
// more subscription whose callback sleeps --sleeper-ms per batch (standing
// for a slow consumer: that sleep is the load, not a wait).

percentiles isolated_latency(const bench_config& cfg, bool with_sleeper) {
  auto backend = make_backend(cfg);
  struct subscriber_samples {
    std::vector<std::int64_t> ns; // only its callbacks touch it, one at a time
  };
  auto count = std::max<std::size_t>(1, cfg.isolation_rate * cfg.isolation_ms / 1000);
  arrival_counter arrived;
  std::vector<std::unique_ptr<subscriber_samples>> samples;
  std::vector<sourcery::push_subscription> subs;
  for (std::size_t i = 0; i < cfg.isolation_subscriptions; ++i) {
    samples.push_back(std::make_unique<subscriber_samples>());
    auto* mine = samples.back().get();
    mine->ns.reserve(count);
    subs.push_back(backend.subscriber().start_from(0).build_push(
      [mine, &arrived](std::span<const sourcery::recorded_event> batch) {
        auto received = now_ns();
        for (const auto& r : batch)
          mine->ns.push_back(received - r.event.as<timed_order_placed>().sent_ns);
        arrived.add(batch.size());
      },
      cfg.push_batch));
  }
  std::optional<sourcery::push_subscription> sleeper;
  std::atomic<std::size_t> sleeper_batches{0};
  if (with_sleeper)
    sleeper = backend.subscriber().start_from(0).build_push(
      [&, pause = std::chrono::milliseconds(cfg.sleeper_ms)](auto) {
        ++sleeper_batches;
        std::this_thread::sleep_for(pause);
      },
      cfg.push_batch);
  bench::appender app(backend.event_store(), cfg.streams, cfg.window);
  auto interval = std::chrono::duration<double>(1.0 / static_cast<double>(cfg.isolation_rate));
  auto start = clock_type::now() + std::chrono::milliseconds(1);
  for (std::size_t i = 0; i < count; ++i) {
    auto slot = start + std::chrono::duration_cast<clock_type::duration>(interval * i);
    if (clock_type::now() < slot)
      std::this_thread::sleep_until(slot); // pacing the driver
    app.append(stamped(i));
  }
  app.drain("isolation");
  auto expected = count * cfg.isolation_subscriptions;
  if (!arrived.wait_for(expected))
    bench::fail("isolation: %zu of %zu deliveries", arrived.count(), expected);
  for (auto& sub : subs)
    sub.stop();
  if (sleeper) {
    sleeper->stop(); // returns once its current sleep ended
    if (sleeper_batches.load() == 0)
      bench::fail("isolation: the slow subscription received nothing");
  }
  std::vector<std::int64_t> all;
  for (auto& m : samples)
    all.insert(all.end(), m->ns.begin(), m->ns.end());
  return percentiles_of(std::move(all));
}

void slow_callback_isolation(const bench_config& cfg) {
  auto alone = isolated_latency(cfg, false);
  auto beside = isolated_latency(cfg, true);
  auto label = with_commas(cfg.isolation_subscriptions) + " callback subs at "
               + with_commas(cfg.isolation_rate) + "/s, " + with_commas(cfg.callback_threads)
               + " callback threads";
  record({"(5) delivery p99, " + label + ", no slow sub", alone.p99_us, "us", 0, true,
          "p50 " + number(alone.p50_us) + " us, max " + number(alone.max_us) + " us, "
            + with_commas(alone.samples) + " samples"});
  record({"(5) delivery p99, " + label + ", one sub sleeping " + with_commas(cfg.sleeper_ms)
            + " ms/batch",
          beside.p99_us, "us", 2 * alone.p99_us, true,
          "p50 " + number(beside.p50_us) + " us, max " + number(beside.max_us) + " us; "
            + number(beside.p99_us / std::max(alone.p99_us, 1e-9)) + "x the run without"});
}

// -- (4) dropped subscriptions ----------------------------------------------------------------
// Issue 14 defect 3: a stopped subscription's wake-up used to stay registered,
// so every later commit scanned it. Blocking appends before and after
// starting and stopping --dropped-subscriptions, on one backend.

/// Resident memory of this process in MiB (Linux /proc/self/statm), after
/// glibc gave freed memory back to the system (else it keeps freed chunks
/// resident and the figure says nothing about what is still in use).
double resident_mib() {
  ::malloc_trim(0);
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1048576.0;
}

void dropped_subscriptions(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  auto store = backend.event_store();
  auto streams = bench::make_streams(cfg.streams);
  std::vector<sourcery::version> versions(streams.size(), 0);
  std::size_t next = 0;
  auto blocking_us = [&] {
    auto start = clock_type::now();
    for (std::size_t i = 0; i < cfg.blocking_appends; ++i, ++next) {
      auto k = next % streams.size();
      store.append(streams[k], {wrapped(next)}, versions[k]);
      ++versions[k];
    }
    return seconds_since(start) * 1e6 / static_cast<double>(cfg.blocking_appends);
  };
  auto before_us = blocking_us();
  auto before_mib = resident_mib();
  auto& system = backend.actor_system();
  auto actors_before = system.registry().running();
  {
    // One actor consumer for all (callback subscriptions: row 6).
    // It counts what it receives: subscriptions past the end deliver nothing.
    // (Spawned with an argument: CAF 0.17 dereferences an empty argument tuple
    // otherwise, which UBSan reports; see NOTES-CAF-BOOST.)
    auto received = std::make_shared<std::atomic<std::size_t>>(0);
    auto consumer = backend.actor_system().spawn(
      [](caf::event_based_actor*, std::shared_ptr<std::atomic<std::size_t>> count) {
        return caf::behavior{
          [count](sourcery::records_atom, const std::vector<sourcery::recorded_event>& rs) {
            count->fetch_add(rs.size());
          }};
      },
      received);
    std::vector<sourcery::push_subscription> subs;
    subs.reserve(cfg.dropped_subscriptions);
    for (std::size_t i = 0; i < cfg.dropped_subscriptions; ++i)
      subs.push_back(backend.subscriber().start_from(store.position()).build_push_to(
        consumer, cfg.push_batch));
    for (auto& sub : subs)
      sub.stop();
    caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
    if (received->load() != 0)
      bench::fail("dropped subscriptions: %zu records delivered past the end", received->load());
  } // every handle dropped
  // Stopping is asynchronous: wait until every feed actor is gone (each
  // cancels its wake-up as it goes), so the appends below do not compete
  // with 100,000 actors shutting down.
  auto gone = std::async(std::launch::async, [&] {
    system.registry().await_running_count_equal(actors_before);
  });
  if (gone.wait_for(std::chrono::seconds(300)) != std::future_status::ready) {
    bench::fail("dropped subscriptions: %zu actors still running after 300 s, %zu before",
                system.registry().running(), actors_before);
    std::exit(bench::exit_code("bench_subscriptions"));
  }
  auto after_us = blocking_us();
  auto after_mib = resident_mib();
  auto label = with_commas(cfg.dropped_subscriptions) + " dropped subscriptions";
  record({"(4) blocking single-event append, none dropped", before_us, "us", 0, true,
          "mean of " + with_commas(cfg.blocking_appends) + ", same backend"});
  record({"(4) blocking single-event append, after " + label, after_us, "us", 0, true,
          "was 268 us in issue 14 (15 us before)"});
  record({"(4) resident memory growth over " + label, after_mib - before_mib, "MiB", 0, true,
          "was 139 MB in issue 14"});
}

// -- (6) many idle subscriptions ---------------------------------------------------------------------
// --many-subscriptions push subscriptions past the end (half callback, half
// to one actor): the time to start them (until every one is caught up), the
// resident memory each costs while idle, blocking append latency with them in
// place beside without (each append is delivered to every one of them), and
// the time to stop them all (until their actors are gone).

std::vector<std::int64_t> blocking_append_ns(sourcery::event_store& store, std::size_t n,
                                             std::size_t& next) {
  std::vector<std::int64_t> ns;
  ns.reserve(n);
  for (std::size_t i = 0; i < n; ++i, ++next) {
    auto t = now_ns();
    store.append(sourcery::stream_id::random("many"), {wrapped(next)});
    ns.push_back(now_ns() - t);
  }
  return ns;
}

void many_subscriptions(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  auto store = backend.event_store();
  std::size_t next = 0;
  auto without = percentiles_of(blocking_append_ns(store, cfg.blocking_appends, next));
  auto& system = backend.actor_system();
  auto actors_before = system.registry().running();
  auto n = cfg.many_subscriptions;
  arrival_counter arrived;
  auto consumer = system.spawn(
    [](caf::event_based_actor*, arrival_counter* count) {
      return caf::behavior{
        [count](sourcery::records_atom, const std::vector<sourcery::recorded_event>& rs) {
          count->add(rs.size());
        }};
    },
    &arrived);
  auto before_mib = resident_mib();
  auto start = clock_type::now();
  std::vector<sourcery::push_subscription> subs;
  subs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto from = store.position();
    if (i % 2 == 0)
      subs.push_back(backend.subscriber().start_from(from).build_push(
        [&arrived](std::span<const sourcery::recorded_event> b) { arrived.add(b.size()); },
        cfg.push_batch));
    else
      subs.push_back(backend.subscriber().start_from(from).build_push_to(consumer, cfg.push_batch));
  }
  for (auto& sub : subs)
    if (!sub.wait_caught_up(std::chrono::seconds(600)))
      bench::fail("many subscriptions: one did not start");
  auto started = seconds_since(start);
  auto idle_mib = resident_mib();
  auto with = percentiles_of(blocking_append_ns(store, cfg.many_appends, next));
  if (!arrived.wait_for(n * cfg.many_appends))
    bench::fail("many subscriptions: %zu of %zu deliveries", arrived.count(), n * cfg.many_appends);
  auto delivered_s = seconds_since(start) - started;
  start = clock_type::now();
  for (auto& sub : subs)
    sub.stop();
  subs.clear();
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
  auto gone = std::async(std::launch::async, [&] {
    system.registry().await_running_count_equal(actors_before);
  });
  if (gone.wait_for(std::chrono::seconds(300)) != std::future_status::ready)
    bench::fail("many subscriptions: %zu actors still running after 300 s",
                system.registry().running());
  auto stopped = seconds_since(start);
  auto label = with_commas(n) + " push subs (half callback, half actor)";
  auto per_sub = (idle_mib - before_mib) * 1048576.0 / static_cast<double>(n);
  record({"(6) resident memory per idle sub, " + label, per_sub, "bytes", 4096, true,
          "RSS " + number(before_mib) + " -> " + number(idle_mib) + " MiB"});
  record({"(6) time to start " + label, started * 1000, "ms", 0, true,
          "until every one is caught up"});
  record({"(6) time to stop " + label, stopped * 1000, "ms", 0, true,
          "until every feed actor is gone"});
  record({"(6) blocking append p50 / p99, none", without.p50_us, "us", 0, true,
          "p99 " + number(without.p99_us) + " us, " + with_commas(without.samples) + " appends"});
  record({"(6) blocking append p50 / p99, with " + label, with.p50_us, "us", 0, true,
          "p99 " + number(with.p99_us) + " us, " + with_commas(with.samples)
            + " appends, each delivered to all: " + number(delivered_s * 1000) + " ms"});
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  return cli::run_main(argc, argv, cfg.options(), [&] {
    bench::machine_watch machine;
    bench::event_pool<timed_order_placed>();
    std::fprintf(stderr, "measuring …\n");
    auto decode_rate = decode_baseline(cfg);
    double max_rate = 0;
    if (cfg.runs(0) || (cfg.runs(1) && cfg.latency_rate == 0))
      max_rate = max_append_rate(cfg);
    if (cfg.runs(1)) {
      if (cfg.latency_rate > 0)
        latency_rows(cfg, static_cast<double>(cfg.latency_rate),
                     with_commas(cfg.latency_rate) + "/s (set)");
      else
        latency_rows(cfg, max_rate / 2, "half max rate");
      latency_rows(cfg, static_cast<double>(cfg.low_rate), with_commas(cfg.low_rate) + "/s");
    }
    if (cfg.runs(2))
      for (bool with_metrics : cfg.metrics_variants())
        catch_up(cfg, decode_rate, with_metrics);
    if (cfg.runs(3))
      for (auto b : cfg.fanout_batches)
        fan_out(cfg, b, decode_rate);
    if (cfg.runs(4) && cfg.dropped_subscriptions > 0)
      dropped_subscriptions(cfg);
    if (cfg.runs(5) && cfg.isolation_subscriptions > 0)
      slow_callback_isolation(cfg);
    if (cfg.runs(6) && cfg.many_subscriptions > 0)
      many_subscriptions(cfg);
    record({"original design: catch-up (10 ms sleep per record)", 97, "events/s", 0, false,
            "quoted from issue 3, not measured", true});
    record({"original design: append->subscriber latency", 10'800, "us", 0, true,
            "quoted from issue 3, not measured", true});
    print_table(cfg, machine);
    return bench::exit_code("bench_subscriptions");
  });
}
