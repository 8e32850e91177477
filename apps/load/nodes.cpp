// A nodes run's parent: starts the nodes, reads what they report, tells
// them the total once all have written, then verifies across them.
#include "nodes.hpp"

#include "child_process.hpp"
#include "domain.hpp"
#include "nodes_wire.hpp"
#include "report.hpp"
#include "store_setup.hpp"
#include "stream_check.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace harness {

namespace {

struct subscription_figures {
  std::uint64_t received = 0, out_of_order = 0, last = 0;
};

/// What one node reported.
struct node_figures {
  child_process process;
  std::string pending_bytes; // part of a message split across reads
  bool open = true;          // its report pipe
  bool written = false;
  std::uint64_t events = 0, appends = 0, failed_appends = 0;
  std::uint32_t append_p50_us = 0, append_p99_us = 0, write_ms = 0;
  std::int64_t writers = 0;
  std::vector<subscription_figures> subscriptions;
  bool outbox_reported = false;
  std::uint64_t published = 0, failures = 0, publisher_calls = 0, publishes_told = 0;
  int status = 0;
};

/// Everything the nodes told, and the streams as they appended them.
struct run_reports {
  std::vector<node_figures> nodes;
  std::vector<std::uint32_t> publishes; // per position: successful publishes, any node
  std::vector<std::vector<stream_slot>> streams_of_writer;
  std::vector<std::string> problems;
};

void take(run_reports& r, node_figures& n, const node_message& m) {
  switch (m.kind) {
  case node_message::published:
    if (m.x >= r.publishes.size())
      r.publishes.resize(std::max<std::size_t>(m.x + 1, r.publishes.size() * 2));
    ++r.publishes[m.x];
    ++n.publishes_told;
    break;
  case node_message::stream:
    if (m.a < r.streams_of_writer.size() && m.b < r.streams_of_writer[m.a].size())
      r.streams_of_writer[m.a][m.b].submitted = m.x;
    else
      r.problems.push_back("a node reported stream " + std::to_string(m.b) + " of writer "
                           + std::to_string(m.a) + ", which does not exist");
    break;
  case node_message::written:
    n.written = true;
    n.events = m.x;
    n.appends = m.y;
    n.failed_appends = m.z;
    n.append_p50_us = m.a;
    n.append_p99_us = m.b;
    n.write_ms = m.c;
    break;
  case node_message::subscription:
    n.subscriptions.push_back({m.x, m.y, m.z});
    break;
  case node_message::outbox:
    n.outbox_reported = true;
    n.published = m.x;
    n.failures = m.y;
    n.publisher_calls = m.z;
    break;
  default:
    r.problems.push_back("a node sent a message of unknown kind " + std::to_string(m.kind));
  }
}

/// Reads what is there on `n`'s pipe; marks it closed at end of file.
void read_from(run_reports& r, node_figures& n) {
  char buffer[64 * sizeof(node_message)];
  auto got = ::read(n.process.from_child, buffer, sizeof buffer);
  if (got < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (got <= 0) {
    n.open = false;
    return;
  }
  n.pending_bytes.append(buffer, static_cast<std::size_t>(got));
  std::size_t whole = n.pending_bytes.size() / sizeof(node_message);
  for (std::size_t i = 0; i < whole; ++i) {
    node_message m;
    std::memcpy(&m, n.pending_bytes.data() + i * sizeof m, sizeof m);
    take(r, n, m);
  }
  n.pending_bytes.erase(0, whole * sizeof(node_message));
}

/// Tells every node the total once all have written (or ended).
void tell_total(run_reports& r) {
  std::uint64_t total = 0;
  for (const auto& n : r.nodes)
    total += n.events;
  auto line = "total " + std::to_string(total) + "\n";
  for (auto& n : r.nodes) {
    // A node that ended already is not written to (SIGPIPE is ignored).
    [[maybe_unused]] auto w = ::write(n.process.to_child, line.data(), line.size());
    ::close(n.process.to_child);
    n.process.to_child = -1;
  }
}

/// Runs the nodes to their end, collecting their reports.
void run_all(run_reports& r) {
  bool total_told = false;
  for (;;) {
    if (!total_told
        && std::all_of(r.nodes.begin(), r.nodes.end(), [](const auto& n) { return n.written || !n.open; })) {
      tell_total(r);
      total_told = true;
    }
    std::vector<pollfd> fds;
    std::vector<node_figures*> owners;
    for (auto& n : r.nodes)
      if (n.open) {
        fds.push_back({n.process.from_child, POLLIN, 0});
        owners.push_back(&n);
      }
    if (fds.empty())
      break;
    if (::poll(fds.data(), fds.size(), -1) < 0)
      continue; // EINTR
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents)
        read_from(r, *owners[i]);
  }
  for (auto& n : r.nodes) {
    ::close(n.process.from_child);
    ::waitpid(n.process.pid, &n.status, 0);
  }
}

std::string thousands(std::uint64_t n) {
  const auto digits = std::to_string(n);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0)
      s += ',';
    s += digits[i];
  }
  return s;
}

} // namespace

int run_nodes(const scenario& sc, const std::vector<std::string>& argv) {
  ::signal(SIGPIPE, SIG_IGN);
  prepare_fresh_store(sc.storage);
  open_engine(sc.storage).reset(); // the schema is created once, before the nodes open it
  auto nodes = static_cast<std::size_t>(sc.nodes);
  std::cout << "Nodes run '" << sc.name << "': " << nodes << " node processes on PostgreSQL schema '"
            << sc.storage.schema << "'; " << sc.writers << " writers spread over them (writer w on node "
            << "w mod " << nodes << "), " << sc.subscriptions << " push subscriptions per node, outbox "
            << (sc.outbox ? "on, publisher failing with probability " + std::to_string(sc.outbox_failure)
                          : std::string("off"))
            << "\n" << std::flush;

  run_reports r;
  r.streams_of_writer.resize(static_cast<std::size_t>(sc.writers));
  for (std::int64_t t = 0; t < sc.tenants; ++t)
    for (std::int64_t s = 0; s < sc.streams_per_tenant; ++s)
      r.streams_of_writer[static_cast<std::size_t>((t * sc.streams_per_tenant + s) % sc.writers)]
        .push_back({static_cast<std::size_t>(t),
                    sourcery::stream_id::named("stream-" + std::to_string(s), "load")});
  r.publishes.resize(static_cast<std::size_t>(std::max<std::int64_t>(sc.events, 1024)) + 1);
  r.nodes.resize(nodes);
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < nodes; ++k) {
    auto args = argv;
    args.push_back(node_child_flag + std::to_string(k));
    r.nodes[k].process = spawn_child(args, node_pipe_fd, true);
    r.nodes[k].writers = static_cast<std::int64_t>((static_cast<std::size_t>(sc.writers) - k + nodes - 1) / nodes);
  }
  run_all(r);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // -- verification, across the nodes ------------------------------------------------
  std::vector<check> checks;
  std::uint64_t total = 0, failed = 0, published = 0, failures = 0, calls = 0;
  double write_s = 0;
  for (const auto& n : r.nodes) {
    total += n.events;
    failed += n.failed_appends;
    published += n.published;
    failures += n.failures;
    calls += n.publisher_calls;
    write_s = std::max(write_s, n.write_ms / 1000.0);
  }
  {
    std::string bad;
    for (std::size_t k = 0; k < nodes; ++k) {
      const auto& n = r.nodes[k];
      bool fine = WIFEXITED(n.status) && WEXITSTATUS(n.status) == 0 && n.written
                  && (!sc.outbox || n.outbox_reported);
      if (!fine && bad.empty())
        bad = "node " + std::to_string(k + 1) + " " + describe_status(n.status)
              + (n.written ? "" : " before it reported its writing");
    }
    for (const auto& p : r.problems)
      if (bad.empty())
        bad = p;
    checks.push_back({"every node ended normally and reported", bad.empty(),
                      bad.empty() ? std::to_string(nodes) + " nodes" : bad});
  }
  checks.push_back({"every append succeeded", failed == 0,
                    thousands(failed) + " failed (the nodes' stderr names the first)"});
  for (std::size_t k = 0; k < nodes; ++k) {
    const auto& n = r.nodes[k];
    bool ok = n.subscriptions.size() == static_cast<std::size_t>(sc.subscriptions);
    std::string detail;
    for (const auto& s : n.subscriptions) {
      ok = ok && s.received == total && s.out_of_order == 0 && s.last == total;
      if (!detail.empty())
        detail += "; ";
      detail += thousands(s.received) + " received, " + std::to_string(s.out_of_order)
                + " out of order or repeated, last " + thousands(s.last);
    }
    checks.push_back({"node " + std::to_string(k + 1) + ": each subscription saw every node's "
                        + thousands(total) + " events once, in position order",
                      ok, detail.empty() ? "no subscription reported" : detail});
  }
  auto engine = open_engine(sc.storage);
  auto last = engine->log().last_position();
  checks.push_back({"positions 1..total without gaps, across the nodes", last == total,
                    "last position " + thousands(last) + ", events acknowledged " + thousands(total)});
  std::size_t dead_count = 0, pending = 0;
  if (sc.outbox) {
    auto dead = engine->outbox().dead_letters();
    auto counts = engine->outbox().counts();
    pending = counts.pending;
    dead_count = dead.size();
    std::vector<bool> is_dead(total + 1, false);
    for (const auto& d : dead)
      if (d.record.position <= total)
        is_dead[d.record.position] = true;
    if (r.publishes.size() < total + 1)
      r.publishes.resize(total + 1);
    std::uint64_t lost = 0, twice = 0, both = 0, beyond = 0;
    sourcery::position first_lost = 0, first_twice = 0;
    for (sourcery::position p = 1; p <= total; ++p) {
      auto n = r.publishes[p];
      if (n == 0 && !is_dead[p] && lost++ == 0)
        first_lost = p;
      if (n > 1 && twice++ == 0)
        first_twice = p;
      both += n > 0 && is_dead[p];
    }
    for (std::size_t p = total + 1; p < r.publishes.size(); ++p)
      beyond += r.publishes[p];
    bool ok = lost == 0 && twice == 0 && both == 0 && beyond == 0 && pending == 0;
    std::string detail = thousands(published) + " published + " + thousands(dead_count) + " dead = "
                         + thousands(published + dead_count) + " of " + thousands(total) + "; "
                         + thousands(pending) + " pending";
    if (lost)
      detail += "; " + thousands(lost) + " lost, first at position " + thousands(first_lost);
    if (twice)
      detail += "; " + thousands(twice) + " published twice, first at " + thousands(first_twice);
    if (both)
      detail += "; " + thousands(both) + " both published and dead";
    if (beyond)
      detail += "; " + thousands(beyond) + " publishes beyond the last position";
    checks.push_back({"every outbox entry published by exactly one node or dead-lettered", ok, detail});
    std::uint64_t told = 0;
    for (const auto& n : r.nodes)
      told += n.publishes_told;
    checks.push_back(
      {"outbox counts reconcile across the nodes",
       published + dead_count == total && calls == published + failures && told == published,
       thousands(calls) + " publisher calls = " + thousands(published) + " successes + "
         + thousands(failures) + " failures, summed over the nodes; " + thousands(told)
         + " publishes told = " + thousands(published) + " counted"});
  }
  engine.reset();
  {
    // The streams, read back by a node of the parent's own.
    auto backend = open_backend(sc);
    set_up_domain(backend, sc);
    std::vector<sourcery::event_store> stores;
    for (std::int64_t t = 0; t < sc.tenants; ++t)
      stores.push_back(backend.in_tenant_mode("tenant-" + std::to_string(t)).event_store());
    std::size_t masked = 0, clear = 0;
    checks.push_back(verify_streams(stores, r.streams_of_writer, 0, masked, clear));
  }
  bool ok = std::all_of(checks.begin(), checks.end(), [](const check& c) { return c.ok; });

  // -- the report ---------------------------------------------------------------------
  auto& out = std::cout;
  char line[400];
  out << "\n== Sourcery load harness: scenario '" << sc.name << "' (" << nodes
      << " nodes on one PostgreSQL database, SPEC §16)\n";
  for (std::size_t k = 0; k < nodes; ++k) {
    const auto& n = r.nodes[k];
    double s = n.write_ms / 1000.0;
    std::snprintf(line, sizeof line,
                  "  node %zu (pid %d, %lld writers): %s events in %s appends, %.0f events/s; append "
                  "p50 %.2f ms p99 %.2f ms; outbox: %s published, %s failed attempts\n",
                  k + 1, static_cast<int>(n.process.pid), static_cast<long long>(n.writers),
                  thousands(n.events).c_str(), thousands(n.appends).c_str(),
                  s > 0 ? static_cast<double>(n.events) / s : 0.0, n.append_p50_us / 1000.0,
                  n.append_p99_us / 1000.0, thousands(n.published).c_str(),
                  thousands(n.failures).c_str());
    out << line;
  }
  std::snprintf(line, sizeof line,
                "  total: %s events, %.0f events/s over %.1f s of writing (%.1f s in all); outbox: "
                "%s published + %s dead = %s, %s failed attempts, %s pending\n",
                thousands(total).c_str(), write_s > 0 ? static_cast<double>(total) / write_s : 0.0,
                write_s, seconds, thousands(published).c_str(), thousands(dead_count).c_str(),
                thousands(published + dead_count).c_str(), thousands(failures).c_str(),
                thousands(pending).c_str());
  out << line << "Verification:\n";
  for (const auto& c : checks)
    out << "  [" << (c.ok ? "ok" : "FAILED") << "] " << c.name << ": " << c.detail << "\n";
  out << (ok ? "PASSED" : "FAILED") << "\n";

  boost::json::array node_docs;
  for (std::size_t k = 0; k < nodes; ++k) {
    const auto& n = r.nodes[k];
    boost::json::array subs;
    for (const auto& s : n.subscriptions)
      subs.push_back({{"received", s.received}, {"out_of_order", s.out_of_order}, {"last", s.last}});
    double s = n.write_ms / 1000.0;
    node_docs.push_back({{"node", k + 1},
                         {"exit", describe_status(n.status)},
                         {"writers", n.writers},
                         {"events", n.events},
                         {"appends", n.appends},
                         {"failed_appends", n.failed_appends},
                         {"write_seconds", s},
                         {"events_per_second", s > 0 ? static_cast<double>(n.events) / s : 0.0},
                         {"append_p50_us", n.append_p50_us},
                         {"append_p99_us", n.append_p99_us},
                         {"subscriptions", subs},
                         {"outbox_published", n.published},
                         {"outbox_failures", n.failures},
                         {"publisher_calls", n.publisher_calls}});
  }
  boost::json::array check_docs;
  for (const auto& c : checks)
    check_docs.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  boost::json::object settings;
  for (const auto& [k, v] : sc.describe())
    settings[k] = v;
  boost::json::object doc{
    {"scenario", sc.name},
    {"settings", settings},
    {"nodes", node_docs},
    {"total",
     {{"events", total},
      {"last_position", last},
      {"write_seconds", write_s},
      {"seconds", seconds},
      {"events_per_second", write_s > 0 ? static_cast<double>(total) / write_s : 0.0},
      {"outbox_published", published},
      {"outbox_dead", dead_count},
      {"outbox_failures", failures},
      {"outbox_pending", pending}}},
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
  return ok ? 0 : 1;
}

} // namespace harness
