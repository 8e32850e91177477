// bench_store: throughput and memory of the event store, beside raw CAF
// message rates measured in the same run (issue 2, items 7 and 8).
//
//   bench_store                       # the full run (about a minute)
//   bench_store --blocking=1000 --pipelined=10000 --batches=100 --loads=10
//               --round-trips=1000 --sends=100000 --memory-events=10000
//               --tenants=1000        # (one line) a tiny run, for CI
//   bench_store --help                # every option
//
// Figures are wall-clock rates on whatever else the machine is doing; run it
// on a quiet machine. Memory is resident set growth (from /proc/self/statm)
// divided by what was stored.
#include <sourcery/sourcery.hpp>

#include <boost/describe.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

// -- the event: about 100 bytes of JSON ----------------------------------------

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

/// The application's events, made before timing starts: the benchmark times
/// what Sourcery does with them (wrap, encode, commit), not their making.
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

// -- options ----------------------------------------------------------------------

struct bench_config : caf::actor_system_config {
  std::size_t blocking = 100'000;
  std::size_t pipelined = 1'000'000;
  std::size_t window = 1'000;
  std::size_t streams = 1'000;
  std::size_t batches = 10'000;
  std::size_t batch_size = 100;
  std::size_t loads = 1'000;
  std::size_t load_size = 1'000;
  std::size_t round_trips = 100'000;
  std::size_t sends = 5'000'000;
  std::size_t memory_events = 1'000'000;
  std::size_t tenants = 100'000;
  std::string policy = "sharing";
  std::size_t threads = 0;

  bench_config() {
    opt_group{custom_options_, "global"}
      .add(blocking, "blocking", "(a) blocking single-event appends from one thread")
      .add(pipelined, "pipelined", "(b) pipelined single-event appends")
      .add(window, "window", "(b) appends in flight at most")
      .add(streams, "streams", "(a, b) streams the appends go to, round robin")
      .add(batches, "batches", "(c) batch appends")
      .add(batch_size, "batch-size", "(c) events per batch")
      .add(loads, "loads", "(d) loads of one stream")
      .add(load_size, "load-size", "(d) events in the loaded stream")
      .add(round_trips, "round-trips", "baseline: CAF blocking request/response round trips")
      .add(sends, "sends", "baseline: CAF asynchronous sends to one actor")
      .add(memory_events, "memory-events", "(e) events stored for the memory figure")
      .add(tenants, "tenants", "(e) idle tenants for the memory figure")
      .add(policy, "policy", "scheduler policy: sharing or stealing")
      .add(threads, "threads", "scheduler threads; 0 = one per core");
  }

  sourcery::runtime_options runtime() const {
    return sourcery::runtime_options{.scheduler_policy = policy,
                                     .scheduler_threads = threads,
                                     .max_throughput = 0};
  }
};

// -- measuring ----------------------------------------------------------------------

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Resident set size in bytes.
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

/// Resident bytes once freed memory went back to the system.
std::size_t settled_resident_bytes() {
  malloc_trim(0);
  return resident_bytes();
}

struct row {
  std::string what{};
  std::size_t count = 0;
  double seconds = 0;
  std::string unit{};
  double target = 0; // 0 = none
  std::string baseline{};
  double baseline_rate = 0;

  double rate() const { return seconds > 0 ? count / seconds : 0; }
};

std::vector<row> rows;

void record(row r) {
  std::fprintf(stderr, "  %-48s %12.0f %s\n", r.what.c_str(), r.rate(), r.unit.c_str());
  rows.push_back(std::move(r));
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

// -- baselines: raw CAF ----------------------------------------------------------

void caf_baselines(const bench_config& cfg, double& round_trip_rate, double& send_rate) {
  caf::actor_system_config sys_cfg;
  sys_cfg.set("scheduler.policy", caf::atom_from_string(cfg.policy));
  sys_cfg.set("scheduler.max-threads",
              cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency()));
  sys_cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{sys_cfg};

  {
    auto echo = sys.spawn([]() -> caf::behavior {
      return {[](std::uint64_t x) { return x; }};
    });
    caf::scoped_actor self{sys};
    auto round_trip = [&](std::uint64_t i) {
      self->request(echo, caf::infinite, i).receive([](std::uint64_t) {},
                                                    [](caf::error&) { std::abort(); });
    };
    for (std::uint64_t i = 0; i < 1000; ++i)
      round_trip(i); // warm-up
    auto start = clock_type::now();
    for (std::uint64_t i = 0; i < cfg.round_trips; ++i)
      round_trip(i);
    auto s = seconds_since(start);
    round_trip_rate = cfg.round_trips / s;
    record({"CAF blocking round trips (scoped_actor)", cfg.round_trips, s, "round trips/s"});
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  }
  {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    auto total = cfg.sends;
    auto counter = sys.spawn([done, total](caf::event_based_actor* self) -> caf::behavior {
      auto seen = std::make_shared<std::size_t>(0);
      return {[=](std::uint64_t) {
        if (++*seen == total) {
          done->set_value();
          self->quit();
        }
      }};
    });
    auto start = clock_type::now();
    for (std::uint64_t i = 0; i < cfg.sends; ++i)
      caf::anon_send(counter, i);
    finished.wait();
    auto s = seconds_since(start);
    send_rate = cfg.sends / s;
    record({"CAF asynchronous sends to one actor", cfg.sends, s, "messages/s"});
  }
}

// -- (a) … (d): the event store ---------------------------------------------------------

void blocking_appends(const bench_config& cfg, double round_trip_rate) {
  auto backend = make_backend(cfg);
  auto store = backend.event_store();
  auto streams = make_streams(cfg.streams);
  std::vector<std::uint64_t> versions(streams.size(), 0);
  auto append = [&](std::size_t i) {
    auto k = i % streams.size();
    store.append(streams[k], {wrapped(i)}, versions[k]++);
  };
  for (std::size_t i = 0; i < std::min<std::size_t>(1000, cfg.blocking); ++i)
    append(i); // warm-up
  auto start = clock_type::now();
  for (std::size_t i = 0; i < cfg.blocking; ++i)
    append(1000 + i);
  auto s = seconds_since(start);
  record({"(a) blocking single-event appends, 1 thread", cfg.blocking, s, "events/s", 40'000,
          "CAF round trips", round_trip_rate});
}

void pipelined_appends(const bench_config& cfg, double send_rate) {
  auto backend = make_backend(cfg);
  auto store = backend.event_store();
  auto streams = make_streams(cfg.streams);
  std::vector<std::uint64_t> versions(streams.size(), 0);
  in_flight_window window(cfg.window);
  // One submitting thread: appends reach the tenant's storage in submission
  // order, so each stream's expected versions 0, 1, 2 … all hold.
  auto start = clock_type::now();
  for (std::size_t i = 0; i < cfg.pipelined; ++i) {
    auto k = i % streams.size();
    window.acquire();
    store.append_async(streams[k], {wrapped(i)}, versions[k]++,
                       [&window](sourcery::result<sourcery::append_receipt> r) {
                         window.release(r.ok());
                       });
  }
  auto failures = window.drain();
  auto s = seconds_since(start);
  if (failures)
    std::fprintf(stderr, "  !! %zu pipelined appends failed\n", failures);
  record({"(b) pipelined single-event appends, " + std::to_string(cfg.streams) + " streams",
          cfg.pipelined, s, "events/s", 300'000, "CAF async sends", send_rate});
}

void batch_appends(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  auto store = backend.event_store();
  auto streams = make_streams(cfg.streams);
  std::vector<std::uint64_t> versions(streams.size(), 0);
  auto append = [&](std::size_t b) {
    std::vector<sourcery::wrapped_event<>> batch;
    batch.reserve(cfg.batch_size);
    for (std::size_t i = 0; i < cfg.batch_size; ++i)
      batch.push_back(wrapped(b * cfg.batch_size + i));
    auto k = b % streams.size();
    store.append(streams[k], std::move(batch), versions[k]);
    versions[k] += cfg.batch_size;
  };
  for (std::size_t b = 0; b < std::min<std::size_t>(100, cfg.batches); ++b)
    append(b); // warm-up
  auto start = clock_type::now();
  for (std::size_t b = 0; b < cfg.batches; ++b)
    append(100 + b);
  auto s = seconds_since(start);
  record({"(c) blocking appends of " + std::to_string(cfg.batch_size) + "-event batches",
          cfg.batches * cfg.batch_size, s, "events/s", 1'000'000});
}

void pipelined_batch_appends(const bench_config& cfg) {
  auto backend = make_backend(cfg);
  auto store = backend.event_store();
  auto streams = make_streams(cfg.streams);
  std::vector<std::uint64_t> versions(streams.size(), 0);
  in_flight_window window(8); // encoding the next batches overlaps committing this one
  auto start = clock_type::now();
  for (std::size_t b = 0; b < cfg.batches; ++b) {
    std::vector<sourcery::wrapped_event<>> batch;
    batch.reserve(cfg.batch_size);
    for (std::size_t i = 0; i < cfg.batch_size; ++i)
      batch.push_back(wrapped(b * cfg.batch_size + i));
    auto k = b % streams.size();
    window.acquire();
    store.append_async(streams[k], std::move(batch), versions[k],
                       [&window](sourcery::result<sourcery::append_receipt> r) {
                         window.release(r.ok());
                       });
    versions[k] += cfg.batch_size;
  }
  auto failures = window.drain();
  auto s = seconds_since(start);
  if (failures)
    std::fprintf(stderr, "  !! %zu pipelined batch appends failed\n", failures);
  record({"(c) ... the same batches pipelined, 8 in flight", cfg.batches * cfg.batch_size, s,
          "events/s", 1'000'000});
}

void loads(const bench_config& cfg) {
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
  record({"(d) load_stream of " + std::to_string(cfg.load_size) + " events, decoded",
          cfg.loads * cfg.load_size, s, "events/s", 1'000'000});
}

// -- (e) memory ----------------------------------------------------------------------------

struct memory_figures {
  double per_event = 0;
  double per_event_log = 0; // as the global log counts its own bytes
  double per_tenant = 0;
  std::size_t payload = 0;
};

memory_figures memory(const bench_config& cfg) {
  memory_figures out;
  out.payload = sourcery::serde::encode(make_event(123456)).size();
  {
    auto backend = make_backend(cfg);
    auto store = backend.event_store();
    auto streams = make_streams(cfg.streams);
    std::vector<std::uint64_t> versions(streams.size(), 0);
    // Warm the runtime up (first chunk of the log, the tenant actor) first.
    store.append(streams[0], {wrapped(0)}, versions[0]++);
    auto log_before = backend.stats().log_bytes;
    auto before = settled_resident_bytes();
    constexpr std::size_t batch = 100;
    for (std::size_t done = 0; done < cfg.memory_events; done += batch) {
      std::vector<sourcery::wrapped_event<>> events;
      auto n = std::min(batch, cfg.memory_events - done);
      for (std::size_t i = 0; i < n; ++i)
        events.push_back(wrapped(done + i));
      auto k = (done / batch) % streams.size();
      store.append(streams[k], std::move(events), versions[k]);
      versions[k] += n;
    }
    auto after = settled_resident_bytes();
    out.per_event = static_cast<double>(after - before) / cfg.memory_events;
    out.per_event_log =
      static_cast<double>(backend.stats().log_bytes - log_before) / cfg.memory_events;
  }
  {
    auto backend = make_backend(cfg);
    backend.event_store(); // the default tenant: spawns the runtime's first actor
    auto before = settled_resident_bytes();
    char name[32];
    for (std::size_t t = 0; t < cfg.tenants; ++t) {
      std::snprintf(name, sizeof name, "tenant-%06zu", t);
      backend.in_tenant_mode(name).event_store(); // spawns the tenant's storage actor
    }
    auto after = settled_resident_bytes();
    if (backend.stats().tenants != cfg.tenants + 1)
      std::fprintf(stderr, "  !! expected %zu tenants, runtime has %zu\n", cfg.tenants + 1,
                   backend.stats().tenants);
    out.per_tenant = static_cast<double>(after - before) / cfg.tenants;
  }
  return out;
}

// -- the table ---------------------------------------------------------------------------------

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

void print_table(const memory_figures& m, const bench_config& cfg) {
  std::printf("\nSourcery event store benchmark (scheduler: %s, %zu threads, %u cores)\n",
              cfg.policy.c_str(),
              cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency()),
              std::thread::hardware_concurrency());
  std::printf("event payload: %zu bytes of JSON\n\n", m.payload);
  std::printf("| %-52s | %12s | %-14s | %10s | %6s | %-26s |\n", "measurement", "rate", "unit",
              "target", "met", "vs. baseline (same run)");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(54, '-').c_str(), std::string(14, '-').c_str(),
              std::string(16, '-').c_str(), std::string(12, '-').c_str(),
              std::string(8, '-').c_str(), std::string(28, '-').c_str());
  for (const auto& r : rows) {
    std::string vs;
    if (r.baseline_rate > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f x %s", r.rate() / r.baseline_rate, r.baseline.c_str());
      vs = buf;
    }
    std::printf("| %-52s | %12s | %-14s | %10s | %6s | %-26s |\n", r.what.c_str(),
                with_commas(r.rate()).c_str(), r.unit.c_str(),
                r.target > 0 ? with_commas(r.target).c_str() : "",
                r.target > 0 ? (r.rate() >= r.target ? "yes" : "NO") : "", vs.c_str());
  }
  auto mem_row = [](const std::string& what, double value, const char* unit, double target,
                    const std::string& note) {
    std::printf("| %-52s | %12s | %-14s | %10s | %6s | %-26s |\n", what.c_str(),
                with_commas(value).c_str(), unit, with_commas(target).c_str(),
                value <= target ? "yes" : "NO", note.c_str());
  };
  mem_row("(e) memory per stored event (" + with_commas(cfg.memory_events) + " events)",
          m.per_event, "bytes/event", 250,
          "log's own count: " + with_commas(m.per_event_log) + " B");
  mem_row("(e) memory per idle tenant (" + with_commas(cfg.tenants) + " tenants)", m.per_tenant,
          "bytes/tenant", 2048, "");
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "bench_store: " << cfg.render(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.streams == 0 || cfg.window == 0 || cfg.batch_size == 0) {
    std::cerr << "bench_store: --streams, --window and --batch-size must be at least 1\n";
    return 2;
  }

  event_pool();
  std::fprintf(stderr, "measuring (memory first, while the heap is fresh) …\n");
  auto m = memory(cfg);
  double round_trip_rate = 0;
  double send_rate = 0;
  caf_baselines(cfg, round_trip_rate, send_rate);
  blocking_appends(cfg, round_trip_rate);
  pipelined_appends(cfg, send_rate);
  batch_appends(cfg);
  pipelined_batch_appends(cfg);
  loads(cfg);
  print_table(m, cfg);
  return 0;
}
