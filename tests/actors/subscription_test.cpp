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

/// A push consumer actor handing each batch to `shared`. The collector is
/// passed as an argument: CAF 0.17 trips UBSan's null check when a
/// function-based actor is spawned without one.
caf::actor spawn_collecting(caf::actor_system& system, std::shared_ptr<collector> shared) {
  return system.spawn(
    [](caf::event_based_actor*, std::shared_ptr<collector> shared) -> caf::behavior {
      return {[shared](records_atom, const std::vector<recorded_event>& rs) {
        shared->handler()(rs);
      }};
    },
    std::move(shared));
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
  auto consumer = spawn_collecting(backend.actor_system(), shared);
  auto sub = backend.subscriber().start_from(0).build_push_to(consumer, 3);
  BOOST_REQUIRE(shared->wait_for(10));
  BOOST_TEST(positions(shared->records).back() == 10u);
  sub.stop();
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}


// -- callbacks on the pool (R-SUB-POOL) and caught up (R-SUB-CAUGHT-UP) ---------

namespace {

/// A backend whose push callbacks run on `threads` pool threads.
sourcery::backend backend_with_callback_threads(std::size_t threads) {
  runtime_options o;
  o.subscription_callback_threads = threads;
  auto b = backend::on(test_engine::make(), o);
  b.registry().add<test_events::item_added>("item_added");
  b.registry().add<test_events::item_removed>("item_removed");
  return b;
}

/// A gate a test opens once; handlers may wait at it.
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard l(m);
    open = true;
    cv.notify_all();
  }
  bool wait() {
    std::unique_lock l(m);
    return cv.wait_for(l, 60s, [&] { return open; });
  }
};

/// Per subscription: whether two calls ever overlapped, whether positions
/// ever went backwards, and the threads the calls ran on.
struct serial_probe {
  collector got;
  std::atomic<bool> inside{false};
  std::atomic<bool> overlapped{false};
  std::atomic<bool> out_of_order{false};
  std::mutex m;
  std::set<std::thread::id> threads; // GUARDED_BY(m)
  position last = 0;                 // only inside the handler

  batch_handler handler() {
    return [this](std::span<const recorded_event> batch) {
      if (inside.exchange(true))
        overlapped = true;
      for (const auto& r : batch) {
        if (r.position <= last)
          out_of_order = true;
        last = r.position;
      }
      {
        std::lock_guard l(m);
        threads.insert(std::this_thread::get_id());
      }
      std::this_thread::yield(); // give an overlapping call a chance to show
      inside = false;
      got.handler()(batch);
    };
  }
};

void append_singles(event_store s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    s.append(stream_id::random(), {backend_fixture::added(std::to_string(i))});
}

} // namespace

BOOST_AUTO_TEST_CASE(callbacks_run_serial_and_in_order_on_the_bounded_pool) { // R-SUB-POOL
  auto b = backend_with_callback_threads(2);
  auto s = b.event_store();
  append_singles(s, 20);
  std::vector<std::unique_ptr<serial_probe>> probes;
  std::vector<push_subscription> subs;
  for (int i = 0; i < 8; ++i) {
    probes.push_back(std::make_unique<serial_probe>());
    subs.push_back(b.subscriber().start_from(0).build_push(probes.back()->handler(), 3));
  }
  append_singles(s, 20); // live too
  std::set<std::thread::id> all_threads;
  for (auto& p : probes) {
    BOOST_REQUIRE(p->got.wait_for(40));
    std::lock_guard l(p->got.m);
    BOOST_TEST(positions(p->got.records).size() == 40u);
    BOOST_TEST(p->got.records.back().position == 40u);
    BOOST_TEST(!p->overlapped.load());
    BOOST_TEST(!p->out_of_order.load());
    std::lock_guard t(p->m);
    all_threads.insert(p->threads.begin(), p->threads.end());
  }
  // Eight subscriptions, two threads: no thread of their own.
  BOOST_TEST(all_threads.size() <= 2u);
  BOOST_TEST(!all_threads.count(std::this_thread::get_id()));
  for (auto& sub : subs)
    sub.stop();
}

BOOST_AUTO_TEST_CASE(a_blocked_callback_delays_only_its_own_subscription) { // R-SUB-POOL
  auto b = backend_with_callback_threads(2);
  auto s = b.event_store();
  append_singles(s, 10);
  gate slow_gate;
  std::atomic<bool> slow_entered{false};
  collector slow_got;
  auto slow = b.subscriber().start_from(0).build_push(
    [&](std::span<const recorded_event> batch) {
      slow_entered = true;
      slow_gate.wait(); // holds one pool thread until the test opens the gate
      slow_got.handler()(batch);
    });
  std::vector<std::unique_ptr<collector>> others;
  std::vector<push_subscription> subs;
  for (int i = 0; i < 5; ++i) {
    others.push_back(std::make_unique<collector>());
    subs.push_back(b.subscriber().start_from(0).build_push(others.back()->handler(), 4));
  }
  append_singles(s, 10);
  for (auto& c : others) // all delivered while the slow one is still blocked
    BOOST_TEST(c->wait_for(20));
  {
    std::lock_guard l(slow_got.m);
    BOOST_TEST(slow_got.records.empty());
  }
  slow_gate.release();
  BOOST_TEST(slow_got.wait_for(20));
  BOOST_TEST(slow_entered.load());
  slow.stop();
  for (auto& sub : subs)
    sub.stop();
}

BOOST_AUTO_TEST_CASE(a_throwing_callback_stops_only_its_own_subscription) { // R-SUB-POOL
  auto b = backend_with_callback_threads(2);
  auto s = b.event_store();
  append_singles(s, 3);
  std::atomic<int> calls{0};
  std::mutex m;
  std::condition_variable called;
  auto bad = b.subscriber().start_from(0).build_push([&](auto) {
    {
      std::lock_guard l(m);
      ++calls;
    }
    called.notify_all();
    throw std::runtime_error("consumer broke");
  });
  collector good;
  auto fine = b.subscriber().start_from(0).build_push(good.handler(), 2);
  BOOST_REQUIRE(good.wait_for(3));
  append_singles(s, 3);
  BOOST_REQUIRE(good.wait_for(6));
  BOOST_TEST(positions(good.records).back() == 6u);
  BOOST_TEST(!fine.error());
  {
    // The other subscription's progress says nothing of this one's: wait
    // for its (only) call before stopping it.
    std::unique_lock l(m);
    BOOST_REQUIRE(called.wait_for(l, 60s, [&] { return calls.load() >= 1; }));
  }
  bad.stop(); // waits for the call in progress; none follows
  BOOST_TEST(calls.load() == 1);
  BOOST_REQUIRE(bad.error());
  BOOST_CHECK_THROW(std::rethrow_exception(bad.error()), std::runtime_error);
  fine.stop();
}

BOOST_AUTO_TEST_CASE(a_callback_stops_its_own_subscription) { // R-SUB-POOL, R-SUB push
  auto b = backend_with_callback_threads(1); // one thread: a deadlock would show
  auto s = b.event_store();
  append_singles(s, 5);
  gate built;
  std::optional<push_subscription> self;
  std::atomic<int> calls{0};
  std::promise<void> stopped;
  self.emplace(b.subscriber().start_from(0).build_push(
    [&](auto) {
      built.wait();
      if (calls++ == 0) {
        self->stop(); // returns: it does not wait for itself
        stopped.set_value();
      }
    },
    2));
  built.release();
  BOOST_REQUIRE(stopped.get_future().wait_for(60s) == std::future_status::ready);
  self->stop(); // from here: returns once the handler returned
  collector witness; // the same single pool thread serves another subscription
  auto other = b.subscriber().start_from(0).build_push(witness.handler());
  append_singles(s, 5);
  BOOST_REQUIRE(witness.wait_for(10));
  BOOST_TEST(calls.load() == 1);
  BOOST_TEST(!self->error());
  other.stop();
}

BOOST_AUTO_TEST_CASE(many_more_subscriptions_than_pool_threads_all_deliver) { // R-SUB-POOL
  auto b = backend_with_callback_threads(2);
  auto s = b.event_store();
  append_singles(s, 10);
  std::vector<std::unique_ptr<collector>> got;
  std::vector<push_subscription> subs;
  for (int i = 0; i < 100; ++i) {
    got.push_back(std::make_unique<collector>());
    subs.push_back(b.subscriber().start_from(0).build_push(got.back()->handler(), 3));
  }
  append_singles(s, 10);
  for (auto& c : got) {
    BOOST_REQUIRE(c->wait_for(20));
    std::lock_guard l(c->m);
    BOOST_TEST(positions(c->records) == [] {
      std::vector<position> p;
      for (position i = 1; i <= 20; ++i)
        p.push_back(i);
      return p;
    }());
  }
  for (auto& sub : subs)
    sub.stop();
}

BOOST_AUTO_TEST_CASE(pool_threads_out_of_range_are_refused) { // R-SUB-POOL
  runtime_options o;
  o.subscription_callback_threads = 0;
  BOOST_CHECK_THROW(backend::in_memory(o), invalid_argument);
  o.subscription_callback_threads = 1025;
  BOOST_CHECK_THROW(backend::in_memory(o), invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_callback_subscription_tells_when_it_is_caught_up) { // R-SUB-CAUGHT-UP
  auto s = store();
  given_stream_with(5, s);
  gate first_batch;
  collector got;
  std::atomic<int> caught_up_calls{0};
  std::atomic<std::size_t> seen_when_caught_up{0};
  std::atomic<bool> flag_in_callback{false};
  std::optional<push_subscription> sub;
  gate built;
  sub.emplace(backend.subscriber().start_from(0).build_push(
    [&](std::span<const recorded_event> batch) {
      built.wait();
      if (batch.front().position == 1)
        first_batch.wait(); // not caught up while this handler has not returned
      got.handler()(batch);
    },
    [&] {
      ++caught_up_calls;
      std::lock_guard l(got.m);
      seen_when_caught_up = got.records.size();
      flag_in_callback = sub->caught_up();
    },
    2));
  built.release();
  BOOST_TEST(!sub->caught_up());
  first_batch.release();
  BOOST_REQUIRE(sub->wait_caught_up(60s));
  BOOST_REQUIRE(got.wait_for(5));
  append_singles(s, 3); // live: stays caught up, on_caught_up is not called again
  BOOST_REQUIRE(got.wait_for(8));
  sub->stop();
  BOOST_TEST(caught_up_calls.load() == 1);
  BOOST_TEST(seen_when_caught_up.load() == 5u); // after every stored record's handler returned
  BOOST_TEST(flag_in_callback.load());
  BOOST_TEST(sub->caught_up());
}

BOOST_AUTO_TEST_CASE(an_actor_subscription_tells_when_it_is_caught_up) { // R-SUB-CAUGHT-UP
  auto s = store();
  given_stream_with(10, s);
  auto shared = std::make_shared<collector>();
  auto consumer = spawn_collecting(backend.actor_system(), shared);
  auto sub = backend.subscriber().start_from(0).build_push_to(consumer, 3);
  BOOST_REQUIRE(sub.wait_caught_up(60s));
  {
    std::lock_guard l(shared->m); // every stored record was answered before
    BOOST_TEST(shared->records.size() == 10u);
  }
  sub.stop();
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(pull_subscriptions_tell_when_they_are_caught_up) { // R-SUB-CAUGHT-UP
  auto s = store();
  given_stream_with(5, s);
  auto batches = backend.subscriber().start_from(0).build_batch(2, 1s);
  BOOST_TEST(!batches.caught_up());
  BOOST_TEST(batches.next().size() == 2u);
  BOOST_TEST(!batches.caught_up()); // three more committed
  BOOST_TEST(batches.next().size() == 2u);
  BOOST_TEST(!batches.caught_up());
  BOOST_TEST(batches.next().size() == 1u);
  BOOST_TEST(batches.caught_up());

  auto iter = backend.subscriber().start_from(0).build_iter(1s);
  BOOST_TEST(!iter.caught_up());
  for (int i = 0; i < 4; ++i) {
    BOOST_REQUIRE(iter.next());
    BOOST_TEST(!iter.caught_up()); // the fifth is fetched, not yet returned
  }
  BOOST_REQUIRE(iter.next());
  BOOST_TEST(iter.caught_up());
  append_singles(s, 1);
  BOOST_REQUIRE(iter.next());
  BOOST_TEST(iter.caught_up()); // stays

  auto empty_end = backend.subscriber().start_from(s.position()).build_iter(0.1s);
  BOOST_TEST(!empty_end.next());
  BOOST_TEST(empty_end.caught_up());
}

BOOST_AUTO_TEST_SUITE_END()
