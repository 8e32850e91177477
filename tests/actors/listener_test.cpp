// In-transaction listeners (SPEC §6): R-L.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <future>

using namespace sourcery;
using namespace std::chrono_literals;
using test_events::item_added;
using test_events::item_removed;

namespace {

/// A listener that records what it saw.
struct recording {
  std::vector<recorded_event> seen;
  listener l = make_listener([this](const recorded_event& r) { seen.push_back(r); });
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(listener_suite, backend_fixture)

BOOST_AUTO_TEST_CASE(by_event_type_called_before_append_returns) { // R-L
  recording rec;
  backend.in_transaction().add<item_removed>(rec.l);
  auto id = stream_id::random();
  store().append(id, {added("a"), wrap(item_removed{"a"})});
  // No waiting: the listener ran inside the append.
  BOOST_REQUIRE_EQUAL(rec.seen.size(), 1u);
  BOOST_TEST(rec.seen[0].event.as<item_removed>().name == "a");
  BOOST_TEST(rec.seen[0].position == 2u);
  BOOST_TEST(rec.seen[0].stream_id == id);
  BOOST_TEST(*rec.seen[0].version == 2u);
}

BOOST_AUTO_TEST_CASE(for_all_events_in_position_order_for_all_tenants) { // R-L
  recording rec;
  backend.in_transaction().add_all(rec.l);
  store().append(stream_id::random(), {added("1"), added("2")});
  backend.in_tenant_mode("t1").event_store().append(stream_id::random(), {added("3")});
  BOOST_REQUIRE_EQUAL(rec.seen.size(), 3u);
  BOOST_TEST(rec.seen[0].position == 1u);
  BOOST_TEST(rec.seen[1].position == 2u);
  BOOST_TEST(rec.seen[2].position == 3u);
  BOOST_TEST(rec.seen[2].tenant_id == "t1");
}

BOOST_AUTO_TEST_CASE(by_category) { // R-L
  recording rec;
  backend.in_transaction().add_for_category("cart", rec.l);
  store().append(stream_id::random("cart"), {added("in")});
  store().append(stream_id::random("order"), {added("out")});
  store().append(stream_id::random(), {added("none")});
  BOOST_REQUIRE_EQUAL(rec.seen.size(), 1u);
  BOOST_TEST(rec.seen[0].event.as<item_added>().name == "in");
}

BOOST_AUTO_TEST_CASE(registering_twice_delivers_once) { // R-L
  recording rec;
  auto l = backend.in_transaction();
  l.add<item_added>(rec.l);
  l.add<item_added>(rec.l);
  l.add_all(rec.l);
  store().append(stream_id::random(), {added("once")});
  BOOST_TEST(rec.seen.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_removed_listener_is_not_called) { // R-L
  recording rec;
  auto l = backend.in_transaction();
  l.add<item_added>(rec.l);
  l.add_all(rec.l);
  l.remove(rec.l);
  store().append(stream_id::random(), {added("x")});
  BOOST_TEST(rec.seen.empty());
}

BOOST_AUTO_TEST_CASE(a_throwing_listener_rolls_the_append_back) { // R-L
  auto s = store();
  auto id = stream_id::random();
  s.append(id, {added("kept")});
  struct refused : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  auto thrower = make_listener([](const recorded_event& r) {
    if (r.event.as<item_added>().name == "bad")
      throw refused("listener refused the event");
  });
  backend.in_transaction().add_all(thrower);
  // The caller receives the listener's own exception.
  BOOST_CHECK_THROW(s.append(id, {added("good"), added("bad")}, 1), refused);
  // Nothing stored, no position consumed.
  BOOST_TEST(s.load_stream(id).size() == 1u);
  BOOST_TEST(*s.position() == 1u);
  // The asynchronous form reports it as listener_failed.
  std::promise<result<append_receipt>> p;
  s.append_async(id, {added("bad")}, 1, [&](result<append_receipt> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  BOOST_TEST(!r.ok());
  BOOST_TEST(static_cast<int>(code_of(r.exception())) == static_cast<int>(errc::listener_failed));
  // The next successful append takes the next position: none was used up.
  backend.in_transaction().remove(thrower);
  BOOST_TEST(s.append(id, {added("after")}, 1).first_position == 2u);
}

BOOST_AUTO_TEST_CASE(a_listener_calling_the_blocking_api_gets_an_error_not_a_deadlock) { // R-L
  auto s = store();
  std::exception_ptr caught;
  auto reentrant = make_listener([&](const recorded_event& r) {
    try {
      s.load_stream(r.stream_id);
    } catch (...) {
      caught = std::current_exception();
      throw;
    }
  });
  backend.in_transaction().add_all(reentrant);
  BOOST_CHECK_THROW(s.append(stream_id::random(), {added("x")}), reentrant_call);
  BOOST_REQUIRE(caught);
  BOOST_CHECK_THROW(std::rethrow_exception(caught), reentrant_call);
  BOOST_TEST(!s.position().has_value());
}

BOOST_AUTO_TEST_SUITE_END()
