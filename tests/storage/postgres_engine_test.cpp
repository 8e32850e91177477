// The PostgreSQL engine (SPEC §15, §16): R-ST4, R-ST6, R-N1–R-N3 within one
// process — two engines opened on one schema are two nodes, each with its
// own connections and listener. Run inside pg_virtualenv (tests/CMakeLists.txt):
// the PG* environment variables name a throwaway cluster. Every test works
// in a schema of its own, dropped afterwards.
#include <sourcery/storage/postgres.hpp>

#include <libpq-fe.h>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <thread>

// Lets BOOST_TEST print optionals.
namespace std {
template <class T>
std::ostream& boost_test_print_type(std::ostream& os, const std::optional<T>& o) {
  return o ? os << *o : os << "none";
}
} // namespace std

using namespace sourcery;
using namespace sourcery::storage;
using namespace std::chrono_literals;

namespace {

/// Runs `sql` (simple protocol) on a connection of its own; returns the
/// first value of the first row, if any.
std::optional<std::string> sql(const std::string& statement) {
  PGconn* c = PQconnectdb("options=--client-min-messages=warning");
  BOOST_REQUIRE_MESSAGE(PQstatus(c) == CONNECTION_OK, PQerrorMessage(c));
  PGresult* r = PQexec(c, statement.c_str());
  auto status = PQresultStatus(r);
  std::string error = PQresultErrorMessage(r);
  std::optional<std::string> out;
  if (status == PGRES_TUPLES_OK && PQntuples(r) > 0)
    out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(c);
  BOOST_REQUIRE_MESSAGE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK,
                        statement << ": " << error);
  return out;
}

/// A schema name of its own, dropped (with everything in it) afterwards.
struct temp_schema {
  std::string name;
  temp_schema() {
    std::random_device rd;
    name = "pgtest_" + std::to_string(rd() % 1000000000);
  }
  ~temp_schema() {
    try {
      sql("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    } catch (...) {
    }
  }
  postgres_options options() const {
    postgres_options o;
    o.schema = name;
    return o;
  }
};

raw_event event(int n) {
  raw_event e;
  e.id = random_uuid();
  e.created_at = timestamp::now();
  e.name = "item_added";
  e.data = R"({"n":)" + std::to_string(n) + "}";
  e.context = "{}";
  return e;
}

std::vector<raw_event> events(int count) {
  std::vector<raw_event> out;
  for (int i = 0; i < count; ++i)
    out.push_back(event(i));
  return out;
}

append_receipt append(engine& e, const std::string& tenant, const stream_id& id,
                      expected_version expected, int count, bool to_outbox = false) {
  auto evs = events(count);
  std::vector<char> flags(evs.size(), to_outbox ? 1 : 0);
  return e.streams(tenant)->append(id, expected, evs, flags, {});
}

} // namespace

BOOST_AUTO_TEST_SUITE(postgres_engine)

BOOST_AUTO_TEST_CASE(reopening_continues_everything) { // R-ST4
  temp_schema schema;
  auto s = stream_id::named("acct", std::string("bank"));
  storage::cursor_key cursor{"balances", "t", s};
  {
    auto e = open_postgres_engine("", schema.options());
    append(*e, "t", s, 0, 3, true);
    e->streams("t")->save_snapshot(s, event(99));
    append(*e, "t", s, 3, 1, true);
    auto claims = e->outbox().claim_all(2);
    BOOST_REQUIRE(claims.size() == 2u);
    std::string why = "down";
    e->outbox().open({.attempts = 1}).report(claims[0], &why); // position 1: dead
    e->outbox().open({.attempts = 5}).report(claims[1], &why); // position 2: pending, 1 attempt
    BOOST_TEST(e->keys()->store("t", "ann", encryption_key{1, 2, 3}));
    e->keys()->retire("t", "bob", "key-1");
    e->cursors().store(cursor, 4);
  }
  auto e = open_postgres_engine("", schema.options());
  BOOST_TEST(e->log().last_position() == 4u);
  BOOST_TEST(e->streams("t")->info(s)->current == 4u);
  auto r = e->streams("t")->read(s, std::nullopt, std::nullopt);
  BOOST_REQUIRE(r.snapshot.has_value());
  BOOST_TEST(r.snapshot->version == std::optional<version>(3));
  BOOST_REQUIRE(r.events.records.size() == 1u);
  BOOST_TEST(r.events.records[0].version == 4u);
  BOOST_TEST(r.events.records[0].stream->name() == std::optional<std::string>("acct"));
  auto counts = e->outbox().counts();
  BOOST_TEST(counts.pending == 3u); // position 2 (failed once), 3 and 4 (never claimed)
  BOOST_TEST(counts.dead == 1u);
  auto claims = e->outbox().claim_all(10);
  BOOST_REQUIRE(claims.size() == 3u);
  BOOST_TEST(claims[0].record.position == 2u);
  BOOST_TEST(claims[0].attempts == 1u);
  BOOST_TEST(claims[2].attempts == 0u);
  BOOST_TEST(e->outbox().dead_letters().at(0).last_error == "down");
  BOOST_TEST((e->keys()->get("t", "ann") == std::optional<encryption_key>(encryption_key{1, 2, 3})));
  BOOST_TEST(e->keys()->retired("t", "bob", "key-1"));
  BOOST_TEST(!e->keys()->retired("t", "bob", "key-2"));
  BOOST_TEST(e->cursors().load(cursor) == std::optional<version>(4));
  auto next = append(*e, "u", stream_id::random(), 0, 2);
  BOOST_TEST(next.first_position == 5u);
}

BOOST_AUTO_TEST_CASE(a_schema_that_is_not_sourcerys_is_refused_and_left_alone) { // R-ST6
  temp_schema schema;
  sql("CREATE SCHEMA " + schema.name + "; CREATE TABLE " + schema.name
      + ".invoices (id int); INSERT INTO " + schema.name + ".invoices VALUES (7)");
  BOOST_CHECK_THROW(open_postgres_engine("", schema.options()), storage_corrupt);
  BOOST_CHECK_THROW(drop_postgres_store("", schema.name), storage_corrupt);
  BOOST_TEST(sql("SELECT count(*) FROM pg_tables WHERE schemaname = '" + schema.name + "'")
             == std::optional<std::string>("1"));
  BOOST_TEST(sql("SELECT id FROM " + schema.name + ".invoices") == std::optional<std::string>("7"));
}

BOOST_AUTO_TEST_CASE(a_store_of_a_newer_format_is_refused_and_left_alone) { // R-ST6
  temp_schema schema;
  open_postgres_engine("", schema.options()).reset();
  sql("UPDATE " + schema.name + ".meta SET value = '99' WHERE key = 'version'");
  BOOST_CHECK_THROW(open_postgres_engine("", schema.options()), storage_version_mismatch);
  BOOST_TEST(sql("SELECT value FROM " + schema.name + ".meta WHERE key = 'version'")
             == std::optional<std::string>("99"));
  sql("UPDATE " + schema.name + ".meta SET value = 'someone-else' WHERE key = 'format'");
  BOOST_CHECK_THROW(open_postgres_engine("", schema.options()), storage_corrupt);
}

BOOST_AUTO_TEST_CASE(a_damaged_store_is_refused) { // R-ST6
  temp_schema schema;
  open_postgres_engine("", schema.options()).reset();
  sql("DROP TABLE " + schema.name + ".outbox");
  BOOST_CHECK_THROW(open_postgres_engine("", schema.options()), storage_corrupt);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_storage_unavailable_promptly) { // R-ST6
  auto start = std::chrono::steady_clock::now();
  // Nothing listens on port 1: refused at once.
  BOOST_CHECK_THROW(open_postgres_engine("host=127.0.0.1 port=1"), storage_unavailable);
  // A host that never answers: the connect timeout (1 s) ends the wait.
  postgres_options o;
  o.connect_timeout_s = 1;
  BOOST_CHECK_THROW(open_postgres_engine("host=10.255.255.1 port=5432", o), storage_unavailable);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 20s));
}

BOOST_AUTO_TEST_CASE(a_malformed_schema_name_is_invalid_argument) {
  postgres_options o;
  o.schema = "x; DROP TABLE y";
  BOOST_CHECK_THROW(open_postgres_engine("", o), invalid_argument);
}

// -- two nodes in one process ---------------------------------------------------

BOOST_AUTO_TEST_CASE(a_node_is_woken_by_another_nodes_commit) { // R-N2
  temp_schema schema;
  auto a = open_postgres_engine("", schema.options());
  auto b = open_postgres_engine("", schema.options());
  std::mutex m;
  std::condition_variable cv;
  bool woken = false;
  b->log().notify_after(0, [&] {
    std::lock_guard lock(m);
    woken = true;
    cv.notify_all();
  });
  auto s = stream_id::random();
  append(*a, "t", s, 0, 2);
  {
    std::unique_lock lock(m);
    // LISTEN/NOTIFY, no polling. The deadline is generous, not a latency
    // bound: once (a CI run beside a 10-minute RocksDB soak on this 2-core
    // machine) 10 s passed without b's listener reporting the commit.
    BOOST_TEST(cv.wait_for(lock, 60s, [&] { return woken; }));
  }
  BOOST_TEST(b->log().last_position() == 2u);
  record_batch batch;
  b->log().read(0, 10, batch);
  BOOST_REQUIRE(batch.records.size() == 2u);
  BOOST_TEST(*batch.records[1].stream == s);
  BOOST_TEST(b->streams("t")->info(s)->current == 2u); // reads see the other node's append
}

BOOST_AUTO_TEST_CASE(of_appends_racing_from_two_nodes_exactly_one_wins) { // R-N1
  temp_schema schema;
  auto a = open_postgres_engine("", schema.options());
  auto b = open_postgres_engine("", schema.options());
  constexpr int rounds = 200;
  auto s = stream_id::random();
  std::barrier sync(2);
  std::atomic<int> wins{0}, conflicts{0};
  auto racer = [&](engine& e) {
    for (int round = 0; round < rounds; ++round) {
      sync.arrive_and_wait();
      try {
        append(e, "t", s, static_cast<std::uint64_t>(round), 1);
        ++wins;
      } catch (const concurrent_stream_write_error&) {
        ++conflicts;
      }
      sync.arrive_and_wait();
    }
  };
  std::thread ta([&] { racer(*a); }), tb([&] { racer(*b); });
  ta.join();
  tb.join();
  BOOST_TEST(wins == rounds);
  BOOST_TEST(conflicts == rounds);
  BOOST_TEST(a->streams("t")->info(s)->current == static_cast<version>(rounds));
}

BOOST_AUTO_TEST_CASE(claims_of_two_nodes_never_share_an_entry) { // R-N3
  temp_schema schema;
  auto a = open_postgres_engine("", schema.options());
  auto b = open_postgres_engine("", schema.options());
  append(*a, "t", stream_id::random(), 0, 50, true);
  std::set<position> seen;
  std::size_t total = 0;
  for (;;) {
    auto ca = a->outbox().claim_all(7);
    auto cb = b->outbox().claim_all(7);
    if (ca.empty() && cb.empty())
      break;
    for (auto* claims : {&ca, &cb})
      for (const auto& c : *claims) {
        seen.insert(c.record.position);
        ++total;
      }
    auto a_reports = a->outbox().open({.attempts = 3});
    auto b_reports = b->outbox().open({.attempts = 3});
    for (const auto& c : ca)
      BOOST_TEST((a_reports.report(c, nullptr) == outbox_outcome::done));
    for (const auto& c : cb) {
      BOOST_CHECK_THROW(a_reports.report(c, nullptr), invalid_argument); // b's claim
      BOOST_TEST((b_reports.report(c, nullptr) == outbox_outcome::done));
    }
  }
  BOOST_TEST(total == 50u);
  BOOST_TEST(seen.size() == 50u);
  BOOST_TEST(a->outbox().counts().pending == 0u);
  BOOST_TEST(b->outbox().wait_until_empty(0ms));
}

BOOST_AUTO_TEST_CASE(a_dead_nodes_claims_are_released_after_the_lease) { // R-N3
  temp_schema schema;
  auto o = schema.options();
  o.outbox_lease = 300ms;
  auto b = open_postgres_engine("", o);
  std::chrono::steady_clock::time_point claimed;
  {
    auto a = open_postgres_engine("", o);
    append(*a, "t", stream_id::random(), 0, 3, true);
    auto held = a->outbox().claim_all(10);
    BOOST_REQUIRE(held.size() == 3u);
    std::string why = "broker down";
    // Held for a retry: a new lease.
    a->outbox().open({.attempts = 5, .hold_for_retry = true}).report(held[0], &why);
    claimed = std::chrono::steady_clock::now(); // every lease began before this
    BOOST_TEST(b->outbox().claim_all(10).empty()); // a holds them all
  } // a "dies": it never reports
  // The lease is the behaviour under test: wait it out.
  std::this_thread::sleep_until(claimed + o.outbox_lease + 100ms);
  auto released = b->outbox().claim_all(10);
  BOOST_REQUIRE(released.size() == 3u);
  BOOST_TEST(released[0].attempts == 1u); // the failed attempt is shared
  auto reporter = b->outbox().open({.attempts = 5});
  for (const auto& c : released)
    reporter.report(c, nullptr);
  BOOST_TEST(b->outbox().counts().pending == 0u);
}

BOOST_AUTO_TEST_CASE(a_shredded_key_is_gone_for_every_node) { // R-EN, R-N1
  temp_schema schema;
  auto a = open_postgres_engine("", schema.options());
  auto b = open_postgres_engine("", schema.options());
  BOOST_TEST(a->keys()->store("t", "ann", encryption_key{7}));
  BOOST_TEST(!b->keys()->store("t", "ann", encryption_key{8})); // one key per subject
  BOOST_TEST((b->keys()->get("t", "ann") == std::optional<encryption_key>(encryption_key{7})));
  b->keys()->remove("t", "ann");
  BOOST_TEST(!a->keys()->get("t", "ann").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// Subscription groups shared by nodes (R-SUB-GROUP-NODES).

namespace {
const record_filter every = [](const record&) { return true; };
} // namespace

BOOST_AUTO_TEST_CASE(members_on_two_nodes_share_one_group) { // R-SUB-GROUP-NODES
  temp_schema schema;
  auto a = open_postgres_engine("", schema.options());
  auto b = open_postgres_engine("", schema.options());
  append(*a, "t", stream_id::random(), 0, 4, false);
  a->groups()->open({.name = "billing"});
  b->groups()->open({.name = "billing"});
  auto on_a = a->groups()->claim("billing", "a-1", 2, every, {});
  auto on_b = b->groups()->claim("billing", "b-1", 10, every, {});
  BOOST_REQUIRE(on_a.size() == 2u);
  BOOST_REQUIRE(on_b.size() == 2u);
  BOOST_TEST(on_a[0].record.position == 1u);
  BOOST_TEST(on_b[0].record.position == 3u);
  BOOST_CHECK_THROW(b->groups()->ack("billing", "b-1", 1), record_not_held); // a's
  for (const auto& c : on_b)
    b->groups()->ack("billing", "b-1", c.record.position);
  BOOST_TEST(a->groups()->status("billing").checkpoint == 0u);
  for (const auto& c : on_a)
    a->groups()->ack("billing", "a-1", c.record.position);
  BOOST_TEST(b->groups()->status("billing").checkpoint == 4u);
  BOOST_TEST(b->groups()->claim("billing", "b-1", 10, every, {}).empty());
}

BOOST_AUTO_TEST_CASE(a_dead_nodes_group_records_go_to_another_member_after_the_lease) { // R-SUB-GROUP-NODES
  temp_schema schema;
  group_policy short_lease{.lease = 300ms};
  auto b = open_postgres_engine("", schema.options());
  {
    auto a = open_postgres_engine("", schema.options());
    append(*a, "t", stream_id::random(), 0, 2, false);
    a->groups()->open({.name = "g"});
    BOOST_REQUIRE(a->groups()->claim("g", "a-1", 10, every, short_lease).size() == 2u);
    BOOST_TEST(b->groups()->claim("g", "b-1", 10, every, short_lease).empty()); // a holds them
  } // a "dies": it never acks nor renews
  // The lease is the behaviour under test: wait until the engine says it ends.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::vector<group_claim> got;
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    if (auto due = b->groups()->next_due("g"))
      std::this_thread::sleep_for(*due);
    got = b->groups()->claim("g", "b-1", 10, every, short_lease);
  }
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0].attempts == 0u);
  for (const auto& c : got)
    b->groups()->ack("g", "b-1", c.record.position);
  BOOST_TEST(b->groups()->status("g").checkpoint == 2u);
}

BOOST_AUTO_TEST_CASE(a_groups_checkpoint_and_parked_records_survive_a_reopen_and_older_stores_gain_the_tables) { // R-SUB-GROUP-DURABLE
  temp_schema schema;
  {
    auto a = open_postgres_engine("", schema.options());
    append(*a, "t", stream_id::random(), 0, 3, false);
  }
  // A store made before groups existed: no group tables. It still opens.
  sql("DROP TABLE " + schema.name + ".sub_group_entries, " + schema.name + ".sub_groups");
  {
    auto a = open_postgres_engine("", schema.options());
    auto& g = *a->groups();
    g.open({.name = "g"});
    BOOST_REQUIRE(g.claim("g", "m", 10, every, {}).size() == 3u);
    g.ack("g", "m", 1);
    g.nack("g", "m", 2, "poison", {.attempts = 1});
    g.ack("g", "m", 3);
  }
  auto a = open_postgres_engine("", schema.options());
  auto& g = *a->groups();
  BOOST_TEST(g.status("g").checkpoint == 3u);
  auto parked = g.parked("g");
  BOOST_REQUIRE(parked.size() == 1u);
  BOOST_TEST(parked[0].record.position == 2u);
  BOOST_TEST(parked[0].last_error == "poison");
  BOOST_TEST(g.claim("g", "m", 10, every, {}).empty());
  BOOST_CHECK_THROW(g.ack("nobody", "m", 1), unknown_group);
}
