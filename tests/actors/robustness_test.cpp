// Misuse and shutdown: user code that throws or calls back into the runtime
// from inside it must get an error, never crash, hang or lose records.
#include "fixtures.hpp"

#include "../../actors/src/runtime.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_cast.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <future>
#include <thread>

using namespace sourcery;
using namespace std::chrono_literals;
using test_events::item_added;

namespace {

/// An event whose stored form cannot be decoded when it says "poison".
struct fragile {
  std::string text;
};
BOOST_DESCRIBE_STRUCT(fragile, (), (text))

std::string encode_fragile(const void* e) {
  return serde::encode(*static_cast<const fragile*>(e));
}

std::shared_ptr<const void> decode_fragile(std::string_view json) {
  auto f = serde::decode<fragile>(json);
  if (f.text == "poison")
    throw serde::decode_failure("text", "poisoned value");
  return std::make_shared<const fragile>(std::move(f));
}

struct robustness_fixture : backend_fixture {
  robustness_fixture() {
    backend.registry().add(event_type{.name = "fragile", .type = typeid(fragile),
                                      .encode = &encode_fragile, .decode = &decode_fragile,
                                      .encode_value = nullptr, .decode_value = nullptr,
                                      .encryption = nullptr});
  }
  /// Given three records: good, undecodable, good.
  void given_good_poison_good() {
    store().append(stream_id::random(), {wrap(fragile{"one"}), wrap(fragile{"poison"}),
                                         wrap(fragile{"three"})});
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(robustness_suite, robustness_fixture)

BOOST_AUTO_TEST_CASE(an_undecodable_record_does_not_hide_the_others_from_pull_subscriptions) { // R-SUB, R-E3
  given_good_poison_good();
  auto iter = backend.subscriber().start_from(0).build_iter(60s);
  BOOST_TEST(iter.next()->event.as<fragile>().text == "one");
  BOOST_CHECK_THROW(iter.next(), deserialization_error);
  BOOST_TEST(iter.next()->event.as<fragile>().text == "three");

  auto batch = backend.subscriber().start_from(0).build_batch(3, 60s);
  auto first = batch.next();
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  BOOST_TEST(first[0].position == 1u);
  BOOST_CHECK_THROW(batch.next(), deserialization_error);
  auto rest = batch.next(); // the rest of the cut-short batch, at once
  BOOST_REQUIRE_EQUAL(rest.size(), 1u);
  BOOST_TEST(rest[0].position == 3u);
}

BOOST_AUTO_TEST_CASE(a_throwing_async_callback_leaves_the_tenant_usable) { // R-ES0
  auto s = store();
  auto id = stream_id::random();
  s.append_async(id, {added("a")}, 0, [](result<append_receipt>) {
    throw std::runtime_error("the caller's callback broke");
  });
  std::promise<result<append_receipt>> next;
  s.append_async(id, {added("b")}, 1, [&](result<append_receipt> r) { next.set_value(std::move(r)); });
  auto f = next.get_future();
  BOOST_REQUIRE(f.wait_for(60s) == std::future_status::ready);
  BOOST_TEST(f.get().value().version == std::optional<version>(2));
  BOOST_TEST(s.load_stream(id).size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_throwing_outbox_filter_rolls_the_append_back) { // R-OB
  auto b = backend_fixture::make();
  b.with_outbox([](const outbox_candidate& c) {
    if (c.data.find("\"refuse\"") != std::string_view::npos)
      throw std::runtime_error("filter refused");
    return true;
  });
  auto s = b.event_store();
  BOOST_CHECK_THROW(s.append(stream_id::random(), {added("fine"), added("refuse")}),
                    std::runtime_error);
  BOOST_TEST(!s.position().has_value());
  BOOST_TEST(b.outbox().counts().pending == 0u);
  s.append(stream_id::random(), {added("next")});
  std::vector<position> published;
  b.outbox().run([&](const recorded_event& r) { published.push_back(r.position); });
  b.outbox().run([&](const recorded_event& r) { published.push_back(r.position); });
  BOOST_TEST(published == std::vector<position>{1});
}

BOOST_AUTO_TEST_CASE(requeued_dead_letters_are_published_in_continuous_mode) { // R-OB-DLQ
  backend.configure(settings{.outbox_attempts = 1});
  backend.with_outbox();
  std::atomic<bool> broker_up{false};
  std::atomic<int> published{0};
  auto box = backend.outbox();
  box.start([&](const recorded_event&) {
    if (!broker_up)
      throw std::runtime_error("broker down");
    ++published;
  });
  store().append(stream_id::random(), {added("x")});
  BOOST_REQUIRE(box.wait_until_empty(60s));
  BOOST_REQUIRE_EQUAL(box.dead_letters().size(), 1u);
  broker_up = true;
  BOOST_TEST(box.requeue() == 1u);
  BOOST_TEST(box.wait_until_empty(60s)); // no new commit needed to wake the dispatcher
  BOOST_TEST(published.load() == 1);
  box.stop();
}

BOOST_AUTO_TEST_CASE(stopping_the_outbox_from_its_publisher_is_refused) { // R-OB
  backend.with_outbox();
  auto box = backend.outbox();
  std::promise<std::string> outcome;
  std::atomic<bool> once{false};
  box.start([&](const recorded_event&) {
    if (once.exchange(true))
      return;
    try {
      box.stop();
      outcome.set_value("stopped");
    } catch (const reentrant_call& e) {
      outcome.set_value(e.what());
    }
  });
  store().append(stream_id::random(), {added("x")});
  auto f = outcome.get_future();
  BOOST_REQUIRE(f.wait_for(60s) == std::future_status::ready);
  BOOST_TEST(f.get().find("outbox().stop") != std::string::npos);
  box.stop();
}

BOOST_AUTO_TEST_CASE(a_push_handler_may_stop_its_own_subscription) { // R-SUB push
  given_stream_with(3, store());
  std::promise<push_subscription*> handle;
  auto handle_ready = handle.get_future().share();
  std::promise<void> stopped;
  std::atomic<int> calls{0};
  auto sub = backend.subscriber().start_from(0).build_push(
    [&](std::span<const recorded_event>) {
      if (calls++ == 0) {
        handle_ready.get()->stop(); // must not deadlock on its own batch
        stopped.set_value();
      }
    },
    1);
  handle.set_value(&sub);
  auto f = stopped.get_future();
  BOOST_REQUIRE(f.wait_for(60s) == std::future_status::ready);
  sub.stop();
  BOOST_TEST(calls.load() == 1);
}

BOOST_AUTO_TEST_CASE(dropping_the_backend_while_the_outbox_publishes_shuts_down_cleanly) { // R-B
  std::atomic<std::size_t> published{0};
  {
    auto b = backend_fixture::make();
    b.with_outbox();
    b.outbox().start([&](const recorded_event& r) {
      published += r.event.as<item_added>().name.size() > 0;
    });
    append_many(b.event_store(), 20'000);
    // No stop(): the last handle goes while dispatchers may still publish.
    // The ASan build reports any use of freed tenant or stream data here.
  }
  BOOST_TEST(published.load() <= 20'000u);
}


// -- bad input through the store (issue 14) ------------------------------------------

namespace {

/// An object nested `levels` deep: {"a":{"a":…{"a":0}…}}.
boost::json::object nested_objects(std::size_t levels) {
  boost::json::value v(std::int64_t(0));
  for (std::size_t i = 1; i < levels; ++i)
    v = boost::json::object{{"a", std::move(v)}};
  return boost::json::object{{"a", std::move(v)}};
}

} // namespace

// A context nested deeper than the parse limit was stored, then every read of
// the stream failed ("too deep"), so its aggregate could never be rebuilt.
BOOST_FIXTURE_TEST_CASE(a_context_too_deep_to_read_back_is_refused_at_append,
                        backend_fixture) { // §11, R-C1, R-ES1
  auto s = store();
  auto id = given_stream_with(1, s);
  context deepest;
  deepest.extra = nested_objects(serde::max_depth);
  s.append(id, {wrap(item_added{"deep", 1}, deepest)}, 1);
  auto before = contents(s, id);
  auto position = s.position();

  context deeper;
  deeper.extra = nested_objects(serde::max_depth + 1);
  BOOST_CHECK_EXCEPTION(s.append(id, {wrap(item_added{"deeper", 1}, deeper)}, 2),
                        invalid_argument, [](const invalid_argument& e) {
                          return std::string(e.what()).find("deeper than 64 levels")
                                 != std::string::npos;
                        });
  BOOST_TEST(s.position() == position);
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
  auto events = s.load_stream(id);
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST((events[1].context == deepest));
}

// -- timers left behind (issue 14) ---------------------------------------------------

namespace {

/// How many strong references the actor behind `handle` has: its handles,
/// and every message or timer CAF keeps for it (a delayed message holds one).
template <class Handle>
std::size_t strong_references(const Handle& handle) {
  auto ptr = caf::actor_cast<caf::strong_actor_ptr>(handle);
  return ptr->strong_refs.load() - 1; // not counting `ptr`
}

/// Waits (at most `deadline`) until `done()` holds, asking again whenever
/// the thread gets the processor back.
template <class Condition>
bool eventually(Condition done, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::yield();
  }
  return true;
}

/// Waits (at most `deadline`) until nothing keeps the actor alive.
bool released(const caf::weak_actor_ptr& actor, std::chrono::seconds deadline) {
  return eventually([&] { return actor.lock() == nullptr; }, deadline);
}

} // namespace

// A pull's time limit was a delayed message, which CAF 0.17 cannot cancel:
// each pull that had to wait, then was answered early, left one in the actor
// clock, holding the feed, for its whole time limit (up to a year) — and a
// dropped subscription's feed with it.
BOOST_FIXTURE_TEST_CASE(pulls_answered_early_leave_no_timeout_behind, backend_fixture) { // R-SUB
  constexpr std::size_t pulls = 1000;
  // The feed of build_batch(1, a year), built here to watch its actor.
  auto rt = backend.services().get<detail::runtime>();
  auto f = std::make_shared<detail::feed>();
  f->keep_alive = rt;
  f->decodes = &rt->wiring().decodes();
  f->timelimit = std::chrono::hours(24 * 365);
  f->actor = rt->wiring().spawn_pull_feed({}, 0, nullptr);
  auto feed_actor = caf::actor_cast<caf::weak_actor_ptr>(f->actor);
  batch_subscription sub(f, 1);
  // Each pull finds nothing yet and waits (mostly: the writer appends once
  // the pull was asked for) until the writer's record answers it.
  std::atomic<std::size_t> asked{0};
  std::thread writer([&] {
    auto s = store();
    for (std::size_t i = 1; i <= pulls; ++i)
      if (eventually([&] { return asked.load() >= i; }, 60s))
        s.append(stream_id::random(), {added("e")});
  });
  std::size_t received = 0;
  for (std::size_t i = 1; i <= pulls; ++i) {
    asked = i;
    received += sub.next().size();
  }
  writer.join();
  BOOST_TEST(received == pulls);
  // The handle in `f`, perhaps a scheduler's while the feed finishes its
  // last message — not one per pull.
  BOOST_TEST(strong_references(f->actor) <= 3u);
  // Dropped, nothing keeps the feed alive.
  sub = batch_subscription(nullptr, 1);
  f.reset();
  BOOST_TEST(released(feed_actor, 60s));
}

namespace {

/// Publishes and remembers positions; tests wait for one.
struct publish_log {
  std::mutex m;
  std::condition_variable cv;
  std::vector<position> published;

  outbox_publisher publisher() {
    return [this](const recorded_event& r) {
      std::lock_guard l(m);
      published.push_back(r.position);
      cv.notify_all();
    };
  }
  bool wait_for(position p) {
    std::unique_lock l(m);
    return cv.wait_for(l, 60s, [&] {
      return std::find(published.begin(), published.end(), p) != published.end();
    });
  }
};

} // namespace

// A retry was a delayed message to the dispatcher that failed: stop() could
// not cancel it, so it kept the stopped dispatcher (and its thread) alive
// until its backoff passed; and stop() made the held entry pending again, so
// a restart published it at once, skipping the backoff.
BOOST_FIXTURE_TEST_CASE(a_restarted_outbox_waits_out_the_backoff_of_a_failed_entry,
                        backend_fixture) { // R-OB continuous
  backend.with_outbox();
  backend.configure(settings{.outbox_attempts = 5, .outbox_backoff_base = 1h,
                             .outbox_backoff_cap = 1h});
  auto rt = backend.services().get<detail::runtime>();
  auto box = backend.outbox();
  auto s = store();
  auto id = stream_id::random(); // one tenant: one shard, one dispatcher
  auto failed = s.append(id, {added("fails once")}).last_position;
  box.start([](const recorded_event&) { throw std::runtime_error("broker down"); });
  BOOST_REQUIRE(eventually([&] { return box.counts().failures == 1u; }, 60s));
  std::vector<caf::weak_actor_ptr> stopped;
  for (const auto& d : rt->outbox().dispatchers())
    stopped.push_back(caf::actor_cast<caf::weak_actor_ptr>(d));
  box.stop();
  // No timer of the stopped dispatchers is left to keep them alive.
  for (const auto& d : stopped)
    BOOST_TEST(released(d, 60s));

  publish_log log;
  box.start(log.publisher());
  // A fresh entry of the same shard, after the failed one in position order.
  auto fresh = s.append(id, {added("fresh")}, 1).last_position;
  BOOST_REQUIRE(log.wait_for(fresh));
  box.stop();
  std::lock_guard l(log.m);
  BOOST_TEST(log.published == std::vector<position>{fresh}, boost::test_tools::per_element());
  BOOST_TEST(box.counts().pending == 1u); // the failed entry, still in its backoff
  BOOST_TEST(failed < fresh);
}

// ...and it is retried when the rest of its backoff has passed: by the next
// dispatcher, or by run() while continuous mode is stopped.
BOOST_FIXTURE_TEST_CASE(an_entry_held_across_a_restart_is_retried_after_its_backoff,
                        backend_fixture) { // R-OB continuous
  backend.with_outbox();
  backend.configure(settings{.outbox_attempts = 5, .outbox_backoff_base = 200ms,
                             .outbox_backoff_cap = 200ms});
  auto box = backend.outbox();
  auto s = store();
  auto first = s.append(stream_id::random(), {added("a")}).last_position;
  auto second = s.append(stream_id::random(), {added("b")}).last_position;
  box.start([](const recorded_event&) { throw std::runtime_error("broker down"); });
  BOOST_REQUIRE(eventually([&] { return box.counts().failures == 2u; }, 60s));
  box.stop();
  publish_log log;
  // Stopped: run() takes an entry once its backoff passed.
  BOOST_REQUIRE(eventually([&] { return box.run(log.publisher(), 1) == 1u; }, 60s));
  // Restarted: the dispatcher retries the other one.
  box.start(log.publisher());
  BOOST_REQUIRE(log.wait_for(first));
  BOOST_REQUIRE(log.wait_for(second));
  box.stop();
  auto c = box.counts();
  BOOST_TEST(c.pending == 0u);
  BOOST_TEST(c.published == 2u);
  BOOST_TEST(c.failures == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
