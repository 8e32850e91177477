// Subscriptions reading the same records share one decode per record
// (R-SUB-DECODE-ONCE), bounded by runtime_options::subscription_decode_cache,
// and a shred still masks every later delivery (R-EN). Decodes are counted
// by an upcaster that counts its calls: the records are stored at an older
// schema version, so each decode upcasts once.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace sourcery;
using namespace std::chrono_literals;

namespace decode_once_events {

/// Version 2; version 1 had no `unit`.
struct reading_taken {
  std::string sensor;
  int value = 0;
  std::string unit;
};
BOOST_DESCRIBE_STRUCT(reading_taken, (), (sensor, value, unit))

/// `email` is encrypted under `user_id`.
struct email_changed {
  std::string user_id;
  std::string email;
};
BOOST_DESCRIBE_STRUCT(email_changed, (), (user_id, email))

} // namespace decode_once_events

namespace {

using decode_once_events::email_changed;
using decode_once_events::reading_taken;

const std::string erased = "<erased>";

/// Every record a push subscription received, and whether positions ever
/// went backwards or repeated.
struct received {
  std::mutex m;
  std::condition_variable cv;
  std::vector<recorded_event> records; // GUARDED_BY(m)
  bool out_of_order = false;           // GUARDED_BY(m)

  batch_handler handler() {
    return [this](std::span<const recorded_event> batch) {
      std::lock_guard l(m);
      for (const auto& r : batch) {
        if (!records.empty() && r.position <= records.back().position)
          out_of_order = true;
        records.push_back(r);
      }
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock l(m);
    return cv.wait_for(l, 60s, [&] { return records.size() >= n; });
  }
};

struct decode_once_fixture {
  std::shared_ptr<std::atomic<std::size_t>> upcasts = std::make_shared<std::atomic<std::size_t>>(0);

  /// A backend whose reading_taken is at schema version 2, its upcaster
  /// counting calls, keeping `cache` decoded records for its subscriptions.
  backend make(std::size_t cache = runtime_options{}.subscription_decode_cache) {
    runtime_options o;
    o.subscription_decode_cache = cache;
    auto b = backend::on(test_engine::make(), o);
    b.registry().add<reading_taken>("reading_taken", 2);
    b.registry().add_upcaster("reading_taken", 1, [n = upcasts](boost::json::object v1) {
      ++*n;
      v1["unit"] = "C";
      return v1;
    });
    b.registry().add<email_changed>("email_changed", encryption_spec_for<email_changed>()
                                                       .subject("user_id")
                                                       .encrypt("email", erased));
    return b;
  }

  /// Given `n` readings stored by an older build (schema 1), one per commit.
  static void given_old_readings(backend& b, std::size_t n) {
    auto id = stream_id::random("sensor");
    for (std::size_t i = 0; i < n; ++i) {
      raw_event old{random_uuid(), timestamp::now(), "reading_taken",
                    R"({"sensor":"s1","value":)" + std::to_string(i) + "}", {}, std::nullopt, 1};
      std::vector<raw_event> events{old};
      std::vector<char> to_outbox;
      b.engine()->streams(default_tenant)->append(id, i, events, to_outbox, {});
    }
  }

  /// `count` push subscriptions from the start, each caught up (so each
  /// feed is running) before anything is stored.
  static std::vector<push_subscription> subscribe(backend& b,
                                                  std::vector<std::unique_ptr<received>>& into,
                                                  std::size_t count, std::size_t max_batch = 16) {
    std::vector<push_subscription> subs;
    for (std::size_t i = 0; i < count; ++i) {
      into.push_back(std::make_unique<received>());
      subs.push_back(b.subscriber().start_from(0).build_push(into.back()->handler(), max_batch));
    }
    for (auto& s : subs)
      BOOST_REQUIRE(s.wait_caught_up(60s));
    return subs;
  }

  /// Every subscription received readings 0..n-1 at positions 1..n, upcast.
  static void check_all_received(std::vector<std::unique_ptr<received>>& all, std::size_t n) {
    for (auto& r : all) {
      BOOST_REQUIRE(r->wait_for(n));
      std::lock_guard l(r->m);
      BOOST_TEST(!r->out_of_order);
      BOOST_REQUIRE_EQUAL(r->records.size(), n);
      for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST(r->records[i].position == i + 1);
        const auto& e = r->records[i].event.as<reading_taken>();
        BOOST_TEST(e.value == static_cast<int>(i));
        BOOST_TEST(e.unit == "C");
      }
    }
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(decode_once_suite, decode_once_fixture)

BOOST_AUTO_TEST_CASE(a_hundred_subscriptions_decode_each_record_once) { // R-SUB-DECODE-ONCE
  auto b = make();
  std::vector<std::unique_ptr<received>> got;
  auto subs = subscribe(b, got, 100);
  const std::size_t n = 300;
  given_old_readings(b, n);
  check_all_received(got, n);
  // A pull subscription reading the same records afterwards shares them too.
  auto pull = b.subscriber().start_from(0).build_batch(n, 5s);
  BOOST_TEST(pull.next().size() == n);
  BOOST_TEST(upcasts->load() == n); // not 101 × n
}

BOOST_AUTO_TEST_CASE(with_the_cache_off_each_subscription_decodes_for_itself) { // R-SUB-DECODE-ONCE
  auto b = make(0);
  std::vector<std::unique_ptr<received>> got;
  auto subs = subscribe(b, got, 10);
  const std::size_t n = 50;
  given_old_readings(b, n);
  check_all_received(got, n);
  BOOST_TEST(upcasts->load() == 10 * n);
}

BOOST_AUTO_TEST_CASE(a_cache_smaller_than_the_spread_still_delivers_everything_in_order) {
  // Two slots for 40 subscriptions over 500 records: most are pushed out
  // before every subscription read them; those decode again.
  auto b = make(2);
  std::vector<std::unique_ptr<received>> got;
  auto subs = subscribe(b, got, 40, 7);
  const std::size_t n = 500;
  given_old_readings(b, n);
  check_all_received(got, n);
  BOOST_TEST(upcasts->load() >= n);
  BOOST_TEST(upcasts->load() <= 40 * n);
}

BOOST_AUTO_TEST_CASE(a_shred_masks_values_the_subscriptions_already_share) { // R-EN, R-SUB-DECODE-ONCE
  auto b = make();
  // Keys in memory on every engine: they record retired key ids, so a key
  // created anew leaves the shredded value masked (key_storage::retire).
  b.with_encryption(std::make_shared<xchacha20poly1305_strategy>(),
                    std::make_shared<in_memory_key_storage>());
  b.encryption().create_key("ann");
  std::vector<std::unique_ptr<received>> got;
  auto subs = subscribe(b, got, 3);
  b.event_store().append(stream_id::random("user"), {wrap(email_changed{"ann", "ann@example.org"})});
  for (auto& r : got) {
    BOOST_REQUIRE(r->wait_for(1));
    std::lock_guard l(r->m);
    BOOST_TEST(r->records[0].event.as<email_changed>().email == "ann@example.org");
  }
  // The decrypted value is kept for position 1 while these subscriptions live.
  b.encryption().shred("ann");
  auto after_shred = b.subscriber().start_from(0).build_batch(1, 5s).next();
  BOOST_REQUIRE_EQUAL(after_shred.size(), 1u);
  BOOST_TEST(after_shred[0].event.as<email_changed>().email == erased);
  // A key created anew for the subject does not revive the shared value.
  b.encryption().create_key("ann");
  auto after_new_key = b.subscriber().start_from(0).build_batch(1, 5s).next();
  BOOST_REQUIRE_EQUAL(after_new_key.size(), 1u);
  BOOST_TEST(after_new_key[0].event.as<email_changed>().email == erased);
  // …while a later value under the new key reads as written.
  b.event_store().append(stream_id::random("user"), {wrap(email_changed{"ann", "new@example.org"})});
  for (auto& r : got)
    BOOST_REQUIRE(r->wait_for(2));
  auto both = b.subscriber().start_from(0).build_batch(2, 5s).next();
  BOOST_REQUIRE_EQUAL(both.size(), 2u);
  BOOST_TEST(both[0].event.as<email_changed>().email == erased);
  BOOST_TEST(both[1].event.as<email_changed>().email == "new@example.org");
}

BOOST_AUTO_TEST_CASE(a_cache_larger_than_the_limit_is_refused) { // R-SUB-DECODE-ONCE
  runtime_options o;
  o.subscription_decode_cache = 1'048'577;
  BOOST_CHECK_THROW(backend::on(test_engine::make(), o), invalid_argument);
  o.subscription_decode_cache = 1'048'576;
  BOOST_CHECK_NO_THROW(o.validate());
}

BOOST_AUTO_TEST_SUITE_END()
