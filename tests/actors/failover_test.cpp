// Nodes through PostgreSQL failovers (R-N5, R-ST6, R-N1–R-N4, R-ES6). Each node
// is a backend whose conninfo names two servers (host=a,b
// target_session_attrs=read-write); it writes (one writer thread, each
// append with its expected version, an append whose outcome is unknown
// retried with the same events until answered), follows the log with a
// push subscription and publishes through the continuous outbox.
//
//  - a pair made with initdb, pg_basebackup and pg_ctl (a primary and its
//    synchronous standby): the primary is SIGKILLed mid-run and the standby
//    promoted by hand; one node goes on by itself.
//  - pg_auto_failover (a monitor, a primary and a synchronous standby): the
//    primary is SIGKILLed mid-run, the monitor promotes the standby; the dead
//    server comes back as the standby; later the new primary is SIGKILLed
//    too (failing back). Three nodes go on by themselves.
//
// Verified: every acknowledged append is stored once, where its receipt
// said; positions and stream versions are gap-free; each subscription saw
// every event once, in order; every outbox entry was published; the longest
// window without a successful append and the refusals are reported, and no
// acknowledged append is lost (synchronous replication).
//
// Not inside pg_virtualenv: the test makes and removes its own clusters in
// temporary folders (ports from SOURCERY_FAILOVER_PORTS). It fails when they
// cannot be made; it never skips.
#include "fixtures.hpp"
#include "pg_formation.hpp" // apps/load: the harness's failover scenario uses it too

#include <sourcery/postgres_backend.hpp>
#include <sourcery/storage/engine.hpp>

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <initializer_list>
#include <sys/wait.h>
#include <thread>

using namespace sourcery;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using clock_type = std::chrono::steady_clock;

/// Where the servers' tools write; SOURCERY_FAILOVER_LOG or nowhere.
std::string tool_log() {
  const char* log = std::getenv("SOURCERY_FAILOVER_LOG");
  return log ? log : "/dev/null";
}

/// Runs `command` with the shell; as the `postgres` user when run as root
/// (initdb refuses root). Returns whether it exited 0.
bool run(const std::string& command) {
  auto line = ::geteuid() == 0 ? "runuser -u postgres -- " + command : command;
  return std::system((line + " >>" + tool_log() + " 2>&1").c_str()) == 0;
}

/// The ports to use, from SOURCERY_FAILOVER_PORTS ("p1,p2,p3"), else from 25432.
std::vector<std::string> ports() {
  const char* env = std::getenv("SOURCERY_FAILOVER_PORTS");
  std::string list = env ? env : "25432,25433,25434";
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= list.size();) {
    auto comma = std::min(list.find(',', at), list.size());
    out.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  while (out.size() < 3)
    out.push_back(std::to_string(std::stoi(out.back()) + 1));
  return out;
}

/// A temporary folder the postgres user owns; removed at destruction.
struct temp_folder {
  fs::path path;
  temp_folder() {
    char name[] = "/tmp/sourcery-failover-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(name));
    path = name;
    if (::geteuid() == 0)
      BOOST_REQUIRE(std::system(("chown postgres: " + path.string()).c_str()) == 0);
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// The processes of `pid`'s tree, itself first.
std::vector<pid_t> tree_of(pid_t pid) {
  std::vector<pid_t> out{pid};
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto p = std::to_string(out[i]);
    std::ifstream children("/proc/" + p + "/task/" + p + "/children");
    for (pid_t child = 0; children >> child;)
      out.push_back(child);
  }
  return out;
}

/// SIGKILLs `pid` and every process under it: a crash of that server.
void kill_tree(pid_t pid) {
  for (auto p : tree_of(pid))
    ::kill(p, SIGKILL);
}

/// The postmaster's pid of a data folder, 0 when none.
pid_t postmaster_of(const fs::path& data) {
  std::ifstream pidfile(data / "postmaster.pid");
  pid_t pid = 0;
  pidfile >> pid;
  return pid;
}

/// Two clusters in a temporary folder: `a` the primary, `b` its synchronous
/// standby, reachable through Unix sockets in the folder only. Stopped at
/// destruction.
class server_pair {
public:
  server_pair() {
    auto p = ports();
    port_a_ = p[0];
    port_b_ = p[1];
    bin_ = SOURCERY_PG_BINDIR;
    auto a = (dir_.path / "a").string(), b = (dir_.path / "b").string();
    BOOST_REQUIRE_MESSAGE(run(bin_ + "/initdb -D " + a + " -U postgres --auth=trust -N"),
                          "initdb failed (see " << tool_log() << ")");
    {
      std::ofstream conf(dir_.path / "a" / "postgresql.conf", std::ios::app);
      conf << "port = " << port_a_ << "\nlisten_addresses = ''\nunix_socket_directories = '"
           << dir_.path.string() << "'\nwal_level = replica\nmax_wal_senders = 4\n"
           << "synchronous_standby_names = '*'\nsynchronous_commit = on\n"
           << "fsync = off\nshared_buffers = 16MB\nmax_connections = 40\n";
    }
    BOOST_REQUIRE_MESSAGE(start("a"), "the primary did not start");
    BOOST_REQUIRE_MESSAGE(run(bin_ + "/pg_basebackup -h " + dir_.path.string() + " -p " + port_a_
                              + " -U postgres -D " + b + " -R -X stream -c fast"),
                          "pg_basebackup failed");
    {
      // Once promoted it has no standby of its own: it must not wait for one.
      std::ofstream conf(dir_.path / "b" / "postgresql.auto.conf", std::ios::app);
      conf << "port = " << port_b_ << "\nsynchronous_standby_names = ''\n";
    }
    BOOST_REQUIRE_MESSAGE(start("b"), "the standby did not start");
  }
  ~server_pair() {
    for (const char* node : {"a", "b"})
      run(bin_ + "/pg_ctl -D " + (dir_.path / node).string() + " -m immediate -w stop");
  }

  /// Both servers; libpq finds the primary wherever it is now.
  std::string conninfo() const {
    auto d = dir_.path.string();
    return "host=" + d + "," + d + " port=" + port_a_ + "," + port_b_
           + " user=postgres dbname=postgres target_session_attrs=read-write";
  }

  /// SIGKILLs the primary: its postmaster and every process under it.
  void kill_primary() {
    auto pid = postmaster_of(dir_.path / "a");
    BOOST_REQUIRE(pid > 0);
    kill_tree(pid);
  }

  /// Promotes the standby, waiting until it takes writes.
  bool promote_standby() {
    return run(bin_ + "/pg_ctl -D " + (dir_.path / "b").string() + " -w -t 60 promote");
  }

private:
  bool start(const char* node) {
    return run(bin_ + "/pg_ctl -D " + (dir_.path / node).string() + " -l "
               + (dir_.path / (std::string(node) + ".log")).string() + " -w -t 60 start");
  }

  temp_folder dir_;
  std::string bin_, port_a_, port_b_;
};

/// What the nodes did, shared by their threads and the test.
struct observed {
  std::mutex m;
  std::condition_variable changed;
  std::map<position, std::pair<std::string, version>> acked; // position → (stream, version)
  std::size_t unavailable = 0;  // refused appends (storage_unavailable), retried
  std::size_t other_errors = 0;
  std::chrono::microseconds longest_call{0};
  std::chrono::microseconds longest_window{0}; // with no successful append, any node
  std::optional<clock_type::time_point> last_success;
  std::map<int, std::vector<position>> subscribed; // per node, in delivery order
  std::multiset<position> published;               // any node

  /// Waits (up to 120 s) for `condition`, under the lock.
  template <class F>
  bool wait_for(F condition) {
    std::unique_lock lock(m);
    return changed.wait_for(lock, 120s, [&] { return condition(); });
  }
};

/// One node: a backend on `conninfo` with a push subscription, the
/// continuous outbox and a writer thread appending to streams of its own.
class node_under_test {
public:
  node_under_test(int id, const std::string& conninfo, observed& seen)
    : id_(id), seen_(seen), backend_(open(conninfo)) {
    subscription_ = backend_.subscriber().start_from(0).build_push(
      [this](std::span<const recorded_event> batch) {
        std::lock_guard lock(seen_.m);
        auto& mine = seen_.subscribed[id_];
        for (const auto& r : batch)
          mine.push_back(r.position);
        seen_.changed.notify_all();
      });
    backend_.outbox().start([this](const recorded_event& r) {
      std::lock_guard lock(seen_.m);
      seen_.published.insert(r.position);
      seen_.changed.notify_all();
    });
    writer_ = std::thread([this] { write(); });
  }
  ~node_under_test() { stop(); }

  /// Stops the writer (after its append in progress is answered).
  void stop_writing() {
    stop_ = true;
    if (writer_.joinable())
      writer_.join();
  }
  /// Stops everything.
  void stop() {
    stop_writing();
    backend_.outbox().stop();
    subscription_.stop();
  }

  backend& node() { return backend_; }
  static constexpr int streams = 4;
  std::string stream_name(int i) const {
    return "failover-" + std::to_string(id_) + "-" + std::to_string(i);
  }

private:
  static backend open(const std::string& conninfo) {
    storage::postgres_options options;
    options.schema = "failover";
    options.connect_timeout_s = 2;
    options.outbox_lease = 2000ms;
    auto b = postgres_backend(conninfo, options);
    b.registry().add<test_events::item_added>("item_added");
    b.with_outbox();
    return b;
  }

  /// Streams in turn, each append with its expected version; an append
  /// whose outcome is unknown (storage_unavailable) is tried again with the
  /// same events and expected version until it is answered (R-ES6).
  void write() {
    auto store = backend_.in_tenant_mode("t").event_store();
    std::vector<version> at(streams, 0);
    for (int n = 0; !stop_.load(); ++n) {
      auto which = n % streams;
      auto stream = stream_id::named(stream_name(which));
      std::vector<wrapped_event<>> events{wrap(test_events::item_added{"x", n})};
      for (bool answered = false; !answered;) {
        auto start = clock_type::now();
        try {
          auto r = store.append(stream, events, at[static_cast<std::size_t>(which)]);
          at[static_cast<std::size_t>(which)] = *r.version;
          auto now = clock_type::now();
          std::lock_guard lock(seen_.m);
          seen_.acked[r.first_position] = {stream_name(which), *r.version};
          if (seen_.last_success)
            seen_.longest_window = std::max(
              seen_.longest_window,
              std::chrono::duration_cast<std::chrono::microseconds>(now - *seen_.last_success));
          seen_.last_success = now;
          seen_.changed.notify_all();
          answered = true;
        } catch (const storage_unavailable&) { // unknown outcome: the same again
          std::lock_guard lock(seen_.m);
          ++seen_.unavailable;
          seen_.changed.notify_all();
        } catch (const std::exception& e) {
          BOOST_TEST_MESSAGE("node " << id_ << ": " << e.what());
          std::lock_guard lock(seen_.m);
          ++seen_.other_errors;
          answered = true;
        }
        auto took = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start);
        std::lock_guard lock(seen_.m);
        seen_.longest_call = std::max(seen_.longest_call, took);
        if (!answered && stop_.load())
          return;
      }
    }
  }

  int id_;
  observed& seen_;
  backend backend_;
  push_subscription subscription_{nullptr};
  std::atomic<bool> stop_{false};
  std::thread writer_;
};

/// Waits until every node's subscription reached `last` and the outbox is
/// empty, stops the nodes, then checks what they did against the database.
void verify(std::vector<std::unique_ptr<node_under_test>>& nodes, observed& seen) {
  for (auto& n : nodes)
    n->stop_writing();
  auto& first = nodes.front()->node();
  auto last = first.event_store().position().value_or(0);
  // Another node may know a later position than the first: take the largest.
  for (auto& n : nodes)
    last = std::max(last, n->node().event_store().position().value_or(0));
  BOOST_TEST(seen.wait_for([&] {
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      auto& mine = seen.subscribed[static_cast<int>(k)];
      if (mine.empty() || mine.back() < last)
        return false;
    }
    std::set<position> distinct(seen.published.begin(), seen.published.end());
    return distinct.size() >= last;
  }));
  for (auto& n : nodes)
    BOOST_TEST(n->node().outbox().wait_until_empty(120s));
  for (auto& n : nodes)
    n->stop();

  std::lock_guard lock(seen.m);
  BOOST_TEST(seen.other_errors == 0u);
  BOOST_TEST(seen.longest_call.count() < 15'000'000); // µs: no call hung
  // Every acknowledged append is stored once, where its receipt said; the
  // streams are gap-free; the log is gap-free and holds nothing else.
  auto store = first.in_tenant_mode("t").event_store();
  std::size_t events = 0;
  for (auto& n : nodes)
    for (int i = 0; i < node_under_test::streams; ++i) {
      auto loaded = store.load_stream(stream_id::named(n->stream_name(i)));
      events += loaded.size();
      for (std::size_t k = 0; k < loaded.size(); ++k)
        BOOST_TEST_REQUIRE(*loaded[k].version == k + 1);
    }
  BOOST_TEST(events == last);
  storage::record_batch log;
  first.engine()->log().read(0, last, log);
  BOOST_TEST_REQUIRE(log.records.size() == last);
  for (std::size_t i = 0; i < log.records.size(); ++i)
    BOOST_TEST_REQUIRE(log.records[i].position == i + 1);
  std::size_t lost = 0;
  for (const auto& [p, where] : seen.acked) {
    const auto& r = log.records[p - 1];
    lost += *r.stream != stream_id::named(where.first) || r.version != where.second;
  }
  BOOST_TEST(lost == 0u); // no acknowledged append lost (synchronous replication)
  // Each subscription saw every position once, in order.
  for (auto& [k, mine] : seen.subscribed) {
    BOOST_TEST_CONTEXT("node " << k) {
      BOOST_TEST_REQUIRE(mine.size() == last);
      for (std::size_t i = 0; i < mine.size(); ++i)
        BOOST_TEST_REQUIRE(mine[i] == i + 1);
    }
  }
  // The outbox published every entry, at least once, and holds none.
  std::set<position> distinct(seen.published.begin(), seen.published.end());
  BOOST_TEST(distinct.size() == last);
  BOOST_TEST(first.outbox().counts().dead == 0u);
  BOOST_TEST_MESSAGE("acknowledged " << seen.acked.size() << " appends of " << last
                     << " events; refused (storage_unavailable, retried) " << seen.unavailable
                     << "; longest window without a successful append "
                     << seen.longest_window.count() / 1000 << " ms; longest call "
                     << seen.longest_call.count() / 1000 << " ms; acknowledged and lost " << lost
                     << "; published " << seen.published.size() << " times for " << last
                     << " entries (" << seen.published.size() - distinct.size()
                     << " again after a lost report)");
}

} // namespace

BOOST_AUTO_TEST_SUITE(failover_suite)

BOOST_AUTO_TEST_CASE(a_node_goes_on_by_itself_on_the_promoted_standby) { // R-N5, R-ES6
  server_pair servers;
  observed seen; // outlives the nodes, whose threads report to it
  std::vector<std::unique_ptr<node_under_test>> nodes;
  nodes.push_back(std::make_unique<node_under_test>(0, servers.conninfo(), seen));
  // Given a node working on the primary
  BOOST_REQUIRE(seen.wait_for([&] { return seen.acked.size() >= 100 && seen.published.size() >= 50; }));
  // When the primary dies and the standby is promoted
  servers.kill_primary();
  BOOST_REQUIRE(seen.wait_for([&] { return seen.unavailable > 0; })); // felt promptly
  BOOST_REQUIRE_MESSAGE(servers.promote_standby(), "the standby was not promoted");
  std::size_t before = 0;
  {
    std::lock_guard lock(seen.m);
    before = seen.acked.size();
  }
  // Then appends, the subscription and the outbox go on by themselves
  BOOST_TEST(seen.wait_for([&] { return seen.acked.size() >= before + 100; }));
  verify(nodes, seen);
}

BOOST_AUTO_TEST_CASE(three_nodes_go_on_through_two_automatic_failovers) { // R-N5, R-N1–R-N4, R-ES6
  harness::pg_formation formation(std::stoi(ports()[0]), SOURCERY_PG_BINDIR, tool_log());
  observed seen;
  std::vector<std::unique_ptr<node_under_test>> nodes;
  for (int k = 0; k < 3; ++k)
    nodes.push_back(std::make_unique<node_under_test>(k, formation.conninfo(), seen));
  auto acked_more = [&](std::size_t n) {
    std::size_t from = 0;
    {
      std::lock_guard lock(seen.m);
      from = seen.acked.size();
    }
    return seen.wait_for([&] { return seen.acked.size() >= from + n; });
  };
  BOOST_REQUIRE(acked_more(100));
  // The primary dies mid-run: the monitor promotes b.
  formation.kill("a");
  BOOST_REQUIRE_MESSAGE(formation.wait_for_state("b", {"wait_primary", "primary"}),
                        "b was not promoted");
  BOOST_REQUIRE(acked_more(100));
  // a comes back as b's synchronous standby.
  formation.restart("a");
  BOOST_REQUIRE_MESSAGE(formation.wait_for_state("a", {"secondary"})
                          && formation.wait_for_state("b", {"primary"}),
                        "a did not come back as the standby");
  BOOST_REQUIRE(acked_more(100));
  // The new primary dies too: failing back to a.
  formation.kill("b");
  BOOST_REQUIRE_MESSAGE(formation.wait_for_state("a", {"wait_primary", "primary"}),
                        "a was not promoted again");
  BOOST_REQUIRE(acked_more(100));
  verify(nodes, seen);
}

BOOST_AUTO_TEST_SUITE_END()
