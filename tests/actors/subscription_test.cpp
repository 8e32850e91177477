// Subscriptions over the global log (SPEC §7): R-SUB, R-SUB-ORDER, R-MT.
#include "fixtures.hpp"

#include <sourcery/push_protocol.hpp>

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace sourcery;
using namespace std::chrono_literals;
using test_events::item_added;
using test_events::item_removed;

namespace {

/// Collects pushed records; tests wait on it with a generous deadline.
struct collector {
  std::mutex m;
  std::condition_variable cv;
  std::vector<recorded_event> records;

  batch_handler handler() {
    return [this](std::span<const recorded_event> batch) {
      std::lock_guard l(m);
      records.insert(records.end(), batch.begin(), batch.end());
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock l(m);
    return cv.wait_for(l, 60s, [&] { return records.size() >= n; });
  }
};

std::vector<position> positions(const std::vector<recorded_event>& rs) {
  std::vector<position> out;
  for (const auto& r : rs)
    out.push_back(r.position);
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(subscription_suite, backend_fixture)

BOOST_AUTO_TEST_CASE(all_events_in_order_across_streams) { // R-SUB-ORDER
  auto s = store();
  auto a = stream_id::random("cart"), b = stream_id::random("cart");
  s.append(a, {added("1")});
  s.append(b, {added("2"), added("3")});
  s.append(a, {added("4")}, 1);
  auto sub = backend.subscriber().start_from(0).build_batch(4, 1s);
  auto got = sub.next();
  BOOST_REQUIRE_EQUAL(got.size(), 4u);
  BOOST_TEST(positions(got) == (std::vector<position>{1, 2, 3, 4}));
  BOOST_TEST(got[0].stream_id == a);
  BOOST_TEST(got[1].stream_id == b);
  BOOST_TEST(got[3].event.as<item_added>().name == "4");
  BOOST_TEST(*got[3].version == 2u);
}

BOOST_AUTO_TEST_CASE(several_subscriptions_each_receive_everything) { // R-SUB
  auto s = store();
  given_stream_with(5, s);
  auto one = backend.subscriber().start_from(0).build_batch(5, 1s);
  auto two = backend.subscriber().start_from(0).build_batch(5, 1s);
  BOOST_TEST(positions(one.next()) == (std::vector<position>{1, 2, 3, 4, 5}));
  BOOST_TEST(positions(two.next()) == (std::vector<position>{1, 2, 3, 4, 5}));
}

BOOST_AUTO_TEST_CASE(from_a_position_replays_the_past_then_continues_live) { // R-SUB
  auto s = store();
  given_stream_with(3, s);
  auto sub = backend.subscriber().start_from(1).build_iter(60s);
  BOOST_TEST(sub.next()->position == 2u);
  BOOST_TEST(sub.next()->position == 3u);
  std::thread writer([&] { s.append(stream_id::random(), {added("live")}); });
  auto live = sub.next(); // waits for the commit, no gap and no duplicate at the seam
  writer.join();
  BOOST_REQUIRE(live);
  BOOST_TEST(live->position == 4u);
  BOOST_TEST(live->event.as<item_added>().name == "live");
}

BOOST_AUTO_TEST_CASE(after_the_last_position_only_new_records_arrive) { // R-SUB
  auto s = store();
  given_stream_with(3, s);
  auto sub = backend.subscriber().start_from(*s.position()).build_iter(0.2s);
  BOOST_TEST(!sub.next().has_value());
  s.append(stream_id::random(), {added("new")});
  BOOST_TEST(sub.next()->position == 4u);
}

BOOST_AUTO_TEST_CASE(by_category) { // R-SUB
  auto s = store();
  s.append(stream_id::random("cart"), {added("in")});
  s.append(stream_id::random("order"), {added("out")});
  s.append(stream_id::random("cart"), {added("in too")});
  auto sub = backend.subscriber().start_from(0).to_category("cart").build_batch(10, 0.2s);
  auto got = sub.next();
  BOOST_TEST(positions(got) == (std::vector<position>{1, 3}));
  BOOST_TEST(*got[1].stream_id.category() == "cart");
}

BOOST_AUTO_TEST_CASE(by_event_types) { // R-SUB
  auto s = store();
  auto id = stream_id::random();
  s.append(id, {added("a"), wrap(item_removed{"a"}), wrap(test_events::cart_snapshot{{}})});
  auto sub = backend.subscriber().start_from(0).to_events<item_removed, test_events::cart_snapshot>()
               .build_batch(10, 0.2s);
  auto got = sub.next();
  BOOST_TEST(positions(got) == (std::vector<position>{2, 3}));
  BOOST_TEST(got[0].event.is<item_removed>());
}

BOOST_AUTO_TEST_CASE(batch_of_the_requested_size) { // R-SUB
  auto s = store();
  given_stream_with(7, s);
  auto sub = backend.subscriber().start_from(0).build_batch(3, 1s);
  BOOST_TEST(positions(sub.next()) == (std::vector<position>{1, 2, 3}));
  BOOST_TEST(positions(sub.next()) == (std::vector<position>{4, 5, 6}));
}

BOOST_AUTO_TEST_CASE(a_smaller_batch_when_time_runs_out) { // R-SUB
  auto s = store();
  given_stream_with(2, s);
  auto sub = backend.subscriber().start_from(0).build_batch(10, 0.2s);
  BOOST_TEST(positions(sub.next()) == (std::vector<position>{1, 2}));
  BOOST_TEST(sub.next().empty());
}

BOOST_AUTO_TEST_CASE(continuous_waiting_across_empty_batches) { // R-SUB
  auto s = store();
  auto sub = backend.subscriber().start_from(0).build_batch(2, 0.1s);
  BOOST_TEST(sub.next().empty());
  BOOST_TEST(sub.next().empty());
  s.append(stream_id::random(), {added("x"), added("y")});
  BOOST_TEST(positions(sub.next()) == (std::vector<position>{1, 2}));
  BOOST_TEST(sub.next().empty());
  s.append(stream_id::random(), {added("z")});
  BOOST_TEST(positions(sub.next()) == (std::vector<position>{3}));
}

BOOST_AUTO_TEST_CASE(records_from_all_tenants_carry_their_tenant_ids) { // R-MT
  auto id = stream_id::named("shared");
  backend.in_tenant_mode("a").event_store().append(id, {added("a")});
  backend.in_tenant_mode("b").event_store().append(id, {added("b")});
  store().append(id, {added("default")});
  auto got = backend.subscriber().start_from(0).build_batch(3, 1s).next();
  BOOST_REQUIRE_EQUAL(got.size(), 3u);
  BOOST_TEST(got[0].tenant_id == "a");
  BOOST_TEST(got[1].tenant_id == "b");
  BOOST_TEST(got[2].tenant_id == "");
  auto only_b = backend.in_tenant_mode("b").tenant_subscriber().start_from(0).build_batch(3, 0.2s);
  auto b = only_b.next();
  BOOST_REQUIRE_EQUAL(b.size(), 1u);
  BOOST_TEST(b[0].event.as<item_added>().name == "b");
}

BOOST_AUTO_TEST_CASE(time_limits_under_100_ms_are_refused) { // R-SUB
  auto start = backend.subscriber().start_from(0);
  BOOST_CHECK_THROW(start.build_iter(0.09s), invalid_argument);
  BOOST_CHECK_THROW(start.build_iter(0s), invalid_argument);
  BOOST_CHECK_THROW(start.build_batch(10, -1s), invalid_argument);
  BOOST_CHECK_THROW(start.build_batch(0, 1s), invalid_argument);
  BOOST_CHECK_NO_THROW(start.build_iter(0.1s));
}

BOOST_AUTO_TEST_CASE(push_to_a_callback_delivers_past_and_live_in_order) { // R-SUB push
  auto s = store();
  given_stream_with(3, s);
  collector c;
  auto sub = backend.subscriber().start_from(0).build_push(c.handler(), 2);
  s.append(stream_id::random(), {added("live")});
  BOOST_REQUIRE(c.wait_for(4));
  BOOST_TEST(positions(c.records) == (std::vector<position>{1, 2, 3, 4}));
  sub.stop();
  BOOST_TEST(!sub.error());
}

BOOST_AUTO_TEST_CASE(a_throwing_push_handler_stops_its_subscription_with_the_error) {
  auto s = store();
  given_stream_with(1, s);
  std::atomic<int> calls{0};
  std::promise<void> called;
  auto sub = backend.subscriber().start_from(0).build_push([&](auto) {
    if (calls++ == 0)
      called.set_value();
    throw std::runtime_error("consumer broke");
  });
  called.get_future().wait();
  sub.stop();
  BOOST_TEST(calls.load() == 1);
  BOOST_REQUIRE(sub.error());
  BOOST_CHECK_THROW(std::rethrow_exception(sub.error()), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(push_to_an_actor_with_credit) { // R-SUB push to a CAF actor
  auto s = store();
  given_stream_with(10, s);
  auto shared = std::make_shared<collector>();
  // The collector is passed as an argument: CAF 0.17 trips UBSan's null
  // check when a function-based actor is spawned without one.
  auto consumer = backend.actor_system().spawn(
    [](caf::event_based_actor*, std::shared_ptr<collector> shared) -> caf::behavior {
      return {[shared](records_atom, const std::vector<recorded_event>& rs) {
        shared->handler()(rs);
      }};
    },
    shared);
  auto sub = backend.subscriber().start_from(0).build_push_to(consumer, 3);
  BOOST_REQUIRE(shared->wait_for(10));
  BOOST_TEST(positions(shared->records).back() == 10u);
  sub.stop();
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
