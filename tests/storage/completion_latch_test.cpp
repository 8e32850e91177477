// The completion latch (core/storage/include/sourcery/storage/completion_latch.hpp):
// how a blocking call waits for its asynchronous completion (R-ES0), and how
// RocksDB's blocking append and PostgreSQL's group commit wait (R-ST3).
// Waits are bounded by generous deadlines, so a broken latch fails instead of
// hanging; nothing here asserts how long anything took.
#include <sourcery/detail/completion_latch.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

using namespace sourcery::storage;
using namespace std::chrono_literals;
using clock_type = completion_latch::clock;

namespace {

clock_type::time_point generous() { return clock_type::now() + 60s; }

/// A budget that spins long enough for a releasing thread to come first.
spin_budget long_spins() { return spin_budget(100ms, 100ms); }

} // namespace

BOOST_AUTO_TEST_SUITE(completion_latch_suite)

BOOST_AUTO_TEST_CASE(a_new_latch_is_not_released) {
  completion_latch latch;
  BOOST_TEST(!latch.released());
}

BOOST_AUTO_TEST_CASE(released_before_the_wait_returns_at_once) { // R-ES0
  completion_latch latch;
  latch.release();
  BOOST_TEST(latch.released());
  // A deadline already passed: only a latch that needs no waiting says true.
  BOOST_TEST(latch.wait_until(clock_type::now() - 1s));
  latch.wait();
  BOOST_TEST(latch.wait_until(clock_type::now() - 1s));
}

BOOST_AUTO_TEST_CASE(released_before_the_wait_returns_at_once_when_spinning) {
  auto budget = long_spins();
  completion_latch latch(&budget);
  latch.release();
  BOOST_TEST(latch.wait_until(clock_type::now() - 1s));
}

BOOST_AUTO_TEST_CASE(later_releases_change_nothing) {
  completion_latch latch;
  latch.release();
  latch.release();
  BOOST_TEST(latch.released());
  BOOST_TEST(latch.wait_until(clock_type::now() - 1s));
}

BOOST_AUTO_TEST_CASE(an_unreleased_wait_times_out_and_can_wait_again) {
  completion_latch latch;
  BOOST_TEST(!latch.wait_until(clock_type::now() + 1ms));
  BOOST_TEST(!latch.released());
  BOOST_TEST(!latch.wait_until(clock_type::now() - 1s)); // and again
  // After timing out it is waited on as new: a release from another thread
  // ends the next wait.
  std::thread releaser([&] { latch.release(); });
  BOOST_TEST(latch.wait_until(generous()));
  releaser.join();
}

BOOST_AUTO_TEST_CASE(a_spinning_wait_times_out_too) {
  spin_budget budget(0ns, 1ms);
  completion_latch latch(&budget);
  BOOST_TEST(!latch.wait_until(clock_type::now() + 2ms));
  latch.release();
  BOOST_TEST(latch.wait_until(clock_type::now() - 1s));
}

// Without a budget the waiter sleeps at once; with one it spins first. In
// both, the latch is destroyed as soon as the wait returns, while the
// releasing thread may still be inside release() (ASan would see a touch
// after that).
void release_from_another_thread_wakes_the_waiter(spin_budget* budget) {
  for (int i = 0; i < 500; ++i) {
    auto latch = std::make_unique<completion_latch>(budget);
    std::atomic<bool> waiting{false};
    std::thread releaser([&waiting, p = latch.get(), i] {
      if (i % 2) // half the time, once the waiter is (about to be) waiting
        while (!waiting.load())
          std::this_thread::yield();
      p->release();
    });
    waiting.store(true);
    bool released = i % 3 ? latch->wait_until(generous()) : (latch->wait(), true);
    latch.reset();
    releaser.join();
    BOOST_REQUIRE(released);
  }
}

BOOST_AUTO_TEST_CASE(a_release_from_another_thread_wakes_a_sleeper) { // R-ES0
  release_from_another_thread_wakes_the_waiter(nullptr);
}

BOOST_AUTO_TEST_CASE(a_release_from_another_thread_ends_a_spin_or_wakes_a_sleeper) {
  spin_budget budget(0ns, 50us); // learns from the waits: spins some, sleeps some
  release_from_another_thread_wakes_the_waiter(&budget);
  auto spins = long_spins();
  release_from_another_thread_wakes_the_waiter(&spins);
}

BOOST_AUTO_TEST_CASE(a_second_release_does_not_undo_the_first_for_a_sleeper) {
  // PostgreSQL's group commit may release a sleeper twice (to lead, then as
  // answered by another leader) before it has woken.
  for (int i = 0; i < 300; ++i) {
    auto latch = std::make_unique<completion_latch>();
    std::atomic<bool> waiting{false};
    std::thread releaser([&waiting, p = latch.get()] {
      while (!waiting.load())
        std::this_thread::yield();
      p->release();
      p->release();
    });
    waiting.store(true);
    bool released = latch->wait_until(generous());
    releaser.join(); // the second release may come after the wait returned
    latch.reset();
    BOOST_REQUIRE(released);
  }
}

BOOST_AUTO_TEST_CASE(a_release_racing_with_the_timeout_is_never_lost) {
  // The release lands just before, at or just after the deadline: a wait
  // that says false must still be ended by that release, and one that says
  // true must have seen it.
  for (int i = 0; i < 500; ++i) {
    auto latch = std::make_unique<completion_latch>();
    auto deadline = clock_type::now() + std::chrono::microseconds(i % 50);
    std::thread releaser([p = latch.get(), deadline] {
      while (clock_type::now() < deadline)
        std::this_thread::yield();
      p->release();
    });
    if (latch->wait_until(deadline)) {
      BOOST_REQUIRE(latch->released());
    } else {
      BOOST_REQUIRE(latch->wait_until(generous()));
    }
    latch.reset();
    releaser.join();
  }
}

BOOST_AUTO_TEST_CASE(a_wait_tells_its_budget_how_long_it_took) {
  // A budget that has seen only waits longer than its cap spins for its
  // floor (0 here); waits that end at once bring its average under the cap,
  // so it spins again. (Hours and seconds: far from any real wait.)
  spin_budget budget(0ns, 1s);
  for (int i = 0; i < 64; ++i)
    budget.took(1h);
  BOOST_TEST(budget.get().count() == 0);
  for (int i = 0; i < 64; ++i) {
    completion_latch latch(&budget);
    latch.release();
    latch.wait();
  }
  BOOST_TEST(budget.get().count() > 0);
  BOOST_TEST(budget.get().count() < spin_budget::duration(1s).count());
}

BOOST_AUTO_TEST_SUITE_END()
