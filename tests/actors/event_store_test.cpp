// The event store (SPEC §3): R-ES0 … R-ES6.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <limits>
#include <memory>
#include <numeric>
#include <thread>

#include <caf/atom.hpp>
#include <caf/error.hpp>

using namespace sourcery;
using test_events::cart_snapshot;
using test_events::item_added;

namespace {

/// The outcome of an asynchronous call, delivered to its callback.
template <class T>
struct async_call {
  std::shared_ptr<std::promise<result<T>>> promise = std::make_shared<std::promise<result<T>>>();
  std::future<result<T>> future = promise->get_future();

  callback<T> done() {
    return [p = promise](result<T> r) { p->set_value(std::move(r)); };
  }
  /// Waits for the callback (no sleeping).
  result<T> get() { return future.get(); }
};

/// The versions of loaded events; 0 for none.
std::vector<version> versions_of(const std::vector<wrapped_event<>>& events) {
  std::vector<version> out;
  for (const auto& e : events)
    out.push_back(e.version.value_or(0));
  return out;
}

wrapped_event<> with_version(wrapped_event<> e, version v) {
  e.version = v;
  return e;
}

wrapped_event<> snapshot_of(std::vector<std::string> items) {
  return wrap(cart_snapshot{std::move(items)});
}

bool mentions(const std::exception& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(event_store_suite, backend_fixture)

BOOST_AUTO_TEST_CASE(append_then_load_returns_the_events_in_version_order) { // R-ES1, R-ES2
  auto s = store();
  auto id = stream_id::random("cart");
  auto receipt = s.append(id, {added("apple", 2), added("pear", 3)});
  BOOST_TEST(receipt.first_position == 1u);
  BOOST_TEST(receipt.last_position == 2u);
  BOOST_TEST(receipt.version == std::optional<version>(2));
  auto events = s.load_stream(id);
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST(events[0].event.as<item_added>().name == "apple");
  BOOST_TEST(events[1].event.as<item_added>().quantity == 3);
  BOOST_TEST(*events[0].version == 1u);
  BOOST_TEST(*events[1].version == 2u);
  BOOST_TEST(events[0].event.name() == "item_added");
}

// -- R-ES1: expected versions -------------------------------------------------

BOOST_AUTO_TEST_CASE(a_stale_expected_version_carries_expected_and_actual) { // R-ES1
  auto s = store();
  auto id = given_stream_with(2, s);
  auto before = contents(s, id);
  for (std::uint64_t expected : {0u, 1u, 3u, 42u}) {
    BOOST_TEST_CONTEXT("expected version " << expected) {
      BOOST_CHECK_EXCEPTION(s.append(id, {added("late")}, expected),
                            concurrent_stream_write_error,
                            [&](const concurrent_stream_write_error& e) {
                              return e.code() == errc::concurrent_stream_write_error
                                     && e.expected() == expected && e.actual() == 2
                                     && e.stream() == id.to_string()
                                     && mentions(e, to_string(id.id()));
                            });
    }
  }
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
  BOOST_TEST(s.position() == std::optional<position>(2));
}

BOOST_AUTO_TEST_CASE(a_concurrency_error_names_the_tenant) { // R-ES1, §11
  auto s = backend.in_tenant_mode("acme").event_store();
  auto id = given_stream_with(1, s);
  BOOST_CHECK_EXCEPTION(s.append(id, {added("late")}, 0), concurrent_stream_write_error,
                        [](const concurrent_stream_write_error& e) {
                          return mentions(e, "acme") && e.expected() == 0 && e.actual() == 1;
                        });
}

BOOST_AUTO_TEST_CASE(appends_with_the_current_version_continue_the_stream) { // R-ES1
  auto s = store();
  auto id = given_stream_with(2, s);
  auto receipt = s.append(id, {added("c"), added("d")}, 2);
  BOOST_TEST(receipt.version == std::optional<version>(4));
  BOOST_TEST(receipt.first_position == 3u);
  BOOST_TEST(receipt.last_position == 4u);
  BOOST_TEST(versions_of(s.load_stream(id)) == (std::vector<version>{1, 2, 3, 4}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(of_two_racing_appends_with_one_expected_version_exactly_one_wins) { // R-ES1
  auto s = store();
  for (int round = 0; round < 1000; ++round) {
    // Even rounds race to create a stream, odd rounds to extend one.
    auto id = stream_id::random("race");
    std::uint64_t expected = round % 2;
    if (expected == 1)
      s.append(id, {added("first")}, 0);
    std::latch start(2);
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    auto racer = [&](const char* who) {
      start.arrive_and_wait();
      try {
        s.append(id, {added(who), added(who)}, expected);
        ++wins;
      } catch (const concurrent_stream_write_error& e) {
        if (e.expected() == expected && e.actual() == expected + 2)
          ++conflicts;
      }
    };
    {
      std::jthread a(racer, "a");
      std::jthread b(racer, "b");
    }
    BOOST_TEST_CONTEXT("round " << round) {
      BOOST_REQUIRE_EQUAL(wins.load(), 1);
      BOOST_REQUIRE_EQUAL(conflicts.load(), 1);
      auto events = s.load_stream(id);
      BOOST_REQUIRE_EQUAL(events.size(), expected + 2);
      // The winner's two events are adjacent: the loser wrote nothing.
      BOOST_REQUIRE(events[expected].event.as<item_added>().name
                    == events[expected + 1].event.as<item_added>().name);
    }
  }
  BOOST_TEST(s.position() == std::optional<position>(1000 * 2 + 500));
}

BOOST_AUTO_TEST_CASE(an_append_repeated_after_an_unknown_outcome_is_stored_once) { // R-ES6
  // Given an append whose caller did not learn its outcome (a lost
  // connection, a timeout), when the caller appends the same events again
  // with the same expected version, then it gets the first receipt, even
  // after others appended to the stream, and the events are there once.
  auto s = store();
  auto id = given_stream_with(1, s);
  std::vector<wrapped_event<>> evs{added("apple", 2), added("pear", 3)};
  auto first = s.append(id, evs, 1);
  s.append(id, {added("plum")}, 3);
  auto again = s.append(id, evs, 1);
  BOOST_TEST(again.first_position == first.first_position);
  BOOST_TEST(again.last_position == first.last_position);
  BOOST_TEST(again.version == std::optional<version>(3));
  BOOST_TEST(contents(s, id).size() == 4u);
  BOOST_TEST(s.position() == std::optional<position>(4));
  async_call<append_receipt> call;
  s.append_async(id, evs, 1, call.done());
  BOOST_TEST(call.get().value().first_position == first.first_position);
}

BOOST_AUTO_TEST_CASE(an_event_id_reused_for_other_content_is_refused) { // R-ES6, §11
  auto s = store();
  auto id = stream_id::random("cart");
  auto apple = added("apple", 2);
  s.append(id, {apple}, 0);
  s.append(id, {added("pear")}, 1);
  auto before = contents(s, id);
  auto changed = apple;
  changed.event = any_event(item_added{"apple", 5});
  BOOST_CHECK_EXCEPTION(s.append(id, {changed}, 0), event_id_conflict,
                        [&](const event_id_conflict& e) {
                          return e.code() == errc::event_id_conflict && e.version() == 1
                                 && e.event_id() == to_string(apple.id)
                                 && mentions(e, to_string(id.id()));
                        });
  async_call<append_receipt> call;
  s.append_async(id, {apple, added("fig")}, 0, call.done());
  BOOST_TEST(code_of(call.get().exception()) == errc::event_id_conflict);
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
  BOOST_TEST(s.position() == std::optional<position>(2));
}

BOOST_AUTO_TEST_CASE(a_negative_expected_version_is_an_invalid_argument) { // R-ES1
  auto s = store();
  auto id = given_stream_with(1, s);
  BOOST_CHECK_THROW(s.append(id, {added("x")}, -1), sourcery::invalid_argument);
  BOOST_TEST(s.load_stream(id).size() == 1u);
}

BOOST_AUTO_TEST_CASE(explicit_versions_must_follow_the_expected_version) { // R-ES1
  auto s = store();
  auto id = given_stream_with(2, s);
  auto before = contents(s, id);
  BOOST_CHECK_EXCEPTION(s.append(id, {with_version(added("x"), 5)}, 2), versioning_mismatch,
                        [](const versioning_mismatch& e) {
                          return e.code() == errc::versioning_mismatch && mentions(e, "5")
                                 && mentions(e, "3");
                        });
  // Atomic: a bad second event keeps the good first one out too.
  BOOST_CHECK_THROW(
    s.append(id, {with_version(added("x"), 3), with_version(added("y"), 3)}, 2),
    versioning_mismatch);
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
  BOOST_TEST(s.position() == std::optional<position>(2));

  auto receipt = s.append(id, {with_version(added("x"), 3), added("y")}, 2);
  BOOST_TEST(receipt.version == std::optional<version>(4));
}

BOOST_AUTO_TEST_CASE(a_mismatching_version_never_creates_the_stream) { // R-ES1
  auto s = store();
  auto id = stream_id::random();
  BOOST_CHECK_THROW(s.append(id, {with_version(added("x"), 2)}), versioning_mismatch);
  BOOST_TEST(s.load_stream(id).empty());
  BOOST_TEST(!s.position().has_value());
  BOOST_TEST(s.append(id, {added("x")}, 0).version == std::optional<version>(1));
}

BOOST_AUTO_TEST_CASE(a_zero_event_append_is_refused_and_stores_nothing) { // R-ES1
  auto s = store();
  auto fresh = stream_id::random();
  auto existing = given_stream_with(2, s);
  auto before = contents(s, existing);
  auto refused = [](const sourcery::invalid_argument& e) {
    return e.code() == errc::invalid_argument && mentions(e, "at least one event");
  };
  BOOST_CHECK_EXCEPTION(s.append(fresh, {}), sourcery::invalid_argument, refused);
  BOOST_CHECK_EXCEPTION(s.append(fresh, {}, no_versioning), sourcery::invalid_argument, refused);
  BOOST_CHECK_EXCEPTION(s.append(existing, {}, 2), sourcery::invalid_argument, refused);
  BOOST_TEST(s.position() == std::optional<position>(2)); // no position consumed
  BOOST_TEST(contents(s, existing) == before, boost::test_tools::per_element());
  BOOST_TEST(s.load_stream(fresh).empty());
  // The refused append did not create the stream (it would be versionless).
  BOOST_TEST(s.append(fresh, {added("x")}, 0).version == std::optional<version>(1));
}

BOOST_AUTO_TEST_CASE(an_unregistered_event_type_is_refused_and_stores_nothing) { // R-E2, R-ES1
  struct not_registered {
    int x = 0;
  };
  auto s = store();
  auto id = given_stream_with(1, s);
  BOOST_CHECK_EXCEPTION(s.append(id, {added("ok"), wrap(not_registered{})}, 1),
                        sourcery::invalid_argument, [](const sourcery::invalid_argument& e) {
                          return mentions(e, "not_registered");
                        });
  BOOST_TEST(s.load_stream(id).size() == 1u);
  BOOST_TEST(s.position() == std::optional<position>(1));
}

BOOST_AUTO_TEST_CASE(an_event_json_cannot_hold_is_refused_and_stores_nothing) { // R-E3, R-ES1
  // NaN, infinities and strings that are not UTF-8 would be stored as text
  // that never reads back, making the whole stream unreadable.
  auto s = store();
  auto id = given_stream_with(1, s);
  auto before = contents(s, id);
  context bad_context;
  bad_context.extra["score"] = std::numeric_limits<double>::infinity();
  BOOST_CHECK_EXCEPTION(s.append(id, {added("ok"), added("\xff\xfe")}, 1),
                        sourcery::invalid_argument, [](const sourcery::invalid_argument& e) {
                          return mentions(e, "item_added") && mentions(e, "field 'name'");
                        });
  BOOST_CHECK_EXCEPTION(s.append(id, {wrap(item_added{"ok", 1}, bad_context)}, 1),
                        sourcery::invalid_argument, [](const sourcery::invalid_argument& e) {
                          return mentions(e, "context") && mentions(e, "field 'score'");
                        });
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
  BOOST_TEST(s.position() == std::optional<position>(1));
}

// -- R-ES1: versionless streams -----------------------------------------------

BOOST_AUTO_TEST_CASE(a_versionless_stream_keeps_events_without_versions) { // R-ES1
  auto s = store();
  auto id = stream_id::random();
  auto first = s.append(id, {added("a"), added("b")}, no_versioning);
  auto second = s.append(id, {added("c")}, no_versioning);
  BOOST_TEST(!first.version.has_value());
  BOOST_TEST(!second.version.has_value());
  BOOST_TEST(second.first_position == 3u);
  auto events = s.load_stream(id);
  BOOST_REQUIRE_EQUAL(events.size(), 3u);
  for (const auto& e : events)
    BOOST_TEST(!e.version.has_value());
  BOOST_TEST(events[2].event.as<item_added>().name == "c"); // in append order
}

BOOST_AUTO_TEST_CASE(a_versionless_append_of_an_event_with_a_version_is_refused) { // R-ES1
  auto s = store();
  auto id = stream_id::random();
  auto e = added("numbered");
  e.version = 1;
  BOOST_CHECK_THROW(s.append(id, {added("plain"), e}, no_versioning), versioning_mismatch);
  BOOST_TEST(s.load_stream(id).empty());
  BOOST_TEST(!s.position().has_value());
}

BOOST_AUTO_TEST_CASE(an_expected_version_on_a_versionless_stream_is_refused) { // R-ES1
  auto s = store();
  auto id = stream_id::random();
  s.append(id, {added("a")}, no_versioning);
  auto before = contents(s, id);
  for (std::uint64_t expected : {0u, 1u}) {
    BOOST_CHECK_EXCEPTION(s.append(id, {added("b")}, expected),
                          expected_version_used_on_versionless_stream,
                          [&](const expected_version_used_on_versionless_stream& e) {
                            return e.code() == errc::expected_version_used_on_versionless_stream
                                   && mentions(e, to_string(id.id()));
                          });
  }
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
  BOOST_TEST(s.position() == std::optional<position>(1));
}

BOOST_AUTO_TEST_CASE(no_versioning_on_a_versioned_stream_is_refused) { // R-ES1
  auto s = store();
  auto id = given_stream_with(2, s);
  auto before = contents(s, id);
  BOOST_CHECK_EXCEPTION(s.append(id, {added("b")}, no_versioning),
                        no_expected_version_given_on_versioned_stream,
                        [&](const no_expected_version_given_on_versioned_stream& e) {
                          return e.code() == errc::no_expected_version_given_on_versioned_stream
                                 && mentions(e, to_string(id.id()));
                        });
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
  BOOST_TEST(s.position() == std::optional<position>(2));
}

// -- R-ES2: loading -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(loading_an_unknown_stream_gives_nothing) { // R-ES2
  auto s = store();
  BOOST_TEST(s.load_stream(stream_id::random()).empty());
  BOOST_TEST(s.load_stream(stream_id::named("never written"), 1, 10).empty());
}

BOOST_AUTO_TEST_CASE(start_is_inclusive_and_stop_exclusive) { // R-ES2
  auto s = store();
  auto id = given_stream_with(5, s);
  using v = std::vector<version>;
  BOOST_TEST(versions_of(s.load_stream(id, 2, 4)) == (v{2, 3}), boost::test_tools::per_element());
  BOOST_TEST(versions_of(s.load_stream(id, 3)) == (v{3, 4, 5}), boost::test_tools::per_element());
  BOOST_TEST(versions_of(s.load_stream(id, std::nullopt, 3)) == (v{1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(versions_of(s.load_stream(id, 1, 6)) == (v{1, 2, 3, 4, 5}),
             boost::test_tools::per_element());
  BOOST_TEST(s.load_stream(id, 4, 4).empty());
  BOOST_TEST(s.load_stream(id, 4, 2).empty());
  BOOST_TEST(s.load_stream(id, 6).empty());
  BOOST_TEST(s.load_stream(id, 3, 4).front().event.as<item_added>().name == "item 2");
}

// -- R-ES3: snapshots -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(after_a_snapshot_loading_returns_it_and_the_later_events) { // R-ES3
  auto s = store();
  auto id = given_stream_with(3, s);
  s.save_snapshot(id, snapshot_of({"item 0", "item 1", "item 2"}));
  BOOST_TEST(s.position() == std::optional<position>(3)); // a snapshot takes no position
  s.append(id, {added("d"), added("e")}, 3);

  auto events = s.load_stream(id);
  BOOST_TEST(versions_of(events) == (std::vector<version>{3, 4, 5}),
             boost::test_tools::per_element());
  BOOST_TEST(events[0].event.as<cart_snapshot>().items.size() == 3u);
  BOOST_TEST(events[0].event.name() == "cart_snapshot");
  BOOST_TEST(events[1].event.as<item_added>().name == "d");
}

BOOST_AUTO_TEST_CASE(a_newer_snapshot_replaces_the_older_one) { // R-ES3
  auto s = store();
  auto id = given_stream_with(2, s);
  s.save_snapshot(id, snapshot_of({"old"}));
  s.append(id, {added("c")}, 2);
  s.save_snapshot(id, with_version(snapshot_of({"new"}), 3));
  auto events = s.load_stream(id);
  BOOST_REQUIRE_EQUAL(events.size(), 1u);
  BOOST_TEST(events[0].event.as<cart_snapshot>().items.front() == "new");
  BOOST_TEST(events[0].version == std::optional<version>(3));
}

BOOST_AUTO_TEST_CASE(slicing_around_a_snapshot) { // R-ES2, R-ES3
  auto s = store();
  auto id = given_stream_with(3, s);
  s.save_snapshot(id, snapshot_of({"three items"}));
  s.append(id, {added("d"), added("e")}, 3);
  using v = std::vector<version>;
  // The snapshot stands at its version (3); the events before it are gone.
  BOOST_TEST(versions_of(s.load_stream(id, 3)) == (v{3, 4, 5}), boost::test_tools::per_element());
  BOOST_TEST(versions_of(s.load_stream(id, 4)) == (v{4, 5}), boost::test_tools::per_element());
  BOOST_TEST(versions_of(s.load_stream(id, std::nullopt, 4)) == (v{3}),
             boost::test_tools::per_element());
  BOOST_TEST(versions_of(s.load_stream(id, 2, 5)) == (v{3, 4}), boost::test_tools::per_element());
  BOOST_TEST(s.load_stream(id, 1, 3).empty());
}

BOOST_AUTO_TEST_CASE(a_snapshot_with_the_wrong_version_is_refused) { // R-ES3
  auto s = store();
  auto id = given_stream_with(3, s);
  auto before = contents(s, id);
  for (version wrong : {2u, 4u, 0u}) {
    BOOST_TEST_CONTEXT("snapshot version " << wrong) {
      BOOST_CHECK_EXCEPTION(s.save_snapshot(id, with_version(snapshot_of({"x"}), wrong)),
                            versioning_mismatch, [&](const versioning_mismatch& e) {
                              return e.code() == errc::versioning_mismatch
                                     && mentions(e, std::to_string(wrong))
                                     && mentions(e, to_string(id.id()));
                            });
    }
  }
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_snapshot_of_an_absent_stream_is_refused) { // R-ES3
  auto s = store();
  auto id = stream_id::random();
  BOOST_CHECK_THROW(s.save_snapshot(id, snapshot_of({})), versioning_mismatch);
  BOOST_TEST(s.load_stream(id).empty());
  BOOST_TEST(s.append(id, {added("x")}, 0).version == std::optional<version>(1));
}

BOOST_AUTO_TEST_CASE(a_versionless_stream_takes_a_snapshot_without_a_version) { // R-ES3
  auto s = store();
  auto id = stream_id::random();
  s.append(id, {added("a"), added("b")}, no_versioning);
  BOOST_CHECK_THROW(s.save_snapshot(id, with_version(snapshot_of({"x"}), 2)),
                    versioning_mismatch);
  s.save_snapshot(id, snapshot_of({"a", "b"}));
  s.append(id, {added("c")}, no_versioning);
  auto events = s.load_stream(id);
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST(events[0].event.is<cart_snapshot>());
  BOOST_TEST(events[1].event.as<item_added>().name == "c");
}

// -- R-ES4: deleting ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_deleted_stream_starts_afresh_at_version_zero) { // R-ES4, R-P1
  auto s = store();
  auto id = given_stream_with(3, s);
  auto other = given_stream_with(2, s);
  s.delete_stream(id);
  BOOST_TEST(s.load_stream(id).empty());
  BOOST_CHECK_EXCEPTION(s.append(id, {added("x")}, 3), concurrent_stream_write_error,
                        [](const concurrent_stream_write_error& e) { return e.actual() == 0; });
  auto receipt = s.append(id, {added("again")}, 0);
  BOOST_TEST(receipt.version == std::optional<version>(1));
  BOOST_TEST(receipt.first_position == 6u); // positions are never reused
  BOOST_TEST(versions_of(s.load_stream(id)) == (std::vector<version>{1}),
             boost::test_tools::per_element());
  BOOST_TEST(s.load_stream(other).size() == 2u); // other streams untouched
}

BOOST_AUTO_TEST_CASE(deleting_an_absent_stream_is_a_no_op) { // R-ES4
  auto s = store();
  auto kept = given_stream_with(2, s);
  auto before = contents(s, kept);
  s.delete_stream(stream_id::random()); // never existed: nothing happens
  BOOST_TEST(contents(s, kept) == before, boost::test_tools::per_element());
  s.delete_stream(kept);
  s.delete_stream(kept); // already gone: nothing happens
  BOOST_TEST(s.load_stream(kept).empty());
  BOOST_TEST(s.position() == std::optional<position>(2)); // deleting takes no position
}

BOOST_AUTO_TEST_CASE(a_deleted_versionless_stream_may_come_back_versioned) { // R-ES4
  auto s = store();
  auto id = stream_id::random();
  s.append(id, {added("a")}, no_versioning);
  s.save_snapshot(id, snapshot_of({"a"}));
  s.delete_stream(id);
  BOOST_TEST(s.append(id, {added("b")}, 0).version == std::optional<version>(1));
  BOOST_TEST(versions_of(s.load_stream(id)) == (std::vector<version>{1}),
             boost::test_tools::per_element());
}

// -- R-ES5, R-P1: positions -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(position_is_none_at_start_then_the_last_committed_one) { // R-ES5
  auto s = store();
  BOOST_TEST(!s.position().has_value());
  auto first = s.append(stream_id::random(), {added("a")});
  BOOST_TEST(first.first_position == 1u); // the first position is 1
  BOOST_TEST(s.position() == std::optional<position>(1));
  auto second = s.append(stream_id::random(), {added("b"), added("c")});
  BOOST_TEST(second.first_position == 2u);
  BOOST_TEST(s.position() == std::optional<position>(second.last_position));
  BOOST_TEST(backend.in_tenant_mode("other").event_store().position()
             == std::optional<position>(3)); // one position for the whole runtime
}

BOOST_AUTO_TEST_CASE(positions_increase_strictly_across_tenants) { // R-P1, R-ES5
  std::vector<event_store> stores{store(), backend.in_tenant_mode("a").event_store(),
                                  backend.in_tenant_mode("b").event_store()};
  position last = 0;
  for (int i = 0; i < 30; ++i) {
    auto receipt = stores[i % 3].append(stream_id::random(), {added("x"), added("y")});
    BOOST_TEST(receipt.first_position == last + 1);
    BOOST_TEST(receipt.last_position == receipt.first_position + 1);
    last = receipt.last_position;
  }
  BOOST_TEST(store().position() == std::optional<position>(60));
}

BOOST_AUTO_TEST_CASE(concurrent_tenants_get_unique_gap_free_positions) { // R-P1
  constexpr int per_thread = 300;
  std::vector<std::vector<position>> seen(3);
  std::latch start(3);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 3; ++t)
      threads.emplace_back([&, t] {
        auto s = backend.in_tenant_mode("tenant " + std::to_string(t)).event_store();
        auto id = stream_id::random();
        start.arrive_and_wait();
        for (int i = 0; i < per_thread; ++i) {
          auto r = s.append(id, {added("x")}, static_cast<std::uint64_t>(i));
          seen[t].push_back(r.first_position);
        }
      });
  }
  std::vector<position> all;
  for (const auto& v : seen) {
    BOOST_TEST(std::is_sorted(v.begin(), v.end())); // increasing within a writer
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<position> expected(3 * per_thread);
  std::iota(expected.begin(), expected.end(), position{1});
  BOOST_TEST(all == expected, boost::test_tools::per_element());
}

// -- R-ES0: asynchronous forms -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_asynchronous_form_delivers_its_result_to_the_callback) { // R-ES0
  auto s = store();
  auto id = stream_id::random();

  async_call<append_receipt> appended;
  s.append_async(id, {added("a"), added("b")}, 0, appended.done());
  auto receipt = appended.get().value();
  BOOST_TEST(receipt.version == std::optional<version>(2));
  BOOST_TEST(receipt.last_position == 2u);

  async_call<done_t> snapshotted;
  s.save_snapshot_async(id, snapshot_of({"a", "b"}), snapshotted.done());
  BOOST_TEST(snapshotted.get().ok());

  async_call<std::vector<wrapped_event<>>> loaded;
  s.load_stream_async(id, std::nullopt, std::nullopt, loaded.done());
  auto events = loaded.get().value();
  BOOST_REQUIRE_EQUAL(events.size(), 1u);
  BOOST_TEST(events[0].event.is<cart_snapshot>());

  async_call<done_t> deleted;
  s.delete_stream_async(id, deleted.done());
  BOOST_TEST(deleted.get().ok());

  async_call<std::vector<wrapped_event<>>> reloaded;
  s.load_stream_async(id, 1, 10, reloaded.done());
  BOOST_TEST(reloaded.get().value().empty());
}

BOOST_AUTO_TEST_CASE(an_asynchronous_error_carries_the_typed_exception_and_code) { // R-ES0, §11
  auto s = store();
  auto id = given_stream_with(2, s);
  async_call<append_receipt> call;
  s.append_async(id, {added("late")}, 1, call.done());
  auto r = call.get();
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(code_of(r.exception()) == errc::concurrent_stream_write_error);
  BOOST_CHECK_EXCEPTION(r.value(), concurrent_stream_write_error,
                        [](const concurrent_stream_write_error& e) {
                          return e.expected() == 1 && e.actual() == 2;
                        });
  auto err = to_caf_error(r.exception());
  BOOST_TEST(err.code() == static_cast<std::uint8_t>(errc::concurrent_stream_write_error));
  BOOST_TEST((err.category() == caf::atom("sourcery")));
  BOOST_TEST(s.load_stream(id).size() == 2u);
}

BOOST_AUTO_TEST_CASE(asynchronous_refusals_arrive_through_the_callback) { // R-ES0, R-ES1, R-ES3
  auto s = store();
  auto id = given_stream_with(1, s);
  async_call<append_receipt> empty;
  s.append_async(id, {}, 1, empty.done());
  BOOST_TEST(code_of(empty.get().exception()) == errc::invalid_argument);
  async_call<done_t> snapshot;
  s.save_snapshot_async(id, with_version(snapshot_of({}), 7), snapshot.done());
  BOOST_TEST(code_of(snapshot.get().exception()) == errc::versioning_mismatch);
  BOOST_TEST(s.load_stream(id).size() == 1u);
  BOOST_TEST(s.position() == std::optional<position>(1));
}

BOOST_AUTO_TEST_CASE(pipelined_appends_to_one_stream_commit_in_submission_order) { // R-ES0
  // One thread may keep many appends in flight: they reach the tenant's
  // storage in the order they were submitted, so expected versions 0, 1, 2 …
  // all succeed without waiting for each other.
  auto s = store();
  auto id = stream_id::random();
  constexpr int n = 200;
  std::vector<async_call<append_receipt>> calls(n);
  for (int i = 0; i < n; ++i)
    s.append_async(id, {added("e" + std::to_string(i))}, static_cast<std::uint64_t>(i),
                   calls[i].done());
  for (int i = 0; i < n; ++i) {
    auto r = calls[i].get();
    BOOST_REQUIRE(r.ok());
    BOOST_REQUIRE(r.value().version == std::optional<version>(i + 1));
  }
  BOOST_TEST(s.load_stream(id).size() == std::size_t{n});
}

BOOST_AUTO_TEST_CASE(many_appends_in_flight_over_many_streams_all_complete) { // R-ES0, R-P1
  constexpr int n = 1000;
  struct tally {
    std::atomic<int> remaining{n};
    std::atomic<int> failures{0};
    std::vector<position> positions = std::vector<position>(n);
    std::promise<void> all_done;
  };
  auto t = std::make_shared<tally>();
  auto finished = t->all_done.get_future();
  auto s = store();
  for (int i = 0; i < n; ++i)
    s.append_async(stream_id::random(), {added("x")}, 0, [t, i](result<append_receipt> r) {
      if (r.ok())
        t->positions[i] = r.value().first_position;
      else
        ++t->failures;
      if (--t->remaining == 0)
        t->all_done.set_value();
    });
  finished.wait();
  BOOST_TEST(t->failures.load() == 0);
  auto& positions = t->positions;
  std::sort(positions.begin(), positions.end());
  BOOST_TEST((std::adjacent_find(positions.begin(), positions.end()) == positions.end()));
  BOOST_TEST(positions.back() == position{n});
}

// -- R-E3: events that cannot be decoded ------------------------------------------------

namespace {

/// A type whose stored data no longer fits what the reader expects, as after
/// an incompatible schema change: it is written as {"name": …} but read as a
/// struct whose "count" is required.
struct renamed_field {
  std::string name;
};
BOOST_DESCRIBE_STRUCT(renamed_field, (), (name))

struct renamed_field_v2 {
  int count = 0;
};
BOOST_DESCRIBE_STRUCT(renamed_field_v2, (), (count))

std::shared_ptr<const void> decode_as_v2(std::string_view json) {
  auto v2 = serde::decode<renamed_field_v2>(json); // throws serde::decode_failure
  return std::make_shared<const renamed_field>(renamed_field{std::to_string(v2.count)});
}

std::string encode_v1(const void* e) {
  return serde::encode(*static_cast<const renamed_field*>(e));
}

} // namespace

BOOST_AUTO_TEST_CASE(undecodable_stored_data_is_an_error_and_the_store_keeps_working) { // R-E3
  backend.registry().add(
    event_type{.name = "renamed_field", .type = typeid(renamed_field), .encode = &encode_v1,
               .decode = &decode_as_v2, .encode_value = nullptr, .decode_value = nullptr,
               .encryption = nullptr});
  auto s = store();
  auto bad = stream_id::random("legacy");
  s.append(bad, {added("fine"), wrap(renamed_field{"old shape"})});
  auto good = given_stream_with(2, s);

  auto names_everything = [&](const deserialization_error& e) {
    return e.event_name() == "renamed_field" && e.field() == "count"
           && e.stream() == bad.to_string() && mentions(e, "renamed_field")
           && mentions(e, to_string(bad.id())) && mentions(e, "'count'");
  };
  BOOST_CHECK_EXCEPTION(s.load_stream(bad), deserialization_error, names_everything);
  async_call<std::vector<wrapped_event<>>> async_load;
  s.load_stream_async(bad, std::nullopt, std::nullopt, async_load.done());
  BOOST_CHECK_EXCEPTION(async_load.get().value(), deserialization_error, names_everything);

  // Nothing crashed or changed: slices avoiding the event load, other streams
  // load, and both streams take further appends.
  BOOST_TEST(s.load_stream(bad, 1, 2).size() == 1u);
  BOOST_TEST(s.load_stream(good).size() == 2u);
  BOOST_TEST(s.append(bad, {added("after")}, 2).version == std::optional<version>(3));
  BOOST_TEST(s.append(good, {added("after")}, 2).version == std::optional<version>(3));
  BOOST_TEST(s.position() == std::optional<position>(6));
}

BOOST_AUTO_TEST_CASE(an_unknown_event_name_on_decode_leaves_the_store_usable) { // R-E3
  // What this covers, honestly: in the in-memory store every stored record
  // refers to the registered type it was written with, and types cannot be
  // unregistered, so a store of this runtime cannot hold an event whose name
  // is unknown. The path that can meet unknown names is decoding stored parts
  // with the registry (what a persistent storage would do on load); it is
  // exercised here, next to a live store, and in serde_test. The store-level
  // decode failure is covered by the deserialization_error test above.
  auto s = store();
  auto id = given_stream_with(2, s);
  raw_event stored{random_uuid(), timestamp::now(), "cart_emptied", "{}", "", 3};
  BOOST_CHECK_EXCEPTION(backend.registry().from_raw(stored, id), unknown_event,
                        [](const unknown_event& e) {
                          return e.event_name() == "cart_emptied" && mentions(e, "cart_emptied");
                        });
  BOOST_TEST(s.load_stream(id).size() == 2u);
  BOOST_TEST(s.append(id, {added("more")}, 2).version == std::optional<version>(3));
}

BOOST_AUTO_TEST_SUITE_END()
