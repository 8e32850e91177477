// The in-memory engine's global log (core/storage/in_memory/src/memory_log.hpp):
// every committed event in position order without gaps (R-P1, R-SUB-ORDER),
// a rolled-back commit consuming no position (R-ST1), and the bytes it holds
// (R-ST5).
#include "memory_log.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace sourcery;
using namespace sourcery::storage;
using namespace sourcery::storage::in_memory_detail;

namespace {

raw_event event(const std::string& data, const std::string& name = "item_added") {
  raw_event e;
  e.id = random_uuid();
  e.created_at = timestamp::now();
  e.name = name;
  e.data = data;
  e.context = R"({"c":1})";
  e.schema = 2;
  return e;
}

/// A log with a tenant and a stream to commit to.
struct given_a_log {
  memory_log log;
  std::string tenant = "acme";
  stream_id stream = stream_id::named("order-1");

  /// Commits `raws` (versions from `first_version`, 0 = versionless).
  std::vector<const mem_record*> commit(
    const std::vector<raw_event>& raws, std::uint64_t first_version = 1,
    const std::function<void(std::span<const mem_record* const>)>& inside = {}) {
    std::vector<pending_event> events;
    for (std::size_t i = 0; i < raws.size(); ++i)
      events.push_back({&raws[i], first_version ? first_version + i : 0});
    return log.commit(&tenant, &stream, events, inside);
  }
};

std::vector<raw_event> events(int n, std::size_t bytes = 10) {
  std::vector<raw_event> out;
  for (int i = 0; i < n; ++i)
    out.push_back(event(std::string(bytes, static_cast<char>('a' + i % 26))));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(memory_log_suite)

BOOST_FIXTURE_TEST_CASE(an_empty_log_holds_nothing, given_a_log) {
  BOOST_TEST(log.last() == 0u);
  BOOST_TEST(log.memory_bytes() == 0u);
}

BOOST_FIXTURE_TEST_CASE(commits_take_consecutive_positions_from_one, given_a_log) { // R-P1
  auto first = commit(events(3));
  auto second = commit(events(2), 4);
  BOOST_TEST(log.last() == 5u);
  BOOST_REQUIRE(first.size() == 3u);
  BOOST_REQUIRE(second.size() == 2u);
  for (position p = 1; p <= 5; ++p)
    BOOST_TEST(log.at(p).pos == p);
  BOOST_TEST(first[0] == &log.at(1));
  BOOST_TEST(second[1] == &log.at(5));
}

BOOST_FIXTURE_TEST_CASE(a_record_reads_back_as_committed, given_a_log) { // R-P1
  auto raws = std::vector<raw_event>{event(R"({"n":1})"), event(R"({"n":2})", "item_removed")};
  commit(raws, 7);
  auto v = log.at(2).view();
  BOOST_TEST(v.position == 2u);
  BOOST_TEST(v.tenant == "acme");
  BOOST_TEST(v.stream == &stream);
  BOOST_TEST((v.id == raws[1].id));
  BOOST_TEST(v.created_us == raws[1].created_at.micros());
  BOOST_TEST(v.version == 8u);
  BOOST_TEST(v.type == "item_removed");
  BOOST_TEST(v.data == R"({"n":2})");
  BOOST_TEST(v.context == R"({"c":1})");
  BOOST_TEST(v.schema == 2u);
  BOOST_TEST(log.at(1).view().data == R"({"n":1})");
}

BOOST_FIXTURE_TEST_CASE(versionless_events_carry_version_zero, given_a_log) {
  commit(events(2), 0);
  BOOST_TEST(log.at(1).version == 0u);
  BOOST_TEST(log.at(2).version == 0u);
}

BOOST_FIXTURE_TEST_CASE(inside_runs_with_the_records_before_they_are_published, given_a_log) {
  commit(events(1));
  position last_seen = 99;
  std::vector<position> positions;
  commit(events(2), 2, [&](std::span<const mem_record* const> records) {
    last_seen = log.last();
    for (const auto* r : records)
      positions.push_back(r->pos);
  });
  BOOST_TEST(last_seen == 1u); // not yet published
  BOOST_TEST((positions == std::vector<position>{2, 3}));
  BOOST_TEST(log.last() == 3u);
}

BOOST_FIXTURE_TEST_CASE(a_commit_whose_inside_throws_consumes_no_position, given_a_log) { // R-ST1
  commit(events(2));
  auto bytes = log.memory_bytes();
  // Larger than an arena block: the rollback gives the block back.
  BOOST_CHECK_THROW(commit(events(3, 3 << 20), 3,
                           [](auto) { throw std::runtime_error("a listener refused"); }),
                    std::runtime_error);
  BOOST_TEST(log.last() == 2u);
  BOOST_TEST(log.memory_bytes() == bytes);
  auto next = commit(events(1, 5));
  BOOST_TEST(next[0]->pos == 3u); // the same position the failed commit had
  BOOST_TEST(log.at(3).view().data == std::string(5, 'a'));
}

BOOST_FIXTURE_TEST_CASE(memory_counts_records_and_payloads, given_a_log) { // R-ST5
  commit(events(1, 100));
  auto one = log.memory_bytes();
  BOOST_TEST(one >= sizeof(mem_record) + 100);
  commit(events(10, 100));
  BOOST_TEST(log.memory_bytes() == one); // within the chunk and the arena block
  commit(events(1, 4 << 20));
  BOOST_TEST(log.memory_bytes() >= one + (4u << 20)); // a payload larger than a block
}

BOOST_FIXTURE_TEST_CASE(positions_run_on_across_chunks_without_gaps, given_a_log) { // R-P1
  // Records live in chunks of 2^14: cross two boundaries.
  constexpr int total = (1 << 15) + 10;
  std::size_t before_second_chunk = 0;
  for (int done = 0; done < total; done += 1000) {
    auto raws = events(std::min(1000, total - done), 1);
    commit(raws, 0);
    if (log.last() < (1u << 14))
      before_second_chunk = log.memory_bytes();
  }
  BOOST_TEST(log.last() == static_cast<position>(total));
  for (position p = 1; p <= log.last(); ++p)
    BOOST_REQUIRE(log.at(p).pos == p);
  BOOST_TEST(log.memory_bytes() >= before_second_chunk + (1u << 14) * sizeof(mem_record));
}

BOOST_FIXTURE_TEST_CASE(wake_ups_run_once_the_commit_is_published, given_a_log) {
  position seen = 0;
  int ran = 0;
  log.wake_ups().notify_after(0, [&] {
    ++ran;
    seen = log.last();
  });
  BOOST_TEST(ran == 0);
  commit(events(2));
  BOOST_TEST(ran == 1);
  BOOST_TEST(seen == 2u);
}

BOOST_FIXTURE_TEST_CASE(concurrent_commits_and_reads_see_no_gap, given_a_log) { // R-P1, R-SUB-ORDER
  constexpr int writers = 3, commits = 500, per_commit = 3;
  std::atomic<int> writing{writers};
  std::atomic<bool> reader_ok{true};
  std::thread reader([&] {
    position read = 0; // follows the log as a subscription does
    while (writing.load() > 0 || read < log.last()) {
      auto last = log.last();
      for (; read < last; ++read) {
        const auto& r = log.at(read + 1);
        if (r.pos != read + 1 || r.data_len != 8)
          reader_ok.store(false);
      }
    }
  });
  std::vector<std::vector<position>> firsts(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      std::string tenant = "t" + std::to_string(w);
      auto stream = stream_id::random();
      for (int c = 0; c < commits; ++c) {
        auto raws = events(per_commit, 8);
        std::vector<pending_event> pending;
        for (auto& r : raws)
          pending.push_back({&r, 0});
        auto records = log.commit(&tenant, &stream, pending, {});
        for (std::size_t i = 1; i < records.size(); ++i)
          if (records[i]->pos != records[0]->pos + i)
            reader_ok.store(false); // one commit's positions are consecutive
        firsts[static_cast<std::size_t>(w)].push_back(records[0]->pos);
      }
      writing.fetch_sub(1);
    });
  for (auto& t : threads)
    t.join();
  reader.join();
  BOOST_TEST(reader_ok.load());
  BOOST_TEST(log.last() == static_cast<position>(writers * commits * per_commit));
  std::vector<int> taken(writers * commits * per_commit + 1, 0);
  for (const auto& f : firsts)
    for (auto p : f)
      for (int i = 0; i < per_commit; ++i)
        ++taken[p + static_cast<position>(i)];
  for (std::size_t p = 1; p < taken.size(); ++p)
    BOOST_REQUIRE(taken[p] == 1); // every position once
}

BOOST_AUTO_TEST_SUITE_END()
