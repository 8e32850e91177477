// bench_common.hpp: what the benchmark programs in apps/ share (namespace bench).
//
// The ~100-byte order_placed event and its pool, the steady clock, number
// formatting and the six-column result table, probes of what else the machine
// did, pipelined appends, the decode baseline, the scheduler options and the
// exit code. Each program keeps its own measurements and decides its own rows.
//
// Options: each program's bench_config lists its options in a cli::options
// table (cli.hpp), which parses the command line and prints --help; main()
// runs through cli::run_main, so bad input is one line on stderr, never an
// abort. Exit codes: 0 when the run completed and every correctness check
// held (a missed *target* is a figure in the table, never a failure); 1 after
// any bench::fail() or an error that stopped the run; 2 for bad options.
#pragma once

#include "cli.hpp"

#include <sourcery/sourcery.hpp>

#include <boost/describe.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bench {

// -- the event: about 100 bytes of JSON ----------------------------------------

struct order_placed {
  std::string customer;
  std::string sku;
  int quantity = 0;
  double price = 0;
  std::string note;
};
BOOST_DESCRIBE_STRUCT(order_placed, (), (customer, sku, quantity, price, note))

/// Event `i` of the workload. `Event` is order_placed or a struct with the
/// same fields; any further fields keep their defaults.
template <class Event = order_placed>
Event make_event(std::size_t i) {
  char customer[32];
  char sku[32];
  std::snprintf(customer, sizeof customer, "customer-%06zu", i % 1'000'000);
  std::snprintf(sku, sizeof sku, "SKU-%08zu", i * 7919 % 100'000'000);
  Event e;
  e.customer = customer;
  e.sku = sku;
  e.quantity = static_cast<int>(i % 10 + 1);
  e.price = 19.99;
  e.note = "gift wrap";
  return e;
}

/// 4,096 events, made once before timing starts: the benchmarks time what
/// Sourcery does with them (wrap, encode, commit), not their making.
template <class Event = order_placed>
const std::vector<Event>& event_pool() {
  static const auto pool = [] {
    std::vector<Event> out;
    for (std::size_t i = 0; i < 4096; ++i)
      out.push_back(make_event<Event>(i));
    return out;
  }();
  return pool;
}

/// Event `i` of the pool (cycling through it), wrapped for an append.
template <class Event = order_placed>
sourcery::wrapped_event<> wrapped(std::size_t i) {
  const auto& pool = event_pool<Event>();
  return sourcery::wrap(pool[i % pool.size()]);
}

/// Bytes of JSON one event encodes to.
template <class Event = order_placed>
std::size_t payload_bytes() {
  return sourcery::serde::encode(make_event<Event>(123456)).size();
}

// -- time ----------------------------------------------------------------------

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// -- numbers as the tables show them -------------------------------------------

/// `x` rounded to a whole number with thousands separators: 1234567 -> "1,234,567".
inline std::string with_commas(double x) {
  auto digits = std::to_string(static_cast<long long>(x + 0.5));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

/// Below 1,000: two decimals under 10, one under 100, none above ("1.81",
/// "22.6", "192"); from 1,000 on (and 0) with_commas.
inline std::string number(double x) {
  if (x >= 1000 || x == 0)
    return with_commas(x);
  char buf[32];
  std::snprintf(buf, sizeof buf, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x);
  return buf;
}

/// A ratio to something: "0.94 x decode baseline".
inline std::string times(double ratio, const std::string& what) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.2f x %s", ratio, what.c_str());
  return buf;
}

// -- the result table ----------------------------------------------------------

/// One table line, every cell formatted already.
struct table_row {
  std::string what{};
  std::string value{};
  std::string unit{};
  std::string target{};
  std::string met{};
  std::string note{};
};

/// The widths of the six columns (cells wider than theirs widen their line).
struct column_widths {
  int what;
  int value;
  int unit;
  int target;
  int met;
  int note;
};

/// Prints one line of the table: value, target and met right-aligned.
inline void print_table_line(const column_widths& w, const table_row& r) {
  std::printf("| %-*s | %*s | %-*s | %*s | %*s | %-*s |\n", w.what, r.what.c_str(), w.value,
              r.value.c_str(), w.unit, r.unit.c_str(), w.target, r.target.c_str(), w.met,
              r.met.c_str(), w.note, r.note.c_str());
}

/// Prints `header`, a rule and `rows` as a Markdown table on stdout.
inline void print_table(const column_widths& w, const table_row& header,
                        const std::vector<table_row>& rows) {
  print_table_line(w, header);
  auto rule = [](int width) { return std::string(static_cast<std::size_t>(width) + 2, '-'); };
  std::printf("|%s|%s|%s|%s|%s|%s|\n", rule(w.what).c_str(), rule(w.value).c_str(),
              rule(w.unit).c_str(), rule(w.target).c_str(), rule(w.met).c_str(),
              rule(w.note).c_str());
  for (const auto& r : rows)
    print_table_line(w, r);
}

/// Prints a measurement on stderr as soon as it is taken: "  what value unit".
inline void print_progress(int what_width, const std::string& what, const std::string& value,
                           const std::string& unit) {
  std::fprintf(stderr, "  %-*s %12s %s\n", what_width, what.c_str(), value.c_str(),
               unit.c_str());
}

// -- correctness checks and the exit code --------------------------------------

/// Correctness checks failed so far in this process.
inline std::atomic<std::size_t>& failure_count() {
  static std::atomic<std::size_t> count{0};
  return count;
}

/// Reports a failed correctness check on stderr ("  !! …", printf-style) and
/// makes exit_code() 1. Not for missed targets: those are figures.
[[gnu::format(printf, 1, 2)]] inline void fail(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::fputs("  !! ", stderr);
  std::vfprintf(stderr, format, args);
  std::fputc('\n', stderr);
  va_end(args);
  ++failure_count();
}

/// 0 when every correctness check held, else 1 (saying how many failed).
inline int exit_code(const char* program) {
  auto failures = failure_count().load();
  if (failures == 0)
    return 0;
  std::fprintf(stderr, "%s: %zu correctness check(s) failed\n", program, failures);
  return 1;
}

// -- what else the machine did -------------------------------------------------

/// CPU time (seconds) the whole machine and this process spent busy so far,
/// to tell how much of the run other processes took.
struct cpu_sample {
  double machine = 0;
  double self = 0;
  clock_type::time_point at = clock_type::now();
};

/// From /proc/stat (the machine) and /proc/self/stat (this process).
inline cpu_sample sample_cpu() {
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

/// Cores this process kept busy on average since `start`.
inline double cores_used(const cpu_sample& start) {
  auto now = sample_cpu();
  auto wall = std::chrono::duration<double>(now.at - start.at).count();
  return wall > 0 ? (now.self - start.self) / wall : 0;
}

/// The 1, 5 and 15 minute load averages: "0.52 0.61 0.70".
inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
  return buf;
}

/// Watches the machine from construction (the start of the run) on.
class machine_watch {
public:
  /// "load average before: 0.52 0.61 0.70, after: 1.20 0.80 0.75;"
  std::string load_averages() const {
    return "load average before: " + load_before_ + ", after: " + load_average() + ";";
  }

  /// "other processes used N% of the C cores' time during the run".
  std::string others_cpu() const {
    auto now = sample_cpu();
    auto wall = std::chrono::duration<double>(now.at - cpu_start_.at).count();
    auto cores = std::max(1u, std::thread::hardware_concurrency());
    auto others = std::max(0.0, (now.machine - cpu_start_.machine) - (now.self - cpu_start_.self));
    char buf[128];
    std::snprintf(buf, sizeof buf,
                  "other processes used %.0f%% of the %u cores' time during the run",
                  wall > 0 ? 100.0 * others / (wall * cores) : 0.0, cores);
    return buf;
  }

private:
  std::string load_before_ = load_average();
  cpu_sample cpu_start_ = sample_cpu();
};

// -- options -------------------------------------------------------------------

/// Upper bounds of the benchmarks' options: what one machine can hold or
/// wait for, so that a typo is refused up front (exit code 2) instead of
/// failing an allocation or running for a week.
namespace limits {
inline constexpr std::uint64_t operations = 1'000'000'000; // timed calls: appends, loads, sends
inline constexpr std::uint64_t stored = 100'000'000;       // events held in memory at once
inline constexpr std::uint64_t streams = 10'000'000;
inline constexpr std::uint64_t in_flight = 1'000'000;
inline constexpr std::uint64_t batch = 100'000;            // events per append
inline constexpr std::uint64_t threads = 1'024;
inline constexpr std::uint64_t milliseconds = 3'600'000;   // an hour
} // namespace limits

/// The options every benchmark takes beside its own: the scheduler.
struct config {
  std::string policy = "sharing";
  std::size_t threads = 0;
  /// --metrics: "on" (the runtime's default), "off", or "both": the
  /// measurements that compare them run once each way, side by side.
  std::string metrics = "on";
  /// --callback-threads: runtime_options::subscription_callback_threads.
  std::size_t callback_threads = sourcery::runtime_options{}.subscription_callback_threads;

  /// The runtime a benchmark's backends run on (metrics on unless "off").
  sourcery::runtime_options runtime() const { return runtime(metrics != "off"); }
  sourcery::runtime_options runtime(bool with_metrics) const {
    return sourcery::runtime_options{.scheduler_policy = policy,
                                     .scheduler_threads = threads,
                                     .max_throughput = 0,
                                     .metrics = with_metrics,
                                     .subscription_callback_threads = callback_threads};
  }

  /// The metrics settings a comparing measurement runs with: off first.
  std::vector<bool> metrics_variants() const {
    if (metrics == "both")
      return {false, true};
    return {metrics != "off"};
  }
  /// ", metrics on" / ", metrics off" with --metrics=both, else "".
  std::string metrics_label(bool with_metrics) const {
    return metrics == "both" ? (with_metrics ? ", metrics on" : ", metrics off") : "";
  }

  /// Scheduler threads the runtime starts: --threads, or one per core.
  std::size_t scheduler_threads() const {
    return threads ? threads : std::max(1u, std::thread::hardware_concurrency());
  }

protected:
  /// Adds --policy and --threads to `opts`. A program adds them after its
  /// own options, so --help lists these last.
  void add_scheduler_options(cli::options& opts) {
    opts.choice(policy, "policy", "scheduler policy", {"sharing", "stealing"})
      .count(threads, "threads", "scheduler threads; 0 = one per core", 0, limits::threads)
      .choice(metrics, "metrics", "count for backend.metrics(); both = compare, side by side",
              {"on", "off", "both"})
      .count(callback_threads, "callback-threads",
             "threads running push subscriptions' callbacks", 1, limits::threads);
  }
};

/// The first line of a result table: "\nSourcery <what> benchmark (scheduler: …)".
inline void print_title(const char* what, const config& cfg) {
  std::printf("\nSourcery %s benchmark (scheduler: %s, %zu threads, %u cores)\n", what,
              cfg.policy.c_str(), cfg.scheduler_threads(), std::thread::hardware_concurrency());
}

// -- the store -----------------------------------------------------------------

/// A fresh in-memory backend on `cfg`'s runtime with `Event` registered as
/// "order_placed".
template <class Event = order_placed>
sourcery::backend make_backend(const config& cfg) {
  return make_backend<Event>(cfg, cfg.metrics != "off");
}
template <class Event = order_placed>
sourcery::backend make_backend(const config& cfg, bool with_metrics) {
  auto b = sourcery::backend::in_memory(cfg.runtime(with_metrics));
  b.registry().add<Event>("order_placed");
  return b;
}

/// `n` fresh random stream ids in `category`.
inline std::vector<sourcery::stream_id> make_streams(std::size_t n,
                                                     const std::string& category = "orders") {
  std::vector<sourcery::stream_id> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(sourcery::stream_id::random(category));
  return out;
}

/// Bounds the number of asynchronous calls in flight; waits on a condition.
class in_flight_window {
public:
  explicit in_flight_window(std::size_t limit) : limit_(limit) {}

  /// Blocks while `limit` calls are in flight, then counts one more.
  void acquire() {
    std::unique_lock lock(mutex_);
    if (in_flight_ >= limit_) {
      waiting_ = true;
      cv_.wait(lock, [&] { return in_flight_ <= limit_ / 2; }); // hysteresis: fewer wake-ups
    }
    ++in_flight_;
  }

  /// Counts one call complete; `ok` = it succeeded. Any thread.
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

/// Pipelined appends to `streams` fresh streams in `category`, round robin,
/// from one thread (so each stream's expected versions hold). `Window` bounds
/// the appends in flight: in_flight_window, or any type with its constructor
/// from the limit, acquire(), release(bool ok) and drain() -> failures.
template <class Window = in_flight_window>
class appender {
public:
  appender(sourcery::event_store store, std::size_t streams, std::size_t window,
           const std::string& category = "orders")
    : store_(std::move(store)), streams_(make_streams(streams, category)),
      versions_(streams, 0), window_(window) {}

  /// Appends one event to the next stream.
  void append(sourcery::wrapped_event<> e) { append_batch({std::move(e)}); }

  /// Appends `events` to the next stream in one commit.
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

  /// Waits for every append; fails (naming `what`) if any did.
  void drain(const char* what) {
    if (auto failures = window_.drain())
      fail("%zu appends failed (%s)", failures, what);
  }

private:
  sourcery::event_store store_;
  std::vector<sourcery::stream_id> streams_;
  std::vector<std::uint64_t> versions_;
  std::size_t next_ = 0;
  Window window_;
};

/// Appends events 0 … n-1 of the pool in appends of `batch`, pipelined (8 in
/// flight), round robin over `streams` fresh streams; returns once all committed.
template <class Event = order_placed>
void append_events(sourcery::event_store store, std::size_t n, std::size_t batch,
                   std::size_t streams) {
  appender<> app(std::move(store), streams, 8);
  for (std::size_t done = 0; done < n; done += batch) {
    auto m = std::min(batch, n - done);
    std::vector<sourcery::wrapped_event<>> events;
    events.reserve(m);
    for (std::size_t i = 0; i < m; ++i)
      events.push_back(wrapped<Event>(done + i));
    app.append_batch(std::move(events));
  }
  app.drain("append_events");
}

// -- the decode baseline -------------------------------------------------------

/// Events per second decoded by `loads` load_stream calls of one fresh
/// `load_size`-event stream (after one untimed load). `backend` must have
/// `Event` registered; fails if the loads decoded nothing.
template <class Event = order_placed>
double decode_rate(sourcery::backend& backend, std::size_t load_size, std::size_t loads) {
  auto store = backend.event_store();
  auto id = sourcery::stream_id::random("orders");
  std::vector<sourcery::wrapped_event<>> events;
  for (std::size_t i = 0; i < load_size; ++i)
    events.push_back(wrapped<Event>(i));
  store.append(id, std::move(events));
  std::size_t checksum = 0;
  auto load = [&] {
    for (const auto& e : store.load_stream(id))
      checksum += static_cast<std::size_t>(e.event.template as<Event>().quantity);
  };
  load(); // warm-up
  auto start = clock_type::now();
  for (std::size_t i = 0; i < loads; ++i)
    load();
  auto s = seconds_since(start);
  if (checksum == 0)
    fail("loads decoded nothing");
  return loads * load_size / s;
}

} // namespace bench
