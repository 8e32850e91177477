// bench_subscriptions: append→subscriber latency, catch-up rate and fan-out of
// subscriptions, beside the raw decode rate measured in the same run (issue 3,
// item 6).
//
//   bench_subscriptions               # the full run (about 20 seconds)
//   bench_subscriptions --max-rate-ms=300 --latency-ms=300 --catchup-events=20000
//                       --loads=10 --fanout-subscriptions=10 --fanout-events=5000
//                                     # (one line) a tiny run, for CI
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
//   baseline: decoding, load_stream of a --load-size-event stream.
// Completion is awaited on condition variables signalled by the subscribers'
// callbacks, never by sleeping; the only sleep is the pacing driver's wait for
// its next slot. Figures are wall-clock on whatever else the machine is doing:
// the table shows the load average and the share of CPU other processes took.
#include <sourcery/sourcery.hpp>

#include <boost/describe.hpp>

#include <caf/actor_system_config.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clock_type::now().time_since_epoch())
    .count();
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// -- the event: about 100 bytes of JSON, with a submit stamp -----------------------

struct order_placed {
  /// steady_clock nanoseconds when the append was submitted; 0 = not timed.
  std::int64_t sent_ns = 0;
  std::string customer;
  std::string sku;
  int quantity = 0;
  double price = 0;
  std::string note;
};
BOOST_DESCRIBE_STRUCT(order_placed, (), (sent_ns, customer, sku, quantity, price, note))

order_placed make_event(std::size_t i) {
  char customer[32];
  char sku[32];
  std::snprintf(customer, sizeof customer, "customer-%06zu", i % 1'000'000);
  std::snprintf(sku, sizeof sku, "SKU-%08zu", i * 7919 % 100'000'000);
  return order_placed{0, customer, sku, static_cast<int>(i % 10 + 1), 19.99, "gift wrap"};
}

/// The application's events, made before timing starts.
const std::vector<order_placed>& event_pool() {
  static const auto pool = [] {
    std::vector<order_placed> out;
    for (std::size_t i = 0; i < 4096; ++i)
      out.push_back(make_event(i));
    return out;
  }();
  return pool;
}

sourcery::wrapped_event<> wrapped(std::size_t i) {
  const auto& pool = event_pool();
  return sourcery::wrap(pool[i % pool.size()]);
}

/// An event stamped with its submit time.
sourcery::wrapped_event<> stamped(std::size_t i) {
  const auto& pool = event_pool();
  auto e = pool[i % pool.size()];
  e.sent_ns = now_ns();
  return sourcery::wrap(std::move(e));
}

// -- options ------------------------------------------------------------------------

struct bench_config : caf::actor_system_config {
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
  std::string policy = "sharing";
  std::size_t threads = 0;

  bench_config() {
    opt_group{custom_options_, "global"}
      .add(streams, "streams", "streams appends go to, round robin")
      .add(window, "window", "(0, 1, 3) appends in flight at most")
      .add(max_rate_ms, "max-rate-ms", "(0) how long to measure the maximum append rate")
      .add(latency_ms, "latency-ms", "(1) how long each latency row runs")
      .add(low_rate, "low-rate", "(1) the fixed low rate, appends/s")
      .add(latency_rate, "latency-rate",
           "(1) the first row's rate, appends/s; 0 = half the measured maximum")
      .add(catchup_events, "catchup-events",
           "(2) events stored before catching up (rounded up to --pull-batch)")
      .add(store_batch, "store-batch", "(2) events per append when storing")
      .add(pull_batch, "pull-batch", "(2a) build_batch size")
      .add(push_batch, "push-batch", "(1, 2b, 3) build_push max batch")
      .add(loads, "loads", "baseline: loads of one stream")
      .add(load_size, "load-size", "baseline: events in the loaded stream")
      .add(fanout_subscriptions, "fanout-subscriptions", "(3) concurrent push subscriptions")
      .add(fanout_events, "fanout-events", "(3) events appended while they run")
      .add(fanout_batches, "fanout-batches",
           "(3) events per append, one fan-out run each, e.g. 1,100")
      .add(policy, "policy", "scheduler policy: sharing or stealing")
      .add(threads, "threads", "scheduler threads; 0 = one per core");
  }

  sourcery::runtime_options runtime() const {
    return sourcery::runtime_options{.scheduler_policy = policy,
                                     .scheduler_threads = threads,
                                     .max_throughput = 0};
  }
};

// -- helpers ---------------------------------------------------------------------------

/// Bounds the number of asynchronous calls in flight; waits on a condition.
class in_flight_window {
public:
  explicit in_flight_window(std::size_t limit) : limit_(limit) {}

  void acquire() {
    std::unique_lock lock(mutex_);
    if (in_flight_ >= limit_) {
      waiting_ = true;
      cv_.wait(lock, [&] { return in_flight_ <= limit_ / 2; });
    }
    ++in_flight_;
  }

  void release(bool ok) {
    std::lock_guard lock(mutex_);
    --in_flight_;
    failures_ += ok ? 0 : 1;
    if (waiting_ && (in_flight_ <= limit_ / 2 || in_flight_ == 0)) {
      waiting_ = false;
      cv_.notify_one();
    }
  }

  /// Blocks until every call completed; returns the number that failed.
  std::size_t drain() {
    std::unique_lock lock(mutex_);
    waiting_ = true;
    cv_.wait(lock, [&] {
      waiting_ = in_flight_ != 0;
      return in_flight_ == 0;
    });
    return failures_;
  }

private:
  std::size_t limit_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;
  std::size_t failures_ = 0;
  bool waiting_ = false;
};

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

sourcery::backend make_backend(const bench_config& cfg) {
  auto b = sourcery::backend::in_memory(cfg.runtime());
  b.registry().add<order_placed>("order_placed");
  return b;
}

std::vector<sourcery::stream_id> make_streams(std::size_t n) {
  std::vector<sourcery::stream_id> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(sourcery::stream_id::random("orders"));
  return out;
}

/// Single-event appends to `streams` round robin, from one thread (so each
/// stream's expected versions hold), at most `window` in flight.
class appender {
public:
  appender(sourcery::event_store store, std::size_t streams, std::size_t window)
    : store_(std::move(store)), streams_(make_streams(streams)), versions_(streams, 0),
      window_(window) {}

  void append(sourcery::wrapped_event<> e) {
    auto k = next_++ % streams_.size();
    window_.acquire();
    store_.append_async(streams_[k], {std::move(e)}, versions_[k]++,
                        [this](sourcery::result<sourcery::append_receipt> r) {
                          window_.release(r.ok());
                        });
  }

  void append_batch(std::vector<sourcery::wrapped_event<>> events) {
    auto k = next_++ % streams_.size();
    auto n = events.size();
    window_.acquire();
    store_.append_async(streams_[k], std::move(events), versions_[k],
                        [this](sourcery::result<sourcery::append_receipt> r) {
                          window_.release(r.ok());
                        });
    versions_[k] += n;
  }

  /// Waits for every append; reports failures.
  void drain(const char* what) {
    if (auto failures = window_.drain())
      std::fprintf(stderr, "  !! %zu appends failed (%s)\n", failures, what);
  }

private:
  sourcery::event_store store_;
  std::vector<sourcery::stream_id> streams_;
  std::vector<std::uint64_t> versions_;
  std::size_t next_ = 0;
  in_flight_window window_;
};

/// Stores `n` events in appends of `batch`, pipelined (8 in flight).
void store_events(sourcery::backend& backend, std::size_t n, std::size_t batch,
                  std::size_t streams) {
  appender app(backend.event_store(), streams, 8);
  for (std::size_t done = 0; done < n; done += batch) {
    std::vector<sourcery::wrapped_event<>> events;
    auto m = std::min(batch, n - done);
    events.reserve(m);
    for (std::size_t i = 0; i < m; ++i)
      events.push_back(wrapped(done + i));
    app.append_batch(std::move(events));
  }
  app.drain("storing");
}

std::string with_commas(double x) {
  auto digits = std::to_string(static_cast<long long>(x + 0.5));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

std::string number(double x) {
  if (x >= 1000 || x == 0)
    return with_commas(x);
  char buf[32];
  std::snprintf(buf, sizeof buf, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x);
  return buf;
}

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
  std::fprintf(stderr, "  %-58s %12s %s\n", r.what.c_str(), number(r.value).c_str(),
               r.unit.c_str());
  rows.push_back(std::move(r));
}

/// CPU time (seconds) the whole machine and this process spent busy so far,
/// to tell how much of the run other processes took.
struct cpu_sample {
  double machine = 0;
  double self = 0;
  clock_type::time_point at = clock_type::now();
};

cpu_sample sample_cpu() {
  cpu_sample out;
  auto tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  {
    std::ifstream in("/proc/stat");
    std::string cpu;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0,
                       softirq = 0, steal = 0;
    in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    out.machine = static_cast<double>(user + nice + system + irq + softirq + steal) / tick;
  }
  {
    std::ifstream in("/proc/self/stat");
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 1; i <= 15 && in >> field; ++i) {
      if (i == 14)
        utime = std::stoull(field);
      if (i == 15)
        stime = std::stoull(field);
    }
    out.self = static_cast<double>(utime + stime) / tick;
  }
  return out;
}

/// "others used N% of the machine's CPU during the run".
std::string others_cpu(const cpu_sample& start) {
  auto now = sample_cpu();
  auto wall = std::chrono::duration<double>(now.at - start.at).count();
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  auto others = std::max(0.0, (now.machine - start.machine) - (now.self - start.self));
  char buf[128];
  std::snprintf(buf, sizeof buf, "other processes used %.0f%% of the %u cores' time during the run",
                wall > 0 ? 100.0 * others / (wall * cores) : 0.0, cores);
  return buf;
}

/// Cores this process kept busy on average since `start`.
double cores_used(const cpu_sample& start) {
  auto now = sample_cpu();
  auto wall = std::chrono::duration<double>(now.at - start.at).count();
  return wall > 0 ? (now.self - start.self) / wall : 0;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
  return buf;
}

void print_table(const bench_config& cfg, const std::string& load_before,
                 const cpu_sample& cpu_start) {
  std::printf("\nSourcery subscriptions benchmark (scheduler: %s, %zu threads, %u cores)\n",
              cfg.policy.c_str(),
              cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency()),
              std::thread::hardware_concurrency());
  std::printf("event payload: %zu bytes of JSON; load average before: %s, after: %s;\n",
              sourcery::serde::encode(make_event(123456)).size(), load_before.c_str(),
              load_average().c_str());
  std::printf("%s\n\n", others_cpu(cpu_start).c_str());
  std::printf("| %-62s | %12s | %-13s | %10s | %4s | %-44s |\n", "measurement", "value", "unit",
              "target", "met", "note");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(64, '-').c_str(),
              std::string(14, '-').c_str(), std::string(15, '-').c_str(),
              std::string(12, '-').c_str(), std::string(6, '-').c_str(),
              std::string(46, '-').c_str());
  for (const auto& r : rows) {
    std::string target;
    std::string met;
    if (r.target > 0) {
      target = (r.lower_is_better ? "<= " : ">= ") + number(r.target);
      met = (r.lower_is_better ? r.value <= r.target : r.value >= r.target) ? "yes" : "NO";
    }
    std::printf("| %-62s | %12s | %-13s | %10s | %4s | %-44s |\n", r.what.c_str(),
                number(r.value).c_str(), r.unit.c_str(), target.c_str(), met.c_str(),
                r.note.c_str());
  }
}

// -- baseline: decoding ----------------------------------------------------------------------

double decode_baseline(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  auto store = backend.event_store();
  auto id = sourcery::stream_id::random("orders");
  std::vector<sourcery::wrapped_event<>> events;
  for (std::size_t i = 0; i < cfg.load_size; ++i)
    events.push_back(wrapped(i));
  store.append(id, std::move(events));
  std::size_t checksum = 0;
  auto load = [&] {
    for (const auto& e : store.load_stream(id))
      checksum += static_cast<std::size_t>(e.event.as<order_placed>().quantity);
  };
  load(); // warm-up
  auto start = clock_type::now();
  for (std::size_t i = 0; i < cfg.loads; ++i)
    load();
  auto s = seconds_since(start);
  if (checksum == 0)
    std::fprintf(stderr, "  !! loads decoded nothing\n");
  auto rate = cfg.loads * cfg.load_size / s;
  record({"baseline: load_stream of " + with_commas(cfg.load_size) + " events, decoded", rate,
          "events/s", 0, false, "pure decoding, no subscription"});
  return rate;
}

// -- (0) the maximum append rate -----------------------------------------------------------

double max_append_rate(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  appender app(backend.event_store(), cfg.streams, cfg.window);
  for (std::size_t i = 0; i < 1000; ++i)
    app.append(wrapped(i)); // warm-up: spawns the tenant, first log chunk
  app.drain("warm-up");
  auto duration = std::chrono::milliseconds(cfg.max_rate_ms);
  auto cpu = sample_cpu();
  auto start = clock_type::now();
  std::size_t n = 0;
  for (;;) {
    app.append(wrapped(n++));
    if (n % 256 == 0 && clock_type::now() - start >= duration)
      break;
  }
  app.drain("max rate");
  auto s = seconds_since(start);
  auto busy = cores_used(cpu);
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
        auto sent = r.event().as<order_placed>().sent_ns;
        if (sent != 0)
          samples.push_back(received - sent);
      }
      arrived.add(batch.size());
    },
    cfg.push_batch);

  appender app(backend.event_store(), cfg.streams, cfg.window);
  for (std::size_t i = 0; i < warm_up; ++i)
    app.append(wrapped(i)); // not timed (sent_ns = 0)
  app.drain("latency warm-up");
  arrived.wait_for(warm_up);

  // Open-loop pacing: append i is issued when its slot start + i/rate comes.
  auto interval = std::chrono::duration<double>(1.0 / rate);
  auto cpu = sample_cpu();
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
    std::fprintf(stderr, "  !! subscriber received %zu of %zu\n", arrived.count() - warm_up,
                 count);
  auto busy = cores_used(cpu);
  sub.stop();
  if (auto e = sub.error()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::fprintf(stderr, "  !! subscriber failed: %s\n", x.what());
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

void catch_up(const bench_config& cfg, double decode_rate) {
  auto n = (cfg.catchup_events + cfg.pull_batch - 1) / cfg.pull_batch * cfg.pull_batch;
  auto backend = make_backend(cfg);
  std::fprintf(stderr, "  storing %s events …\n", with_commas(n).c_str());
  store_events(backend, n, cfg.store_batch, cfg.streams);
  auto vs = [&](double rate) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f x decode baseline", rate / decode_rate);
    return std::string(buf);
  };

  { // (a) pull
    order_check order;
    std::size_t got = 0;
    auto start = clock_type::now();
    auto sub = backend.subscriber().start_from(0).build_batch(cfg.pull_batch,
                                                              std::chrono::seconds(1));
    while (got < n) {
      auto batch = sub.next();
      if (batch.empty()) {
        std::fprintf(stderr, "  !! pull catch-up: an empty batch after %zu records\n", got);
        break;
      }
      for (const auto& r : batch)
        order.see(r.position);
      got += batch.size();
    }
    auto s = seconds_since(start);
    if (order.violations || got != n)
      std::fprintf(stderr, "  !! pull catch-up: %zu of %zu, %zu order violations\n", got, n,
                   order.violations);
    record({"(2a) catch-up from 0 over " + with_commas(n) + ", pull build_batch("
              + with_commas(cfg.pull_batch) + ")",
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
      std::fprintf(stderr, "  !! push catch-up: %zu of %zu\n", arrived.count(), n);
    auto s = seconds_since(start);
    sub.stop();
    if (order.violations)
      std::fprintf(stderr, "  !! push catch-up: %zu order violations\n", order.violations);
    record({"(2b) catch-up from 0 over " + with_commas(n) + ", push build_push("
              + with_commas(cfg.push_batch) + ")",
            n / s, "events/s", 1'000'000, false, vs(n / s)});
  }
}

// -- (3) fan-out -----------------------------------------------------------------------------------

void fan_out(const bench_config& cfg, std::size_t append_batch) {
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

  appender app(backend.event_store(), cfg.streams, cfg.window);
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
    std::fprintf(stderr, "  !! fan-out: %zu of %zu subscriptions complete, %zu order violations\n",
                 done, subs_n, violations);
  auto label = with_commas(subs_n) + " subs x " + with_commas(n) + ", "
               + with_commas(append_batch) + "-event appends";
  record({"(3) fan-out, " + label + ": total time", s * 1000, "ms", 0, false,
          "first append to last sub complete; appends " + number(appended * 1000) + " ms"});
  record({"(3) fan-out, " + label + ": deliveries", subs_n * n / s, "events/s", 0, false,
          "aggregate over all subscriptions"});
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "bench_subscriptions: " << cfg.render(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.streams == 0 || cfg.window == 0 || cfg.store_batch == 0 || cfg.pull_batch == 0
      || cfg.push_batch == 0 || cfg.low_rate == 0
      || cfg.load_size == 0 || cfg.loads == 0
      || std::find(cfg.fanout_batches.begin(), cfg.fanout_batches.end(), 0u)
           != cfg.fanout_batches.end()) {
    std::cerr << "bench_subscriptions: sizes, rates and batches must be at least 1\n";
    return 2;
  }

  auto load_before = load_average();
  auto cpu_start = sample_cpu();
  event_pool();
  std::fprintf(stderr, "measuring …\n");
  auto decode_rate = decode_baseline(cfg);
  auto max_rate = max_append_rate(cfg);
  if (cfg.latency_rate > 0)
    latency_rows(cfg, static_cast<double>(cfg.latency_rate),
                 with_commas(cfg.latency_rate) + "/s (set)");
  else
    latency_rows(cfg, max_rate / 2, "half max rate");
  latency_rows(cfg, static_cast<double>(cfg.low_rate), with_commas(cfg.low_rate) + "/s");
  catch_up(cfg, decode_rate);
  for (auto b : cfg.fanout_batches)
    fan_out(cfg, b);
  record({"original design: catch-up (10 ms sleep per record)", 97, "events/s", 0, false,
          "quoted from issue 3, not measured", true});
  record({"original design: append->subscriber latency", 10'800, "us", 0, true,
          "quoted from issue 3, not measured", true});
  print_table(cfg, load_before, cpu_start);
  return 0;
}
