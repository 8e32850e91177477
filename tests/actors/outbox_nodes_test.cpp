// The outbox of several nodes on one PostgreSQL database, at the runtime's
// level (R-N3): an idle dispatcher publishes entries it did not see its own
// node commit — woken by another node's commit (LISTEN/NOTIFY) and by the
// end of a lease held by a node that stopped reporting — without an append
// of its own node. Two backends in one process are two nodes (each engine
// has its own node id). Run inside pg_virtualenv (tests/CMakeLists.txt).
#include "fixtures.hpp"

#include <sourcery/postgres_backend.hpp>

#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>
#include <set>
#include <unistd.h>

using namespace sourcery;
using namespace std::chrono_literals;

namespace {

/// A schema of its own, dropped before and after.
struct schema_fixture {
  std::string schema = "outbox_nodes_" + std::to_string(::getpid());
  schema_fixture() { storage::drop_postgres_store("", schema); }
  ~schema_fixture() {
    try {
      storage::drop_postgres_store("", schema);
    } catch (const std::exception&) {
    }
  }

  storage::postgres_options options(std::chrono::milliseconds lease = 30'000ms) const {
    storage::postgres_options o;
    o.schema = schema;
    o.durability = storage::postgres_options::durability::normal;
    o.outbox_lease = lease;
    return o;
  }

  /// A node: a backend on the schema with the test events and the outbox on.
  backend node(std::chrono::milliseconds lease = 30'000ms) const {
    auto b = postgres_backend("", options(lease), {});
    b.registry().add<test_events::item_added>("item_added");
    b.with_outbox();
    return b;
  }
};

/// The positions a publisher was given, waited for with a deadline.
struct published_positions {
  std::mutex m;
  std::condition_variable cv;
  std::set<position> seen; // GUARDED_BY(m)

  outbox_publisher publisher() {
    return [this](const recorded_event& r) {
      std::lock_guard lock(m);
      seen.insert(r.position);
      cv.notify_all();
    };
  }
  std::set<position> wait_for(std::size_t n, std::chrono::seconds deadline) {
    std::unique_lock lock(m);
    cv.wait_for(lock, deadline, [&] { return seen.size() >= n; });
    return seen;
  }
};

/// Appends `n` events, one append each, to a stream of tenant "a" on `node`;
/// returns their positions.
std::set<position> append_events(backend& node, int n) {
  auto store = node.in_tenant_mode("a").event_store();
  auto stream = stream_id::random();
  std::set<position> out;
  for (int i = 0; i < n; ++i) {
    auto r = store.append(stream, {wrap(test_events::item_added{"x", i})}, static_cast<version>(i));
    out.insert(r.first_position);
  }
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(outbox_nodes_suite, schema_fixture)

BOOST_AUTO_TEST_CASE(an_idle_dispatcher_publishes_entries_another_node_commits) { // R-N3
  // Given node B publishing continuously, idle (nothing pending)
  auto b = node();
  published_positions published;
  b.outbox().start(published.publisher());
  BOOST_TEST(b.outbox().wait_until_empty(30s));
  // When node A, which does not publish, appends five events with entries
  auto a = node();
  auto appended = append_events(a, 5);
  // Then B publishes them without appending anything itself
  BOOST_TEST(published.wait_for(5, 60s) == appended);
  BOOST_TEST(b.outbox().wait_until_empty(30s));
  b.outbox().stop();
}

BOOST_AUTO_TEST_CASE(an_idle_dispatcher_publishes_entries_whose_lease_ran_out) { // R-N3
  // Given five entries committed by node A and claimed by a node that then
  // stops reporting (a raw engine's claims with a 500 ms lease)
  auto a = node();
  auto appended = append_events(a, 5);
  auto stopped = storage::open_postgres_engine("", options(500ms));
  auto claimed = stopped->outbox().claim_all(100);
  BOOST_REQUIRE_EQUAL(claimed.size(), 5u);
  // When node B starts publishing: it finds nothing to claim and idles
  auto b = node();
  published_positions published;
  b.outbox().start(published.publisher());
  // Then B publishes them once their lease ran out, without any append
  BOOST_TEST(published.wait_for(5, 60s) == appended);
  BOOST_TEST(b.outbox().wait_until_empty(30s));
  b.outbox().stop();
}

BOOST_AUTO_TEST_SUITE_END()
