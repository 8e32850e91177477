// Persistent subscription groups through the public API (R-SUB-GROUP…), on
// the engine under test.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <mutex>
#include <set>
#include <thread>

using namespace sourcery;
using namespace std::chrono_literals;
using test_events::item_added;
using test_events::item_removed;

namespace {

std::vector<position> positions(const std::vector<group_delivery>& ds) {
  std::vector<position> out;
  for (const auto& d : ds)
    out.push_back(d.event.position);
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(subscription_group_suite, backend_fixture)

BOOST_AUTO_TEST_CASE(members_share_a_group_and_acked_records_are_not_offered_again) { // R-SUB-GROUP
  given_stream_with(4, store());
  auto billing = backend.subscriber().group("billing").open();
  auto a = billing.join("a"), b = billing.join("b");
  auto first = a.next(2, 1s);
  auto second = b.next(10, 1s);
  BOOST_TEST(positions(first) == (std::vector<position>{1, 2}));
  BOOST_TEST(positions(second) == (std::vector<position>{3, 4}));
  BOOST_TEST(first[0].event.event.as<item_added>().name == "item 0");
  for (const auto& d : first)
    a.ack(d.event.position);
  for (const auto& d : second)
    b.ack(d.event.position);
  BOOST_TEST(billing.status().checkpoint == 4u);
  BOOST_TEST(billing.join("c").next(10, 0.2s).empty());
}

BOOST_AUTO_TEST_CASE(a_waiting_member_gets_a_record_committed_later) { // R-SUB-GROUP
  auto group = backend.subscriber().group("live").open();
  auto m = group.join();
  auto s = store();
  std::thread writer([&] { s.append(stream_id::random(), {added("live")}); });
  auto got = m.next(10, 60s); // woken by the commit
  writer.join();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].event.event.as<item_added>().name == "live");
}

BOOST_AUTO_TEST_CASE(a_group_follows_its_start_and_filter) { // R-SUB-GROUP
  auto s = store();
  s.append(stream_id::random("cart"), {added("1")});
  s.append(stream_id::random("order"), {added("2")});
  s.append(stream_id::random("cart"), {added("3")});
  s.append(stream_id::random("cart"), {wrap(item_removed{"4"})});
  auto carts = backend.subscriber().group("carts").start_from(1).to_category("cart")
                 .to_events<item_added>().open();
  auto m = carts.join();
  auto got = m.next(10, 1s);
  BOOST_TEST(positions(got) == (std::vector<position>{3}));
  m.ack(3);
  BOOST_TEST(carts.status().checkpoint == 4u);
}

BOOST_AUTO_TEST_CASE(nacked_records_are_retried_then_parked_and_can_be_replayed) { // R-SUB-GROUP-PARK
  given_stream_with(1, store());
  auto group = backend.subscriber().group("flaky").attempts(2).backoff(0ms, 0ms).open();
  auto m = group.join();
  auto one = m.next(1, 1s);
  BOOST_REQUIRE_EQUAL(one.size(), 1u);
  BOOST_TEST(!m.nack(1, "downstream refused"));
  auto two = m.next(1, 1s);
  BOOST_REQUIRE_EQUAL(two.size(), 1u);
  BOOST_TEST(two[0].attempts == 1u);
  BOOST_TEST(m.nack(1, "downstream refused"));
  BOOST_TEST(m.next(1, 0.2s).empty());
  auto parked = group.parked();
  BOOST_REQUIRE_EQUAL(parked.size(), 1u);
  BOOST_TEST(parked[0].at == 1u);
  BOOST_TEST(parked[0].last_error == "downstream refused");
  BOOST_TEST(group.replay() == 1u);
  auto again = m.next(1, 1s);
  BOOST_REQUIRE_EQUAL(again.size(), 1u);
  BOOST_TEST(again[0].attempts == 0u);
  m.ack(1);
  BOOST_TEST(group.parked().empty());
  BOOST_TEST(group.purge() == 0u);
}

BOOST_AUTO_TEST_CASE(bad_calls_get_typed_errors_and_change_nothing) { // R-SUB-GROUP-ACK
  given_stream_with(2, store());
  BOOST_CHECK_THROW(backend.subscriber().group(""), invalid_argument);
  BOOST_CHECK_THROW(backend.subscriber().group("g").attempts(0), invalid_argument);
  BOOST_CHECK_THROW(backend.subscriber().group("g").lease(0ms), invalid_argument);
  auto group = backend.subscriber().group("g").open();
  auto a = group.join("a"), b = group.join("b");
  BOOST_CHECK_THROW(a.next(0, 1s), invalid_argument);
  BOOST_CHECK_THROW(a.next(1, 0.01s), invalid_argument);
  BOOST_REQUIRE_EQUAL(a.next(1, 1s).size(), 1u);
  BOOST_CHECK_THROW(b.ack(1), record_not_held);
  BOOST_CHECK_THROW(b.nack(1, "no"), record_not_held);
  BOOST_CHECK_THROW(a.ack(2), record_not_held);
  BOOST_TEST(group.status().in_hand == 1u);
  BOOST_TEST(group.status().checkpoint == 0u);
  BOOST_CHECK_THROW(backend.subscriber().group("g").per_stream_order().open(), invalid_argument);
  a.ack(1);
  BOOST_TEST(group.status().checkpoint == 1u);
}

BOOST_AUTO_TEST_CASE(with_per_stream_order_a_streams_records_go_one_at_a_time) { // R-SUB-GROUP-ORDER
  auto s = store();
  auto cart = given_stream_with(3, s); // 1, 2, 3
  auto group = backend.subscriber().group("ordered").per_stream_order().open();
  auto a = group.join("a"), b = group.join("b");
  BOOST_TEST(positions(a.next(10, 1s)) == (std::vector<position>{1}));
  BOOST_TEST(b.next(10, 0.2s).empty());
  std::thread acker([&] { a.ack(1); });
  auto next = b.next(10, 60s); // woken by the ack that frees the stream
  acker.join();
  BOOST_TEST(positions(next) == (std::vector<position>{2}));
  (void)cart;
}

BOOST_AUTO_TEST_CASE(a_member_that_leaves_hands_its_records_to_the_others) { // R-SUB-GROUP
  given_stream_with(2, store());
  auto group = backend.subscriber().group("g").open();
  auto b = group.join("b");
  {
    auto a = group.join("a");
    BOOST_REQUIRE_EQUAL(a.next(10, 1s).size(), 2u);
  } // destroyed: leaves
  BOOST_TEST(positions(b.next(10, 1s)) == (std::vector<position>{1, 2}));
}

BOOST_AUTO_TEST_CASE(a_silent_members_records_go_to_another_after_the_lease) { // R-SUB-GROUP-LEASE
  given_stream_with(1, store());
  auto group = backend.subscriber().group("g").lease(50ms).open();
  auto a = group.join("a"), b = group.join("b");
  BOOST_REQUIRE_EQUAL(a.next(10, 1s).size(), 1u);
  auto got = b.next(10, 60s); // wakes when the lease comes due
  BOOST_TEST(positions(got) == (std::vector<position>{1}));
  BOOST_CHECK_THROW(a.ack(1), record_not_held);
  b.ack(1);
}

BOOST_AUTO_TEST_CASE(many_members_on_threads_ack_each_record_exactly_once) { // R-SUB-GROUP
  constexpr std::size_t total = 1000;
  append_many(store(), total);
  auto group = backend.subscriber().group("g").backoff(0ms, 0ms).open();
  std::mutex m;
  std::multiset<position> acked;
  auto work = [&](int i) {
    auto me = group.join("m" + std::to_string(i));
    while (group.status().checkpoint < total) {
      for (const auto& d : me.next(16, 0.2s)) {
        auto p = d.event.position;
        if (p % 17 == 0 && d.attempts == 0) {
          me.nack(p, "first try fails");
          continue;
        }
        me.ack(p);
        std::lock_guard lock(m);
        acked.insert(p);
      }
    }
  };
  std::vector<std::thread> members;
  for (int i = 0; i < 3; ++i)
    members.emplace_back(work, i);
  for (auto& t : members)
    t.join();
  BOOST_TEST(acked.size() == total);
  BOOST_TEST(std::set<position>(acked.begin(), acked.end()).size() == total);
  BOOST_TEST(group.parked().empty());
}

BOOST_AUTO_TEST_SUITE_END()
