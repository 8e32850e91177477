// Metrics (R-MET): backend.metrics() counts what the runtime did — appends,
// refusals, subscriptions, the outbox, tenants, the engine's own — and the
// endpoint serves it in the Prometheus text format, on every engine.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace sourcery;
using namespace std::chrono_literals;

namespace {

struct unregistered {
  int x = 0;
};
BOOST_DESCRIBE_STRUCT(unregistered, (), (x))

/// A gate the push handler waits at until the test opens it.
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false, entered = false;
  void wait() {
    std::unique_lock lock(m);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void wait_entered() {
    std::unique_lock lock(m);
    cv.wait_for(lock, 30s, [&] { return entered; });
  }
  void release() {
    std::lock_guard lock(m);
    open = true;
    cv.notify_all();
  }
};

/// The HTTP response to `GET path` from 127.0.0.1:`port`, whole.
std::string http_get(unsigned short port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  auto request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  BOOST_REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

unsigned short port_of(const std::string& address) {
  return static_cast<unsigned short>(std::stoi(address.substr(address.rfind(':') + 1)));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(metrics_suite, backend_fixture)

BOOST_AUTO_TEST_CASE(committed_appends_and_their_events_are_counted) { // R-MET
  auto s = store();
  s.append(stream_id::random(), {added("a")});
  s.append(stream_id::random(), {added("b"), added("c")});
  s.append(stream_id::random(), {added("d"), added("e"), added("f")});
  auto m = backend.metrics();
  BOOST_TEST(m.value("sourcery_appends_total") == 3.0);
  BOOST_TEST(m.value("sourcery_events_committed_total") == 6.0);
  BOOST_TEST(m.value("sourcery_last_position") == 6.0);
  BOOST_REQUIRE(m.sample("sourcery_append_duration_seconds"));
}

BOOST_AUTO_TEST_CASE(one_append_in_16_per_thread_is_timed) { // R-MET4
  // A fresh thread: its 1st and 17th of 32 appends are timed.
  std::thread([s = store()]() mutable {
    for (int i = 0; i < 32; ++i)
      s.append(stream_id::random(), {added("a")});
  }).join();
  auto m = backend.metrics();
  BOOST_TEST(m.value("sourcery_appends_total") == 32.0);
  const auto* latency = m.sample("sourcery_append_duration_seconds");
  BOOST_REQUIRE(latency);
  BOOST_REQUIRE(latency->histogram);
  BOOST_TEST(latency->histogram->count == 2u);
  BOOST_TEST(latency->histogram->sum > 0.0);
}

BOOST_AUTO_TEST_CASE(refused_appends_are_counted_by_error_code_and_commit_nothing) { // R-MET
  auto s = store();
  auto id = given_stream_with(2, s);
  BOOST_CHECK_THROW(s.append(id, {added("late")}, 0), concurrent_stream_write_error);
  BOOST_CHECK_THROW(s.append(id, {wrap(unregistered{1})}), invalid_argument);
  BOOST_CHECK_THROW(s.append(id, {added("late")}, 5), concurrent_stream_write_error);
  auto m = backend.metrics();
  BOOST_TEST(m.value("sourcery_appends_refused_total", {{"code", "concurrent_stream_write_error"}}) == 2.0);
  BOOST_TEST(m.value("sourcery_appends_refused_total", {{"code", "invalid_argument"}}) == 1.0);
  // Always there, for alerts, also at 0.
  BOOST_REQUIRE(m.sample("sourcery_appends_refused_total", {{"code", "storage_unavailable"}}));
  BOOST_TEST(m.value("sourcery_appends_total") == 1.0);
  BOOST_TEST(m.value("sourcery_events_committed_total") == 2.0);
}

BOOST_AUTO_TEST_CASE(a_named_subscription_reports_what_it_delivered_and_its_lag) { // R-MET
  auto s = store();
  gate g;
  std::atomic<std::size_t> got{0};
  auto sub = backend.subscriber().start_from(0).named("billing").build_push(
    [&](std::span<const recorded_event> batch) {
      g.wait();
      got += batch.size();
    },
    100);
  s.append(stream_id::random(), {added("a"), added("b"), added("c"), added("d"), added("e")});
  g.wait_entered(); // the handler holds the first batch: nothing handed over yet
  auto stalled = backend.metrics();
  BOOST_TEST(stalled.value("sourcery_subscription_lag_events", {{"subscription", "billing"}}) == 5.0);
  BOOST_TEST(stalled.value("sourcery_subscription_position", {{"subscription", "billing"}}) == 0.0);
  BOOST_TEST(stalled.value("sourcery_subscription_lag_seconds", {{"subscription", "billing"}}) >= 0.0);
  BOOST_TEST(stalled.value("sourcery_subscriptions") == 1.0);
  BOOST_TEST(backend.metrics().value("sourcery_subscriptions") == 1.0); // a scrape leaves it be
  g.release();
  // stop() returns once the batch in the handler is done, and the feed
  // counts a batch before it lets go of it.
  sub.stop();
  BOOST_TEST(got == 5u);
  auto caught_up = backend.metrics();
  BOOST_TEST(caught_up.value("sourcery_subscription_delivered_total", {{"subscription", "billing"}}) == 5.0);
  BOOST_TEST(caught_up.value("sourcery_subscription_lag_events", {{"subscription", "billing"}}) == 0.0);
  BOOST_TEST(caught_up.value("sourcery_subscription_position", {{"subscription", "billing"}}) == 5.0);
  BOOST_TEST(caught_up.value("sourcery_subscription_lag_seconds", {{"subscription", "billing"}}) == 0.0);
}

BOOST_AUTO_TEST_CASE(a_filtered_subscription_that_skipped_everything_has_no_lag) { // R-MET
  auto s = store();
  s.append(stream_id::random("cart"), {added("a"), added("b")});
  auto sub = backend.subscriber().start_from(0).named("none").to_category("nothing-here").build_batch(10, 0.1);
  BOOST_TEST(sub.next().empty()); // answered at the time limit, everything read and skipped
  auto m = backend.metrics();
  BOOST_TEST(m.value("sourcery_subscription_position", {{"subscription", "none"}}) == 2.0);
  BOOST_TEST(m.value("sourcery_subscription_lag_events", {{"subscription", "none"}}) == 0.0);
  BOOST_TEST(m.value("sourcery_subscription_delivered_total", {{"subscription", "none"}}) == 0.0);
}

BOOST_AUTO_TEST_CASE(pull_subscriptions_are_counted_and_unnamed_ones_get_an_id) { // R-MET
  auto s = store();
  given_stream_with(3, s);
  auto sub = backend.subscriber().start_from(0).build_batch(10, 0.5);
  BOOST_TEST(sub.next().size() == 3u);
  auto m = backend.metrics();
  const auto* f = m.find("sourcery_subscription_delivered_total");
  BOOST_REQUIRE(f);
  BOOST_REQUIRE_EQUAL(f->samples.size(), 1u);
  BOOST_TEST(f->samples[0].labels[0].second.rfind("subscription-", 0) == 0u);
  BOOST_TEST(f->samples[0].value == 3.0);
  BOOST_TEST(m.value("sourcery_subscription_lag_events", f->samples[0].labels) == 0.0);
}

BOOST_AUTO_TEST_CASE(two_running_subscriptions_of_one_name_get_distinct_series) { // R-MET
  auto a = backend.subscriber().start_from(0).named("audit").build_batch(1, 0.1);
  auto b = backend.subscriber().start_from(0).named("audit").build_batch(1, 0.1);
  auto m = backend.metrics();
  BOOST_TEST(m.sample("sourcery_subscription_position", {{"subscription", "audit"}}) != nullptr);
  BOOST_TEST(m.sample("sourcery_subscription_position", {{"subscription", "audit-2"}}) != nullptr);
  BOOST_CHECK_THROW(backend.subscriber().start_from(0).named(""), invalid_argument);
}

BOOST_AUTO_TEST_CASE(the_outbox_reports_published_entries_and_dead_letters) { // R-MET
  backend.with_outbox();
  auto s = store();
  given_stream_with(4, s);
  std::atomic<int> calls{0};
  backend.outbox().start([&](const recorded_event& r) {
    ++calls;
    if (r.position == 4)
      throw std::runtime_error("broker down");
  });
  auto settings = backend.current_settings();
  BOOST_TEST(backend.outbox().wait_until_empty(30s));
  backend.outbox().stop(); // the dispatchers have reported all they claimed
  auto m = backend.metrics();
  BOOST_TEST(m.value("sourcery_outbox_published_total") == 3.0);
  BOOST_TEST(m.value("sourcery_outbox_dead_letters") == 1.0);
  BOOST_TEST(m.value("sourcery_outbox_failed_attempts_total") == double(settings.outbox_attempts));
  BOOST_TEST(m.value("sourcery_outbox_pending") == 0.0);
  BOOST_TEST(m.value("sourcery_outbox_enabled") == 1.0);
  // A histogram's count: each dispatcher thread times its first publication.
  BOOST_TEST(m.value("sourcery_outbox_publish_latency_seconds") >= 1.0);
  BOOST_TEST(m.value("sourcery_outbox_publish_latency_seconds") <= 3.0);
  BOOST_TEST(m.value("sourcery_outbox_in_flight") == 0.0);
}

BOOST_AUTO_TEST_CASE(tenants_report_actors_and_the_busiest_tenants_only_when_asked) { // R-MET
  backend.in_tenant_mode("t1").event_store().append(stream_id::random(), {added("a"), added("b"), added("c")});
  backend.in_tenant_mode("t2").event_store().append(stream_id::random(), {added("a"), added("b")});
  backend.in_tenant_mode("t3").event_store().append(stream_id::random(), {added("a")});
  auto m = backend.metrics();
  BOOST_TEST(m.value("sourcery_tenants") == 3.0);
  BOOST_TEST(m.value("sourcery_tenant_actors_live") == 3.0);
  BOOST_TEST(m.value("sourcery_tenant_actor_spawns_total") == 3.0);
  BOOST_TEST(m.find("sourcery_tenant_events_committed_total") == nullptr); // not asked for
  auto settings = backend.current_settings();
  settings.metrics_tenant_series = 2;
  backend.configure(settings);
  m = backend.metrics();
  const auto* f = m.find("sourcery_tenant_events_committed_total");
  BOOST_REQUIRE(f);
  BOOST_REQUIRE_EQUAL(f->samples.size(), 2u); // the cap
  BOOST_TEST(m.value("sourcery_tenant_events_committed_total", {{"tenant", "t1"}}) == 3.0);
  BOOST_TEST(m.value("sourcery_tenant_events_committed_total", {{"tenant", "t2"}}) == 2.0);
  settings.metrics_tenant_series = 10'001;
  BOOST_CHECK_THROW(backend.configure(settings), invalid_argument);
}

BOOST_AUTO_TEST_CASE(the_engine_adds_its_own) { // R-MET
  given_stream_with(3, store());
  auto m = backend.metrics();
  if (test_engine::name() == "in_memory") {
    BOOST_TEST(m.value("sourcery_memory_log_bytes") > 0.0);
  } else {
    // The durable engines' writers commit in groups.
    const auto* groups = m.sample("sourcery_commit_group_events");
    BOOST_REQUIRE(groups);
    BOOST_TEST(groups->histogram->count >= 1u);
    BOOST_TEST(groups->histogram->sum == 3.0);
    BOOST_TEST(m.value("sourcery_commit_duration_seconds") >= 1.0);
  }
  if (test_engine::name() == "rocksdb") {
    BOOST_REQUIRE(m.sample("sourcery_rocksdb_memtable_bytes"));
    BOOST_TEST(m.value("sourcery_rocksdb_memtable_bytes") > 0.0);
    BOOST_REQUIRE(m.sample("sourcery_rocksdb_table_files"));
  }
  if (test_engine::name() == "postgres") {
    BOOST_TEST(m.value("sourcery_postgres_pool_connections") >= 1.0);
    BOOST_REQUIRE(m.sample("sourcery_postgres_notifications_received_total"));
  }
}

BOOST_AUTO_TEST_CASE(with_metrics_off_nothing_is_counted_and_the_gauges_remain) { // R-MET
  runtime_options off;
  off.metrics = false;
  auto b = backend::on(test_engine::make(), off);
  b.registry().add<test_events::item_added>("item_added");
  b.event_store().append(stream_id::random(), {added("a")});
  auto sub = b.subscriber().start_from(0).named("x").build_batch(1, 0.1);
  auto m = b.metrics();
  BOOST_TEST(m.find("sourcery_appends_total") == nullptr);
  BOOST_TEST(m.find("sourcery_subscription_position") == nullptr);
  BOOST_TEST(m.value("sourcery_last_position") == 1.0);
  BOOST_TEST(m.value("sourcery_tenants") == 1.0);
}

// -- the endpoint ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_endpoint_serves_the_text_format_at_slash_metrics) { // R-MET
  BOOST_TEST(!backend.metrics_address()); // off by default
  auto settings = backend.current_settings();
  settings.metrics_listen = "127.0.0.1:0";
  backend.configure(settings);
  auto address = backend.metrics_address();
  BOOST_REQUIRE(address);
  BOOST_TEST(address->rfind("127.0.0.1:", 0) == 0u);
  given_stream_with(2, store());
  auto response = http_get(port_of(*address), "/metrics");
  BOOST_TEST(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u);
  BOOST_TEST(response.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  BOOST_TEST(response.find("\nsourcery_events_committed_total 2\n") != std::string::npos);
  BOOST_TEST(response.find("# TYPE sourcery_append_duration_seconds histogram") != std::string::npos);
  BOOST_TEST(http_get(port_of(*address), "/other").rfind("HTTP/1.1 404", 0) == 0u);
  settings.metrics_listen.clear();
  backend.configure(settings);
  BOOST_TEST(!backend.metrics_address());
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_a_clear_error_and_changes_nothing) { // R-MET
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto taken = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto settings = backend.current_settings();
  settings.metrics_listen = taken;
  settings.subscription_buffer = 7;
  BOOST_CHECK_EXCEPTION(backend.configure(settings), invalid_argument, [&](const invalid_argument& e) {
    std::string what = e.what();
    return what.find("metrics.listen") != std::string::npos && what.find(taken) != std::string::npos
           && what.find("in use") != std::string::npos;
  });
  BOOST_TEST(backend.current_settings().subscription_buffer != 7u);
  BOOST_TEST(backend.current_settings().metrics_listen.empty());
  BOOST_TEST(!backend.metrics_address());
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_malformed_address_is_a_clear_error) { // R-MET
  for (const char* bad : {"9464", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", "example.org:9464",
                          "1.2.3:80", ":9464"}) {
    BOOST_TEST_CONTEXT(bad) {
      auto settings = backend.current_settings();
      settings.metrics_listen = bad;
      BOOST_CHECK_EXCEPTION(backend.configure(settings), invalid_argument,
                            [](const invalid_argument& e) {
                              return std::string(e.what()).find("metrics.listen must be host:port")
                                     != std::string::npos;
                            });
    }
  }
  BOOST_TEST(!backend.metrics_address());
}

BOOST_AUTO_TEST_SUITE_END()
