// The event store (SPEC §3): R-ES0 … R-ES5.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

using namespace sourcery;
using test_events::item_added;

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

BOOST_AUTO_TEST_SUITE_END()
