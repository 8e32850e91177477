// An append's life at its tenant's actor (actors/src/pending_append.hpp):
// its caller is answered exactly once, whichever way the engine reports —
// during the hand-over, later from the writer's thread, with the waiting
// caller woken first — and with runtime_stopped when the actor is gone. No
// actor system: the test plays the actor. Tests wait for conditions, never
// for time.
#include "../../actors/src/commit_path.hpp"
#include "../../actors/src/pending_append.hpp"

#include <sourcery/errors.hpp>
#include <sourcery/storage/in_memory.hpp>

#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace sourcery;
using namespace sourcery::detail;
using namespace std::chrono_literals;

namespace {

/// What a caller was answered, and on which thread; waits for answers.
struct caller {
  std::mutex m;
  std::condition_variable cv;
  int answers = 0;
  std::optional<append_receipt> receipt;
  std::exception_ptr error;
  std::thread::id answered_on;

  completion<append_receipt> done() {
    return completion<append_receipt>([this](result<append_receipt> r) {
      std::lock_guard l(m);
      ++answers;
      answered_on = std::this_thread::get_id();
      if (r.ok())
        receipt = r.value();
      else
        error = r.exception();
      cv.notify_all();
    });
  }
  bool wait_for(int n) {
    std::unique_lock l(m);
    return cv.wait_for(l, 60s, [&] { return answers >= n; });
  }
  int count() {
    std::lock_guard l(m);
    return answers;
  }
};

/// The tenant actor's side: its queue, and how often the writer told it.
struct actor_fixture {
  std::shared_ptr<storage::engine> engine = storage::make_in_memory_engine();
  codec codecs{std::make_shared<event_registry>()};
  commit_path commits{engine->outbox(), codecs, std::make_shared<listener_registry>()};

  std::mutex m;
  std::condition_variable cv;
  int told = 0; // committed_atom messages
  std::shared_ptr<committed_queue> queue = std::make_shared<committed_queue>([this] {
    std::lock_guard l(m);
    ++told;
    cv.notify_all();
  });

  std::shared_ptr<pending_append> arrive(caller& c, bool caller_waits = false) {
    return std::make_shared<pending_append>(c.done(), caller_waits, queue, commits);
  }
  bool wait_told(int n) {
    std::unique_lock l(m);
    return cv.wait_for(l, 60s, [&] { return told >= n; });
  }
  int told_count() {
    std::lock_guard l(m);
    return told;
  }
  /// What the actor does on committed_atom.
  std::size_t answer_queued() {
    auto taken = queue->take();
    for (auto& p : taken)
      p->answer();
    return taken.size();
  }
};

append_receipt receipt(position p) {
  return append_receipt{p, p, version(p)};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(pending_append_suite, actor_fixture)

BOOST_AUTO_TEST_CASE(reported_during_the_hand_over_the_actor_answers_at_once) {
  caller c;
  auto p = arrive(c);
  pending_append::report(p, receipt(1), nullptr); // an engine that commits synchronously
  BOOST_TEST(c.count() == 0);                     // not before the hand-over returned
  BOOST_TEST(p->handed_over(commit_path::no_shard));
  p->answer();
  BOOST_TEST(c.count() == 1);
  BOOST_TEST(c.receipt->last_position == 1u);
  BOOST_TEST(told_count() == 0); // nothing queued, no message
  BOOST_TEST(queue->take().empty());
}

BOOST_AUTO_TEST_CASE(an_error_during_the_hand_over_is_the_answer) {
  caller c;
  auto p = arrive(c);
  pending_append::report(p, std::nullopt,
                         std::make_exception_ptr(invalid_argument("the filter refused")));
  BOOST_TEST(p->handed_over(commit_path::no_shard));
  p->answer();
  BOOST_REQUIRE(c.wait_for(1));
  BOOST_TEST(code_of(c.error) == errc::invalid_argument);
}

BOOST_AUTO_TEST_CASE(reported_later_by_the_writer_it_comes_back_through_the_queue) {
  caller a, b;
  auto pa = arrive(a), pb = arrive(b);
  BOOST_TEST(!pa->handed_over(commit_path::no_shard));
  BOOST_TEST(!pb->handed_over(commit_path::no_shard));
  std::thread writer([&] { // one write of two appends
    pending_append::report(pa, receipt(1), nullptr);
    pending_append::report(pb, receipt(2), nullptr);
  });
  writer.join();
  BOOST_TEST(told_count() == 1); // one message per tenant for the write, not one per append
  BOOST_TEST(a.count() == 0);    // the writer does not run callers' code
  BOOST_TEST(answer_queued() == 2u);
  BOOST_TEST(a.count() == 1);
  BOOST_TEST(b.count() == 1);
  BOOST_TEST(a.answered_on == std::this_thread::get_id()); // the actor's thread
  BOOST_TEST(b.receipt->last_position == 2u);
  // The next write tells the actor again.
  caller c;
  auto pc = arrive(c);
  BOOST_TEST(!pc->handed_over(commit_path::no_shard));
  std::thread([&] { pending_append::report(pc, receipt(3), nullptr); }).join();
  BOOST_TEST(wait_told(2));
  BOOST_TEST(answer_queued() == 1u);
  BOOST_TEST(c.count() == 1);
}

BOOST_AUTO_TEST_CASE(a_waiting_caller_is_woken_by_the_writer_first) {
  caller c;
  auto p = arrive(c, true);
  BOOST_TEST(!p->handed_over(commit_path::no_shard));
  std::thread::id writer_id;
  std::thread writer([&] { pending_append::report(p, receipt(7), nullptr); });
  writer_id = writer.get_id();
  BOOST_REQUIRE(c.wait_for(1)); // before the actor took anything
  writer.join();
  BOOST_TEST(c.answered_on == writer_id);
  BOOST_TEST(c.receipt->last_position == 7u);
  BOOST_TEST(answer_queued() == 1u); // the actor's answer finds it completed
  BOOST_TEST(c.count() == 1);
  BOOST_TEST(told_count() == 1);
}

BOOST_AUTO_TEST_CASE(an_actor_gone_before_the_outcome_means_runtime_stopped) {
  caller c;
  auto p = arrive(c);
  BOOST_TEST(!p->handed_over(commit_path::no_shard));
  queue.reset(); // the actor quit; its queue went with its state
  std::thread([p = std::move(p)]() mutable {
    pending_append::report(p, receipt(1), nullptr);
    p.reset(); // the engine drops its `done`
  }).join();
  BOOST_REQUIRE(c.wait_for(1));
  BOOST_TEST(code_of(c.error) == errc::runtime_stopped);
}

BOOST_AUTO_TEST_CASE(appends_left_in_the_queue_of_a_gone_actor_report_runtime_stopped) {
  caller c;
  auto p = arrive(c);
  BOOST_TEST(!p->handed_over(commit_path::no_shard));
  std::thread([p = std::move(p)]() mutable { pending_append::report(p, receipt(1), nullptr); })
    .join();
  BOOST_TEST(told_count() == 1);
  queue.reset(); // the actor quit before taking it
  BOOST_REQUIRE(c.wait_for(1));
  BOOST_TEST(code_of(c.error) == errc::runtime_stopped);
}

BOOST_AUTO_TEST_CASE(through_the_commit_path_the_caller_is_answered_once) {
  caller c;
  auto p = arrive(c);
  auto stream = stream_id::random();
  std::vector<raw_event> events{
    raw_event{random_uuid(), timestamp::now(), "item_added", "{}", "{}", std::nullopt}};
  auto store = engine->streams("");
  auto shard = commits.append(*store, stream, 0, events, pending_append::engine_done(p));
  if (p->handed_over(shard)) {
    p->answer();
  } else {
    BOOST_REQUIRE(wait_told(1));
    BOOST_TEST(answer_queued() == 1u);
  }
  BOOST_REQUIRE(c.wait_for(1));
  BOOST_REQUIRE(c.receipt);
  BOOST_TEST(c.receipt->version == std::optional<version>(1));
  commits.drain(); // the engine's `done` told the commit path it ran
  BOOST_TEST(c.count() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
