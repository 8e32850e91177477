// The RocksDB engine's group commit (core/storage/rocksdb/src/commit_queue.hpp,
// R-ST3): sequencing on the appender's thread (positions, hooks, refusals
// that consume no position) and writing on the writer thread (contiguous
// batches in position order, appends queued meanwhile sharing the next
// batch, publication before acknowledgement). On a real RocksDB store in a
// temporary folder under /tmp. Waits are bounded by generous deadlines.
#include "commit_queue.hpp"

#include <rocksdb/db.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

using namespace sourcery;
using namespace sourcery::storage;
using namespace sourcery::storage::rocksdb_detail;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A fresh store with every column family, in a folder removed afterwards.
struct temp_store {
  fs::path path;
  std::unique_ptr<store> owned = std::make_unique<store>();
  store& st = *owned;

  temp_store() {
    std::random_device rd;
    path = fs::path("/tmp") / ("sourcery-commit-queue-test-" + std::to_string(rd()) + "-"
                               + std::to_string(rd()));
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (auto* name : family_names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(options, path.string(), families, &st.families, &raw), "opening");
    st.db.reset(raw);
    st.cache = std::make_unique<record_cache>(1 << 20);
  }
  ~temp_store() {
    owned.reset(); // closed before its folder is removed
    std::error_code ec;
    fs::remove_all(path, ec);
  }

  std::string get(family f, const std::string& key) {
    std::string value;
    auto s = st.db->Get(rocksdb::ReadOptions(), st.cf(f), key, &value);
    return s.ok() ? value : "<" + s.ToString() + ">";
  }
};

/// Records what the writer tells, and lets the test wait for it.
class recording_owner final : public commit_owner {
public:
  struct told {
    position first, last;
    std::string error;
    position published_last; // the queue's last() when told
  };

  commit_queue* queue = nullptr;

  void written(pending_commit& c, const std::string& error) noexcept override {
    std::lock_guard lock(mutex_);
    told_.push_back({c.records.front()->pos, c.records.back()->pos, error, queue->last()});
    cv_.notify_all();
  }

  /// The first `n` acknowledgements, once there are that many.
  std::vector<told> wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    BOOST_REQUIRE(cv_.wait_for(lock, 60s, [&] { return told_.size() >= n; }));
    return told_;
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<told> told_;
};

raw_event event(int n) {
  raw_event e;
  e.id = random_uuid();
  e.created_at = timestamp::now();
  e.name = "item_added";
  e.data = R"({"n":)" + std::to_string(n) + "}";
  e.context = "{}";
  return e;
}

const std::string tenant = "acme";

/// A commit of `n` events to `stream`, numbered from `first_number`.
std::unique_ptr<pending_commit> commit_of(const stream_id& stream, int n,
                                          std::uint64_t first_number, commit_owner* owner,
                                          bool to_outbox = false) {
  auto c = std::make_unique<pending_commit>();
  for (int i = 0; i < n; ++i) {
    auto r = std::make_shared<stored_record>();
    r->bytes = encode_record(tenant, stream, event(i), first_number + i);
    r->decode(&stream);
    c->records.push_back(std::move(r));
  }
  c->stream_key = stream_key(tenant, stream);
  c->first_number = first_number;
  c->state = "state after " + std::to_string(first_number + n - 1);
  c->to_outbox.assign(static_cast<std::size_t>(n), to_outbox ? 1 : 0);
  c->owner = owner;
  return c;
}

/// The queue's batches as `published` saw them: each batch's positions.
struct batches {
  std::mutex mutex;
  std::vector<std::vector<position>> seen;
  std::vector<bool> before_last; // last() did not cover the batch yet
  commit_queue* queue = nullptr;

  auto callback() {
    return [this](std::span<const std::unique_ptr<pending_commit>> group) {
      std::lock_guard lock(mutex);
      std::vector<position> positions;
      for (const auto& c : group)
        for (const auto& r : c->records)
          positions.push_back(r->pos);
      before_last.push_back(queue->last() < positions.front());
      seen.push_back(std::move(positions));
    };
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(commit_queue_suite)

BOOST_AUTO_TEST_CASE(submit_takes_consecutive_positions_after_the_last) { // R-ST3, R-P1
  temp_store s;
  recording_owner owner;
  batches b;
  commit_queue q(s.st, 41, b.callback());
  b.queue = &q;
  owner.queue = &q;
  auto stream = stream_id::named("order-1");
  std::vector<position> hook_saw;
  auto hook = commit_hook([&](std::span<const record> records) {
    for (const auto& r : records)
      hook_saw.push_back(r.position);
  });
  BOOST_TEST(q.submit(commit_of(stream, 2, 1, &owner), hook) == 42u);
  BOOST_TEST(q.submit(commit_of(stream, 3, 3, &owner), hook) == 44u);
  BOOST_TEST((hook_saw == std::vector<position>{42, 43, 44, 45, 46}));
  auto told = owner.wait_for(2);
  BOOST_TEST(told[0].first == 42u);
  BOOST_TEST(told[0].last == 43u);
  BOOST_TEST(told[1].first == 44u);
  BOOST_TEST(told[1].last == 46u);
  BOOST_TEST(told[0].error.empty());
  BOOST_TEST(q.last() == 46u);
}

BOOST_AUTO_TEST_CASE(a_hook_that_throws_consumes_no_position_and_queues_nothing) { // R-ST1
  temp_store s;
  recording_owner owner;
  batches b;
  commit_queue q(s.st, 0, b.callback());
  b.queue = &q;
  owner.queue = &q;
  auto stream = stream_id::named("order-1");
  auto refused = commit_of(stream, 2, 1, &owner);
  auto refusing = commit_hook([](std::span<const record>) { throw std::runtime_error("no"); });
  BOOST_CHECK_THROW(q.submit(std::move(refused), refusing), std::runtime_error);
  BOOST_TEST(refused != nullptr); // left to the caller
  BOOST_TEST(q.submit(commit_of(stream, 1, 1, &owner), {}) == 1u); // the same position
  auto told = owner.wait_for(1);
  BOOST_TEST(told.size() == 1u); // the refused one is never written
  BOOST_TEST(told[0].first == 1u);
  BOOST_TEST(s.get(family::log, position_key(2)).starts_with("<NotFound"));
}

BOOST_AUTO_TEST_CASE(a_commit_prepared_in_an_older_epoch_is_refused) {
  temp_store s;
  batches b;
  commit_queue q(s.st, 0, b.callback());
  b.queue = &q;
  auto c = commit_of(stream_id::named("order-1"), 1, 1, nullptr);
  c->epoch = q.epoch() + 1; // not the queue's
  BOOST_CHECK_THROW(q.submit(std::move(c), {}), storage_unavailable);
  BOOST_TEST(c != nullptr);
  BOOST_TEST(q.submit(commit_of(stream_id::named("order-1"), 1, 1, nullptr), {}) == 1u);
}

BOOST_AUTO_TEST_CASE(a_written_commit_is_published_before_it_is_acknowledged) { // R-ST3
  temp_store s;
  recording_owner owner;
  batches b;
  commit_queue q(s.st, 0, b.callback());
  b.queue = &q;
  owner.queue = &q;
  auto stream = stream_id::named("order-1");
  position woken_at = 0;
  std::mutex m;
  std::condition_variable cv;
  q.wake_ups().notify_after(0, [&] {
    std::lock_guard lock(m);
    woken_at = q.last();
    cv.notify_all();
  });
  q.submit(commit_of(stream, 3, 1, &owner, true), {});
  auto told = owner.wait_for(1);
  BOOST_TEST(told[0].published_last >= 3u); // last() covered it when told
  {
    std::lock_guard lock(b.mutex);
    BOOST_REQUIRE(b.seen.size() == 1u);
    BOOST_TEST(b.before_last[0]); // published ran before last() covered it
  }
  {
    std::unique_lock lock(m);
    BOOST_REQUIRE(cv.wait_for(lock, 60s, [&] { return woken_at != 0; }));
    BOOST_TEST(woken_at == 3u); // wake-ups ran once it was published
  }
  // In the store: the records, the index entries, the state, the outbox marks.
  auto key = stream_key(tenant, stream);
  for (position p = 1; p <= 3; ++p) {
    BOOST_TEST(decode_record(p, s.get(family::log, position_key(p)))->version == p);
    BOOST_TEST(s.get(family::index, index_key(key, p)) == position_key(p));
    BOOST_TEST(s.get(family::outbox, outbox_key(0, p)) == encode_attempts(0));
  }
  BOOST_TEST(s.get(family::streams, key) == "state after 3");
}

BOOST_AUTO_TEST_CASE(commits_queued_while_the_writer_writes_share_the_next_batch) { // R-ST3
  temp_store s;
  recording_owner owner;
  // The writer is held inside its first batch's publication while ten more
  // commits queue.
  std::mutex hold_mutex;
  std::condition_variable hold_cv;
  bool holding = true, held = false;
  batches b;
  auto record = b.callback();
  commit_queue q(s.st, 0, [&](std::span<const std::unique_ptr<pending_commit>> group) {
    record(group);
    std::unique_lock lock(hold_mutex);
    held = true;
    hold_cv.notify_all();
    hold_cv.wait_for(lock, 60s, [&] { return !holding; }); // (no assertions off the test's thread)
  });
  b.queue = &q;
  owner.queue = &q;
  auto a = stream_id::named("a"), c = stream_id::named("c");
  q.submit(commit_of(a, 1, 1, &owner), {});
  {
    std::unique_lock lock(hold_mutex);
    BOOST_REQUIRE(hold_cv.wait_for(lock, 60s, [&] { return held; }));
  }
  for (int i = 0; i < 10; ++i) // two streams, pipelined appends to each
    q.submit(commit_of(i % 2 ? a : c, 2, static_cast<std::uint64_t>(i / 2 * 2 + (i % 2 ? 2 : 1)),
                       &owner),
             {});
  {
    std::lock_guard lock(hold_mutex);
    holding = false;
  }
  hold_cv.notify_all();
  auto told = owner.wait_for(11);
  std::lock_guard lock(b.mutex);
  BOOST_REQUIRE(b.seen.size() == 2u);
  BOOST_TEST((b.seen[0] == std::vector<position>{1}));
  std::vector<position> next;
  for (position p = 2; p <= 21; ++p)
    next.push_back(p);
  BOOST_TEST(b.seen[1] == next, boost::test_tools::per_element()); // one batch, in order
  for (std::size_t i = 0; i < told.size(); ++i) // acknowledged in position order
    BOOST_TEST(told[i].first == (i == 0 ? 1u : 2u + 2 * (i - 1)));
  // Each stream's state is its last commit's.
  BOOST_TEST(s.get(family::streams, stream_key(tenant, c)) == "state after 10");
  BOOST_TEST(s.get(family::streams, stream_key(tenant, a)) == "state after 11");
}

BOOST_AUTO_TEST_CASE(batches_are_contiguous_runs_in_position_order) { // R-ST3, R-P1
  temp_store s;
  recording_owner owner;
  batches b;
  constexpr int threads = 3, each = 200;
  {
    commit_queue q(s.st, 0, b.callback());
    b.queue = &q;
    owner.queue = &q;
    std::vector<std::thread> appenders;
    for (int t = 0; t < threads; ++t)
      appenders.emplace_back([&, t] {
        auto stream = stream_id::named("stream-" + std::to_string(t));
        for (int i = 0; i < each; ++i)
          q.submit(commit_of(stream, 1, static_cast<std::uint64_t>(i + 1), &owner), {});
      });
    for (auto& t : appenders)
      t.join();
  } // the destructor writes what is still queued
  auto told = owner.wait_for(threads * each);
  std::vector<position> all;
  for (const auto& batch : b.seen)
    all.insert(all.end(), batch.begin(), batch.end());
  BOOST_REQUIRE(all.size() == static_cast<std::size_t>(threads * each));
  for (std::size_t i = 0; i < all.size(); ++i)
    BOOST_REQUIRE(all[i] == i + 1);
  for (const auto& t : told)
    BOOST_REQUIRE(t.error.empty());
}

BOOST_AUTO_TEST_CASE(the_destructor_writes_what_is_queued) {
  temp_store s;
  recording_owner owner;
  batches b;
  auto stream = stream_id::named("order-1");
  {
    commit_queue q(s.st, 0, b.callback());
    b.queue = &q;
    owner.queue = &q;
    for (int i = 0; i < 5; ++i)
      q.submit(commit_of(stream, 1, static_cast<std::uint64_t>(i + 1), &owner), {});
  }
  BOOST_TEST(owner.wait_for(5).size() == 5u); // all told before the writer stopped
  for (position p = 1; p <= 5; ++p)
    BOOST_TEST(!s.get(family::log, position_key(p)).starts_with("<"));
}

BOOST_AUTO_TEST_SUITE_END()
