// The metrics' building blocks (R-MET): instruments that count without a
// lock, snapshots, and the Prometheus text exposition format.
#include <sourcery/detail/instruments.hpp>
#include <sourcery/metrics.hpp>

#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

using namespace sourcery;

BOOST_AUTO_TEST_SUITE(instruments)

BOOST_AUTO_TEST_CASE(a_histogram_puts_each_value_in_the_first_bucket_whose_bound_holds_it) {
  // R-MET: bucket i counts values ≤ bounds[i] (Prometheus's `le`).
  detail::histogram h({1, 2, 4});
  for (std::uint64_t x : {0u, 1u, 2u, 3u, 4u, 5u, 100u})
    h.observe(x);
  auto v = h.value();
  BOOST_TEST(v.counts == (std::vector<std::uint64_t>{2, 1, 2, 2}), boost::test_tools::per_element());
  BOOST_TEST(v.count == 7u);
  BOOST_TEST(v.sum == 115.0);
}

BOOST_AUTO_TEST_CASE(a_scaled_histogram_reports_in_its_exported_unit) {
  // R-MET: latencies are observed in nanoseconds and exported in seconds.
  detail::histogram h(detail::latency_bounds(), 1e-9);
  h.observe(std::chrono::microseconds(30)); // in (25 µs, 50 µs]
  auto v = h.value();
  BOOST_TEST(v.counts[2] == 1u);
  BOOST_TEST(v.sum == 30e-6, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(counts_from_many_threads_add_up) {
  // R-MET: no lock, nothing lost.
  detail::counter c;
  detail::histogram h({10});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100'000; ++i) {
        c.add();
        h.observe(static_cast<std::uint64_t>(i % 20));
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(c.value() == 400'000u);
  BOOST_TEST(h.value().count == 400'000u);
  BOOST_TEST(h.value().counts[0] == 4u * 55'000u); // 0..10 of every 20
}

BOOST_AUTO_TEST_CASE(a_quantile_interpolates_within_its_bucket) {
  histogram_value v{{1, 2}, {0, 10, 0}, 15, 10};
  BOOST_TEST(v.quantile(0.5) == 1.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(histogram_value{}.quantile(0.99) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exposition)

BOOST_AUTO_TEST_CASE(counters_gauges_and_histograms_are_written_in_the_text_format) {
  // R-MET: HELP, TYPE, one line per series; histograms as cumulative
  // buckets up to +Inf, then _sum and _count.
  metrics_snapshot s;
  auto c = detail::family("sourcery_x_total", "Things counted", metric_type::counter);
  c.samples.push_back({{{"code", "a"}}, 3, std::nullopt});
  c.samples.push_back({{{"code", "b"}}, 0, std::nullopt});
  s.families.push_back(std::move(c));
  s.families.push_back(detail::single("sourcery_level", "A level", metric_type::gauge, 2.5));
  detail::histogram h({0.001, 0.01}, 1e-9);
  h.observe(std::chrono::microseconds(500));
  h.observe(std::chrono::milliseconds(5));
  h.observe(std::chrono::seconds(1));
  s.families.push_back(detail::single("sourcery_wait_seconds", "Waits", h));
  BOOST_TEST(prometheus_text(s) ==
             "# HELP sourcery_x_total Things counted\n"
             "# TYPE sourcery_x_total counter\n"
             "sourcery_x_total{code=\"a\"} 3\n"
             "sourcery_x_total{code=\"b\"} 0\n"
             "# HELP sourcery_level A level\n"
             "# TYPE sourcery_level gauge\n"
             "sourcery_level 2.5\n"
             "# HELP sourcery_wait_seconds Waits\n"
             "# TYPE sourcery_wait_seconds histogram\n"
             "sourcery_wait_seconds_bucket{le=\"0.001\"} 1\n"
             "sourcery_wait_seconds_bucket{le=\"0.01\"} 2\n"
             "sourcery_wait_seconds_bucket{le=\"+Inf\"} 3\n"
             "sourcery_wait_seconds_sum 1.0055\n"
             "sourcery_wait_seconds_count 3\n");
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped) {
  // R-MET: a subscription named by a user may hold any character.
  metrics_snapshot s;
  auto f = detail::family("sourcery_y", "line one\nback\\slash", metric_type::gauge);
  f.samples.push_back({{{"subscription", "a \"b\"\\c\nd"}}, 1, std::nullopt});
  s.families.push_back(std::move(f));
  BOOST_TEST(prometheus_text(s) ==
             "# HELP sourcery_y line one\\nback\\\\slash\n"
             "# TYPE sourcery_y gauge\n"
             "sourcery_y{subscription=\"a \\\"b\\\"\\\\c\\nd\"} 1\n");
}

BOOST_AUTO_TEST_CASE(a_snapshot_finds_series_by_name_and_labels) {
  metrics_snapshot s;
  auto f = detail::family("sourcery_lag", "Lag", metric_type::gauge);
  f.samples.push_back({{{"subscription", "a"}}, 4, std::nullopt});
  s.families.push_back(std::move(f));
  BOOST_TEST(s.value("sourcery_lag", {{"subscription", "a"}}) == 4.0);
  BOOST_TEST(s.value("sourcery_lag", {{"subscription", "b"}}) == 0.0);
  BOOST_TEST(s.sample("sourcery_none") == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
