// The operator's part of every engine (R-ADM1, R-ADM5): the same scenarios
// on in_memory, rocksdb and postgres (SOURCERY_TEST_ENGINE).
#include "engine_under_test.hpp"

#include <sourcery/errors.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>

using namespace sourcery;
using namespace sourcery::storage;

namespace {

raw_event event(const std::string& type) {
  raw_event e;
  e.id = random_uuid();
  e.created_at = timestamp::now();
  e.name = type;
  e.data = R"({"n":1})";
  e.context = "{}";
  return e;
}

/// Given a store with `n` events on one stream, each with an outbox entry.
struct given_outbox_entries {
  explicit given_outbox_entries(std::size_t n) {
    std::vector<raw_event> events;
    for (std::size_t i = 0; i < n; ++i)
      events.push_back(event("e"));
    std::vector<char> flags(n, 1);
    store->streams("acme")->append(stream, 0, events, flags, nullptr);
  }
  std::shared_ptr<engine> store = test_engine::make();
  stream_id stream = stream_id::named("order-1", "order");
};

} // namespace

BOOST_AUTO_TEST_SUITE(store_admin_conformance)

BOOST_AUTO_TEST_CASE(every_engine_offers_it_with_its_format_version) {
  auto store = test_engine::make();
  BOOST_REQUIRE(store->admin());
  BOOST_TEST(store->admin()->format_version() >= 1u);
}

BOOST_AUTO_TEST_CASE(pending_entries_are_listed_in_position_order_with_no_attempts) {
  given_outbox_entries given(3);
  auto pending = given.store->admin()->pending_outbox();
  BOOST_REQUIRE_EQUAL(pending.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(pending[i].position == i + 1);
    BOOST_TEST(pending[i].attempts == 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_restored_entry_keeps_its_attempts_and_a_dead_one_its_error) {
  given_outbox_entries given(3);
  auto& a = *given.store->admin();
  std::string error = "broker down";
  a.restore_outbox_entry(2, 2, nullptr);
  a.restore_outbox_entry(3, 5, &error);
  auto pending = a.pending_outbox();
  BOOST_REQUIRE_EQUAL(pending.size(), 2u);
  BOOST_TEST(pending[1].position == 2u);
  BOOST_TEST(pending[1].attempts == 2u);
  auto dead = given.store->outbox().dead_letters();
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].record.position == 3u);
  BOOST_TEST(dead[0].attempts == 5u);
  BOOST_TEST(dead[0].last_error == error);
  auto counts = given.store->outbox().counts();
  BOOST_TEST(counts.pending == 2u);
  BOOST_TEST(counts.dead == 1u);
  // The restored attempts count on: one more failure under a limit of 3 is dead.
  auto claims = given.store->outbox().claim_all(10);
  BOOST_REQUIRE_EQUAL(claims.size(), 2u);
  BOOST_TEST(claims[1].attempts == 2u);
  auto reporter = given.store->outbox().open(outbox_policy{3, false});
  std::string failed = "again";
  BOOST_TEST((reporter.report(claims[1], &failed) == outbox_outcome::dead));
  BOOST_TEST((reporter.report(claims[0], nullptr) == outbox_outcome::done));
}

BOOST_AUTO_TEST_CASE(restoring_an_entry_that_is_not_pending_is_refused_and_changes_nothing) {
  given_outbox_entries given(1);
  auto& a = *given.store->admin();
  BOOST_CHECK_THROW(a.restore_outbox_entry(7, 1, nullptr), invalid_argument);
  auto claims = given.store->outbox().claim_all(1);
  BOOST_REQUIRE_EQUAL(claims.size(), 1u);
  BOOST_CHECK_THROW(a.restore_outbox_entry(1, 1, nullptr), invalid_argument); // claimed
  auto pending = a.pending_outbox();
  BOOST_REQUIRE_EQUAL(pending.size(), 1u);
  BOOST_TEST(pending[0].attempts == 0u);
}

BOOST_AUTO_TEST_CASE(every_cursor_is_listed_with_its_stream_and_version) {
  auto store = test_engine::make();
  cursor_key a{"totals", "acme", stream_id::named("s1", "order")};
  cursor_key b{"search", "", stream_id::named("s2")};
  store->cursors().store(a, 4);
  store->cursors().store(b, 9);
  store->cursors().store(a, 5);
  auto all = store->admin()->cursors();
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
  std::sort(all.begin(), all.end(),
            [](const auto& x, const auto& y) { return x.first.projection < y.first.projection; });
  BOOST_TEST(all[0].first.projection == "search");
  BOOST_TEST(all[0].first.tenant_id == "");
  BOOST_TEST((all[0].first.stream.id() == b.stream.id()));
  BOOST_TEST(!all[0].first.stream.category());
  BOOST_TEST(all[0].second == 9u);
  BOOST_TEST(all[1].first.tenant_id == "acme");
  BOOST_TEST((all[1].first.stream == a.stream));
  BOOST_TEST(all[1].second == 5u);
}

BOOST_AUTO_TEST_CASE(a_streams_snapshot_and_index_are_read_without_its_events) {
  auto store = test_engine::make();
  auto streams = store->streams("acme");
  auto s = stream_id::named("order-9", "order");
  streams->append(s, 0, std::vector{event("a"), event("b")}, {}, nullptr);
  streams->save_snapshot(s, event("snap"));
  streams->append(s, 2, std::vector{event("c"), event("d")}, {}, nullptr);
  auto& a = *store->admin();
  auto snap = a.snapshot(*streams, s);
  BOOST_REQUIRE(snap);
  BOOST_TEST(snap->name == "snap");
  BOOST_TEST((snap->version == 2u));
  auto indexed = a.indexed(*streams, s);
  BOOST_TEST((indexed == std::vector<position>{3, 4}));
  auto absent = stream_id::named("nothing");
  BOOST_TEST(!a.snapshot(*streams, absent));
  BOOST_TEST(a.indexed(*streams, absent).empty());
  BOOST_TEST(!a.snapshot(*store->streams("globex"), s)); // another tenant's stream
}

BOOST_AUTO_TEST_SUITE_END()
