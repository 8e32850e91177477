// The soak's memory rule (R-ST5, issue 11 item 4): the level of resident
// memory at the end of a run against its level at 20% of it. A level is the
// median of a tenth of the run, so a single second's peak neither fails nor
// hides growth.
#include "memory_sampler.hpp"

#include <boost/test/unit_test.hpp>

using harness::memory_sample;

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

/// One sample a second for `seconds`, resident memory from `rss(t)` in MiB.
template <class F>
std::vector<memory_sample> run(int seconds, F rss) {
  std::vector<memory_sample> out;
  for (int t = 0; t <= seconds; ++t)
    out.push_back({static_cast<double>(t), static_cast<std::size_t>(rss(t) * mib), 0});
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(memory_rule_suite)

BOOST_AUTO_TEST_CASE(flat_memory_passes) {
  auto c = harness::rss_growth_check(run(600, [](int) { return 50.0; }), 0.1);
  BOOST_TEST(c.ok, c.detail);
  BOOST_TEST(c.detail.find("+0.0%") != std::string::npos, c.detail);
}

BOOST_AUTO_TEST_CASE(steady_growth_fails) { // +1.2 MiB a minute from 50 MiB, as in stop 16's soak
  auto c = harness::rss_growth_check(run(600, [](int t) { return 50.0 + 1.2 * t / 60; }), 0.1);
  BOOST_TEST(!c.ok, c.detail);
}

BOOST_AUTO_TEST_CASE(growth_just_within_the_bound_passes_and_just_over_fails) {
  // 50 MiB up to 20% of the run, then a step: the levels are 50 and the step.
  auto step = [](double to) { return [to](int t) { return t < 150 ? 50.0 : to; }; };
  BOOST_TEST(harness::rss_growth_check(run(600, step(54.9)), 0.1).ok);
  BOOST_TEST(!harness::rss_growth_check(run(600, step(55.1)), 0.1).ok);
}

BOOST_AUTO_TEST_CASE(single_peaks_at_either_end_do_not_decide) {
  // A 20 MiB spike in the second that a point-to-point rule would compare.
  auto spiky_end = run(600, [](int t) { return t == 600 ? 70.0 : 50.0; });
  BOOST_TEST(harness::rss_growth_check(spiky_end, 0.1).ok);
  auto spiky_base = run(600, [](int t) { return t == 120 ? 70.0 : 60.0; });
  BOOST_TEST(harness::rss_growth_check(spiky_base, 0.1).ok);
}

BOOST_AUTO_TEST_CASE(short_runs_scale_the_windows) { // CI's 60-second soak
  auto grows = run(60, [](int t) { return 50.0 + t; });
  auto c = harness::rss_growth_check(grows, 0.1);
  BOOST_TEST(!c.ok, c.detail);
  BOOST_TEST(c.detail.find("9.0-15.0 s") != std::string::npos, c.detail);
}

BOOST_AUTO_TEST_CASE(too_few_samples_fail) {
  BOOST_TEST(!harness::rss_growth_check({}, 0.1).ok);
  BOOST_TEST(!harness::rss_growth_check({{0, 1, 0}}, 0.1).ok);
}

BOOST_AUTO_TEST_SUITE_END()
