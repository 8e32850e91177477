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
// divided by what was stored. Exit code 0 whether or not targets are met, 1
// when a correctness check failed ("!!" on stderr), 2 for bad options.
#include "bench_common.hpp"

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
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace {

using bench::clock_type;
using bench::seconds_since;
using bench::with_commas;
using bench::wrapped;

// -- options ----------------------------------------------------------------------

struct bench_config : bench::config {
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

  /// The command line: what it parses, what --help prints.
  cli::options options() {
    using namespace bench::limits;
    cli::options o("bench_store",
                   "Throughput and memory of the event store (in memory), beside raw CAF message "
                   "rates measured in the same run; one table on stdout.");
    o.count(blocking, "blocking", "(a) blocking single-event appends from one thread", 1,
            operations)
      .count(pipelined, "pipelined", "(b) pipelined single-event appends", 1, operations)
      .count(window, "window", "(b) appends in flight at most", 1, in_flight)
      .count(streams, "streams", "(a, b) streams the appends go to, round robin", 1,
             bench::limits::streams)
      .count(batches, "batches", "(c) batch appends", 1, operations)
      .count(batch_size, "batch-size", "(c) events per batch", 1, batch)
      .count(loads, "loads", "(d) loads of one stream", 1, operations)
      .count(load_size, "load-size", "(d) events in the loaded stream", 1, stored)
      .count(round_trips, "round-trips", "baseline: CAF blocking request/response round trips", 1,
             operations)
      .count(sends, "sends", "baseline: CAF asynchronous sends to one actor", 1, operations)
      .count(memory_events, "memory-events", "(e) events stored for the memory figure", 1, stored)
      .count(tenants, "tenants", "(e) idle tenants for the memory figure", 1,
             bench::limits::streams);
    add_scheduler_options(o);
    return o;
  }
};

// -- measuring ----------------------------------------------------------------------

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

/// One measured rate; rate_row() makes its table line.
struct row {
  std::string what{};
  double rate = 0;
  std::string unit{};
  double target = 0; // 0 = none
  std::string baseline{};
  double baseline_rate = 0;
};

std::vector<row> rows;

void record(row r) {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f", r.rate);
  bench::print_progress(48, r.what, rate, r.unit);
  rows.push_back(std::move(r));
}

// -- baselines: raw CAF ----------------------------------------------------------

// CAF 0.17 trips UBSan's null check when a function-based actor is spawned
// without arguments (an empty argument tuple is dereferenced), so both actors
// here take at least one.

/// Answers every number with itself; `unused` only keeps UBSan quiet.
caf::behavior echo(caf::event_based_actor*, int /* unused */) {
  return {[](std::uint64_t x) { return x; }};
}

/// Fulfils `done` once `total` numbers arrived, then quits.
caf::behavior counter(caf::event_based_actor* self, std::shared_ptr<std::promise<void>> done,
                      std::size_t total) {
  auto seen = std::make_shared<std::size_t>(0);
  return {[=](std::uint64_t) {
    if (++*seen == total) {
      done->set_value();
      self->quit();
    }
  }};
}

/// Blocking request/response round trips per second, from a scoped_actor to
/// an echo actor (after 1,000 untimed ones).
double measure_round_trips(caf::actor_system& sys, std::size_t n) {
  auto target = sys.spawn(echo, 0);
  caf::scoped_actor self{sys};
  auto round_trip = [&](std::uint64_t i) {
    self->request(target, caf::infinite, i).receive([](std::uint64_t) {},
                                                    [](caf::error&) { std::abort(); });
  };
  for (std::uint64_t i = 0; i < 1000; ++i)
    round_trip(i); // warm-up
  auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i)
    round_trip(i);
  auto s = seconds_since(start);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  return n / s;
}

/// Asynchronous sends per second to one actor, until it received all `n`.
double measure_sends(caf::actor_system& sys, std::size_t n) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  auto target = sys.spawn(counter, done, n);
  auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i)
    caf::anon_send(target, i);
  finished.wait();
  return n / seconds_since(start);
}

/// Raw CAF message rates on an actor system like the runtime's.
void caf_baselines(const bench_config& cfg, double& round_trip_rate, double& send_rate) {
  caf::actor_system_config sys_cfg;
  sys_cfg.set("scheduler.policy", caf::atom_from_string(cfg.policy));
  sys_cfg.set("scheduler.max-threads", cfg.scheduler_threads());
  sys_cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{sys_cfg};
  round_trip_rate = measure_round_trips(sys, cfg.round_trips);
  record({"CAF blocking round trips (scoped_actor)", round_trip_rate, "round trips/s"});
  send_rate = measure_sends(sys, cfg.sends);
  record({"CAF asynchronous sends to one actor", send_rate, "messages/s"});
}

// -- (a) … (d): the event store ---------------------------------------------------------

/// Blocking appends to `streams` fresh streams: append(i, …) commits to
/// stream i mod `streams` at its next version.
class blocking_writer {
public:
  blocking_writer(sourcery::event_store store, std::size_t streams)
    : store_(std::move(store)), streams_(bench::make_streams(streams)), versions_(streams, 0) {}

  void append(std::size_t i, std::vector<sourcery::wrapped_event<>> events) {
    auto k = i % streams_.size();
    auto n = events.size();
    store_.append(streams_[k], std::move(events), versions_[k]);
    versions_[k] += n;
  }

private:
  sourcery::event_store store_;
  std::vector<sourcery::stream_id> streams_;
  std::vector<std::uint64_t> versions_;
};

/// Seconds that step(warm_up + i) for i < n take, after untimed warm-up steps
/// step(0 … min(warm_up, n) - 1).
template <class Step>
double timed_after_warm_up(std::size_t warm_up, std::size_t n, Step step) {
  for (std::size_t i = 0; i < std::min(warm_up, n); ++i)
    step(i);
  auto start = clock_type::now();
  for (std::size_t i = 0; i < n; ++i)
    step(warm_up + i);
  return seconds_since(start);
}

void blocking_appends(const bench_config& cfg, double round_trip_rate) {
  auto backend = bench::make_backend(cfg);
  blocking_writer writer(backend.event_store(), cfg.streams);
  auto s = timed_after_warm_up(1000, cfg.blocking,
                               [&](std::size_t i) { writer.append(i, {wrapped(i)}); });
  record({"(a) blocking single-event appends, 1 thread", cfg.blocking / s, "events/s", 40'000,
          "CAF round trips", round_trip_rate});
}

void pipelined_appends(const bench_config& cfg, double send_rate) {
  for (bool with_metrics : cfg.metrics_variants()) {
    auto backend = bench::make_backend(cfg, with_metrics);
    // One submitting thread: appends reach the tenant's storage in
    // submission order, so each stream's expected versions 0, 1, 2 … hold.
    bench::appender app(backend.event_store(), cfg.streams, cfg.window);
    auto start = clock_type::now();
    for (std::size_t i = 0; i < cfg.pipelined; ++i)
      app.append(wrapped(i));
    app.drain("pipelined");
    auto s = seconds_since(start);
    record({"(b) pipelined single-event appends, " + std::to_string(cfg.streams) + " streams"
              + cfg.metrics_label(with_metrics),
            cfg.pipelined / s, "events/s", 300'000, "CAF async sends", send_rate});
  }
}

/// Batch `b` of the run: events b * size … b * size + size - 1 of the pool.
std::vector<sourcery::wrapped_event<>> make_batch(std::size_t b, std::size_t size) {
  std::vector<sourcery::wrapped_event<>> batch;
  batch.reserve(size);
  for (std::size_t i = 0; i < size; ++i)
    batch.push_back(wrapped(b * size + i));
  return batch;
}

void batch_appends(const bench_config& cfg) {
  auto backend = bench::make_backend(cfg);
  blocking_writer writer(backend.event_store(), cfg.streams);
  auto s = timed_after_warm_up(100, cfg.batches, [&](std::size_t b) {
    writer.append(b, make_batch(b, cfg.batch_size));
  });
  record({"(c) blocking appends of " + std::to_string(cfg.batch_size) + "-event batches",
          cfg.batches * cfg.batch_size / s, "events/s", 1'000'000});
}

void pipelined_batch_appends(const bench_config& cfg) {
  auto backend = bench::make_backend(cfg);
  // 8 in flight: encoding the next batches overlaps committing this one.
  bench::appender app(backend.event_store(), cfg.streams, 8);
  auto start = clock_type::now();
  for (std::size_t b = 0; b < cfg.batches; ++b)
    app.append_batch(make_batch(b, cfg.batch_size));
  app.drain("pipelined batches");
  auto s = seconds_since(start);
  record({"(c) ... the same batches pipelined, 8 in flight", cfg.batches * cfg.batch_size / s,
          "events/s", 1'000'000});
}

void loads(const bench_config& cfg) {
  auto backend = bench::make_backend(cfg);
  auto rate = bench::decode_rate(backend, cfg.load_size, cfg.loads);
  record({"(d) load_stream of " + std::to_string(cfg.load_size) + " events, decoded", rate,
          "events/s", 1'000'000});
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
  out.payload = bench::payload_bytes();
  {
    auto backend = bench::make_backend(cfg);
    blocking_writer writer(backend.event_store(), cfg.streams);
    // Warm the runtime up (first chunk of the log, the tenant actor) first.
    writer.append(0, {wrapped(0)});
    auto log_before = backend.stats().log_bytes;
    auto before = settled_resident_bytes();
    constexpr std::size_t batch = 100;
    for (std::size_t done = 0; done < cfg.memory_events; done += batch) {
      std::vector<sourcery::wrapped_event<>> events;
      auto n = std::min(batch, cfg.memory_events - done);
      for (std::size_t i = 0; i < n; ++i)
        events.push_back(wrapped(done + i));
      writer.append(done / batch, std::move(events));
    }
    auto after = settled_resident_bytes();
    out.per_event = static_cast<double>(after - before) / cfg.memory_events;
    out.per_event_log =
      static_cast<double>(backend.stats().log_bytes - log_before) / cfg.memory_events;
  }
  {
    auto backend = bench::make_backend(cfg);
    backend.event_store(); // the default tenant: spawns the runtime's first actor
    auto before = settled_resident_bytes();
    char name[32];
    for (std::size_t t = 0; t < cfg.tenants; ++t) {
      std::snprintf(name, sizeof name, "tenant-%06zu", t);
      backend.in_tenant_mode(name).event_store(); // spawns the tenant's storage actor
    }
    auto after = settled_resident_bytes();
    if (backend.stats().tenants != cfg.tenants + 1)
      bench::fail("expected %zu tenants, runtime has %zu", cfg.tenants + 1,
                  backend.stats().tenants);
    out.per_tenant = static_cast<double>(after - before) / cfg.tenants;
  }
  return out;
}

// -- the table ---------------------------------------------------------------------------------

/// A measured rate against its target (reached = at least) and baseline.
bench::table_row rate_row(const row& r) {
  bool has_target = r.target > 0;
  return {r.what,
          with_commas(r.rate),
          r.unit,
          has_target ? with_commas(r.target) : "",
          has_target ? (r.rate >= r.target ? "yes" : "NO") : "",
          r.baseline_rate > 0 ? bench::times(r.rate / r.baseline_rate, r.baseline) : ""};
}

/// A memory figure against its ceiling (reached = at most).
bench::table_row memory_row(std::string what, double bytes, std::string unit, double ceiling,
                            std::string note) {
  return {std::move(what), with_commas(bytes), std::move(unit), with_commas(ceiling),
          bytes <= ceiling ? "yes" : "NO", std::move(note)};
}

void print_table(const memory_figures& m, const bench_config& cfg) {
  bench::print_title("event store", cfg);
  std::printf("event payload: %zu bytes of JSON\n\n", m.payload);
  std::vector<bench::table_row> lines;
  for (const auto& r : rows)
    lines.push_back(rate_row(r));
  lines.push_back(
    memory_row("(e) memory per stored event (" + with_commas(cfg.memory_events) + " events)",
               m.per_event, "bytes/event", 250,
               "log's own count: " + with_commas(m.per_event_log) + " B"));
  lines.push_back(
    memory_row("(e) memory per idle tenant (" + with_commas(cfg.tenants) + " tenants)",
               m.per_tenant, "bytes/tenant", 2048, ""));
  bench::print_table({52, 12, 14, 10, 6, 26},
                     {"measurement", "rate", "unit", "target", "met", "vs. baseline (same run)"},
                     lines);
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  return cli::run_main(argc, argv, cfg.options(), [&] {
    bench::event_pool();
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
    return bench::exit_code("bench_store");
  });
}
