// The load harness (SPEC §13): simulates T tenants × S streams with W
// concurrent writers, K push subscriptions, listeners and a continuous
// outbox whose publisher fails with probability p, through the public API
// only. Reports throughput, latency and memory, and verifies that nothing
// was lost. Exit codes: 0 verified, 1 verification failed, 2 bad settings.
#include "crash.hpp"
#include "domain.hpp"
#include "memory_sampler.hpp"
#ifdef SOURCERY_LOAD_FAILOVER
#include "failover.hpp"
#include "group_check.hpp"
#endif
#include "nodes.hpp"
#include "publish_tally.hpp"
#include "reopen_check.hpp"
#include "report.hpp"
#include "scenario.hpp"
#include "store_setup.hpp"
#include "stream_check.hpp"
#include "writers.hpp"

#include "../cli.hpp"

#include <sourcery/sourcery.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <csignal>
#include <unistd.h>

// jemalloc's settings (it is linked into the harness, apps/CMakeLists.txt):
// a background thread hands freed pages back to the system after a second,
// so resident memory follows the memory in use instead of its recent peaks.
// Ignored when the process runs on another allocator.
extern "C" const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

namespace harness {

// -- process memory ------------------------------------------------------------

std::size_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0)
      return std::stoull(line.substr(std::string(field).size()));
  return 0;
}
std::size_t peak_rss_bytes() { return status_kib("VmHWM:") * 1024; }

// -- the run --------------------------------------------------------------------------

/// The name of verifying subscription `k` in the metrics: "verify-1", ….
std::string subscription_name(std::int64_t k) {
  return "verify-" + std::to_string(k + 1);
}

int hold_pipe[2] = {-1, -1};

extern "C" void on_hold_signal(int) {
  char byte = 1;
  [[maybe_unused]] auto n = ::write(hold_pipe[1], &byte, 1);
}

/// metrics.hold: the run is over and verified; the runtime stays up, its
/// endpoint serving the final figures, until SIGINT or SIGTERM.
void hold_metrics(sourcery::backend& backend, std::uint64_t events) {
  if (::pipe(hold_pipe) != 0)
    throw std::runtime_error(std::string("metrics.hold: pipe: ") + std::strerror(errno));
  struct sigaction action {};
  action.sa_handler = on_hold_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  auto where = backend.metrics_address();
  std::cerr << "Run complete: " << events << " events committed; serving metrics at "
            << (where ? "http://" + *where + "/metrics" : std::string("(no endpoint: metrics.listen is empty)"))
            << " until interrupted (Ctrl-C)" << std::endl;
  char byte;
  while (::read(hold_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  std::cerr << "Interrupted: stopping.\n";
}

void print_progress(const run_state& st, double elapsed, double rate, bool tty, bool final_line) {
  const auto& sc = st.sc;
  auto done = st.committed.load();
  double left = -1;
  if (sc.events > 0 && rate > 0)
    left = static_cast<double>(sc.events - static_cast<std::int64_t>(std::min<std::uint64_t>(done, sc.events))) / rate;
  else if (sc.seconds > 0)
    left = std::max(0.0, sc.seconds - elapsed);
  char line[200];
  std::snprintf(line, sizeof line, "%10llu events  %9.0f events/s  %6.1f s elapsed  %s",
                static_cast<unsigned long long>(done), rate, elapsed,
                left < 0 ? "" : ("~" + std::to_string(static_cast<long>(left + 0.5)) + " s left").c_str());
  if (tty)
    std::fprintf(stderr, "\r\033[K%s%s", line, final_line ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line);
}

/// The run itself: spawns, writes, waits for subscribers and the outbox,
/// verifies through the live runtime; fills `r` and what was acknowledged.
void run_live(const scenario& sc, report& r, acknowledged_run& acknowledged) {
  using clock = std::chrono::steady_clock;
  auto backend = open_backend(sc);
  set_up_domain(backend, sc);

  if (auto where = backend.metrics_address())
    std::cerr << "Metrics at http://" << *where << "/metrics\n";
  run_state st(sc);
  st.shred_count = static_cast<std::int64_t>(sc.shred_share * static_cast<double>(sc.subjects));
  auto rss0 = resident_bytes();

  // Phase 1: the tenants (each store's actor spawns on first use).
  std::cerr << "Spawning " << sc.tenants << " tenants...\n";
  st.stores.reserve(static_cast<std::size_t>(sc.tenants));
  for (std::int64_t t = 0; t < sc.tenants; ++t) {
    auto view = backend.in_tenant_mode("tenant-" + std::to_string(t));
    st.stores.push_back(view.event_store());
  }
  auto rss1 = resident_bytes();
  if (sc.encrypted_share > 0)
    for (std::int64_t t = 0; t < sc.tenants; ++t) {
      auto keys = backend.in_tenant_mode("tenant-" + std::to_string(t)).encryption();
      for (std::int64_t k = 0; k < sc.subjects; ++k)
        keys.create_key("user-" + std::to_string(k));
    }
  st.streams_of_writer.resize(static_cast<std::size_t>(sc.writers));
  for (std::int64_t t = 0; t < sc.tenants; ++t)
    for (std::int64_t s = 0; s < sc.streams_per_tenant; ++s)
      st.streams_of_writer[static_cast<std::size_t>((t * sc.streams_per_tenant + s) % sc.writers)]
        .push_back({static_cast<std::size_t>(t),
                    sourcery::stream_id::named("stream-" + std::to_string(s), "load")});
  for (auto& w : st.streams_of_writer)
    if (w.empty())
      throw setting_error("setting 'harness.writers': more writers (" + std::to_string(sc.writers)
                          + ") than streams (" + std::to_string(sc.tenants * sc.streams_per_tenant) + ")");

  // Subscriptions, listener, outbox.
  std::vector<std::unique_ptr<subscription_check>> checks;
  std::vector<sourcery::push_subscription> subs;
  for (std::int64_t k = 0; k < sc.subscriptions; ++k) {
    checks.push_back(std::make_unique<subscription_check>());
    auto* c = checks.back().get();
    auto* live = k == 0 ? &st.e2e_live : nullptr;
    subs.push_back(backend.subscriber().start_from(0).named(subscription_name(k)).build_push(
      [c, live](std::span<const sourcery::recorded_event> b) { c->on_batch(b, live); }, 512));
  }
  std::unique_ptr<group_run> group;
  if (sc.subscription_group_members > 0)
    group = std::make_unique<group_run>(backend, sc.subscription_group_members, sc.outbox_failure);
  sourcery::listener counter;
  if (sc.listeners) {
    counter = sourcery::make_listener([&st](const sourcery::recorded_event&) { ++st.listened; });
    backend.in_transaction().add_all(counter);
  }
  // Timed runs keep a fingerprint only: bookkeeping must not grow per event.
  publish_tally published(static_cast<std::size_t>(sc.events));
  shared_histogram outbox_latency;
  std::atomic<std::uint64_t> publish_calls{0};
  if (sc.outbox)
    backend.outbox().start([&](const sourcery::recorded_event& r) {
      thread_local std::mt19937_64 rng(std::hash<std::thread::id>{}(std::this_thread::get_id()));
      thread_local std::uniform_real_distribution<double> unit(0, 1);
      ++publish_calls;
      if (unit(rng) < sc.outbox_failure)
        throw std::runtime_error("simulated broker failure");
      published.mark(r.position);
      outbox_latency.record_us(micros_since(r.created_at.micros()));
    });

  // Phase 2: the writers, a progress line, and mid-run shredding.
  std::cerr << "Running scenario '" << sc.name << "'...\n";
  // Every sample (memory here, throughput and latency in the monitor below)
  // a hundredth of the run's expected length apart, 25 ms to 1 s.
  auto period = [&st, &sc](double elapsed) {
    return sample_period(expected_seconds(elapsed, st.committed.load(), sc.events, sc.seconds),
                         elapsed);
  };
  memory_sampler memory([&backend] { return backend.stats().log_bytes; }, period);
  st.start = clock::now();
  memory.start();
  std::vector<std::thread> writers;
  for (std::int64_t w = 0; w < sc.writers; ++w) {
    auto quota = sc.events / sc.writers + (w < sc.events % sc.writers ? 1 : 0);
    writers.emplace_back(run_writer, std::ref(st), static_cast<std::size_t>(w), quota);
  }
  std::thread shredder;
  if (st.shred_count > 0)
    shredder = std::thread([&] {
      st.first_half_done.wait();
      for (std::int64_t t = 0; t < sc.tenants; ++t) {
        auto keys = backend.in_tenant_mode("tenant-" + std::to_string(t)).encryption();
        for (std::int64_t k = 0; k < st.shred_count; ++k)
          keys.shred("user-" + std::to_string(k));
      }
    });

  // The monitor: a sample of throughput and latency per period (so that a
  // short run still draws a curve), and a progress line every
  // harness.progress-interval seconds (0 = none), each on its own schedule.
  std::vector<sample> series;
  std::vector<lag_sample> lags;
  auto sample_lag = [&](double elapsed) {
    if (!sc.runtime.metrics || sc.subscriptions == 0)
      return;
    auto snap = backend.metrics();
    lag_sample l{elapsed, {}};
    for (std::int64_t k = 0; k < sc.subscriptions; ++k)
      l.lag.push_back(snap.value("sourcery_subscription_lag_events",
                                 {{"subscription", subscription_name(k)}}));
    lags.push_back(std::move(l));
  };
  std::mutex done_m;
  std::condition_variable done_cv;
  bool writers_done = false;
  std::thread monitor([&] {
    bool tty = isatty(STDERR_FILENO);
    using duration = clock::duration;
    auto progress_every = std::chrono::duration_cast<duration>(
      std::chrono::duration<double>(sc.progress_interval > 0 ? sc.progress_interval : 1));
    std::uint64_t sample_count = 0, progress_count = 0;
    auto sample_t = st.start, progress_t = st.start;
    auto next_sample = st.start + period(0);
    auto next_progress =
      sc.progress_interval > 0 ? st.start + progress_every : clock::time_point::max();
    std::unique_lock lock(done_m);
    for (bool last = false; !last;) {
      last = done_cv.wait_until(lock, std::min(next_sample, next_progress),
                                [&] { return writers_done; });
      auto now = clock::now();
      auto count = st.committed.load();
      double elapsed = std::chrono::duration<double>(now - st.start).count();
      if (last || now >= next_sample) {
        double dt = std::chrono::duration<double>(now - sample_t).count();
        double rate = dt > 0 ? static_cast<double>(count - sample_count) / dt : 0;
        auto a = st.append_latency.take_interval();
        auto e = st.e2e_live.take_interval();
        series.push_back({elapsed, rate, a.quantile_us(0.5), a.quantile_us(0.99),
                          e.quantile_us(0.5), e.quantile_us(0.99)});
        sample_lag(elapsed);
        sample_count = count;
        sample_t = now;
        next_sample = now + period(elapsed);
      }
      double since_progress = std::chrono::duration<double>(now - progress_t).count();
      // The last line, unless one was printed just now (a terminal's line
      // still needs its line break).
      bool final_line = last && (tty || since_progress >= sc.progress_interval / 4);
      if (sc.progress_interval > 0 && (final_line || now >= next_progress)) {
        double dt = since_progress;
        print_progress(st, elapsed,
                       dt > 0 ? static_cast<double>(count - progress_count) / dt : 0, tty, last);
        progress_count = count;
        progress_t = now;
        while (next_progress <= now)
          next_progress += progress_every;
      }
    }
  });

  for (auto& w : writers)
    w.join();
  auto write_end = clock::now();
  memory.stop();
  {
    std::lock_guard lock(done_m);
    writers_done = true;
  }
  done_cv.notify_all();
  monitor.join();
  if (shredder.joinable())
    shredder.join();

  r.memory = memory.samples();
  if (sc.max_rss_growth > 0)
    r.checks.push_back(rss_growth_check(r.memory, sc.max_rss_growth));
  r.seconds = std::chrono::duration<double>(write_end - st.start).count();
  r.events = st.committed.load();
  r.appends = st.appends.load();
  r.series = std::move(series);
  {
    std::lock_guard lock(st.append_latency.m);
    r.append = st.append_latency.total;
  }
  auto total = r.events;

  // Wait for the subscriptions and the outbox to catch up, then check.
  auto catch_up = std::chrono::seconds(120 + static_cast<long>(total / 100'000));
  std::cerr << "Verifying...\n";
  r.checks.push_back({"every append succeeded", st.failed_appends == 0 && st.errors.empty(),
                      st.errors.empty() ? "" : std::to_string(st.failed_appends.load()) + " failed; first: " + st.errors.front()});
  for (std::size_t k = 0; k < checks.size(); ++k) {
    auto& c = *checks[k];
    bool arrived = c.wait_for(total, catch_up);
    std::lock_guard lock(c.m);
    bool ok = arrived && c.received == total && c.out_of_order == 0 && c.last == total;
    r.checks.push_back(
      {"subscription " + std::to_string(k + 1) + " saw every event once, in order", ok,
       std::to_string(c.received) + " of " + std::to_string(total) + " received, "
         + std::to_string(c.out_of_order) + " out of order or repeated, last position "
         + std::to_string(c.last)});
    r.end_to_end.merge(c.e2e);
  }
  if (group) {
    group->wait_settled(total, catch_up);
    for (auto& c : group->verify(total))
      r.checks.push_back(std::move(c));
  }
  sample_lag(std::chrono::duration<double>(clock::now() - st.start).count()); // caught up: 0
  r.lags = std::move(lags);
  for (auto& s : subs)
    s.stop();
  if (sc.listeners)
    r.checks.push_back({"the listener saw every event inside its append", st.listened == total,
                        std::to_string(st.listened.load()) + " of " + std::to_string(total)});
  if (sc.outbox) {
    auto box = backend.outbox();
    box.wait_until_empty(catch_up);
    box.stop();
    auto counts = box.counts();
    auto dead = box.dead_letters();
    std::vector<sourcery::position> dead_positions;
    for (const auto& d : dead)
      dead_positions.push_back(d.event.position);
    std::sort(dead_positions.begin(), dead_positions.end());
    auto missing = published.missing(total, dead_positions);
    acknowledged.dead = std::move(dead_positions);
    r.outbox_published = counts.published;
    r.outbox_dead = counts.dead;
    r.outbox_failures = counts.failures;
    r.outbox_publish = outbox_latency.snapshot();
    r.checks.push_back({"every outbox entry was published or dead-lettered", missing.empty() && counts.pending == 0,
                        missing.empty() ? std::to_string(counts.published) + " published + " + std::to_string(counts.dead) + " dead = " + std::to_string(total)
                                        : missing});
    r.checks.push_back({"outbox counts reconcile", counts.published + counts.dead == total && publish_calls == counts.published + counts.failures,
                        std::to_string(publish_calls.load()) + " publisher calls = " + std::to_string(counts.published) + " successes + " + std::to_string(counts.failures) + " failures"});
  }
  std::size_t masked_seen = 0, clear_seen = 0;
  r.checks.push_back(verify_streams(st.stores, st.streams_of_writer, st.shred_count, masked_seen, clear_seen));
  if (sc.encrypted_share > 0)
    r.checks.push_back({"shredded subjects read as masks, others in clear",
                        (st.shred_count == 0 || masked_seen > 0) && clear_seen > 0,
                        std::to_string(masked_seen) + " masked, " + std::to_string(clear_seen) + " readable encrypted events"});

  auto stats = backend.stats();
  r.peak_rss = peak_rss_bytes();
  r.allocator = allocator_name();
  auto rss2 = resident_bytes();
  r.bytes_per_tenant = static_cast<double>(rss1 > rss0 ? rss1 - rss0 : 0) / static_cast<double>(sc.tenants);
  r.bytes_per_event = total ? static_cast<double>(rss2 > rss1 ? rss2 - rss1 : 0) / static_cast<double>(total) : 0;
  r.log_bytes_per_event = total ? static_cast<double>(stats.log_bytes) / static_cast<double>(total) : 0;

  acknowledged.events = total;
  acknowledged.shred_count = st.shred_count;
  // The per-stream counters outlive the runtime: the reopened store is
  // checked against them.
  acknowledged.streams = std::move(st.streams_of_writer);
  if (sc.metrics_hold)
    hold_metrics(backend, total);
}

int run(const scenario& sc) {
  prepare_fresh_store(sc.storage);
  report r;
  r.settings = &sc;
  acknowledged_run acknowledged;
  // Everything that holds the runtime lives in run_live: when it returns,
  // the last handle is gone and a durable engine is closed.
  run_live(sc, r, acknowledged);
  if (sc.storage.durable()) {
    std::cerr << "Reopening the store...\n";
    r.notes.push_back("durable engine: every handle was dropped (the store closed), then the store "
                      "at '" + sc.storage.path + "' was reopened and read back");
    for (auto& c : verify_reopened(sc, acknowledged))
      r.checks.push_back(std::move(c));
  }
  if (sc.max_rss_growth > 0)
    r.notes.push_back("soak rule: the level of resident memory at the end of writing (the median "
                      "of its last 10%) may exceed its level at 20% of the writing time (the "
                      "median of 15-25%, minute 2 of a 10-minute run) by at most "
                      + std::to_string(static_cast<int>(sc.max_rss_growth * 100 + 0.5)) + "%");

  print_text(r, std::cout);
  write_json(r, sc.report_json);
  write_svg(r, sc.report_svg);
  std::cout << "Report: " << sc.report_json << ", picture: " << sc.report_svg << "\n";
  return r.ok() ? 0 : 1;
}

} // namespace harness

namespace {

/// The number after `flag` in `arg` (the flags the harness gives its own
/// child processes); a bad one is a bad setting.
template <class Int>
Int child_flag_value(const std::string& arg, const char* flag) {
  auto text = arg.substr(std::strlen(flag));
  std::size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  auto max = static_cast<unsigned long long>(std::numeric_limits<Int>::max());
  if (used != text.size() || n < 0 || static_cast<unsigned long long>(n) > max)
    throw harness::setting_error("cannot understand argument '" + arg
                                 + "': expected a whole number after " + flag);
  return static_cast<Int>(n);
}

/// Prints "sourcery_load: <message>" on one line; returns `code`.
int refuse(int code, const std::string& message) {
  std::cerr << "sourcery_load: " << cli::one_line(message) << "\n";
  return code;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  harness::scenario sc;
  std::uint32_t crash_child = 0;
  std::int64_t crash_child_appends = 0;
  std::optional<std::uint32_t> node_child; // a node of a nodes run
  try {
    // A crash child or a node (the crash and nodes scenarios' parents add these flags).
    std::vector<char*> settings_argv;
    for (int i = 0; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind(harness::crash_child_flag, 0) == 0)
        crash_child = child_flag_value<std::uint32_t>(a, harness::crash_child_flag);
      else if (a.rfind(harness::node_child_flag, 0) == 0)
        node_child = child_flag_value<std::uint32_t>(a, harness::node_child_flag);
      else if (a.rfind(harness::crash_child_appends_flag, 0) == 0)
        crash_child_appends = child_flag_value<std::int64_t>(a, harness::crash_child_appends_flag);
      else
        settings_argv.push_back(argv[i]);
    }
    sc = harness::load_scenario(static_cast<int>(settings_argv.size()), settings_argv.data());
  } catch (const harness::help_requested& h) {
    std::cout << h.text;
    return 0;
  } catch (const harness::setting_error& e) {
    return refuse(2, e.what());
  } catch (const std::exception& e) {
    return refuse(2, e.what());
  }
  // Exit code 2 for a bad setting found late, 1 for whatever else stopped the
  // run (a folder that cannot be written, a server that cannot be reached):
  // one line on stderr either way, never an abort.
  try {
    if (crash_child > 0)
      return harness::run_crash_child(sc, crash_child, crash_child_appends);
    if (node_child)
      return harness::run_node_child(sc, *node_child);
    harness::check_report_path("harness.report-json", sc.report_json);
    if (sc.crash.kills == 0 && sc.nodes == 0)
      harness::check_report_path("harness.report-svg", sc.report_svg);
    if (sc.crash.kills > 0)
      return harness::run_crash(sc, args);
    if (sc.failover.kills > 0) {
#ifdef SOURCERY_LOAD_FAILOVER
      return harness::run_failover(sc);
#else
      throw harness::setting_error("setting 'failover.kills': this build has no PostgreSQL engine");
#endif
    }
    if (sc.nodes > 0)
      return harness::run_nodes(sc, args);
    return harness::run(sc);
  } catch (const harness::setting_error& e) {
    return refuse(2, e.what());
  } catch (const std::bad_alloc&) {
    return refuse(1, "out of memory (smaller settings may fit)");
  } catch (const std::exception& e) {
    return refuse(1, e.what());
  } catch (...) {
    return refuse(1, "stopped by an unknown exception");
  }
}
