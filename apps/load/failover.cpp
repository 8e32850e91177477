// The failover scenario's run: the formation, the nodes, the kills, the
// verification and the report (failover.hpp says what and why).
#include "failover.hpp"

#include "domain.hpp"
#include "pg_formation.hpp"
#include "report.hpp"
#include "store_setup.hpp"

#include <sourcery/sourcery.hpp>
#include <sourcery/storage/engine.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#ifndef SOURCERY_PG_BINDIR
#define SOURCERY_PG_BINDIR "/usr/lib/postgresql/15/bin"
#endif

namespace harness {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::microseconds;

/// What the nodes did, shared by their threads and the run.
struct shared_tally {
  std::mutex m;
  std::condition_variable changed;
  std::uint64_t acked_events = 0;
  // position → (tenant, stream name, version of the append's last event), per append
  std::map<sourcery::position, std::tuple<std::size_t, std::string, sourcery::version, std::size_t>>
    acked;
  std::uint64_t refused = 0;        // storage_unavailable, retried
  std::uint64_t other_errors = 0;   // anything else: a failure
  std::string first_error;
  std::optional<clock_type::time_point> last_success;
  microseconds longest_window{0};   // no successful append on any node
  std::uint64_t refused_in_window = 0, refused_since_success = 0;
  std::vector<std::vector<sourcery::position>> subscribed; // per subscription, in order
  std::multiset<sourcery::position> published;

  void success(clock_type::time_point now) {
    if (last_success && now - *last_success > longest_window) {
      longest_window = std::chrono::duration_cast<microseconds>(now - *last_success);
      refused_in_window = refused_since_success;
    }
    last_success = now;
    refused_since_success = 0;
  }
};

/// One writer: its streams in turn, `batch` events per append, each with its
/// expected version; a refused append is tried again as it was.
void write_retrying(const scenario& sc, sourcery::backend& node, std::size_t writer, std::int64_t quota,
           shared_tally& tally, const std::atomic<bool>& stop, const std::atomic<bool>& killing) {
  struct slot {
    std::size_t tenant;
    std::string name;
    sourcery::version at = 0;
  };
  std::vector<slot> slots;
  for (std::int64_t t = 0; t < sc.tenants; ++t)
    for (std::int64_t s = 0; s < sc.streams_per_tenant; ++s)
      if (static_cast<std::size_t>(t * sc.streams_per_tenant + s) % static_cast<std::size_t>(sc.writers)
          == writer)
        slots.push_back({static_cast<std::size_t>(t), "stream-" + std::to_string(s)});
  if (slots.empty())
    return;
  std::vector<sourcery::event_store> stores;
  for (std::int64_t t = 0; t < sc.tenants; ++t)
    stores.push_back(node.in_tenant_mode("tenant-" + std::to_string(t)).event_store());
  std::string payload(static_cast<std::size_t>(sc.payload_bytes), 'x');
  std::int64_t written = 0;
  // Past its quota a writer goes on while kills are still to come: every
  // kill lands while the nodes write.
  for (std::size_t n = 0; (written < quota || killing.load()) && !stop.load(); ++n) {
    auto& sl = slots[n % slots.size()];
    auto id = sourcery::stream_id::named(sl.name, "load");
    std::vector<sourcery::wrapped_event<>> events;
    auto count = written < quota ? std::min<std::int64_t>(sc.batch, quota - written) : sc.batch;
    for (std::int64_t i = 0; i < count; ++i)
      events.push_back(sourcery::wrap(order_placed{written + i, payload}));
    for (bool answered = false; !answered && !stop.load();) {
      try {
        auto r = stores[sl.tenant].append(id, events, sl.at);
        sl.at = *r.version;
        written += count;
        std::lock_guard lock(tally.m);
        tally.success(clock_type::now());
        tally.acked_events += static_cast<std::uint64_t>(count);
        tally.acked[r.first_position] = {sl.tenant, sl.name, sl.at,
                                         static_cast<std::size_t>(count)};
        tally.changed.notify_all();
        answered = true;
      } catch (const sourcery::storage_unavailable&) { // unknown outcome: the same again
        std::lock_guard lock(tally.m);
        ++tally.refused;
        ++tally.refused_since_success;
      } catch (const std::exception& e) {
        std::lock_guard lock(tally.m);
        if (tally.other_errors++ == 0)
          tally.first_error = e.what();
        tally.changed.notify_all();
        return;
      }
    }
  }
}

/// One node: a backend on the formation with its subscriptions, the
/// continuous outbox and its writers.
struct node_run {
  sourcery::backend backend;
  std::vector<sourcery::push_subscription> subscriptions;
  std::vector<std::thread> writers;
};

std::string ms(microseconds us) { return std::to_string(us.count() / 1000) + " ms"; }

} // namespace

int run_failover(const scenario& sc) {
  auto log = (std::filesystem::path(sc.report_json).parent_path() / "failover-servers.log").string();
  if (!std::filesystem::path(log).parent_path().empty())
    std::filesystem::create_directories(std::filesystem::path(log).parent_path());
  std::cout << "Failover run '" << sc.name << "': a pg_auto_failover monitor, primary and "
            << "synchronous standby on 127.0.0.1:" << sc.failover.port << "–"
            << sc.failover.port + 2 << " (their output: " << log << "); " << sc.nodes
            << " nodes, " << sc.writers << " writers, " << sc.failover.kills
            << " primaries SIGKILLed\n"
            << std::flush;
  auto t0 = clock_type::now();
  pg_formation formation(static_cast<int>(sc.failover.port), SOURCERY_PG_BINDIR, log);
  std::cout << "  formation up in "
            << std::chrono::duration_cast<std::chrono::seconds>(clock_type::now() - t0).count()
            << " s\n"
            << std::flush;
  scenario on = sc;
  on.storage.conninfo = formation.conninfo();

  shared_tally tally;
  std::atomic<bool> stop{false}, killing{sc.failover.kills > 0};
  std::vector<std::unique_ptr<node_run>> nodes;
  auto subscriptions = static_cast<std::size_t>(sc.nodes * sc.subscriptions);
  tally.subscribed.resize(subscriptions);
  for (std::int64_t k = 0; k < sc.nodes; ++k) {
    nodes.push_back(std::make_unique<node_run>(node_run{open_backend(on), {}, {}}));
    auto& n = *nodes.back();
    set_up_domain(n.backend, on);
    for (std::int64_t s = 0; s < sc.subscriptions; ++s) {
      auto* seen = &tally.subscribed[static_cast<std::size_t>(k * sc.subscriptions + s)];
      n.subscriptions.push_back(n.backend.subscriber().start_from(0).build_push(
        [&tally, seen](std::span<const sourcery::recorded_event> batch) {
          std::lock_guard lock(tally.m);
          for (const auto& r : batch)
            seen->push_back(r.position);
          tally.changed.notify_all();
        }));
    }
    if (sc.outbox)
      n.backend.outbox().start([&tally](const sourcery::recorded_event& r) {
        std::lock_guard lock(tally.m);
        tally.published.insert(r.position);
      });
  }
  auto writing_started = clock_type::now();
  for (std::int64_t w = 0; w < sc.writers; ++w) {
    auto quota = sc.events / sc.writers + (w < sc.events % sc.writers ? 1 : 0);
    auto& n = *nodes[static_cast<std::size_t>(w % sc.nodes)];
    n.writers.emplace_back(write_retrying, std::cref(on), std::ref(n.backend), static_cast<std::size_t>(w),
                           quota, std::ref(tally), std::cref(stop), std::cref(killing));
  }

  // The kills: after each share of the events, the primary dies.
  struct kill_record {
    std::string victim, promoted;
    bool promoted_ok = false, rejoined_ok = false;
    double promoted_after_s = 0, rejoined_after_s = 0;
  };
  std::vector<kill_record> kills;
  std::string primary = "a", standby = "b";
  bool formation_ok = true;
  for (std::int64_t k = 1; k <= sc.failover.kills && formation_ok; ++k) {
    auto due = static_cast<std::uint64_t>(sc.events * k / (sc.failover.kills + 1));
    {
      std::unique_lock lock(tally.m);
      tally.changed.wait(lock, [&] { return tally.acked_events >= due || tally.other_errors > 0; });
      if (tally.other_errors > 0)
        break;
    }
    kill_record kr{primary, standby};
    auto at = clock_type::now();
    formation.kill(primary);
    std::cout << "  kill " << k << ": primary '" << primary << "' SIGKILLed after "
              << tally.acked_events << " events acknowledged\n"
              << std::flush;
    kr.promoted_ok = formation.wait_for_state(standby, {"wait_primary", "primary"});
    kr.promoted_after_s = std::chrono::duration<double>(clock_type::now() - at).count();
    formation.restart(primary);
    kr.rejoined_ok = kr.promoted_ok && formation.wait_for_state(primary, {"secondary"})
                     && formation.wait_for_state(standby, {"primary"});
    kr.rejoined_after_s = std::chrono::duration<double>(clock_type::now() - at).count();
    std::cout << "    '" << standby << "' promoted after " << kr.promoted_after_s << " s; '"
              << primary << "' back as its synchronous standby after " << kr.rejoined_after_s
              << " s\n"
              << std::flush;
    formation_ok = kr.rejoined_ok;
    kills.push_back(kr);
    std::swap(primary, standby);
  }
  killing = false;
  if (!formation_ok)
    stop = true;
  for (auto& n : nodes)
    for (auto& w : n->writers)
      w.join();
  double write_s = std::chrono::duration<double>(clock_type::now() - writing_started).count();

  // Every subscription and the outbox catch up, then everything stops.
  sourcery::position last = 0;
  for (auto& n : nodes)
    last = std::max(last, n->backend.event_store().position().value_or(0));
  {
    std::unique_lock lock(tally.m);
    tally.changed.wait_for(lock, std::chrono::seconds(120), [&] {
      for (const auto& s : tally.subscribed)
        if (s.empty() || s.back() < last)
          return false;
      return true;
    });
  }
  bool drained = true;
  if (sc.outbox)
    for (auto& n : nodes)
      drained = n->backend.outbox().wait_until_empty(std::chrono::seconds(120)) && drained;
  for (auto& n : nodes) {
    for (auto& s : n->subscriptions)
      s.stop();
    if (sc.outbox)
      n->backend.outbox().stop();
  }

  // -- verification ---------------------------------------------------------------------
  std::unique_lock lock(tally.m); // nothing reports any more: held until the nodes go
  std::vector<check> checks;
  {
    std::string detail;
    for (std::size_t i = 0; i < kills.size(); ++i)
      detail += (i ? "; " : "") + std::string("kill ") + std::to_string(i + 1) + ": '"
                + kills[i].victim + "' killed, '" + kills[i].promoted + "' "
                + (kills[i].promoted_ok ? "" : "NOT ") + "promoted after "
                + std::to_string(static_cast<int>(kills[i].promoted_after_s * 1000)) + " ms, '"
                + kills[i].victim + "' " + (kills[i].rejoined_ok ? "" : "NOT ")
                + "back as the standby";
    checks.push_back({"pg_auto_failover promoted the standby after each kill",
                      formation_ok && static_cast<std::int64_t>(kills.size()) == sc.failover.kills,
                      detail});
  }
  checks.push_back({"every append was answered (refusals retried)", tally.other_errors == 0,
                    tally.other_errors == 0 ? std::to_string(tally.acked.size()) + " appends"
                                            : std::to_string(tally.other_errors)
                                                + " failed, first: " + tally.first_error});
  auto engine = nodes.front()->backend.engine();
  sourcery::storage::record_batch log_records;
  engine->log().read(0, last, log_records);
  const auto& recs = log_records.records;
  bool gap_free = recs.size() == last;
  for (std::size_t i = 0; gap_free && i < recs.size(); ++i)
    gap_free = recs[i].position == i + 1;
  checks.push_back({"positions 1..last without gaps", gap_free,
                    "last position " + std::to_string(last) + ", " + std::to_string(recs.size())
                      + " records"});
  std::uint64_t lost = 0;
  for (const auto& [p, a] : tally.acked) {
    const auto& [tenant, name, version, count] = a;
    auto first_version = version - count + 1;
    for (std::size_t i = 0; i < count; ++i) {
      auto at = p + i;
      bool there = at <= recs.size() && recs[at - 1].tenant == "tenant-" + std::to_string(tenant)
                   && *recs[at - 1].stream == sourcery::stream_id::named(name, "load")
                   && recs[at - 1].version == first_version + i;
      lost += !there;
    }
  }
  checks.push_back({"every acknowledged append stored where its receipt said (none lost)",
                    lost == 0,
                    std::to_string(tally.acked_events) + " events acknowledged, "
                      + std::to_string(lost) + " missing or elsewhere"});
  checks.push_back({"nothing stored twice: the log holds exactly the acknowledged events",
                    last == tally.acked_events,
                    std::to_string(last) + " stored, " + std::to_string(tally.acked_events)
                      + " acknowledged"});
  {
    std::map<std::pair<std::string, std::string>, std::vector<sourcery::version>> versions;
    for (const auto& r : recs)
      versions[{std::string(r.tenant), r.stream->to_string()}].push_back(r.version);
    std::size_t bad = 0;
    for (const auto& [key, vs] : versions)
      for (std::size_t i = 0; i < vs.size(); ++i)
        bad += vs[i] != i + 1;
    checks.push_back({"every stream holds versions 1..n", bad == 0,
                      std::to_string(versions.size()) + " streams, " + std::to_string(bad)
                        + " versions out of place"});
  }
  {
    std::size_t bad = 0;
    std::string detail;
    for (const auto& s : tally.subscribed) {
      bool ok = s.size() == last;
      for (std::size_t i = 0; ok && i < s.size(); ++i)
        ok = s[i] == i + 1;
      bad += !ok;
      detail += (detail.empty() ? "" : ", ") + std::to_string(s.size());
    }
    checks.push_back({"each subscription saw every event once, in order", bad == 0,
                      "received " + detail + " of " + std::to_string(last)});
  }
  if (sc.outbox) {
    std::set<sourcery::position> distinct(tally.published.begin(), tally.published.end());
    auto counts = engine->outbox().counts();
    bool ok = drained && distinct.size() == last && counts.pending == 0 && counts.dead == 0;
    checks.push_back({"outbox reconciles: every entry published, none pending or dead", ok,
                      std::to_string(distinct.size()) + " of " + std::to_string(last)
                        + " published (" + std::to_string(tally.published.size() - distinct.size())
                        + " again after a lost report); " + std::to_string(counts.pending)
                        + " pending, " + std::to_string(counts.dead) + " dead"});
  }
  bool ok = std::all_of(checks.begin(), checks.end(), [](const check& c) { return c.ok; });

  // -- the report -----------------------------------------------------------------------
  auto& out = std::cout;
  out << "\n== Sourcery load harness: scenario '" << sc.name << "' (" << sc.nodes
      << " nodes through " << kills.size() << " failovers, SPEC §16 R-N5)\n"
      << "  " << tally.acked_events << " events in " << tally.acked.size() << " appends over "
      << write_s << " s; longest window with no successful append " << ms(tally.longest_window)
      << " (" << tally.refused_in_window << " appends refused in it); " << tally.refused
      << " refusals in all (each retried with the same events); acknowledged and lost: " << lost
      << "\nVerification:\n";
  for (const auto& c : checks)
    out << "  [" << (c.ok ? "ok" : "FAILED") << "] " << c.name << ": " << c.detail << "\n";
  out << (ok ? "PASSED" : "FAILED") << "\n";

  boost::json::array kill_docs;
  for (const auto& k : kills)
    kill_docs.push_back({{"killed", k.victim},
                         {"promoted", k.promoted},
                         {"promoted_after_s", k.promoted_after_s},
                         {"rejoined_after_s", k.rejoined_after_s},
                         {"ok", k.promoted_ok && k.rejoined_ok}});
  boost::json::array check_docs;
  for (const auto& c : checks)
    check_docs.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  boost::json::object settings;
  for (const auto& [key, v] : sc.describe())
    settings[key] = v;
  boost::json::object doc{{"scenario", sc.name},
                          {"settings", settings},
                          {"kills", kill_docs},
                          {"events", tally.acked_events},
                          {"appends", tally.acked.size()},
                          {"last_position", last},
                          {"write_seconds", write_s},
                          {"longest_window_ms", tally.longest_window.count() / 1000},
                          {"refused_in_longest_window", tally.refused_in_window},
                          {"refused", tally.refused},
                          {"lost", lost},
                          {"published", tally.published.size()},
                          {"checks", check_docs},
                          {"passed", ok}};
  auto parent = std::filesystem::path(sc.report_json).parent_path();
  if (!parent.empty())
    std::filesystem::create_directories(parent);
  std::ofstream json(sc.report_json);
  if (!json)
    throw std::runtime_error("cannot write '" + sc.report_json + "'");
  json << boost::json::serialize(doc) << "\n";
  out << "Report: " << sc.report_json << "\n";
  lock.unlock();
  nodes.clear(); // before the formation goes
  return ok ? 0 : 1;
}

} // namespace harness
