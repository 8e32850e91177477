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
//   (4) user code cannot starve the runtime: 8 writers make --slow-appends
//       blocking single-event appends each while continuous publishing runs
//       with a publisher that sleeps --slow-ms per call; their append p99
//       beside the same run with a no-op publisher (target: within 2x).
// Completion is awaited with wait_until_empty (event-driven), never by sleeping.
// Figures are wall-clock on whatever else the machine is doing: the table
// shows the load average and the share of CPU other processes took. Exit code
// 0 whether or not targets are met, 1 when a correctness check failed ("!!" on
// stderr: entries lost, left or published twice, failed appends), 2 for bad
// options.
#include "bench_common.hpp"

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace {

using bench::clock_type;
using bench::number;
using bench::seconds_since;
using bench::times;
using bench::with_commas;

// -- options ----------------------------------------------------------------------------

struct bench_config : bench::config {
  std::size_t events = 1'000'000;
  std::size_t batch_size = 100;
  std::size_t streams = 1'000;
  std::size_t dispatch_batch = 256;
  std::size_t limit = 1'000;
  std::vector<std::size_t> backlogs{200'000, 400'000, 800'000};
  std::size_t loads = 1'000;
  std::size_t load_size = 1'000;
  std::size_t slow_appends = 2'000;
  std::size_t slow_ms = 1'000;

  /// The command line: what it parses, what --help prints.
  cli::options options() {
    using namespace bench::limits;
    cli::options o("bench_outbox",
                   "The outbox (in memory): continuous dispatch and run(limit) draining, beside "
                   "the decode rate measured in the same run; one table on stdout.");
    o.count(events, "events", "(1, 2) events appended", 1, stored)
      .count(batch_size, "batch-size", "events per append", 1, batch)
      .count(streams, "streams", "streams the appends go to, round robin", 1,
             bench::limits::streams)
      .count(dispatch_batch, "dispatch-batch", "(1, 2) continuous_options.batch", 1, in_flight)
      .count(limit, "limit", "(3) run(limit)", 1, in_flight)
      .counts(backlogs, "backlogs", "(3) backlog sizes to drain, e.g. 200000,400000,800000", 1,
              stored)
      .count(loads, "loads", "baseline: loads of one stream", 1, operations)
      .count(load_size, "load-size", "baseline: events in the loaded stream", 1, stored)
      .count(slow_appends, "slow-appends", "(4) blocking appends per writer", 1, operations)
      .count(slow_ms, "slow-ms", "(4) how long the slow publisher sleeps per call", 0,
             milliseconds);
    add_scheduler_options(o);
    return o;
  }
};

// -- helpers -------------------------------------------------------------------------------

/// A fresh in-memory backend, its outbox on or off.
sourcery::backend make_backend(const bench_config& cfg, bool outbox) {
  auto b = bench::make_backend(cfg);
  b.configure(sourcery::settings{}); // defaults: 3 attempts (a no-op publisher never fails)
  if (outbox)
    b.with_outbox();
  return b;
}

/// Appends `n` events in --batch-size appends, pipelined (8 in flight), round
/// robin over --streams streams, from this one thread.
void append_events(sourcery::backend& backend, const bench_config& cfg, std::size_t n) {
  bench::append_events(backend.event_store(), n, cfg.batch_size, cfg.streams);
}

/// Checks every entry was published once and none is left.
void check_counts(sourcery::outbox ob, std::size_t expected, const char* what) {
  auto c = ob.counts();
  if (c.published != expected || c.pending != 0 || c.dead != 0 || c.failures != 0)
    bench::fail("%s: published %zu of %zu, pending %zu, dead %zu, failures %zu", what,
                c.published, expected, c.pending, c.dead, c.failures);
}

const sourcery::outbox_publisher& noop_publisher() {
  static const sourcery::outbox_publisher p = [](const sourcery::recorded_event&) {};
  return p;
}

constexpr auto forever = std::chrono::minutes(10);

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
  bench::print_progress(58, r.what, number(r.value), r.unit);
  rows.push_back(std::move(r));
}

row at_least(std::string what, double value, std::string unit, double target, std::string note) {
  return row{std::move(what), value,       std::move(unit), ">= " + number(target),
             value >= target ? "yes" : "NO", std::move(note)};
}

void print_table(const bench_config& cfg, const bench::machine_watch& machine) {
  bench::print_title("outbox", cfg);
  std::printf("event payload: %zu bytes of JSON; publisher: does nothing; %s\n",
              bench::payload_bytes(), machine.load_averages().c_str());
  std::printf("%s\n\n", machine.others_cpu().c_str());
  std::vector<bench::table_row> lines;
  for (const auto& r : rows)
    lines.push_back({r.what, number(r.value), r.unit, r.target, r.met, r.note});
  bench::print_table({62, 12, 10, 12, 4, 48},
                     {"measurement", "value", "unit", "target", "met", "note"}, lines);
}

// -- baseline: decoding ------------------------------------------------------------------------

double decode_baseline(const bench_config& cfg) {
  auto backend = make_backend(cfg, false);
  auto rate = bench::decode_rate(backend, cfg.load_size, cfg.loads);
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
    append_events(backend, cfg, n);
    append_only = n / seconds_since(start);
  }
  record({"baseline: the same appends, outbox off", append_only, "events/s", "", "",
          with_commas(n) + " in " + with_commas(cfg.batch_size) + "-event appends, 8 in flight"});

  auto backend = make_backend(cfg, true);
  auto ob = backend.outbox();
  auto start = clock_type::now();
  ob.start(noop_publisher(), sourcery::continuous_options{.batch = cfg.dispatch_batch});
  append_events(backend, cfg, n);
  auto appended = seconds_since(start);
  if (!ob.wait_until_empty(forever))
    bench::fail("continuous (live): not empty after 10 minutes");
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
  append_events(backend, cfg, n);
  auto ob = backend.outbox();
  auto start = clock_type::now();
  ob.start(noop_publisher(), sourcery::continuous_options{.batch = cfg.dispatch_batch});
  if (!ob.wait_until_empty(forever))
    bench::fail("continuous (backlog): not empty after 10 minutes");
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
    append_events(backend, cfg, b);
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
      bench::fail("run(limit): handed %zu of %zu", handed, b);
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

// -- (4) a slow publisher beside writers ------------------------------------------------

/// The p99 of 8 writers' blocking append latencies (µs) while `publisher`
/// publishes continuously.
double append_p99_with(const bench_config& cfg, sourcery::outbox_publisher publisher) {
  auto backend = make_backend(cfg, true);
  backend.outbox().start(std::move(publisher));
  std::vector<std::vector<double>> per_writer(8);
  std::vector<std::thread> writers;
  for (std::size_t w = 0; w < per_writer.size(); ++w)
    writers.emplace_back([&, w] {
      auto store = backend.in_tenant_mode("writer-" + std::to_string(w)).event_store();
      auto id = sourcery::stream_id::random();
      auto& lat = per_writer[w];
      lat.reserve(cfg.slow_appends);
      for (std::size_t i = 0; i < cfg.slow_appends; ++i) {
        auto t0 = clock_type::now();
        store.append(id, {bench::wrapped(i)},
                     static_cast<std::uint64_t>(i));
        lat.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
      }
    });
  for (auto& w : writers)
    w.join();
  backend.outbox().stop();
  std::vector<double> all;
  for (auto& l : per_writer)
    all.insert(all.end(), l.begin(), l.end());
  auto k = all.size() * 99 / 100;
  std::nth_element(all.begin(), all.begin() + k, all.end());
  return all[k];
}

void slow_publisher(const bench_config& cfg) {
  auto fast = append_p99_with(cfg, noop_publisher());
  record({"baseline: append p99, 8 writers, no-op publisher", fast, "us", "", "",
          with_commas(8 * cfg.slow_appends) + " blocking single-event appends"});
  auto ms = std::chrono::milliseconds(cfg.slow_ms);
  auto slow = append_p99_with(cfg, [ms](const sourcery::recorded_event&) {
    std::this_thread::sleep_for(ms); // the user's slow publisher
  });
  record(row{"(4) append p99, 8 writers, publisher sleeping " + with_commas(cfg.slow_ms) + " ms",
             slow, "us", "<= 2 x baseline", slow <= 2 * fast ? "yes" : "NO",
             times(slow / fast, "no-op publisher run")});
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  return cli::run_main(argc, argv, cfg.options(), [&] {
    bench::machine_watch machine;
    bench::event_pool();
    std::fprintf(stderr, "measuring …\n");
    auto decode_rate = decode_baseline(cfg);
    continuous_live(cfg);
    continuous_backlog(cfg, decode_rate);
    run_drain(cfg, decode_rate);
    slow_publisher(cfg);
    record({"original design: outbox publishing", 23'000, "events/s", "", "",
            "quoted from issue 4, not measured; quadratic"});
    print_table(cfg, machine);
    return bench::exit_code("bench_outbox");
  });
}
