// The wake-ups of an engine's log (core/storage/include/sourcery/storage/wake_ups.hpp):
// notify_after / cancel / cancel_all, the engine's side of subscriptions
// that sleep until the log passes a position (R-SUB-ORDER: a feed woken for
// p finds every record up to the published position). The log here is one
// atomic position; "publishing" moves it and calls published().
#include <sourcery/detail/wake_ups.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

using namespace sourcery;
using namespace sourcery::storage;

namespace {

struct fake_log {
  std::atomic<position> last{0};
  wake_ups wakes{[this] { return last.load(); }};

  void publish(position p) {
    last.store(p);
    wakes.published();
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(wake_ups_suite)

BOOST_AUTO_TEST_CASE(a_wake_up_below_the_published_position_runs_at_once) {
  fake_log log;
  log.publish(5);
  int ran = 0;
  auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  log.wakes.notify_after(4, [&] {
    ++ran;
    ran_on = std::this_thread::get_id();
  });
  BOOST_TEST(ran == 1); // before notify_after returned
  BOOST_TEST((ran_on == caller));
  log.publish(6);
  BOOST_TEST(ran == 1); // once
}

BOOST_AUTO_TEST_CASE(a_wake_up_at_the_published_position_waits_for_the_next_one) {
  fake_log log;
  log.publish(5);
  int ran = 0;
  log.wakes.notify_after(5, [&] { ++ran; });
  BOOST_TEST(ran == 0);
  log.wakes.published(); // nothing new
  BOOST_TEST(ran == 0);
  log.publish(6);
  BOOST_TEST(ran == 1);
}

BOOST_AUTO_TEST_CASE(a_wake_up_above_runs_exactly_once_when_the_position_passes) {
  fake_log log;
  int ran = 0;
  position seen = 0;
  log.wakes.notify_after(10, [&] {
    ++ran;
    seen = log.last.load();
  });
  log.publish(3);
  log.publish(10); // reaching 10 is not passing it
  BOOST_TEST(ran == 0);
  log.publish(12);
  BOOST_TEST(ran == 1);
  BOOST_TEST(seen == 12u); // run after the position passed
  log.publish(20);
  log.publish(30);
  BOOST_TEST(ran == 1);
}

BOOST_AUTO_TEST_CASE(only_the_passed_wake_ups_run) {
  fake_log log;
  std::vector<int> ran;
  log.wakes.notify_after(5, [&] { ran.push_back(5); });
  log.wakes.notify_after(10, [&] { ran.push_back(10); });
  log.wakes.notify_after(7, [&] { ran.push_back(7); });
  log.publish(8);
  BOOST_TEST((std::multiset<int>(ran.begin(), ran.end()) == std::multiset<int>{5, 7}));
  log.publish(11);
  BOOST_TEST((std::multiset<int>(ran.begin(), ran.end()) == std::multiset<int>{5, 7, 10}));
}

BOOST_AUTO_TEST_CASE(cancel_prevents_a_wake_up) {
  fake_log log;
  int a = 0, b = 0;
  auto id_a = log.wakes.notify_after(1, [&] { ++a; });
  auto id_b = log.wakes.notify_after(1, [&] { ++b; });
  BOOST_TEST(id_a != id_b);
  log.wakes.cancel(id_a);
  log.publish(2);
  BOOST_TEST(a == 0);
  BOOST_TEST(b == 1);
}

BOOST_AUTO_TEST_CASE(cancel_of_a_wake_up_that_ran_or_of_an_unknown_id_is_a_no_op) {
  fake_log log;
  int ran = 0, other = 0;
  auto id = log.wakes.notify_after(0, [&] { ++ran; });
  log.wakes.notify_after(5, [&] { ++other; });
  log.publish(1);
  BOOST_TEST(ran == 1);
  log.wakes.cancel(id);
  log.wakes.cancel(id + 1000);
  log.publish(6);
  BOOST_TEST(ran == 1);
  BOOST_TEST(other == 1); // the others are kept
}

BOOST_AUTO_TEST_CASE(cancel_all_drops_every_wake_up) {
  fake_log log;
  int ran = 0;
  for (position p = 0; p < 10; ++p)
    log.wakes.notify_after(p, [&] { ++ran; });
  log.wakes.cancel_all();
  log.publish(100);
  BOOST_TEST(ran == 0);
  // It goes on working afterwards.
  log.wakes.notify_after(100, [&] { ++ran; });
  log.publish(101);
  BOOST_TEST(ran == 1);
}

BOOST_AUTO_TEST_CASE(a_wake_up_may_register_another) {
  fake_log log; // e.g. a feed that reads, then sleeps again
  int second = 0;
  log.wakes.notify_after(1, [&] { log.wakes.notify_after(log.last.load(), [&] { ++second; }); });
  log.publish(2);
  BOOST_TEST(second == 0);
  log.publish(3);
  BOOST_TEST(second == 1);
}

BOOST_AUTO_TEST_CASE(a_publication_between_the_check_and_the_registration_is_not_missed) {
  // The race made deterministic: while notify_after reads the position (and
  // finds it not passed), a commit publishes past it and calls published(),
  // which finds nobody waiting yet. The wake-up must still run.
  std::atomic<position> last{5};
  bool publish_while_read = false;
  std::unique_ptr<wake_ups> wakes;
  wakes = std::make_unique<wake_ups>([&] {
    auto seen = last.load();
    if (std::exchange(publish_while_read, false)) {
      last.store(seen + 1);
      wakes->published();
    }
    return seen;
  });
  int ran = 0;
  publish_while_read = true;
  wakes->notify_after(5, [&] { ++ran; });
  BOOST_TEST(ran == 1);
  last.store(7);
  wakes->published();
  BOOST_TEST(ran == 1);
}

BOOST_AUTO_TEST_CASE(registrations_racing_with_publications_lose_none) {
  // Registrants register right at the published position while a publisher
  // moves it on: once the publisher stopped, every wake-up whose position
  // was passed has run — exactly once, after its position passed — and the
  // others have not. (No further publication rescues a lost one.)
  constexpr int registrants = 3, each = 2000;
  fake_log log;
  struct slot {
    position after = 0;
    std::atomic<int> runs{0};
    std::atomic<bool> early{false};
  };
  std::vector<std::unique_ptr<slot>> slots;
  for (int i = 0; i < registrants * each; ++i)
    slots.push_back(std::make_unique<slot>());
  std::atomic<int> registering{registrants};
  std::thread publisher([&] {
    while (registering.load() > 0)
      log.publish(log.last.load() + 1);
    log.publish(log.last.load() + 1); // after every registration
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < registrants; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < each; ++i) {
        auto* s = slots[static_cast<std::size_t>(t * each + i)].get();
        s->after = log.last.load();
        log.wakes.notify_after(s->after, [s, &log] {
          if (log.last.load() <= s->after)
            s->early.store(true);
          s->runs.fetch_add(1);
        });
      }
      registering.fetch_sub(1);
    });
  for (auto& t : threads)
    t.join();
  publisher.join();
  auto last = log.last.load();
  for (const auto& s : slots) {
    BOOST_REQUIRE(s->after < last);
    BOOST_REQUIRE(s->runs.load() == 1);
    BOOST_REQUIRE(!s->early.load());
  }
  log.publish(last + 1);
  for (const auto& s : slots)
    BOOST_REQUIRE(s->runs.load() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
