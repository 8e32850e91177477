// The outbox (SPEC §8): R-OB, R-OB-DLQ.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <barrier>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace sourcery;
using namespace std::chrono_literals;
using test_events::item_added;

namespace {

struct outbox_fixture : backend_fixture {
  outbox_fixture() { backend.with_outbox(); }

  /// A publisher that records what it was given.
  std::vector<recorded_event> published;
  outbox_publisher recorder() {
    return [this](const recorded_event& r) { published.push_back(r); };
  }
  static void always_fail(const recorded_event&) { throw std::runtime_error("broker down"); }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(outbox_suite, outbox_fixture)

BOOST_AUTO_TEST_CASE(an_empty_outbox_never_calls_the_publisher) { // R-OB
  BOOST_TEST(backend.outbox().run(recorder()) == 0u);
  BOOST_TEST(published.empty());
}

BOOST_AUTO_TEST_CASE(the_limit_is_respected) { // R-OB
  given_stream_with(5, store());
  BOOST_TEST(backend.outbox().run(recorder(), 3) == 3u);
  BOOST_TEST(published.size() == 3u);
  BOOST_TEST(backend.outbox().run(recorder(), 3) == 2u);
  BOOST_TEST(published.size() == 5u);
}

BOOST_AUTO_TEST_CASE(the_stream_name_reaches_the_publisher) { // R-OB
  auto id = stream_id::named("order #42", "orders");
  store().append(id, {added("x")});
  backend.outbox().run(recorder());
  BOOST_REQUIRE_EQUAL(published.size(), 1u);
  BOOST_TEST(*published[0].stream_id.name() == "order #42");
  BOOST_TEST(*published[0].stream_id.category() == "orders");
  BOOST_TEST(published[0].event.as<item_added>().name == "x");
}

BOOST_AUTO_TEST_CASE(a_published_entry_is_published_once_across_runs) { // R-OB
  given_stream_with(1, store());
  backend.outbox().run(recorder());
  backend.outbox().run(recorder());
  backend.outbox().run(recorder());
  BOOST_TEST(published.size() == 1u);
  BOOST_TEST(backend.outbox().counts().pending == 0u);
  BOOST_TEST(backend.outbox().counts().published == 1u);
}

BOOST_AUTO_TEST_CASE(failing_n_times_moves_the_entry_to_the_dead_letters) { // R-OB-DLQ
  backend.configure(settings{.outbox_attempts = 2});
  auto id = stream_id::random();
  backend.in_tenant_mode("acme").event_store().append(id, {added("doomed")});
  int calls = 0;
  auto failing = [&](const recorded_event&) {
    ++calls;
    throw std::runtime_error("broker down");
  };
  for (int run = 0; run < 3; ++run)
    backend.outbox().run(failing);
  BOOST_TEST(calls == 2);
  auto dead = backend.outbox().dead_letters();
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].attempts == 2);
  BOOST_TEST(dead[0].last_error == "broker down");
  BOOST_TEST(dead[0].event.tenant_id == "acme");
  BOOST_TEST(dead[0].event.event.as<item_added>().name == "doomed");
  BOOST_TEST(backend.outbox().counts().pending == 0u);

  // Re-queued with attempts reset: two more tries before it is dead again.
  BOOST_TEST(backend.outbox().requeue() == 1u);
  BOOST_TEST(backend.outbox().dead_letters().empty());
  backend.outbox().run(failing);
  BOOST_TEST(backend.outbox().dead_letters().empty());
  backend.outbox().run(failing);
  BOOST_TEST(calls == 4);
  BOOST_REQUIRE_EQUAL(backend.outbox().dead_letters().size(), 1u);

  // Re-queued and published for good.
  backend.outbox().requeue(backend.outbox().dead_letters()[0].event.position);
  backend.outbox().run(recorder());
  BOOST_TEST(published.size() == 1u);
  BOOST_TEST(backend.outbox().dead_letters().empty());
}

BOOST_AUTO_TEST_CASE(dead_letters_can_be_purged) { // R-OB-DLQ
  backend.configure(settings{.outbox_attempts = 1});
  given_stream_with(3, store());
  backend.outbox().run(always_fail);
  BOOST_TEST(backend.outbox().dead_letters().size() == 3u);
  BOOST_TEST(backend.outbox().purge(2) == 1u);
  BOOST_TEST(backend.outbox().dead_letters().size() == 2u);
  BOOST_TEST(backend.outbox().purge() == 2u);
  BOOST_TEST(backend.outbox().dead_letters().empty());
  BOOST_TEST(backend.outbox().run(recorder()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_filter_refusing_everything_means_no_calls) { // R-OB
  auto b = backend_fixture::make();
  b.with_outbox([](const outbox_candidate&) { return false; });
  b.event_store().append(stream_id::random(), {added("x")});
  BOOST_TEST(b.outbox().run(recorder()) == 0u);
  BOOST_TEST(published.empty());
}

BOOST_AUTO_TEST_CASE(the_filter_sees_name_stream_tenant_and_data) { // R-OB
  auto b = backend_fixture::make();
  b.with_outbox([](const outbox_candidate& c) {
    return c.name == "item_added" && c.tenant == "t" && c.stream.category() == "cart"
           && c.data.find("\"keep\"") != std::string_view::npos;
  });
  b.in_tenant_mode("t").event_store().append(stream_id::random("cart"), {added("keep"), added("drop")});
  b.event_store().append(stream_id::random("cart"), {added("keep")});
  b.outbox().run(recorder());
  BOOST_REQUIRE_EQUAL(published.size(), 1u);
  BOOST_TEST(published[0].position == 1u);
}

BOOST_AUTO_TEST_CASE(entries_from_three_tenants_arrive_in_commit_order) { // R-OB
  for (int i = 0; i < 9; ++i)
    backend.in_tenant_mode("tenant-" + std::to_string(i % 3)).event_store().append(stream_id::random(), {added(std::to_string(i))});
  backend.outbox().run(recorder(), 100);
  BOOST_REQUIRE_EQUAL(published.size(), 9u);
  for (std::size_t i = 0; i < 9; ++i) {
    BOOST_TEST(published[i].position == i + 1);
    BOOST_TEST(published[i].tenant_id == "tenant-" + std::to_string(i % 3));
  }
}

BOOST_AUTO_TEST_CASE(a_rolled_back_append_leaves_nothing_in_the_outbox) { // R-OB, R-L
  backend.in_transaction().add_all(make_listener([](const recorded_event&) { throw std::runtime_error("no"); }));
  BOOST_CHECK_THROW(store().append(stream_id::random(), {added("x")}), std::runtime_error);
  BOOST_TEST(backend.outbox().counts().pending == 0u);
}

BOOST_AUTO_TEST_CASE(attempts_out_of_range_are_refused_at_configuration) { // R-OB
  BOOST_CHECK_THROW(backend.configure(settings{.outbox_attempts = 0}), invalid_argument);
  // A negative count assigned to the unsigned setting wraps round to a huge one.
  BOOST_CHECK_THROW(
    backend.configure(settings{.outbox_attempts = static_cast<std::uint32_t>(-1)}),
    invalid_argument);
  BOOST_CHECK_THROW(backend.configure(settings{.outbox_backoff_base = 0ms}), invalid_argument);
  BOOST_TEST(backend.current_settings().outbox_attempts == 3);
}

BOOST_AUTO_TEST_CASE(the_outbox_is_off_until_enabled) { // R-OB
  auto b = backend_fixture::make();
  b.event_store().append(stream_id::random(), {added("x")});
  BOOST_CHECK_THROW(b.outbox().run(recorder()), invalid_argument);
  BOOST_CHECK_THROW(backend.with_outbox(), invalid_argument); // already on
}

BOOST_AUTO_TEST_CASE(concurrent_runs_never_share_an_entry) { // R-OB
  constexpr int total = 20'000;
  auto s = store();
  append_many(s, total);
  std::mutex m;
  std::set<position> in_flight, seen;
  std::atomic<int> overlaps{0}, duplicates{0};
  auto publisher = [&](const recorded_event& r) {
    {
      std::lock_guard l(m);
      overlaps += !in_flight.insert(r.position).second;
      duplicates += !seen.insert(r.position).second;
    }
    std::lock_guard l(m);
    in_flight.erase(r.position);
  };
  std::vector<std::thread> runners;
  for (int t = 0; t < 4; ++t)
    runners.emplace_back([&] {
      while (backend.outbox().run(publisher, 50) > 0) {
      }
    });
  for (auto& t : runners)
    t.join();
  BOOST_TEST(overlaps.load() == 0);
  BOOST_TEST(duplicates.load() == 0);
  BOOST_TEST(seen.size() == static_cast<std::size_t>(total));
}

BOOST_AUTO_TEST_CASE(continuous_mode_with_30_percent_failures_reconciles) { // R-OB continuous
  constexpr std::size_t total = 100'000;
  constexpr int attempts = 5;
  backend.configure(settings{.outbox_attempts = attempts, .outbox_backoff_base = 1ms,
                             .outbox_backoff_cap = 20ms});
  std::mutex m;
  std::condition_variable cv;
  std::set<position> succeeded;
  std::size_t calls = 0;
  std::mt19937 rng(42); // guarded by m
  std::bernoulli_distribution fails(0.3);
  auto flaky = [&](const recorded_event& r) {
    std::lock_guard l(m);
    ++calls;
    if (fails(rng))
      throw std::runtime_error("flaky broker");
    succeeded.insert(r.position);
    cv.notify_all();
  };
  auto box = backend.outbox();
  box.start(flaky);
  auto s = store();
  append_many(s, total);
  // Wait until every entry is published or dead.
  BOOST_REQUIRE(box.wait_until_empty(300s));
  box.stop();
  auto c = box.counts();
  auto dead = box.dead_letters();
  BOOST_TEST(c.pending == 0u);
  BOOST_TEST(c.published == succeeded.size());
  BOOST_TEST(c.published + dead.size() == total);
  BOOST_TEST(c.dead == dead.size());
  BOOST_TEST(calls == c.published + c.failures);
  for (const auto& d : dead)
    BOOST_TEST(d.attempts == attempts);
  // Dead letters ~ Binomial(100,000, 0.3^5 = 0.00243): mean 243, sd 15.6.
  // Six standard deviations either side: [149, 337].
  BOOST_TEST(dead.size() >= 149u);
  BOOST_TEST(dead.size() <= 337u);
  BOOST_TEST_MESSAGE("dead letters: " << dead.size() << " (expected about 243)");
}

BOOST_AUTO_TEST_CASE(stopping_mid_run_loses_nothing) { // R-OB continuous
  constexpr std::size_t total = 20'000;
  std::atomic<std::size_t> published_count{0};
  auto box = backend.outbox();
  std::mutex m;
  std::condition_variable cv;
  box.start([&](const recorded_event&) {
    if (++published_count == 1000) {
      std::lock_guard l(m);
      cv.notify_all();
    }
  });
  auto s = store();
  append_many(s, total);
  {
    std::unique_lock l(m);
    cv.wait_for(l, 60s, [&] { return published_count >= 1000; });
  }
  box.stop();
  auto c = box.counts();
  BOOST_TEST(c.published == published_count.load());
  BOOST_TEST(c.published + c.pending == total);
  // What was not published is still there.
  while (box.run([&](const recorded_event&) { ++published_count; }, 1000) > 0) {
  }
  BOOST_TEST(published_count.load() == total);
  BOOST_TEST(box.counts().pending == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
