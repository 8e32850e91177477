// The spin budget (core/storage/include/sourcery/storage/spin_budget.hpp):
// how long a waiting thread spins before it sleeps, learnt from its recent
// waits. The waits here are fed in, not measured, so the expected budgets are
// exact; nothing asserts how long anything took.
#include <sourcery/detail/spin_budget.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>

using namespace sourcery::storage;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(spin_budget_suite)

BOOST_AUTO_TEST_CASE(a_new_budget_spins_for_its_floor) {
  spin_budget b(10us, 100us);
  BOOST_TEST(b.get().count() == spin_budget::duration(10us).count());
}

BOOST_AUTO_TEST_CASE(it_spins_one_and_a_half_times_the_average_wait) {
  spin_budget b(10us, 100us);
  b.took(400us); // the average moves an eighth of the way: 50 µs
  BOOST_TEST(b.get().count() == spin_budget::duration(75us).count());
}

BOOST_AUTO_TEST_CASE(it_never_spins_below_its_floor) {
  spin_budget b(10us, 100us);
  for (int i = 0; i < 100; ++i)
    b.took(1us);
  BOOST_TEST(b.get().count() == spin_budget::duration(10us).count());
}

BOOST_AUTO_TEST_CASE(it_spins_at_most_its_cap_while_waits_average_under_it) {
  spin_budget b(10us, 100us);
  b.took(400us); // average 50 µs
  b.took(400us); // average 93.75 µs ≤ cap; 1.5 × that > cap
  BOOST_TEST(b.get().count() == spin_budget::duration(100us).count());
}

BOOST_AUTO_TEST_CASE(waits_longer_than_the_cap_make_it_spin_for_its_floor) {
  spin_budget b(10us, 100us);
  for (int i = 0; i < 3; ++i)
    b.took(400us); // average 132 µs > cap
  BOOST_TEST(b.get().count() == spin_budget::duration(10us).count());
}

BOOST_AUTO_TEST_CASE(one_very_long_wait_counts_as_four_caps) {
  spin_budget b(10us, 100us);
  b.took(1h); // counted as 400 µs: the average is 50 µs, not hours
  BOOST_TEST(b.get().count() == spin_budget::duration(75us).count());
}

BOOST_AUTO_TEST_CASE(it_learns_back_from_recent_short_waits) {
  spin_budget b(10us, 100us);
  for (int i = 0; i < 50; ++i)
    b.took(1h);
  BOOST_TEST(b.get().count() == spin_budget::duration(10us).count()); // long waits: floor
  for (int i = 0; i < 30; ++i)
    b.took(80us); // the average comes down to within a few µs of 80 µs
  BOOST_TEST(b.get().count() == spin_budget::duration(100us).count()); // 1.5 × ≥ cap
  for (int i = 0; i < 60; ++i)
    b.took(40us); // average ~40 µs
  BOOST_TEST(b.get().count() > spin_budget::duration(55us).count());
  BOOST_TEST(b.get().count() < spin_budget::duration(65us).count());
}

BOOST_AUTO_TEST_CASE(spin_returns_at_once_when_done) {
  spin_budget b(1h, 1h);
  int calls = 0;
  BOOST_TEST(b.spin([&] { return ++calls > 0; }));
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(spin_goes_on_until_done) {
  spin_budget b(1h, 1h); // a budget it never spends
  int calls = 0;
  BOOST_TEST(b.spin([&] { return ++calls == 1000; }));
  BOOST_TEST(calls == 1000);
}

BOOST_AUTO_TEST_CASE(spin_gives_up_when_the_budget_is_spent) {
  spin_budget b(0ns, 0ns);
  int calls = 0;
  BOOST_TEST(!b.spin([&] {
    ++calls;
    return false;
  }));
  BOOST_TEST(calls > 1); // it looked more than once, then gave up
}

BOOST_AUTO_TEST_SUITE_END()
