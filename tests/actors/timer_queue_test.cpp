// The runtime's cancellable timers (actors/src/timer_queue.hpp): what CAF
// 0.17's delayed messages lack. Tests wait for conditions, never for time.
#include "../../actors/src/timer_queue.hpp"

#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

using namespace sourcery::detail;
using namespace std::chrono_literals;

namespace {

/// Records which timers ran, in order; the test waits for a count.
struct runs {
  std::mutex m;
  std::condition_variable cv;
  std::vector<int> order;

  std::function<void()> mark(int n) {
    return [this, n] {
      std::lock_guard l(m);
      order.push_back(n);
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t count) {
    std::unique_lock l(m);
    return cv.wait_for(l, 60s, [&] { return order.size() >= count; });
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(timer_queue_suite)

BOOST_AUTO_TEST_CASE(timers_run_in_due_order_and_leave_nothing_pending) {
  timer_queue timers;
  runs r;
  // The queue's thread waits in a first timer while the others are scheduled.
  std::mutex m;
  std::condition_variable cv;
  bool started = false, scheduled = false;
  timers.schedule(timer_queue::clock::now(), [&] {
    std::unique_lock l(m);
    started = true;
    cv.notify_all();
    cv.wait(l, [&] { return scheduled; });
  });
  {
    std::unique_lock l(m);
    BOOST_REQUIRE(cv.wait_for(l, 60s, [&] { return started; }));
  }
  auto now = timer_queue::clock::now();
  timers.schedule(now - 1s, r.mark(3));
  timers.schedule(now - 3s, r.mark(1));
  timers.schedule(now - 2s, r.mark(2));
  {
    std::lock_guard l(m);
    scheduled = true;
    cv.notify_all();
  }
  BOOST_REQUIRE(r.wait_for(3));
  std::lock_guard l(r.m);
  BOOST_TEST(r.order == (std::vector<int>{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(timers.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(a_cancelled_timer_never_runs_and_is_gone_at_once) {
  timer_queue timers;
  runs r;
  auto later = timers.schedule(timer_queue::clock::now() + 24h, r.mark(1));
  BOOST_TEST(timers.pending() == 1u);
  BOOST_TEST(timers.cancel(later));
  BOOST_TEST(timers.pending() == 0u);
  BOOST_TEST(!timers.cancel(later)); // cancelled before
  // A timer due now runs; the cancelled one does not.
  auto ran = timers.schedule(timer_queue::clock::now(), r.mark(2));
  BOOST_REQUIRE(r.wait_for(1));
  BOOST_TEST(!timers.cancel(ran)); // ran before
  std::lock_guard l(r.m);
  BOOST_TEST(r.order == std::vector<int>{2}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(destroying_the_queue_drops_pending_timers_unrun) {
  runs r;
  {
    timer_queue timers;
    for (int i = 0; i < 1000; ++i)
      timers.schedule(timer_queue::clock::now() + 24h, r.mark(i));
  }
  std::lock_guard l(r.m);
  BOOST_TEST(r.order.empty());
}

BOOST_AUTO_TEST_SUITE_END()
