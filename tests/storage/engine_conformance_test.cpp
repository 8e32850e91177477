// The storage interface's conformance suite (R-ST1): scenarios against
// `storage::engine` directly, without an actor system, run unchanged on every
// engine (SOURCERY_TEST_ENGINE, see engine_under_test.hpp). For the in-memory
// engine these are its unit tests.
#include <sourcery/errors.hpp>
#include <sourcery/storage/engine.hpp>

#include "engine_under_test.hpp"
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace sourcery;
using storage::record;
using storage::record_batch;

namespace {

struct engine_fixture {
  std::shared_ptr<storage::engine> engine = test_engine::make();

  static raw_event event(std::string data, std::optional<version> v = std::nullopt) {
    return raw_event{random_uuid(), timestamp::now(), "item_added",
                     std::move(data), R"({"by":"test"})", v};
  }
  static std::vector<raw_event> events(int n) {
    std::vector<raw_event> out;
    for (int i = 0; i < n; ++i)
      out.push_back(event(R"({"n":)" + std::to_string(i) + "}"));
    return out;
  }
  append_receipt append(const std::string& tenant, const stream_id& s, expected_version e,
                        std::vector<raw_event> evs, std::vector<char> outbox = {},
                        const storage::commit_hook& hook = {}) {
    return engine->streams(tenant)->append(s, e, evs, outbox, hook);
  }
  /// The log after `after`; the batch owns what its records view.
  record_batch log(position after = 0, std::size_t max = 1'000'000) {
    record_batch b;
    engine->log().read(after, max, b);
    return b;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(engine_conformance, engine_fixture)

BOOST_AUTO_TEST_CASE(an_empty_engine_has_no_positions_streams_or_entries) {
  BOOST_TEST(engine->log().last_position() == 0u);
  BOOST_TEST(log().records.empty());
  auto s = stream_id::random();
  BOOST_TEST(!engine->streams("")->info(s).has_value());
  auto r = engine->streams("")->read(s, std::nullopt, std::nullopt);
  BOOST_TEST(!r.snapshot.has_value());
  BOOST_TEST(r.events.records.empty());
  BOOST_TEST(engine->outbox().counts().pending == 0u);
}

BOOST_AUTO_TEST_CASE(appends_get_consecutive_positions_from_1_and_versions) { // R-P1, R-ES1
  auto a = stream_id::random("cart"), b = stream_id::random();
  auto r1 = append("", a, 0, events(2));
  auto r2 = append("t", b, no_versioning, events(3));
  BOOST_TEST(r1.first_position == 1u);
  BOOST_TEST(r1.last_position == 2u);
  BOOST_TEST(r1.version == std::optional<version>(2));
  BOOST_TEST(r2.first_position == 3u);
  BOOST_TEST(r2.last_position == 5u);
  BOOST_TEST(!r2.version.has_value());
  BOOST_TEST(engine->log().last_position() == 5u);
  auto batch = log();
  const auto& all = batch.records;
  BOOST_REQUIRE(all.size() == 5u);
  for (std::size_t i = 0; i < all.size(); ++i)
    BOOST_TEST(all[i].position == i + 1);
  BOOST_TEST(all[0].tenant == "");
  BOOST_TEST(*all[0].stream == a);
  BOOST_TEST(all[0].stream->category() == std::optional<std::string>("cart"));
  BOOST_TEST(all[1].version == 2u);
  BOOST_TEST(all[2].tenant == "t");
  BOOST_TEST(all[2].version == 0u);
  BOOST_TEST(all[0].type == "item_added");
  BOOST_TEST(all[1].data == R"({"n":1})");
  BOOST_TEST(all[1].context == R"({"by":"test"})");
  auto info = engine->streams("")->info(a);
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->current == 2u);
  BOOST_TEST(!info->versionless);
  BOOST_TEST(engine->streams("t")->info(b)->versionless);
}

BOOST_AUTO_TEST_CASE(read_pages_through_the_log_in_order) {
  auto s = stream_id::random();
  for (int i = 0; i < 10; ++i)
    append("", s, i * 10, events(10));
  std::vector<position> seen;
  position cursor = 0;
  for (;;) {
    auto page = log(cursor, 7);
    if (page.records.empty())
      break;
    BOOST_TEST(page.records.size() <= 7u);
    for (const auto& r : page.records)
      seen.push_back(r.position);
    cursor = page.records.back().position;
  }
  BOOST_REQUIRE(seen.size() == 100u);
  for (std::size_t i = 0; i < seen.size(); ++i)
    BOOST_TEST(seen[i] == i + 1);
  BOOST_TEST(log(100).records.empty());
  BOOST_TEST(log(1000).records.empty());
}

BOOST_AUTO_TEST_CASE(a_stream_reads_in_version_order_sliced_by_start_and_stop) { // R-ES2
  auto s = stream_id::random();
  append("", s, 0, events(3));
  append("", stream_id::random(), 0, events(2)); // interleaved: another stream
  append("", s, 3, events(2));
  auto all = engine->streams("")->read(s, std::nullopt, std::nullopt).events.records;
  BOOST_REQUIRE(all.size() == 5u);
  for (std::size_t i = 0; i < all.size(); ++i)
    BOOST_TEST(all[i].version == i + 1);
  auto mid = engine->streams("")->read(s, 2, 4).events.records;
  BOOST_REQUIRE(mid.size() == 2u);
  BOOST_TEST(mid[0].version == 2u);
  BOOST_TEST(mid[1].version == 3u);
}

BOOST_AUTO_TEST_CASE(a_wrong_expected_version_stores_nothing) { // R-ES1
  auto s = stream_id::random();
  append("", s, 0, events(2));
  try {
    append("", s, 1, events(1));
    BOOST_FAIL("expected concurrent_stream_write_error");
  } catch (const concurrent_stream_write_error& e) {
    BOOST_TEST(e.expected() == 1u);
    BOOST_TEST(e.actual() == 2u);
  }
  BOOST_CHECK_THROW(append("", s, no_versioning, events(1)),
                    no_expected_version_given_on_versioned_stream);
  auto v = stream_id::random();
  append("", v, no_versioning, events(1));
  BOOST_CHECK_THROW(append("", v, 1, events(1)), expected_version_used_on_versionless_stream);
  BOOST_CHECK_THROW(append("", s, 2, {}), invalid_argument);
  BOOST_CHECK_THROW(append("", s, 2, {event("{}", 7)}), versioning_mismatch);
  BOOST_CHECK_THROW(append("", v, no_versioning, {event("{}", 1)}), versioning_mismatch);
  BOOST_TEST(engine->log().last_position() == 3u);
  BOOST_TEST(engine->streams("")->info(s)->current == 2u);
  BOOST_TEST(engine->streams("")->info(v)->current == 1u);
}

BOOST_AUTO_TEST_CASE(a_throwing_hook_rolls_the_commit_back_without_consuming_a_position) { // R-L
  auto s = stream_id::random();
  append("", s, 0, events(1));
  auto fresh = stream_id::random();
  BOOST_CHECK_THROW(append("", fresh, 0, events(3), {1, 1, 1},
                           [](std::span<const record>) { throw std::runtime_error("no"); }),
                    std::runtime_error);
  BOOST_TEST(engine->log().last_position() == 1u);
  BOOST_TEST(!engine->streams("")->info(fresh).has_value());
  BOOST_TEST(engine->outbox().counts().pending == 0u);
  auto r = append("", fresh, 0, events(1));
  BOOST_TEST(r.first_position == 2u); // the rolled-back positions were not consumed
}

BOOST_AUTO_TEST_CASE(the_hook_sees_its_records_before_readers_do) { // R-L, R-SUB-ORDER
  auto s = stream_id::random();
  std::vector<position> seen;
  position visible_during_hook = 99;
  append("t", s, 0, events(2), {}, [&](std::span<const record> recs) {
    for (const auto& r : recs) {
      seen.push_back(r.position);
      BOOST_TEST(r.tenant == "t");
      BOOST_TEST(*r.stream == s);
    }
    visible_during_hook = engine->log().last_position();
  });
  BOOST_TEST(seen == (std::vector<position>{1, 2}));
  BOOST_TEST(visible_during_hook == 0u);
}

BOOST_AUTO_TEST_CASE(a_snapshot_replaces_what_came_before_and_takes_no_position) { // R-ES3
  auto s = stream_id::random();
  auto store = engine->streams("");
  BOOST_CHECK_THROW(store->save_snapshot(s, event("{}")), versioning_mismatch); // absent
  append("", s, 0, events(3));
  BOOST_CHECK_THROW(store->save_snapshot(s, event("{}", 2)), versioning_mismatch);
  store->save_snapshot(s, event(R"({"snap":1})"));
  append("", s, 3, events(1));
  auto r = store->read(s, std::nullopt, std::nullopt);
  BOOST_REQUIRE(r.snapshot.has_value());
  BOOST_TEST(r.snapshot->data == R"({"snap":1})");
  BOOST_TEST(r.snapshot->version == std::optional<version>(3));
  BOOST_REQUIRE(r.events.records.size() == 1u);
  BOOST_TEST(r.events.records[0].version == 4u);
  BOOST_TEST(engine->log().last_position() == 4u);
  auto v = stream_id::random();
  append("", v, no_versioning, events(2));
  BOOST_CHECK_THROW(store->save_snapshot(v, event("{}", 1)), versioning_mismatch);
  store->save_snapshot(v, event("{}"));
  BOOST_TEST(store->read(v, std::nullopt, std::nullopt).events.records.empty());
}

BOOST_AUTO_TEST_CASE(a_removed_stream_is_gone_but_its_events_stay_in_the_log) { // R-ES4
  auto s = stream_id::random();
  auto store = engine->streams("");
  append("", s, 0, events(2));
  store->remove(s);
  store->remove(s); // absent: no-op
  BOOST_TEST(!store->info(s).has_value());
  BOOST_TEST(store->read(s, std::nullopt, std::nullopt).events.records.empty());
  auto kept = log();
  BOOST_TEST(kept.records.size() == 2u);
  BOOST_TEST(*kept.records[0].stream == s);
  auto r = append("", s, 0, events(1)); // afresh
  BOOST_TEST(r.version == std::optional<version>(1));
}

BOOST_AUTO_TEST_CASE(tenants_do_not_share_streams) { // R-MT
  auto s = stream_id::named("same");
  append("a", s, 0, events(1));
  append("b", s, 0, events(2));
  BOOST_TEST(engine->streams("a")->info(s)->current == 1u);
  BOOST_TEST(engine->streams("b")->info(s)->current == 2u);
  BOOST_TEST(!engine->streams("c")->info(s).has_value());
  BOOST_TEST(engine->streams("a")->tenant() == "a");
}

BOOST_AUTO_TEST_CASE(a_wake_up_runs_once_after_a_later_commit_and_can_be_cancelled) {
  std::atomic<int> woken{0}, cancelled_woken{0};
  engine->log().notify_after(0, [&] { ++woken; });
  auto id = engine->log().notify_after(0, [&] { ++cancelled_woken; });
  engine->log().cancel(id);
  BOOST_TEST(woken == 0);
  append("", stream_id::random(), 0, events(1));
  BOOST_TEST(woken == 1);
  append("", stream_id::random(), 0, events(1));
  BOOST_TEST(woken == 1); // once
  BOOST_TEST(cancelled_woken == 0);
  std::atomic<int> at_once{0};
  engine->log().notify_after(1, [&] { ++at_once; }); // already past: runs now
  BOOST_TEST(at_once == 1);
  engine->log().cancel(424242); // unknown: no-op
}

BOOST_AUTO_TEST_CASE(outbox_entries_exist_for_flagged_events_and_are_claimed_in_order) { // R-OB
  auto s = stream_id::random();
  append("", s, 0, events(3), {1, 0, 1});
  append("x", stream_id::random(), 0, events(1), {1});
  BOOST_TEST(engine->outbox().counts().pending == 3u);
  auto claims = engine->outbox().claim_all(10);
  BOOST_REQUIRE(claims.size() == 3u);
  BOOST_TEST(claims[0].record.position == 1u);
  BOOST_TEST(claims[1].record.position == 3u);
  BOOST_TEST(claims[2].record.position == 4u);
  BOOST_TEST(claims[2].record.tenant == "x");
  BOOST_TEST(engine->outbox().claim_all(10).empty()); // held by the claims above
  auto reporter = engine->outbox().open({.attempts = 3});
  for (const auto& c : claims)
    BOOST_TEST((reporter.report(c, nullptr) == storage::outbox_outcome::done));
  auto counts = engine->outbox().counts();
  BOOST_TEST(counts.pending == 0u);
  BOOST_TEST(counts.published == 3u);
  BOOST_TEST(engine->outbox().wait_until_empty(std::chrono::milliseconds(0)));
}

BOOST_AUTO_TEST_CASE(failed_entries_count_attempts_then_become_dead_letters) { // R-OB-DLQ
  append("", stream_id::random(), 0, events(1), {1});
  std::string why = "broker down";
  auto reporter = engine->outbox().open({.attempts = 3});
  for (std::uint32_t attempt = 1; attempt <= 3; ++attempt) {
    auto claims = engine->outbox().claim_all(10);
    BOOST_REQUIRE(claims.size() == 1u);
    BOOST_TEST(claims[0].attempts == attempt - 1);
    auto outcome = reporter.report(claims[0], &why);
    BOOST_TEST((outcome == (attempt < 3 ? storage::outbox_outcome::retry
                                        : storage::outbox_outcome::dead)));
  }
  BOOST_TEST(engine->outbox().claim_all(10).empty());
  auto dead = engine->outbox().dead_letters();
  BOOST_REQUIRE(dead.size() == 1u);
  BOOST_TEST(dead[0].attempts == 3u);
  BOOST_TEST(dead[0].last_error == why);
  BOOST_TEST(dead[0].record.position == 1u);
  BOOST_TEST(engine->outbox().counts().dead == 1u);
  BOOST_TEST(engine->outbox().counts().failures == 3u);
  BOOST_TEST(engine->outbox().requeue(std::nullopt) == 1u);
  auto again = engine->outbox().claim_all(10);
  BOOST_REQUIRE(again.size() == 1u);
  BOOST_TEST(again[0].attempts == 0u);
  engine->outbox().open({.attempts = 1}).report(again[0], &why);
  BOOST_TEST(engine->outbox().purge(position{1}) == 1u);
  BOOST_TEST(engine->outbox().dead_letters().empty());
}

BOOST_AUTO_TEST_CASE(several_reports_at_once_record_each_outcome) { // R-OB, R-OB-DLQ
  append("", stream_id::random(), 0, events(4), {1, 1, 1, 1});
  auto claims = engine->outbox().claim_all(10);
  BOOST_REQUIRE(claims.size() == 4u);
  std::string why = "broker down";
  // Published, failed (retry), failed at the last attempt (dead), published.
  std::vector<storage::outbox_attempt> attempts{
    {&claims[0], nullptr}, {&claims[1], &why}, {&claims[2], &why}, {&claims[3], nullptr}};
  auto first = engine->outbox().open({.attempts = 2}).report_all(std::span(attempts).first(2));
  auto rest = engine->outbox().open({.attempts = 1}).report_all(std::span(attempts).subspan(2));
  BOOST_TEST((first == std::vector{storage::outbox_outcome::done,
                                   storage::outbox_outcome::retry}));
  BOOST_TEST((rest == std::vector{storage::outbox_outcome::dead,
                                  storage::outbox_outcome::done}));
  auto counts = engine->outbox().counts();
  BOOST_TEST(counts.published == 2u);
  BOOST_TEST(counts.dead == 1u);
  BOOST_TEST(counts.failures == 2u);
  BOOST_TEST(counts.pending == 1u);
  auto again = engine->outbox().claim_all(10);
  BOOST_REQUIRE(again.size() == 1u);
  BOOST_TEST(again[0].record.position == claims[1].record.position);
  BOOST_TEST(again[0].attempts == 1u);
}

BOOST_AUTO_TEST_CASE(a_held_retry_is_claimed_by_position_or_released) {
  append("", stream_id::random(), 0, events(2), {1, 1});
  std::string why = "later";
  auto claims = engine->outbox().claim(engine->outbox().shard_of(""), 10);
  BOOST_REQUIRE(claims.size() == 2u);
  auto shard = claims[0].shard;
  auto dispatcher = engine->outbox().open({.attempts = 3, .hold_for_retry = true});
  dispatcher.report(claims[0], &why);
  dispatcher.report(claims[1], &why);
  BOOST_TEST(engine->outbox().claim(shard, 10).empty()); // held, not pending
  auto retry = engine->outbox().claim_held(shard, 1);
  BOOST_REQUIRE(retry.has_value());
  BOOST_TEST(retry->attempts == 1u);
  BOOST_TEST(!engine->outbox().claim_held(shard, 1).has_value());
  dispatcher.report(*retry, nullptr);
  engine->outbox().release_held(shard);
  auto rest = engine->outbox().claim(shard, 10);
  BOOST_REQUIRE(rest.size() == 1u);
  BOOST_TEST(rest[0].record.position == 2u);
}

BOOST_AUTO_TEST_CASE(keys_and_cursors_are_kept_per_tenant) { // R-EN, R-ST1
  auto keys = engine->keys();
  BOOST_TEST(keys->store("a", "ann", encryption_key{1, 2, 3}));
  BOOST_TEST(!keys->store("a", "ann", encryption_key{9}));
  BOOST_TEST((keys->get("a", "ann") == std::optional<encryption_key>(encryption_key{1, 2, 3})));
  BOOST_TEST(!keys->get("b", "ann").has_value());
  keys->remove("a", "ann");
  BOOST_TEST(!keys->get("a", "ann").has_value());

  storage::cursor_key k{"balances", "a", stream_id::named("acct")};
  BOOST_TEST(!engine->cursors().load(k).has_value());
  engine->cursors().store(k, 7);
  BOOST_TEST(engine->cursors().load(k) == std::optional<version>(7));
  k.tenant_id = "b";
  BOOST_TEST(!engine->cursors().load(k).has_value());
}

BOOST_AUTO_TEST_CASE(keys_are_listed_bytewise_without_the_removed_ones) { // R-ADM5
  auto keys = engine->keys();
  keys->store("b", "x", encryption_key{2});
  keys->store("a", "b", encryption_key{1});
  keys->store("Z", "a", encryption_key{3}); // 'Z' < 'a' bytewise, not in most collations
  keys->store("a", "gone", encryption_key{4});
  keys->remove("a", "gone");
  auto listed = keys->list();
  BOOST_REQUIRE_EQUAL(listed.size(), 3u);
  BOOST_TEST(listed[0].tenant == "Z");
  BOOST_TEST((listed[1].tenant == "a" && listed[1].subject == "b"
              && listed[1].key == encryption_key{1}));
  BOOST_TEST(listed[2].tenant == "b");
  // Every engine's key storage records retired ids (R-EN: a shredded value
  // reads as masked after the subject gets a new key), lists them bytewise,
  // and keeps them once the key itself is gone.
  keys->retire("a", "b", "id-2");
  keys->retire("a", "b", "id-1");
  keys->retire("Z", "a", "id-9");
  keys->retire("a", "b", "id-1"); // again: recorded once
  keys->remove("a", "b");
  BOOST_TEST(keys->retired("a", "b", "id-1"));
  BOOST_TEST(!keys->retired("a", "b", "id-3"));
  BOOST_TEST(!keys->retired("a", "c", "id-1"));
  auto retired = keys->list_retired();
  BOOST_REQUIRE_EQUAL(retired.size(), 3u);
  BOOST_TEST((retired[0].tenant == "Z" && retired[0].key_id == "id-9"));
  BOOST_TEST((retired[1].subject == "b" && retired[1].key_id == "id-1"));
  BOOST_TEST(retired[2].key_id == "id-2");
}

BOOST_AUTO_TEST_CASE(of_racing_appends_with_one_expected_version_exactly_one_wins) { // R-ES1
  constexpr int threads = 8, rounds = 100;
  auto s = stream_id::random();
  auto store = engine->streams("");
  std::barrier sync(threads);
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int round = 0; round < rounds; ++round) {
        sync.arrive_and_wait();
        try {
          std::vector<raw_event> one{event("{}")};
          store->append(s, static_cast<std::uint64_t>(round), one, {}, {});
          ++wins;
        } catch (const concurrent_stream_write_error&) {
          ++conflicts;
        }
        sync.arrive_and_wait();
      }
    });
  for (auto& t : pool)
    t.join();
  BOOST_TEST(wins == rounds);
  BOOST_TEST(conflicts == rounds * (threads - 1));
  BOOST_TEST(store->info(s)->current == static_cast<version>(rounds));
}

BOOST_AUTO_TEST_CASE(concurrent_commits_of_many_tenants_leave_no_gap) { // R-P1
  constexpr int threads = 4, per_thread = 500;
  std::vector<std::thread> pool;
  std::vector<std::vector<append_receipt>> receipts(threads);
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      auto store = engine->streams("tenant-" + std::to_string(t));
      auto s = stream_id::random();
      for (int i = 0; i < per_thread; ++i) {
        std::vector<raw_event> two{event("{}"), event("{}")};
        receipts[t].push_back(store->append(s, static_cast<std::uint64_t>(2 * i), two, {}, {}));
      }
    });
  for (auto& t : pool)
    t.join();
  auto batch = log();
  const auto& all = batch.records;
  BOOST_REQUIRE(all.size() == static_cast<std::size_t>(2 * threads * per_thread));
  for (std::size_t i = 0; i < all.size(); ++i)
    BOOST_TEST_REQUIRE(all[i].position == i + 1);
  for (int t = 0; t < threads; ++t)
    for (const auto& r : receipts[t]) {
      BOOST_TEST(r.last_position == r.first_position + 1);
      BOOST_TEST(all[r.first_position - 1].tenant == "tenant-" + std::to_string(t));
    }
}

BOOST_AUTO_TEST_CASE(pipelined_async_appends_to_one_stream_build_on_each_other) { // R-ST3, R-ES1
  // A caller (the tenant's actor) hands appends over without waiting for
  // each to be durable: each is checked against the stream as the earlier
  // ones leave it, positions follow the calls, every `done` runs once.
  auto store = engine->streams("t");
  auto s = stream_id::random();
  auto other = stream_id::random();
  constexpr int n = 500;
  struct outcome {
    std::atomic<int> calls{0};
    std::optional<append_receipt> receipt;
    std::exception_ptr error;
  };
  std::vector<outcome> outcomes(n + 2);
  std::atomic<int> finished{0};
  auto done_for = [&](int i) {
    return [&, i](std::optional<append_receipt> r, std::exception_ptr e) {
      outcomes[i].receipt = std::move(r);
      outcomes[i].error = std::move(e);
      outcomes[i].calls++;
      finished.fetch_add(1);
      finished.notify_all();
    };
  };
  for (int i = 0; i < n; ++i) {
    auto evs = events(2);
    store->append_async(i % 2 ? other : s, static_cast<std::uint64_t>(2 * (i / 2)), evs, {},
                        {}, done_for(i));
  }
  // A wrong expected version, counted against the pipelined state, fails
  // alone; the next one, right against it, succeeds.
  auto wrong = events(1);
  store->append_async(s, 2, wrong, {}, {}, done_for(n));
  auto right = events(1);
  store->append_async(s, static_cast<std::uint64_t>(n), right, {}, {}, done_for(n + 1));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int f = finished.load(); f < n + 2 && std::chrono::steady_clock::now() < deadline;
       f = finished.load())
    finished.wait(f);
  BOOST_REQUIRE(finished.load() == n + 2);
  for (int i = 0; i < n + 2; ++i)
    BOOST_TEST_REQUIRE(outcomes[i].calls.load() == 1);
  for (int i = 0; i < n; ++i) {
    BOOST_TEST_REQUIRE(!outcomes[i].error);
    BOOST_TEST(outcomes[i].receipt->first_position == static_cast<position>(2 * i + 1));
    BOOST_TEST(outcomes[i].receipt->version == std::optional<version>(2 * (i / 2) + 2));
  }
  BOOST_TEST(!outcomes[n].receipt);
  BOOST_CHECK_THROW(std::rethrow_exception(outcomes[n].error), concurrent_stream_write_error);
  BOOST_TEST_REQUIRE(!outcomes[n + 1].error);
  BOOST_TEST(outcomes[n + 1].receipt->version == std::optional<version>(n + 1));
  BOOST_TEST(engine->log().last_position() == static_cast<position>(2 * n + 1));
  BOOST_TEST(store->info(s)->current == static_cast<version>(n + 1));
  BOOST_TEST(store->read(s, std::nullopt, std::nullopt).events.records.size()
             == static_cast<std::size_t>(n + 1));
}

BOOST_AUTO_TEST_CASE(a_snapshot_after_pipelined_appends_takes_their_version) { // R-ES3
  auto store = engine->streams("");
  auto s = stream_id::random();
  std::atomic<int> succeeded{0};
  for (int i = 0; i < 20; ++i) {
    auto evs = events(1);
    store->append_async(s, static_cast<std::uint64_t>(i), evs, {}, {},
                        [&](std::optional<append_receipt> r, std::exception_ptr) {
                          if (r)
                            succeeded.fetch_add(1);
                        });
  }
  store->save_snapshot(s, event(R"({"sum":20})", 20)); // waits for the appends of `s`
  BOOST_TEST(succeeded.load() == 20);
  auto read = store->read(s, std::nullopt, std::nullopt);
  BOOST_TEST_REQUIRE(read.snapshot.has_value());
  BOOST_TEST(read.events.records.empty());
}

BOOST_AUTO_TEST_CASE(records_stay_readable_while_their_batch_lives) {
  auto s = stream_id::random();
  append("", s, 0, {event(R"({"first":true})")});
  record_batch b;
  engine->log().read(0, 1, b);
  for (int i = 0; i < 200; ++i) // enough to move every buffer an engine might have
    append("", stream_id::random(), 0, events(50));
  BOOST_REQUIRE(b.records.size() == 1u);
  BOOST_TEST(b.records[0].data == R"({"first":true})");
  BOOST_TEST(*b.records[0].stream == s);
}

// -- repeated appends (R-ES6) -------------------------------------------------

BOOST_AUTO_TEST_CASE(a_repeated_append_stores_nothing_and_gets_the_original_receipt) { // R-ES6
  // Given a stream with an append at version 0 (two events, one for the
  // outbox) and one after it, when the first is appended again as it was,
  // then it succeeds with its original receipt and nothing is added: no
  // position, no version, no outbox entry, no hook call.
  auto s = stream_id::random();
  auto first = events(2);
  auto original = append("t", s, 0, first, {1, 0});
  append("t", stream_id::random(), 0, events(1)); // another stream in between
  auto later = append("t", s, 2, events(3));
  int hook_calls = 0;
  auto again = append("t", s, 0, first, {1, 0}, [&](std::span<const record>) { ++hook_calls; });
  BOOST_TEST(again.first_position == original.first_position);
  BOOST_TEST(again.last_position == original.last_position);
  BOOST_TEST(again.version == std::optional<version>(2));
  BOOST_TEST(hook_calls == 0);
  // The latest append, repeated, too.
  auto later_read = engine->streams("t")->read(s, 3, 6); // its records live as long as it does
  const auto& later_events = later_read.events.records;
  BOOST_REQUIRE(later_events.size() == 3u);
  std::vector<raw_event> later_again;
  for (const auto& r : later_events)
    later_again.push_back(raw_event{r.id, timestamp::from_micros(r.created_us),
                                    std::string(r.type), std::string(r.data),
                                    std::string(r.context), std::nullopt, r.schema});
  auto later_receipt = append("t", s, 2, later_again);
  BOOST_TEST(later_receipt.first_position == later.first_position);
  BOOST_TEST(later_receipt.last_position == later.last_position);
  BOOST_TEST(later_receipt.version == std::optional<version>(5));
  BOOST_TEST(engine->log().last_position() == 6u);
  BOOST_TEST(engine->streams("t")->info(s)->current == 5u);
  BOOST_TEST(engine->streams("t")->read(s, std::nullopt, std::nullopt).events.records.size()
             == 5u);
  BOOST_TEST(engine->outbox().counts().pending == 1u);
  // Explicit versions that fit are accepted as well.
  auto with_versions = first;
  with_versions[0].version = 1;
  with_versions[1].version = 2;
  BOOST_TEST(append("t", s, 0, with_versions).last_position == original.last_position);
  BOOST_TEST(engine->log().last_position() == 6u);
}

BOOST_AUTO_TEST_CASE(the_same_ids_with_other_content_or_at_another_place_are_refused) { // R-ES6
  auto s = stream_id::random();
  auto stored = events(2);
  append("", s, 0, stored);
  append("", s, 2, events(1));
  auto refused = [&](std::vector<raw_event> evs, expected_version e) {
    try {
      append("", s, e, std::move(evs));
      BOOST_ERROR("expected event_id_conflict");
    } catch (const event_id_conflict& x) {
      BOOST_TEST(x.stream().find(s.to_string()) != std::string::npos);
      BOOST_TEST(!x.event_id().empty());
      BOOST_TEST(x.code() == errc::event_id_conflict);
    }
  };
  auto other_data = stored;
  other_data[1].data = R"({"n":99})";
  refused(other_data, 0);
  auto other_type = stored;
  other_type[0].name = "item_removed";
  refused(other_type, 0);
  auto other_context = stored;
  other_context[0].context = R"({"by":"someone else"})";
  refused(other_context, 0);
  auto other_time = stored;
  other_time[1].created_at = timestamp::from_micros(stored[1].created_at.micros() + 1);
  refused(other_time, 0);
  refused({stored[1], stored[0]}, 0);             // another order
  refused({stored[0], stored[1], event("{}")}, 0); // more than that append stored
  refused({stored[1], event("{}")}, 1);           // at another place: stored at 2, not at 2..3
  auto fresh = stored;
  fresh[0].id = random_uuid();
  refused(fresh, 0); // one id new, one stored: only some of them
  refused({stored[0], event("{}")}, 0);
  // Other ids at those versions: an ordinary conflict.
  BOOST_CHECK_THROW(append("", s, 0, events(2)), concurrent_stream_write_error);
  // An explicit version that does not fit the stored one.
  auto wrong_version = stored;
  wrong_version[0].version = 5;
  BOOST_CHECK_THROW(append("", s, 0, wrong_version), versioning_mismatch);
  BOOST_TEST(engine->log().last_position() == 3u);
  BOOST_TEST(engine->streams("")->info(s)->current == 3u);
  auto stored_now = engine->streams("")->read(s, std::nullopt, std::nullopt); // owns the records
  const auto& read = stored_now.events.records;
  BOOST_REQUIRE(read.size() == 3u);
  BOOST_TEST(read[1].data == stored[1].data);
}

BOOST_AUTO_TEST_CASE(a_repeated_encrypted_event_is_compared_by_all_but_its_data) { // R-ES6, R-EN
  // Encrypting an event again gives new ciphertext: an encrypted event
  // repeated is the same event when all but its data match.
  auto s = stream_id::random();
  auto stored = events(1);
  stored[0].encrypted = true;
  auto original = append("", s, 0, stored);
  append("", s, 1, events(1));
  auto again = stored;
  again[0].data = R"({"n":"other ciphertext"})";
  BOOST_TEST(append("", s, 0, again).first_position == original.first_position);
  again[0].context = R"({"by":"someone else"})";
  BOOST_CHECK_THROW(append("", s, 0, again), event_id_conflict);
  BOOST_TEST(engine->log().last_position() == 2u);
}

BOOST_AUTO_TEST_CASE(a_repeat_right_behind_its_original_gets_its_receipt) { // R-ES6, R-ST3
  // Handed over before the original is written (a pipelining caller): the
  // repeat is answered with the original's receipt once that is known.
  auto store = engine->streams("t");
  auto s = stream_id::random();
  auto evs = events(3);
  std::mutex m;
  std::vector<std::optional<append_receipt>> receipts(2);
  std::vector<std::exception_ptr> errors(2);
  std::atomic<int> finished{0};
  auto done_for = [&](int i) {
    return [&, i](std::optional<append_receipt> r, std::exception_ptr e) {
      {
        std::lock_guard lock(m);
        receipts[static_cast<std::size_t>(i)] = r;
        errors[static_cast<std::size_t>(i)] = e;
      }
      finished.fetch_add(1);
      finished.notify_all();
    };
  };
  store->append_async(s, 0, evs, {}, {}, done_for(0));
  store->append_async(s, 0, evs, {}, {}, done_for(1));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int f = finished.load(); f < 2 && std::chrono::steady_clock::now() < deadline;
       f = finished.load())
    finished.wait(f);
  BOOST_REQUIRE(finished.load() == 2);
  std::lock_guard lock(m);
  BOOST_TEST_REQUIRE(!errors[0]);
  BOOST_TEST_REQUIRE(!errors[1]);
  BOOST_TEST(receipts[0]->first_position == 1u);
  BOOST_TEST(receipts[1]->first_position == 1u);
  BOOST_TEST(receipts[1]->last_position == 3u);
  BOOST_TEST(receipts[1]->version == std::optional<version>(3));
  BOOST_TEST(engine->log().last_position() == 3u);
}

BOOST_AUTO_TEST_CASE(a_repeat_of_events_a_snapshot_replaced_is_a_conflict) { // R-ES6, R-ES3
  auto s = stream_id::random();
  auto stored = events(2);
  append("", s, 0, stored);
  engine->streams("")->save_snapshot(s, event(R"({"snap":2})"));
  BOOST_CHECK_THROW(append("", s, 0, stored), concurrent_stream_write_error);
  BOOST_TEST(engine->log().last_position() == 2u);
}


// Subscription groups (R-SUB-GROUP): the engine's group store.

namespace {

using storage::group_policy;
using storage::group_spec;

/// The engine's group store; every engine offers one.
storage::group_store& groups_of(storage::engine& e) {
  auto* g = e.groups();
  BOOST_REQUIRE_MESSAGE(g != nullptr, e.name() << " offers no group store");
  return *g;
}

std::vector<position> positions(const std::vector<storage::group_claim>& claims) {
  std::vector<position> out;
  for (const auto& c : claims)
    out.push_back(c.record.position);
  return out;
}

const storage::record_filter all = [](const record&) { return true; };
/// No wait for retries: a nacked record is claimable again at once.
constexpr group_policy at_once{.attempts = 3, .backoff_base = std::chrono::milliseconds(0)};

} // namespace

BOOST_AUTO_TEST_CASE(a_group_hands_each_record_to_one_member_and_acks_move_its_checkpoint) { // R-SUB-GROUP
  append("", stream_id::random(), 0, events(5));
  auto& g = groups_of(*engine);
  g.open({.name = "billing"});
  auto a = g.claim("billing", "a", 2, all, {});
  auto b = g.claim("billing", "b", 10, all, {});
  BOOST_TEST((positions(a) == std::vector<position>{1, 2}));
  BOOST_TEST((positions(b) == std::vector<position>{3, 4, 5}));
  BOOST_TEST(g.claim("billing", "c", 10, all, {}).empty());
  BOOST_TEST(g.status("billing").in_hand == 5u);
  g.ack("billing", "a", 2);
  BOOST_TEST(g.status("billing").checkpoint == 0u); // 1 is still in a's hands
  g.ack("billing", "a", 1);
  BOOST_TEST(g.status("billing").checkpoint == 2u);
  for (position p : {3, 4, 5})
    g.ack("billing", "b", p);
  BOOST_TEST(g.status("billing").checkpoint == 5u);
  BOOST_TEST(g.status("billing").in_hand == 0u);
  append("", stream_id::random(), 0, events(1));
  BOOST_TEST((positions(g.claim("billing", "c", 10, all, {})) == std::vector<position>{6}));
}

BOOST_AUTO_TEST_CASE(a_group_starts_after_its_start_and_settles_what_its_filter_rejects) { // R-SUB-GROUP
  append("", stream_id::random(), 0, events(2));
  append("t", stream_id::random(), 0, events(2));
  append("", stream_id::random(), 0, events(1));
  auto& g = groups_of(*engine);
  g.open({.name = "t-only", .start = 3});
  storage::record_filter only_t = [](const record& r) { return r.tenant == "t"; };
  auto got = g.claim("t-only", "a", 10, only_t, {});
  BOOST_TEST((positions(got) == std::vector<position>{4}));
  g.ack("t-only", "a", 4);
  BOOST_TEST(g.status("t-only").checkpoint == 5u); // 5 was rejected: settled
  g.open({.name = "t-only", .start = 0});          // exists: the start is ignored
  BOOST_TEST(g.claim("t-only", "a", 10, only_t, {}).empty());
  BOOST_TEST((g.groups() == std::vector<std::string>{"t-only"}));
}

BOOST_AUTO_TEST_CASE(a_nacked_record_is_retried_then_parked_listed_replayed_and_purged) { // R-SUB-GROUP-PARK
  append("", stream_id::random(), 0, events(2));
  auto& g = groups_of(*engine);
  g.open({.name = "g"});
  for (std::uint32_t attempt = 1; attempt <= 3; ++attempt) {
    auto c = g.claim("g", "a", 1, all, at_once);
    BOOST_REQUIRE(c.size() == 1u);
    BOOST_TEST(c[0].record.position == 1u);
    BOOST_TEST(c[0].attempts == attempt - 1);
    auto outcome = g.nack("g", "a", 1, "broker down", at_once);
    BOOST_TEST((outcome == (attempt < 3 ? storage::nack_outcome::retry
                                        : storage::nack_outcome::parked)));
  }
  auto parked = g.parked("g");
  BOOST_REQUIRE(parked.size() == 1u);
  BOOST_TEST(parked[0].record.position == 1u);
  BOOST_TEST(parked[0].attempts == 3u);
  BOOST_TEST(parked[0].last_error == "broker down");
  BOOST_TEST(g.status("g").parked == 1u);
  auto next = g.claim("g", "a", 10, all, at_once);
  BOOST_TEST((positions(next) == std::vector<position>{2}));
  g.ack("g", "a", 2);
  BOOST_TEST(g.status("g").checkpoint == 2u); // past the parked record
  BOOST_TEST(g.replay("g", position{7}) == 0u);
  BOOST_TEST(g.replay("g", std::nullopt) == 1u);
  auto again = g.claim("g", "b", 10, all, at_once);
  BOOST_REQUIRE(again.size() == 1u);
  BOOST_TEST(again[0].record.position == 1u);
  BOOST_TEST(again[0].attempts == 0u);
  g.nack("g", "b", 1, "still down", {.attempts = 1});
  BOOST_TEST(g.purge("g", position{1}) == 1u);
  BOOST_TEST(g.parked("g").empty());
  BOOST_TEST(g.status("g").checkpoint == 2u);
}

BOOST_AUTO_TEST_CASE(a_nacked_record_waits_for_its_backoff) { // R-SUB-GROUP-PARK
  append("", stream_id::random(), 0, events(1));
  auto& g = groups_of(*engine);
  g.open({.name = "g"});
  group_policy slow{.attempts = 3, .backoff_base = std::chrono::hours(1),
                    .backoff_cap = std::chrono::hours(2)};
  BOOST_REQUIRE(g.claim("g", "a", 1, all, slow).size() == 1u);
  auto lease = g.next_due("g");
  BOOST_TEST((!lease || *lease > std::chrono::milliseconds(std::chrono::seconds(1))));
  BOOST_TEST((g.nack("g", "a", 1, "x", slow) == storage::nack_outcome::retry));
  BOOST_TEST(g.claim("g", "b", 1, all, slow).empty());
  auto due = g.next_due("g");
  BOOST_REQUIRE(due.has_value());
  BOOST_TEST(due->count() > std::chrono::milliseconds(std::chrono::minutes(59)).count());
  BOOST_TEST(g.status("g").waiting == 1u);
}

BOOST_AUTO_TEST_CASE(acks_and_nacks_of_records_not_held_are_refused_and_change_nothing) { // R-SUB-GROUP-ACK
  append("", stream_id::random(), 0, events(2));
  auto& g = groups_of(*engine);
  BOOST_CHECK_THROW(g.claim("nobody", "a", 1, all, {}), unknown_group);
  BOOST_CHECK_THROW(g.ack("nobody", "a", 1), unknown_group);
  BOOST_CHECK_THROW(g.status("nobody"), unknown_group);
  BOOST_CHECK_THROW(g.open({.name = ""}), invalid_argument);
  g.open({.name = "g"});
  BOOST_REQUIRE(g.claim("g", "a", 1, all, {}).size() == 1u);
  auto before = g.status("g");
  BOOST_CHECK_THROW(g.ack("g", "b", 1), record_not_held);     // another member's
  BOOST_CHECK_THROW(g.ack("g", "a", 2), record_not_held);     // never claimed
  BOOST_CHECK_THROW(g.nack("g", "b", 1, "x", {}), record_not_held);
  BOOST_CHECK_THROW(g.ack("g", "a", 99), record_not_held);    // not in the log
  BOOST_CHECK_THROW(g.claim("g", "a", 1, all, {.attempts = 0}), invalid_argument);
  auto after = g.status("g");
  BOOST_TEST(after.in_hand == before.in_hand);
  BOOST_TEST(after.checkpoint == before.checkpoint);
  g.ack("g", "a", 1);
  BOOST_CHECK_THROW(g.ack("g", "a", 1), record_not_held);     // settled already
  BOOST_TEST(g.status("g").checkpoint == 1u);
  BOOST_CHECK_THROW(g.open({.name = "g", .per_stream_order = true}), invalid_argument);
}

BOOST_AUTO_TEST_CASE(with_per_stream_order_a_stream_is_in_one_members_hands_in_order) { // R-SUB-GROUP-ORDER
  auto s = stream_id::random(), t = stream_id::random();
  append("", s, 0, events(1));
  append("", t, 0, events(1));
  append("", s, 1, events(2));
  append("", t, 1, events(1));
  // Positions: s 1, 3, 4; t 2, 5.
  auto& g = groups_of(*engine);
  g.open({.name = "ordered", .per_stream_order = true});
  BOOST_TEST((positions(g.claim("ordered", "a", 10, all, at_once)) == std::vector<position>{1, 2}));
  BOOST_TEST(g.claim("ordered", "b", 10, all, at_once).empty());
  g.ack("ordered", "a", 1);
  BOOST_TEST((positions(g.claim("ordered", "b", 10, all, at_once)) == std::vector<position>{3}));
  g.nack("ordered", "b", 3, "x", at_once); // its retry still holds the stream back
  g.ack("ordered", "a", 2);
  BOOST_TEST((positions(g.claim("ordered", "a", 10, all, at_once)) == std::vector<position>{3, 5}));
  g.nack("ordered", "a", 3, "x", {.attempts = 2}); // parked: no longer holds s back
  BOOST_TEST((positions(g.claim("ordered", "b", 10, all, at_once)) == std::vector<position>{4}));
}

BOOST_AUTO_TEST_CASE(a_leaving_member_hands_its_records_back) { // R-SUB-GROUP
  append("", stream_id::random(), 0, events(2));
  auto& g = groups_of(*engine);
  g.open({.name = "g"});
  BOOST_REQUIRE(g.claim("g", "a", 10, all, {}).size() == 2u);
  g.leave("g", "nobody-at-all");
  BOOST_TEST(g.claim("g", "b", 10, all, {}).empty());
  g.leave("g", "a");
  auto b = g.claim("g", "b", 10, all, {});
  BOOST_TEST((positions(b) == std::vector<position>{1, 2}));
  BOOST_TEST(b[0].attempts == 0u); // leaving counts no attempt
  BOOST_CHECK_THROW(g.ack("g", "a", 1), record_not_held);
}

BOOST_AUTO_TEST_CASE(a_claim_whose_lease_ran_out_goes_to_another_member) { // R-SUB-GROUP-LEASE
  append("", stream_id::random(), 0, events(1));
  auto& g = groups_of(*engine);
  g.open({.name = "g"});
  group_policy short_lease{.lease = std::chrono::milliseconds(20)};
  BOOST_REQUIRE(g.claim("g", "a", 1, all, short_lease).size() == 1u);
  // Waits for the condition (the lease ends), with a generous deadline.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<storage::group_claim> b;
  while (b.empty() && std::chrono::steady_clock::now() < deadline) {
    auto due = g.next_due("g");
    if (due)
      std::this_thread::sleep_for(*due); // exactly until the lease ends, not a guess
    b = g.claim("g", "b", 1, all, short_lease);
  }
  BOOST_TEST((positions(b) == std::vector<position>{1}));
  BOOST_CHECK_THROW(g.ack("g", "a", 1), record_not_held);
  g.ack("g", "b", 1);
  BOOST_TEST(g.status("g").checkpoint == 1u);
}

BOOST_AUTO_TEST_CASE(concurrent_members_ack_every_record_exactly_once) { // R-SUB-GROUP
  constexpr int n = 400;
  for (int i = 0; i < n / 10; ++i)
    append("", stream_id::random(), 0, events(10));
  auto& g = groups_of(*engine);
  g.open({.name = "g"});
  std::mutex m;
  std::multiset<position> acked;
  auto work = [&](std::string me) {
    while (g.status("g").checkpoint < position(n)) {
      auto claims = g.claim("g", me, 7, all, at_once);
      for (const auto& c : claims) {
        if (c.record.position % 13 == 0 && c.attempts == 0) {
          g.nack("g", me, c.record.position, "once", at_once);
          continue;
        }
        g.ack("g", me, c.record.position);
        std::lock_guard lock(m);
        acked.insert(c.record.position);
      }
    }
  };
  std::vector<std::thread> members;
  for (int i = 0; i < 4; ++i)
    members.emplace_back(work, "m" + std::to_string(i));
  for (auto& t : members)
    t.join();
  BOOST_TEST(acked.size() == std::size_t(n));
  for (position p = 1; p <= position(n); ++p)
    BOOST_TEST(acked.count(p) == 1u);
  BOOST_TEST(g.status("g").in_hand == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
