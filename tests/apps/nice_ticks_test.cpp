// The report picture's axes (issue 22, item 7): ticks are round numbers
// (1, 2, 2.5 or 5 × 10^k apart; 1-2-5 on the log axis) labelled with SI
// prefixes and units, and a short run is sampled often enough to draw a curve.
#include "axis_ticks.hpp"
#include "metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

namespace ticks = harness::ticks;

namespace {

std::vector<std::string> labels(const ticks::axis& a, std::string (*f)(double)) {
  std::vector<std::string> out;
  for (double v : a.at)
    out.push_back(f(v));
  return out;
}

std::vector<std::string> strings(std::initializer_list<const char*> l) {
  return {l.begin(), l.end()};
}

} // namespace

BOOST_AUTO_TEST_SUITE(nice_ticks_suite, *boost::unit_test::tolerance(1e-9))

BOOST_AUTO_TEST_CASE(steps_are_1_2_2_5_or_5_times_a_power_of_ten) {
  BOOST_TEST(ticks::nice_step(1'000'000, 4) == 250'000);
  BOOST_TEST(ticks::nice_step(354'878, 5) == 100'000);
  BOOST_TEST(ticks::nice_step(9, 5) == 2);
  BOOST_TEST(ticks::nice_step(1.1, 8) == 0.2);
  BOOST_TEST(ticks::nice_step(72, 5) == 20);
  BOOST_TEST(ticks::nice_step(0, 5) == 1);  // an empty range
  BOOST_TEST(ticks::nice_step(-3, 5) == 1);
}

BOOST_AUTO_TEST_CASE(a_linear_axis_ends_on_the_first_tick_above_the_data) {
  auto a = ticks::linear(354'878, 5);
  BOOST_TEST(a.lo == 0);
  BOOST_TEST(a.hi == 400'000);
  BOOST_TEST(labels(a, ticks::si) == strings({"0", "100k", "200k", "300k", "400k"}),
             boost::test_tools::per_element());
  auto m = ticks::linear(1'000'000, 4);
  BOOST_TEST(labels(m, ticks::si) == strings({"0", "250k", "500k", "750k", "1M"}),
             boost::test_tools::per_element());
  auto f = ticks::linear(0.3, 3); // no 0.30000000000000004
  BOOST_TEST(labels(f, ticks::shortest) == strings({"0", "0.1", "0.2", "0.3"}),
             boost::test_tools::per_element());
  BOOST_TEST(ticks::linear(0).hi == 1); // nothing measured: still an axis
  BOOST_TEST(ticks::linear(1.25e6, 5).hi == 1.25e6); // on a tick: the end
  BOOST_TEST(ticks::linear(1.26e6, 5).hi == 1.5e6);
}

BOOST_AUTO_TEST_CASE(si_prefixes) {
  BOOST_TEST(ticks::si(0) == "0");
  BOOST_TEST(ticks::si(500) == "500");
  BOOST_TEST(ticks::si(250'000) == "250k");
  BOOST_TEST(ticks::si(1'000'000) == "1M");
  BOOST_TEST(ticks::si(1'250'000) == "1.25M");
  BOOST_TEST(ticks::si(2e9) == "2G");
}

BOOST_AUTO_TEST_CASE(latency_and_memory_units) {
  BOOST_TEST(ticks::micros(500) == "500 µs");
  BOOST_TEST(ticks::micros(1000) == "1 ms");
  BOOST_TEST(ticks::micros(2500) == "2.5 ms");
  BOOST_TEST(ticks::micros(20'000) == "20 ms");
  BOOST_TEST(ticks::micros(1e6) == "1 s");
  BOOST_TEST(ticks::mebibytes(64) == "64 MiB");
  BOOST_TEST(ticks::mebibytes(1536) == "1.5 GiB");
}

BOOST_AUTO_TEST_CASE(a_log_axis_uses_1_2_5_around_the_data) {
  // The quick run's latencies: p50 ~2 ms to p99 ~13 ms.
  auto a = ticks::logarithmic(2'300, 13'000);
  BOOST_TEST(labels(a, ticks::micros) == strings({"2 ms", "5 ms", "10 ms", "20 ms"}),
             boost::test_tools::per_element());
  auto b = ticks::logarithmic(400, 2'000);
  BOOST_TEST(labels(b, ticks::micros) == strings({"200 µs", "500 µs", "1 ms", "2 ms"}),
             boost::test_tools::per_element());
  auto one = ticks::logarithmic(1000, 1000); // a single value: still two ends
  BOOST_TEST(one.at.size() == 2u);
  BOOST_TEST(one.lo == 1000);
  BOOST_TEST(one.hi == 2000);
}

BOOST_AUTO_TEST_CASE(a_wide_log_axis_falls_back_to_decades) {
  auto a = ticks::logarithmic(3, 4e6, 8); // 3 µs to 4 s
  BOOST_TEST(labels(a, ticks::micros)
               == strings({"1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s", "10 s"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_time_axis_counts_seconds_then_minutes) {
  auto s = ticks::time_axis(1.1);
  BOOST_TEST(s.hi == 1.2);
  BOOST_TEST(ticks::seconds(s.at[1], false) == "0.2 s");
  auto m = ticks::time_axis(601);
  BOOST_TEST(m.hi == 720);
  BOOST_TEST(ticks::seconds(m.at[1], true) == "2 min");
  BOOST_TEST(ticks::seconds(0, true) == "0");
}

BOOST_AUTO_TEST_CASE(memory_in_mib_then_gib) {
  auto small = ticks::memory_axis(72);
  BOOST_TEST(labels(small, ticks::mebibytes)
               == strings({"0 MiB", "20 MiB", "40 MiB", "60 MiB", "80 MiB"}),
             boost::test_tools::per_element());
  auto large = ticks::memory_axis(1297); // no "1e+03 MiB"
  BOOST_TEST(labels(large, ticks::mebibytes) == strings({"0 MiB", "512 MiB", "1 GiB", "1.5 GiB"}),
             boost::test_tools::per_element());
  BOOST_TEST(ticks::shortest(1000) == "1000");
}

BOOST_AUTO_TEST_CASE(every_run_is_sampled_evenly_and_often_enough_to_draw_a_curve) {
  // A run `run` seconds long of `events` (0 = a timed one, `seconds`) whose
  // commits so far are `progress(share of the time)` of them.
  auto samples = [](double run, std::int64_t events, double seconds, auto progress) {
    int n = 0;
    for (double t = 0; t < run; ++n) {
      auto done = static_cast<std::uint64_t>(static_cast<double>(events) * progress(t / run));
      auto expected = harness::expected_seconds(t, done, events, seconds);
      t += static_cast<double>(harness::sample_period(expected, t).count()) / 1000.0;
    }
    return n;
  };
  auto steady = [](double f) { return f; };
  auto slow_start = [](double f) { return f * f * f; }; // 1/8000 done at 5%: a wild first guess
  BOOST_TEST(samples(0.5, 200'000, 0, steady) >= 20); // the quick run, 200,000 events, here
  BOOST_TEST(samples(0.5, 200'000, 0, slow_start) >= 20);
  BOOST_TEST(samples(2.0, 200'000, 0, steady) >= 60);
  auto timed = samples(25, 0, 25, steady);
  BOOST_TEST(timed >= 100);
  BOOST_TEST(timed <= 130);
  auto soak = samples(600, 0, 600, steady); // about one a second, as before
  BOOST_TEST(soak >= 600);
  BOOST_TEST(soak <= 660);
  BOOST_TEST(samples(600, 200'000, 0, slow_start) <= 700);
  BOOST_TEST(harness::sample_period(0, 0).count() == 25);  // length unknown yet
  BOOST_TEST(harness::sample_period(0, 5).count() == 500); // nothing committed for 5 s
  BOOST_TEST(harness::sample_period(3600, 3000).count() == 1000);
  BOOST_TEST(harness::sample_period(3600, 1).count() == 100); // a tenth of the time so far
  BOOST_TEST(harness::expected_seconds(1, 100, 1000, 0) == 10);
  BOOST_TEST(harness::expected_seconds(1, 100, 1000, 5) == 5); // the sooner end
  BOOST_TEST(harness::expected_seconds(1, 0, 1000, 0) == 0);
  BOOST_TEST(harness::expected_seconds(1, 0, 0, 60) == 60);
}

BOOST_AUTO_TEST_SUITE_END()
