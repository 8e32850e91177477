// bench_outbox: outbox publishing throughput, continuous and on demand, beside
// the raw decode rate measured in the same run (issue 4, item 6).
//
//   bench_outbox                      # the full run (about 5 seconds)
//   bench_outbox --events=20000 --backlogs=5000,10000,20000 --loads=10
//                                     # (one line) a tiny run, for CI
//   bench_outbox --help               # every option
//
// Every publish decodes a recorded event, so the decode rate (load_stream of a
// --load-size-event stream) is the baseline. Each figure uses a fresh
// in-memory backend with_outbox() and a publisher that does nothing:
//   (1) continuous mode, live: outbox().start(publisher), then --events events
//       appended (--batch-size events per append, pipelined, 8 in flight) as
//       fast as possible; timed from start() until wait_until_empty()
//       returns. Beside it, the same appends with the outbox off.
//   (2) continuous mode, backlog: --events appended first; timed from start()
//       until wait_until_empty() returns.
//   (3) run(limit = --limit) in a loop until it returns 0, draining a backlog of
//       each size in --backlogs; the ratio of successive drain times shows
//       whether draining is linear in the backlog (2 ± 20% when doubling).
// Completion is awaited with wait_until_empty (event-driven), never by sleeping.
// Figures are wall-clock on whatever else the machine is doing: the table
// shows the load average and the share of CPU other processes took.
#include <sourcery/sourcery.hpp>

#include <boost/describe.hpp>

#include <caf/actor_system_config.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// -- the event: about 100 bytes of JSON -----------------------------------------------

struct order_placed {
  std::string customer;
  std::string sku;
  int quantity = 0;
  double price = 0;
  std::string note;
};
BOOST_DESCRIBE_STRUCT(order_placed, (), (customer, sku, quantity, price, note))

order_placed make_event(std::size_t i) {
  char customer[32];
  char sku[32];
  std::snprintf(customer, sizeof customer, "customer-%06zu", i % 1'000'000);
  std::snprintf(sku, sizeof sku, "SKU-%08zu", i * 7919 % 100'000'000);
  return order_placed{customer, sku, static_cast<int>(i % 10 + 1), 19.99, "gift wrap"};
}

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

// -- options ----------------------------------------------------------------------------

struct bench_config : caf::actor_system_config {
  std::size_t events = 1'000'000;
  std::size_t batch_size = 100;
  std::size_t streams = 1'000;
  std::size_t dispatch_batch = 256;
  std::size_t limit = 1'000;
  std::vector<std::size_t> backlogs{200'000, 400'000, 800'000};
  std::size_t loads = 1'000;
  std::size_t load_size = 1'000;
  std::string policy = "sharing";
  std::size_t threads = 0;

  bench_config() {
    opt_group{custom_options_, "global"}
      .add(events, "events", "(1, 2) events appended")
      .add(batch_size, "batch-size", "events per append")
      .add(streams, "streams", "streams the appends go to, round robin")
      .add(dispatch_batch, "dispatch-batch", "(1, 2) continuous_options.batch")
      .add(limit, "limit", "(3) run(limit)")
      .add(backlogs, "backlogs", "(3) backlog sizes to drain, e.g. 200000,400000,800000")
      .add(loads, "loads", "baseline: loads of one stream")
      .add(load_size, "load-size", "baseline: events in the loaded stream")
      .add(policy, "policy", "scheduler policy: sharing or stealing")
      .add(threads, "threads", "scheduler threads; 0 = one per core");
  }

  sourcery::runtime_options runtime() const {
    return sourcery::runtime_options{.scheduler_policy = policy,
                                     .scheduler_threads = threads,
                                     .max_throughput = 0};
  }
};

// -- helpers -------------------------------------------------------------------------------

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

sourcery::backend make_backend(const bench_config& cfg, bool outbox) {
  auto b = sourcery::backend::in_memory(cfg.runtime());
  b.registry().add<order_placed>("order_placed");
  b.configure(sourcery::settings{}); // defaults: 3 attempts (a no-op publisher never fails)
  if (outbox)
    b.with_outbox();
  return b;
}

/// Appends `n` events in appends of `batch`, pipelined (8 in flight), round
/// robin over `streams` streams, from this one thread.
void append_events(sourcery::backend& backend, std::size_t n, std::size_t batch,
                   std::size_t streams) {
  auto store = backend.event_store();
  std::vector<sourcery::stream_id> ids;
  for (std::size_t i = 0; i < streams; ++i)
    ids.push_back(sourcery::stream_id::random("orders"));
  std::vector<std::uint64_t> versions(streams, 0);
  in_flight_window window(8);
  std::size_t k = 0;
  for (std::size_t done = 0; done < n; done += batch) {
    auto m = std::min(batch, n - done);
    std::vector<sourcery::wrapped_event<>> events;
    events.reserve(m);
    for (std::size_t i = 0; i < m; ++i)
      events.push_back(wrapped(done + i));
    window.acquire();
    store.append_async(ids[k], std::move(events), versions[k],
                       [&window](sourcery::result<sourcery::append_receipt> r) {
                         window.release(r.ok());
                       });
    versions[k] += m;
    k = (k + 1) % streams;
  }
  if (auto failures = window.drain())
    std::fprintf(stderr, "  !! %zu appends failed\n", failures);
}

/// Checks every entry was published once and none is left.
void check_counts(sourcery::outbox ob, std::size_t expected, const char* what) {
  auto c = ob.counts();
  if (c.published != expected || c.pending != 0 || c.dead != 0 || c.failures != 0)
    std::fprintf(stderr,
                 "  !! %s: published %zu of %zu, pending %zu, dead %zu, failures %zu\n", what,
                 c.published, expected, c.pending, c.dead, c.failures);
}

const sourcery::outbox_publisher& noop_publisher() {
  static const sourcery::outbox_publisher p = [](const sourcery::recorded_event&) {};
  return p;
}

constexpr auto forever = std::chrono::minutes(10);

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

std::string times(double x, const char* what) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f x %s", x, what);
  return buf;
}

// -- the table --------------------------------------------------------------------------------

struct row {
  std::string what{};
  double value = 0;
  std::string unit{};
  std::string target{}; // empty = none
  std::string met{};
  std::string note{};
};

std::vector<row> rows;

void record(row r) {
  std::fprintf(stderr, "  %-58s %12s %s\n", r.what.c_str(), number(r.value).c_str(),
               r.unit.c_str());
  rows.push_back(std::move(r));
}

row at_least(std::string what, double value, std::string unit, double target, std::string note) {
  return row{std::move(what), value,       std::move(unit), ">= " + number(target),
             value >= target ? "yes" : "NO", std::move(note)};
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
  std::printf("\nSourcery outbox benchmark (scheduler: %s, %zu threads, %u cores)\n",
              cfg.policy.c_str(),
              cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency()),
              std::thread::hardware_concurrency());
  std::printf("event payload: %zu bytes of JSON; publisher: does nothing; "
              "load average before: %s, after: %s;\n",
              sourcery::serde::encode(make_event(123456)).size(), load_before.c_str(),
              load_average().c_str());
  std::printf("%s\n\n", others_cpu(cpu_start).c_str());
  std::printf("| %-62s | %12s | %-10s | %12s | %4s | %-48s |\n", "measurement", "value", "unit",
              "target", "met", "note");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(64, '-').c_str(),
              std::string(14, '-').c_str(), std::string(12, '-').c_str(),
              std::string(14, '-').c_str(), std::string(6, '-').c_str(),
              std::string(50, '-').c_str());
  for (const auto& r : rows)
    std::printf("| %-62s | %12s | %-10s | %12s | %4s | %-48s |\n", r.what.c_str(),
                number(r.value).c_str(), r.unit.c_str(), r.target.c_str(), r.met.c_str(),
                r.note.c_str());
}

// -- baseline: decoding ------------------------------------------------------------------------

double decode_baseline(const bench_config& cfg) {
  auto backend = make_backend(cfg, false);
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
          "events/s", "", "", "every publish decodes one recorded event"});
  return rate;
}

// -- (1) continuous, live ---------------------------------------------------------------------

void continuous_live(const bench_config& cfg) {
  auto n = cfg.events;
  double append_only = 0;
  {
    auto backend = make_backend(cfg, false);
    auto start = clock_type::now();
    append_events(backend, n, cfg.batch_size, cfg.streams);
    append_only = n / seconds_since(start);
  }
  record({"baseline: the same appends, outbox off", append_only, "events/s", "", "",
          with_commas(n) + " in " + with_commas(cfg.batch_size) + "-event appends, 8 in flight"});

  auto backend = make_backend(cfg, true);
  auto ob = backend.outbox();
  auto start = clock_type::now();
  ob.start(noop_publisher(), sourcery::continuous_options{.batch = cfg.dispatch_batch});
  append_events(backend, n, cfg.batch_size, cfg.streams);
  auto appended = seconds_since(start);
  if (!ob.wait_until_empty(forever))
    std::fprintf(stderr, "  !! continuous (live): not empty after 10 minutes\n");
  auto s = seconds_since(start);
  ob.stop();
  check_counts(ob, n, "continuous (live)");
  record(at_least("(1) continuous, publishing while " + with_commas(n) + " are appended", n / s,
                  "events/s", 500'000,
                  "appends took " + number(appended) + " s; "
                    + times(n / s / append_only, "outbox-off appends")));
}

// -- (2) continuous, backlog ------------------------------------------------------------------

void continuous_backlog(const bench_config& cfg, double decode_rate) {
  auto n = cfg.events;
  auto backend = make_backend(cfg, true);
  append_events(backend, n, cfg.batch_size, cfg.streams);
  auto ob = backend.outbox();
  auto start = clock_type::now();
  ob.start(noop_publisher(), sourcery::continuous_options{.batch = cfg.dispatch_batch});
  if (!ob.wait_until_empty(forever))
    std::fprintf(stderr, "  !! continuous (backlog): not empty after 10 minutes\n");
  auto s = seconds_since(start);
  ob.stop();
  check_counts(ob, n, "continuous (backlog)");
  record(at_least("(2) continuous, draining a backlog of " + with_commas(n), n / s, "events/s",
                  500'000, times(n / s / decode_rate, "decode baseline")));
}

// -- (3) run(limit) draining a backlog -------------------------------------------------------

void run_drain(const bench_config& cfg, double decode_rate) {
  double previous_seconds = 0;
  std::size_t previous_backlog = 0;
  for (auto b : cfg.backlogs) {
    auto backend = make_backend(cfg, true);
    append_events(backend, b, cfg.batch_size, cfg.streams);
    auto ob = backend.outbox();
    std::size_t calls = 0;
    std::size_t handed = 0;
    auto start = clock_type::now();
    while (auto k = ob.run(noop_publisher(), cfg.limit)) {
      handed += k;
      ++calls;
    }
    auto s = seconds_since(start);
    check_counts(ob, b, "run(limit)");
    if (handed != b)
      std::fprintf(stderr, "  !! run(limit): handed %zu of %zu\n", handed, b);
    record(at_least("(3) run(limit = " + with_commas(cfg.limit) + ") draining "
                      + with_commas(b),
                    b / s, "entries/s", 1'000'000,
                    number(s * 1000) + " ms, " + with_commas(calls) + " calls; "
                      + times(b / s / decode_rate, "decode")));
    if (previous_backlog != 0) {
      auto size_ratio = static_cast<double>(b) / previous_backlog;
      auto ratio = s / previous_seconds;
      auto lo = size_ratio * 0.8;
      auto hi = size_ratio * 1.2;
      char target[32];
      std::snprintf(target, sizeof target, "%.1f-%.1f", lo, hi);
      record(row{"(3) time(" + with_commas(b) + ") / time(" + with_commas(previous_backlog)
                   + ")",
                 ratio, "ratio", target, ratio >= lo && ratio <= hi ? "yes" : "NO",
                 "linear: backlog x" + number(size_ratio) + " -> time x" + number(size_ratio)
                   + " +-20%"});
    }
    previous_backlog = b;
    previous_seconds = s;
  }
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "bench_outbox: " << cfg.render(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.events == 0 || cfg.batch_size == 0 || cfg.streams == 0 || cfg.dispatch_batch == 0
      || cfg.limit == 0 || cfg.loads == 0 || cfg.load_size == 0
      || std::find(cfg.backlogs.begin(), cfg.backlogs.end(), 0u) != cfg.backlogs.end()) {
    std::cerr << "bench_outbox: sizes and batches must be at least 1\n";
    return 2;
  }

  auto load_before = load_average();
  auto cpu_start = sample_cpu();
  event_pool();
  std::fprintf(stderr, "measuring …\n");
  auto decode_rate = decode_baseline(cfg);
  continuous_live(cfg);
  continuous_backlog(cfg, decode_rate);
  run_drain(cfg, decode_rate);
  record({"original design: outbox publishing", 23'000, "events/s", "", "",
          "quoted from issue 4, not measured; quadratic"});
  print_table(cfg, load_before, cpu_start);
  return 0;
}
