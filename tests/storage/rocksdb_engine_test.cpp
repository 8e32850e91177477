// The RocksDB engine (SPEC §15): R-ST1, R-ST3, R-ST4, R-ST5, R-ST6, used
// directly, without an actor system. Every test works on a real store in a
// temporary folder under /tmp, removed afterwards.
#include <sourcery/storage/rocksdb.hpp>

#include "layout.hpp"

#include <rocksdb/db.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace sourcery;
using namespace sourcery::storage;
namespace fs = std::filesystem;

namespace {

/// A fresh folder under /tmp, removed with everything in it.
struct temp_folder {
  fs::path path;
  temp_folder() {
    std::random_device rd;
    path = fs::path("/tmp") / ("sourcery-rocksdb-test-" + std::to_string(rd()) + "-"
                               + std::to_string(rd()));
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
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

std::vector<raw_event> events(int count, int from = 0) {
  std::vector<raw_event> out;
  for (int i = 0; i < count; ++i)
    out.push_back(event(from + i));
  return out;
}

const std::vector<char> all_to_outbox(64, 1);

std::span<const char> outbox_flags(std::size_t n) { return {all_to_outbox.data(), n}; }

append_receipt append(engine& e, const std::string& tenant, const stream_id& id,
                      expected_version expected, int count, bool to_outbox = false) {
  auto evs = events(count);
  return e.streams(tenant)->append(id, expected, evs,
                                   to_outbox ? outbox_flags(evs.size()) : std::span<const char>{},
                                   {});
}

/// Every record of the log, in order.
std::vector<record> whole_log(engine& e, record_batch& keep) {
  e.log().read(0, e.log().last_position() + 1, keep);
  return keep.records;
}

/// Names and contents of every file under `folder`.
std::map<std::string, std::string> files_of(const fs::path& folder) {
  std::map<std::string, std::string> out;
  for (const auto& f : fs::recursive_directory_iterator(folder))
    if (f.is_regular_file()) {
      std::ifstream in(f.path(), std::ios::binary);
      out[fs::relative(f.path(), folder).string()] =
        std::string(std::istreambuf_iterator<char>(in), {});
    }
  return out;
}

fs::path largest_table_file(const fs::path& folder) {
  fs::path best;
  std::uintmax_t size = 0;
  for (const auto& f : fs::directory_iterator(folder))
    if (f.path().extension() == ".sst" && f.file_size() >= size) {
      best = f.path();
      size = f.file_size();
    }
  BOOST_REQUIRE(!best.empty());
  return best;
}

/// Given a closed store with a few streams of events in `folder`.
void given_closed_store(const fs::path& folder) {
  auto e = open_rocksdb_engine(folder);
  for (int i = 0; i < 20; ++i)
    append(*e, "t1", stream_id::random(), 0, 5, true);
}

/// Opening `folder` must throw `Error` and leave every file as it was.
template <class Error>
void refused_unchanged(const fs::path& folder) {
  auto before = files_of(folder);
  try {
    open_rocksdb_engine(folder);
    BOOST_ERROR("the store opened");
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE("refused: " << e.what());
  }
  auto after = files_of(folder);
  BOOST_TEST(before.size() == after.size());
  BOOST_TEST((before == after), "the folder changed");
}

} // namespace

BOOST_AUTO_TEST_SUITE(rocksdb_engine_suite)

BOOST_AUTO_TEST_CASE(appends_read_back_and_version_errors_are_typed) { // R-ST1, R-ES1
  temp_folder dir;
  auto e = open_rocksdb_engine(dir.path);
  BOOST_TEST(e->name() == "rocksdb");
  auto s = e->streams("t1");
  BOOST_TEST(s == e->streams("t1"));
  auto id = stream_id::named("order #1", "orders");
  auto receipt = append(*e, "t1", id, 0, 3);
  BOOST_TEST(receipt.first_position == 1u);
  BOOST_TEST(receipt.last_position == 3u);
  BOOST_TEST(*receipt.version == 3u);
  BOOST_TEST(e->log().last_position() == 3u);
  BOOST_TEST(s->info(id)->current == 3u);

  BOOST_CHECK_THROW(append(*e, "t1", id, 0, 1), concurrent_stream_write_error);
  BOOST_CHECK_THROW(append(*e, "t1", id, no_versioning, 1),
                    no_expected_version_given_on_versioned_stream);
  BOOST_CHECK_THROW(append(*e, "t1", id, 3, 0), invalid_argument);
  auto loose = stream_id::random();
  append(*e, "t1", loose, no_versioning, 2);
  BOOST_CHECK_THROW(append(*e, "t1", loose, 2, 1), expected_version_used_on_versionless_stream);
  BOOST_TEST(e->log().last_position() == 5u);

  auto all = s->read(id, std::nullopt, std::nullopt);
  BOOST_REQUIRE_EQUAL(all.events.records.size(), 3u);
  BOOST_TEST(all.events.records[0].version == 1u);
  BOOST_TEST(all.events.records[0].data == R"({"n":0})");
  BOOST_TEST(*all.events.records[0].stream->name() == "order #1");
  BOOST_TEST(*all.events.records[0].stream->category() == "orders");
  auto middle = s->read(id, 2, 3);
  BOOST_REQUIRE_EQUAL(middle.events.records.size(), 1u);
  BOOST_TEST(middle.events.records[0].version == 2u);
  BOOST_TEST(s->read(loose, 5, 6).events.records.size() == 2u); // versionless: no slicing
  BOOST_TEST(!e->streams("t2")->info(id)); // tenants do not share streams

  record_batch batch;
  auto log = whole_log(*e, batch);
  BOOST_REQUIRE_EQUAL(log.size(), 5u);
  for (std::size_t i = 0; i < log.size(); ++i)
    BOOST_TEST(log[i].position == i + 1);
  BOOST_TEST(log[0].tenant == "t1");
  BOOST_TEST(*log[4].stream == loose);
  BOOST_TEST(log[4].version == 0u);
}

BOOST_AUTO_TEST_CASE(snapshots_and_deletions) { // R-ES3, R-ES4
  temp_folder dir;
  auto e = open_rocksdb_engine(dir.path);
  auto s = e->streams("t1");
  auto id = stream_id::random();
  append(*e, "t1", id, 0, 3);
  auto snap = event(99);
  BOOST_CHECK_THROW(s->save_snapshot(id, [&] { auto x = snap; x.version = 2; return x; }()),
                    versioning_mismatch);
  s->save_snapshot(id, snap);
  append(*e, "t1", id, 3, 2);
  auto read = s->read(id, std::nullopt, std::nullopt);
  BOOST_REQUIRE(read.snapshot);
  BOOST_TEST(*read.snapshot->version == 3u);
  BOOST_REQUIRE_EQUAL(read.events.records.size(), 2u);
  BOOST_TEST(read.events.records[0].version == 4u);
  s->remove(id);
  BOOST_TEST(!s->info(id));
  BOOST_TEST(s->read(id, std::nullopt, std::nullopt).events.records.empty());
  BOOST_TEST(e->log().last_position() == 5u); // the log keeps the events
  auto again = append(*e, "t1", id, 0, 1);
  BOOST_TEST(*again.version == 1u);
  BOOST_TEST(s->read(id, std::nullopt, std::nullopt).events.records.size() == 1u);
}

BOOST_AUTO_TEST_CASE(concurrent_appends_share_commits_without_gaps) { // R-ST3, R-P1
  temp_folder dir;
  auto e = open_rocksdb_engine(dir.path);
  constexpr int threads = 8, per_thread = 150;
  std::vector<std::vector<std::pair<stream_id, append_receipt>>> receipts(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto tenant = "tenant" + std::to_string(t % 3);
      std::vector<stream_id> mine;
      for (int i = 0; i < 10; ++i)
        mine.push_back(stream_id::random());
      std::vector<version> versions(mine.size(), 0);
      for (int i = 0; i < per_thread; ++i) {
        auto k = static_cast<std::size_t>(i) % mine.size();
        int n = 1 + i % 3;
        auto r = append(*e, tenant, mine[k], versions[k], n, i % 2 == 0);
        versions[k] = *r.version;
        receipts[t].emplace_back(mine[k], r);
      }
    });
  for (auto& w : workers)
    w.join();

  record_batch keep;
  auto log = whole_log(*e, keep);
  std::size_t expected = 0;
  for (const auto& rs : receipts)
    for (const auto& [id, r] : rs)
      expected += r.last_position - r.first_position + 1;
  BOOST_REQUIRE_EQUAL(log.size(), expected);
  BOOST_TEST(e->log().last_position() == expected);
  for (std::size_t i = 0; i < log.size(); ++i)
    BOOST_REQUIRE_EQUAL(log[i].position, i + 1); // gap-free, in order
  for (const auto& rs : receipts)
    for (const auto& [id, r] : rs)
      for (auto p = r.first_position; p <= r.last_position; ++p) {
        const auto& rec = log[p - 1];
        BOOST_REQUIRE(*rec.stream == id);
        BOOST_REQUIRE_EQUAL(rec.version, *r.version - (r.last_position - p));
      }
  BOOST_TEST(e->outbox().counts().pending > 0u);
}

// A write holds each stream's state once, as its last append in the batch
// leaves it: pipelined appends of two streams (many per batch, fsync'd), then
// the states after reopening are the last ones, and appends go on from them.
BOOST_AUTO_TEST_CASE(pipelined_appends_leave_each_stream_at_its_last_state) { // R-ST1, R-ST4
  temp_folder dir;
  auto a = stream_id::random(), b = stream_id::random();
  constexpr int n = 300;
  {
    auto e = open_rocksdb_engine(dir.path); // durability full: writes are slow, batches big
    auto streams = e->streams("t1");
    std::mutex m;
    std::condition_variable cv;
    int done = 0, failed = 0;
    auto count = [&](std::optional<append_receipt> r, std::exception_ptr) {
      std::lock_guard lock(m);
      ++done;
      failed += r ? 0 : 1;
      cv.notify_all();
    };
    for (int i = 0; i < n; ++i) {
      auto evs = events(1, i);
      streams->append_async(a, static_cast<version>(i), evs, {}, {}, count);
      if (i % 3 == 0) // versionless, interleaved
        streams->append_async(b, no_versioning, evs, {}, {}, count);
    }
    std::unique_lock lock(m);
    BOOST_REQUIRE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done == n + n / 3; }));
    BOOST_REQUIRE_EQUAL(failed, 0);
  }
  auto e = open_rocksdb_engine(dir.path);
  auto streams = e->streams("t1");
  BOOST_TEST(streams->info(a)->current == static_cast<version>(n));
  BOOST_TEST(streams->info(b)->current == static_cast<version>(n / 3));
  BOOST_TEST(streams->read(a, std::nullopt, std::nullopt).events.records.size() == std::size_t(n));
  BOOST_TEST(*append(*e, "t1", a, static_cast<version>(n), 1).version == version(n + 1));
}

BOOST_AUTO_TEST_CASE(a_throwing_hook_rolls_back_its_commit_only) { // R-ST1
  temp_folder dir;
  auto e = open_rocksdb_engine(dir.path);
  auto s = e->streams("t1");
  auto id = stream_id::random();
  append(*e, "t1", id, 0, 1);
  auto evs = events(2);
  std::vector<position> seen;
  auto hook = [&](std::span<const record> recs) {
    for (const auto& r : recs)
      seen.push_back(r.position);
    BOOST_TEST(e->log().last_position() == 1u); // not visible yet
    throw std::runtime_error("listener says no");
  };
  BOOST_CHECK_THROW(s->append(id, 1, evs, outbox_flags(2), hook), std::runtime_error);
  BOOST_TEST((seen == std::vector<position>{2, 3}));
  BOOST_TEST(e->log().last_position() == 1u);
  BOOST_TEST(s->info(id)->current == 1u);
  BOOST_TEST(e->outbox().counts().pending == 0u);
  auto r = append(*e, "t1", id, 1, 1);
  BOOST_TEST(r.first_position == 2u); // the position was not consumed
  record_batch keep;
  BOOST_TEST(whole_log(*e, keep).size() == 2u);
}

BOOST_AUTO_TEST_CASE(reads_of_old_records_come_from_disk) { // R-ST5
  temp_folder dir;
  rocksdb_options small;
  small.cache_mb = 4; // 1 MB of recent records: most of the log is on disk only
  auto e = open_rocksdb_engine(dir.path, small);
  std::vector<raw_event> big;
  for (int i = 0; i < 100; ++i) {
    auto ev = event(i);
    ev.data = R"({"pad":")" + std::string(400, 'x') + "\"}";
    big.push_back(ev);
  }
  auto s = e->streams("t1");
  for (int i = 0; i < 100; ++i)
    s->append(stream_id::random(), 0, big, {}, {});
  BOOST_TEST(e->log().last_position() == 10000u);
  record_batch keep;
  auto log = whole_log(*e, keep);
  BOOST_REQUIRE_EQUAL(log.size(), 10000u);
  for (std::size_t i = 0; i < log.size(); ++i)
    BOOST_REQUIRE_EQUAL(log[i].position, i + 1);
  BOOST_TEST(log[0].data.size() == big[0].data.size());
  BOOST_TEST(e->memory_bytes() < std::size_t{8} << 20);
}

namespace {

/// Table files of `folder` that this process has open.
std::size_t open_table_files(const fs::path& folder) {
  std::size_t n = 0;
  auto canonical = fs::canonical(folder);
  for (const auto& fd : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = fs::read_symlink(fd.path(), ec);
    if (!ec && target.parent_path() == canonical && target.extension() == ".sst")
      ++n;
  }
  return n;
}

} // namespace

BOOST_AUTO_TEST_CASE(open_table_files_are_bounded) { // R-ST5
  temp_folder dir;
  rocksdb_options o;
  o.cache_mb = 4;
  o.max_open_tables = 64; // the least that is used
  // Every close flushes the memtables into new table files, and the log's
  // files are never merged (positions only grow): the store ends with many.
  constexpr int rounds = 150, appends = 4, per_append = 20;
  for (int round = 0; round < rounds; ++round) {
    auto e = open_rocksdb_engine(dir.path, o);
    auto s = e->streams("t1");
    for (int i = 0; i < appends; ++i)
      s->append(stream_id::random(), 0, events(per_append), {}, {});
  }
  std::size_t tables = 0;
  for (const auto& f : fs::directory_iterator(dir.path))
    tables += f.path().extension() == ".sst" ? 1 : 0;
  BOOST_TEST_MESSAGE(tables << " table files");
  BOOST_REQUIRE_GE(tables, 2u * o.max_open_tables);

  auto e = open_rocksdb_engine(dir.path, o);
  record_batch keep;
  auto log = whole_log(*e, keep); // reads every one of the log's files
  BOOST_REQUIRE_EQUAL(log.size(), std::size_t{rounds * appends * per_append});
  for (std::size_t i = 0; i < log.size(); ++i)
    BOOST_REQUIRE_EQUAL(log[i].position, i + 1);
  BOOST_TEST(open_table_files(dir.path) <= o.max_open_tables);
}

BOOST_AUTO_TEST_CASE(reopening_continues_everything) { // R-ST4
  temp_folder dir;
  auto versioned = stream_id::named("kept");
  auto loose = stream_id::random();
  auto snapped = stream_id::random();
  auto removed = stream_id::random();
  cursor_key cursor{"totals", "t1", versioned};
  encryption_key key(40, 7);
  std::size_t failed_pos = 0, dead_pos = 0, in_flight_pos = 0;
  {
    rocksdb_options o;
    o.outbox_shards = 2;
    auto e = open_rocksdb_engine(dir.path, o);
    append(*e, "t1", versioned, 0, 3, true);  // 1..3
    append(*e, "t1", loose, no_versioning, 2); // 4..5
    append(*e, "t2", snapped, 0, 2);           // 6..7
    e->streams("t2")->save_snapshot(snapped, event(50));
    append(*e, "t2", removed, 0, 1); // 8
    e->streams("t2")->remove(removed);
    e->keys()->store("t1", "ann", key);
    e->cursors().store(cursor, 3);

    auto claims = e->outbox().claim_all(10);
    BOOST_REQUIRE_EQUAL(claims.size(), 3u);
    std::string broker = "broker down";
    auto reporter = e->outbox().open({.attempts = 3});
    reporter.report(claims[0], nullptr); // published
    BOOST_TEST((reporter.report(claims[1], &broker) == outbox_outcome::retry));
    BOOST_TEST((e->outbox().open({.attempts = 1}).report(claims[2], &broker) == outbox_outcome::dead));
    failed_pos = claims[1].record.position;
    dead_pos = claims[2].record.position;
    append(*e, "t1", versioned, 3, 1, true); // 9: claimed and never reported
    auto in_flight = e->outbox().claim_all(10);
    BOOST_REQUIRE_EQUAL(in_flight.size(), 2u);
    in_flight_pos = in_flight[1].record.position;
    BOOST_TEST(in_flight_pos == 9u);
  }
  auto e = open_rocksdb_engine(dir.path);
  BOOST_TEST(e->outbox().shards() == 2u); // as stored
  BOOST_TEST(e->log().last_position() == 9u);
  BOOST_TEST(e->streams("t1")->info(versioned)->current == 4u);
  BOOST_TEST(e->streams("t1")->info(loose)->versionless);
  BOOST_TEST(e->streams("t1")->info(loose)->current == 2u);
  auto snap = e->streams("t2")->read(snapped, std::nullopt, std::nullopt);
  BOOST_REQUIRE(snap.snapshot);
  BOOST_TEST(snap.snapshot->data == R"({"n":50})");
  BOOST_TEST(snap.events.records.empty());
  BOOST_TEST(!e->streams("t2")->info(removed));
  BOOST_TEST(*e->keys()->get("t1", "ann") == key);
  BOOST_TEST(*e->cursors().load(cursor) == 3u);
  BOOST_TEST(!e->cursors().load(cursor_key{"other", "t1", versioned}));

  auto counts = e->outbox().counts();
  BOOST_TEST(counts.pending == 2u); // the failed one and the one in flight
  BOOST_TEST(counts.dead == 1u);
  auto dead = e->outbox().dead_letters();
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].record.position == dead_pos);
  BOOST_TEST(dead[0].attempts == 1);
  BOOST_TEST(dead[0].last_error == "broker down");
  auto claims = e->outbox().claim_all(10);
  BOOST_REQUIRE_EQUAL(claims.size(), 2u);
  BOOST_TEST(claims[0].record.position == failed_pos);
  BOOST_TEST(claims[0].attempts == 1u);
  BOOST_TEST(claims[1].record.position == in_flight_pos);
  BOOST_TEST(claims[1].attempts == 0u);
  for (const auto& c : claims)
    e->outbox().open({.attempts = 3}).report(c, nullptr);
  BOOST_TEST(e->outbox().wait_until_empty(std::chrono::milliseconds(0)));
  BOOST_TEST(e->outbox().requeue(std::nullopt) == 1u);
  auto requeued = e->outbox().claim_all(10);
  BOOST_REQUIRE_EQUAL(requeued.size(), 1u);
  BOOST_TEST(requeued[0].record.position == dead_pos);

  auto next = append(*e, "t1", versioned, 4, 1);
  BOOST_TEST(next.first_position == 10u);
  BOOST_TEST(*next.version == 5u);
  auto again = append(*e, "t2", removed, 0, 1);
  BOOST_TEST(*again.version == 1u);
}

BOOST_AUTO_TEST_CASE(reopening_with_other_shard_counts_keeps_the_outbox) { // R-ST4
  temp_folder dir;
  {
    rocksdb_options o;
    o.outbox_shards = 1;
    auto e = open_rocksdb_engine(dir.path, o);
    for (int t = 0; t < 8; ++t)
      append(*e, "tenant" + std::to_string(t), stream_id::random(), 0, 2, true);
  }
  rocksdb_options o;
  o.outbox_shards = 4;
  auto e = open_rocksdb_engine(dir.path, o);
  BOOST_TEST(e->outbox().counts().pending == 16u);
  std::size_t taken = 0;
  for (std::size_t shard = 0; shard < 4; ++shard)
    for (const auto& c : e->outbox().claim(shard, 100)) {
      BOOST_TEST(e->outbox().shard_of(c.record.tenant) == shard);
      ++taken;
    }
  BOOST_TEST(taken == 16u);
}

BOOST_AUTO_TEST_CASE(a_shredded_key_leaves_no_bytes_in_any_file) { // R-ST4, R-EN
  temp_folder dir;
  encryption_key key;
  std::mt19937 rng(42);
  for (int i = 0; i < 40; ++i)
    key.push_back(static_cast<std::uint8_t>(rng()));
  std::string needle(key.begin(), key.end());
  auto holds_key = [&] {
    for (const auto& [name, bytes] : files_of(dir.path))
      if (bytes.find(needle) != std::string::npos)
        return true;
    return false;
  };
  {
    auto e = open_rocksdb_engine(dir.path);
    e->keys()->store("t1", "ann", key);
    e->keys()->store("t1", "bob", encryption_key(40, 1));
    append(*e, "t1", stream_id::random(), 0, 10, true);
    BOOST_TEST(holds_key()); // the test can see the key where it is
    e->keys()->remove("t1", "ann");
    BOOST_TEST(!e->keys()->get("t1", "ann"));
    BOOST_TEST(!holds_key()); // gone while the store is open, WAL included
  }
  BOOST_TEST(!holds_key());
  auto e = open_rocksdb_engine(dir.path);
  BOOST_TEST(!e->keys()->get("t1", "ann"));
  BOOST_TEST(e->keys()->get("t1", "bob").has_value());
}

BOOST_AUTO_TEST_CASE(a_truncated_table_file_is_refused_unchanged) { // R-ST6
  temp_folder dir;
  given_closed_store(dir.path);
  auto table = largest_table_file(dir.path);
  fs::resize_file(table, fs::file_size(table) / 2);
  refused_unchanged<storage_corrupt>(dir.path);
}

BOOST_AUTO_TEST_CASE(a_garbage_filled_table_file_is_refused_unchanged) { // R-ST6
  temp_folder dir;
  given_closed_store(dir.path);
  auto table = largest_table_file(dir.path);
  auto size = fs::file_size(table);
  std::mt19937 rng(7);
  std::string garbage(size, '\0');
  for (auto& c : garbage)
    c = static_cast<char>(rng());
  std::ofstream(table, std::ios::binary | std::ios::trunc) << garbage;
  refused_unchanged<storage_corrupt>(dir.path);
}

BOOST_AUTO_TEST_CASE(a_garbage_filled_manifest_is_refused_unchanged) { // R-ST6
  temp_folder dir;
  given_closed_store(dir.path);
  for (const auto& f : fs::directory_iterator(dir.path))
    if (f.path().filename().string().starts_with("MANIFEST-")) {
      auto size = f.file_size();
      std::ofstream(f.path(), std::ios::binary | std::ios::trunc) << std::string(size, 'Z');
    }
  refused_unchanged<storage_corrupt>(dir.path);
}

BOOST_AUTO_TEST_CASE(a_folder_of_another_application_is_refused_unchanged) { // R-ST6
  temp_folder dir;
  fs::create_directories(dir.path / "photos");
  std::ofstream(dir.path / "notes.txt") << "not a database";
  std::ofstream(dir.path / "photos" / "cat.jpg") << "\xff\xd8\xff";
  refused_unchanged<storage_corrupt>(dir.path);
}

BOOST_AUTO_TEST_CASE(another_rocksdb_database_is_refused_unchanged) { // R-ST6
  temp_folder dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    BOOST_REQUIRE(rocksdb::DB::Open(o, dir.path.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    BOOST_REQUIRE(db->Put({}, "user:1", "someone else's data").ok());
    BOOST_REQUIRE(db->Close().ok());
  }
  refused_unchanged<storage_corrupt>(dir.path);
}

BOOST_AUTO_TEST_CASE(a_newer_format_version_is_refused_unchanged) { // R-ST6
  temp_folder dir;
  given_closed_store(dir.path);
  {
    rocksdb::DBOptions o;
    std::vector<std::string> names;
    BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies(o, dir.path.string(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names)
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    BOOST_REQUIRE(rocksdb::DB::Open(o, dir.path.string(), cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string format = "sourcery-rocksdb";
    format += std::string("\0\0\0\x63", 4); // format version 99
    BOOST_REQUIRE(db->Put({}, handles[0], "format", format).ok());
    BOOST_REQUIRE(db->Flush({}, handles).ok());
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
    BOOST_REQUIRE(db->Close().ok());
  }
  refused_unchanged<storage_version_mismatch>(dir.path);
}

BOOST_AUTO_TEST_CASE(a_creation_interrupted_by_a_crash_is_created_afresh) { // R-ST6, R-ST7
  // A kill while a new store is created leaves RocksDB's first files beside
  // the creation marker: no append was ever acknowledged there, so opening
  // creates the store again instead of refusing the folder as foreign.
  temp_folder dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    BOOST_REQUIRE(rocksdb::DB::Open(o, dir.path.string(), &raw).ok()); // no format yet
    std::unique_ptr<rocksdb::DB> db(raw);
    BOOST_REQUIRE(db->Close().ok());
  }
  std::ofstream(dir.path / "SOURCERY-CREATING").flush();
  auto e = open_rocksdb_engine(dir.path);
  BOOST_TEST(e->log().last_position() == 0u);
  append(*e, "t", stream_id::random(), 0, 3);
  e.reset();
  BOOST_TEST(!fs::exists(dir.path / "SOURCERY-CREATING"));
  BOOST_TEST(open_rocksdb_engine(dir.path)->log().last_position() == 3u);
}

BOOST_AUTO_TEST_CASE(a_store_holds_no_creation_marker_once_open) { // R-ST6
  // Without the marker, the same files are another application's database.
  temp_folder dir;
  open_rocksdb_engine(dir.path).reset();
  BOOST_TEST(!fs::exists(dir.path / "SOURCERY-CREATING"));
}

BOOST_AUTO_TEST_CASE(a_store_open_elsewhere_is_unavailable) { // R-ST6
  temp_folder dir;
  auto first = open_rocksdb_engine(dir.path);
  append(*first, "t1", stream_id::random(), 0, 1);
  BOOST_CHECK_THROW(open_rocksdb_engine(dir.path), storage_unavailable);
  BOOST_TEST(first->log().last_position() == 1u);
}

BOOST_AUTO_TEST_CASE(both_durability_levels_keep_acknowledged_appends) { // R-ST3
  for (auto level : {rocksdb_options::durability::full, rocksdb_options::durability::normal}) {
    temp_folder dir;
    rocksdb_options o;
    o.durability = level;
    auto id = stream_id::random();
    {
      auto e = open_rocksdb_engine(dir.path, o);
      for (int i = 0; i < 20; ++i)
        append(*e, "t1", id, static_cast<std::uint64_t>(i), 1);
    }
    auto e = open_rocksdb_engine(dir.path, o);
    BOOST_TEST(e->log().last_position() == 20u);
    BOOST_TEST(e->streams("t1")->info(id)->current == 20u);
  }
}

BOOST_AUTO_TEST_CASE(wake_ups_run_after_a_commit_publishes) { // R-SUB-ORDER
  temp_folder dir;
  auto e = open_rocksdb_engine(dir.path);
  std::atomic<int> woken{0};
  std::atomic<position> seen{0};
  e->log().notify_after(0, [&] {
    seen = e->log().last_position();
    ++woken;
  });
  auto cancelled = e->log().notify_after(0, [&] { woken += 100; });
  e->log().cancel(cancelled);
  BOOST_TEST(woken == 0);
  append(*e, "t1", stream_id::random(), 0, 2);
  BOOST_TEST(woken == 1); // from the committing thread, before append returned
  BOOST_TEST(seen == 2u);
  e->log().notify_after(1, [&] { ++woken; }); // already past: at once
  BOOST_TEST(woken == 2);
}

// -- schema versions (R-UP1): format 2, readable format-1 records ---------------------

namespace {

/// The format key's value for `version`.
std::string format_value(std::uint32_t version) {
  std::string out = "sourcery-rocksdb";
  rocksdb_detail::put_u32(out, version);
  return out;
}

/// Reads (and, with `write`, first replaces) the format key of a closed store.
std::string format_key(const fs::path& folder, std::optional<std::string> write = {}) {
  rocksdb::DBOptions o;
  std::vector<std::string> names;
  BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies(o, folder.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names)
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  BOOST_REQUIRE(rocksdb::DB::Open(o, folder.string(), cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  if (write)
    BOOST_REQUIRE(db->Put({}, handles[0], "format", *write).ok());
  std::string value;
  BOOST_REQUIRE(db->Get({}, handles[0], "format", &value).ok());
  BOOST_REQUIRE(db->Flush({}, handles).ok());
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h);
  BOOST_REQUIRE(db->Close().ok());
  return value;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_record_of_layout_1_reads_as_schema_version_1) { // R-UP1, R-ST6
  using namespace rocksdb_detail;
  auto stream = stream_id::random();
  std::string old; // as format-1 builds wrote it: no schema
  old.push_back(1);
  put_string(old, "t1");
  put_id(old, stream.id());
  old.push_back(0); // no category
  old.push_back(0); // no name
  put_id(old, random_uuid());
  put_u64(old, 123);
  put_u64(old, 4);
  put_string(old, "item_added");
  put_string(old, R"({"n":1})");
  put_string(old, "{}");
  auto decoded = decode_record(9, old); // owns what the view points at
  auto r = decoded->view();
  BOOST_TEST(r.schema == 1u);
  BOOST_TEST(r.type == "item_added");
  BOOST_TEST(r.data == R"({"n":1})");
  BOOST_TEST(r.version == 4u);
}

BOOST_AUTO_TEST_CASE(records_and_snapshots_keep_their_schema_version) { // R-UP1
  using namespace rocksdb_detail;
  auto e = event(1);
  e.schema = 3;
  auto decoded = decode_record(1, encode_record("t1", stream_id::random(), e, 2));
  auto r = decoded->view(); // views what `decoded` owns
  BOOST_TEST(r.schema == 3u);
  BOOST_TEST(r.data == e.data);
  BOOST_TEST(decode_snapshot(encode_snapshot(e)).schema == 3u);
  // A format-1 snapshot ends before the schema: it reads as 1.
  auto old = encode_snapshot(e);
  old.resize(old.size() - 4);
  BOOST_TEST(decode_snapshot(old).schema == 1u);
}

BOOST_AUTO_TEST_CASE(a_format_1_store_opens_and_is_marked_format_2) { // R-UP1, R-ST6
  temp_folder dir;
  given_closed_store(dir.path);
  format_key(dir.path, format_value(1));
  {
    auto e = open_rocksdb_engine(dir.path);
    record_batch keep;
    BOOST_TEST(whole_log(*e, keep).size() == 100u);
  }
  BOOST_TEST(format_key(dir.path) == format_value(2));
}

BOOST_AUTO_TEST_SUITE_END()

// Subscription groups (R-SUB-GROUP-DURABLE): the checkpoint, the attempts of
// failed records and the parked records survive closing and reopening.
BOOST_AUTO_TEST_CASE(a_groups_checkpoint_attempts_and_parked_records_survive_a_reopen) {
  temp_folder dir;
  const record_filter all = [](const record&) { return true; };
  const group_policy at_once{.attempts = 3, .backoff_base = std::chrono::milliseconds(0)};
  {
    auto e = open_rocksdb_engine(dir.path.string());
    BOOST_TEST(e->groups()->groups().empty());
    append(*e, "", stream_id::random(), 0, 6);
    auto& g = *e->groups();
    g.open({.name = "billing", .per_stream_order = false});
    BOOST_REQUIRE(g.claim("billing", "a", 5, all, at_once).size() == 5u);
    g.ack("billing", "a", 1);
    g.ack("billing", "a", 2);
    g.nack("billing", "a", 3, "retry me", at_once);
    g.nack("billing", "a", 4, "poison", {.attempts = 1});
    g.ack("billing", "a", 5); // above the checkpoint: settled, not offered again
    BOOST_TEST(g.status("billing").checkpoint == 2u);
    // Record 5 was acked, 6 never claimed, 3 waits for its retry, 4 parked.
  }
  {
    auto e = open_rocksdb_engine(dir.path.string());
    auto& g = *e->groups();
    BOOST_TEST((g.groups() == std::vector<std::string>{"billing"}));
    BOOST_TEST(g.status("billing").checkpoint == 2u);
    auto parked = g.parked("billing");
    BOOST_REQUIRE(parked.size() == 1u);
    BOOST_TEST(parked[0].record.position == 4u);
    BOOST_TEST(parked[0].last_error == "poison");
    auto again = g.claim("billing", "b", 10, all, at_once);
    BOOST_REQUIRE(again.size() == 2u); // 3 and 6: 5 was acked
    BOOST_TEST(again[0].record.position == 3u);
    BOOST_TEST(again[0].attempts == 1u);
    BOOST_TEST(again[1].record.position == 6u);
    for (const auto& c : again)
      g.ack("billing", "b", c.record.position);
    BOOST_TEST(g.status("billing").checkpoint == 6u);
    BOOST_TEST(g.replay("billing", position{4}) == 1u); // below the checkpoint now
  }
  {
    auto e = open_rocksdb_engine(dir.path.string());
    auto& g = *e->groups();
    BOOST_TEST(g.status("billing").checkpoint == 6u);
    BOOST_TEST(g.parked("billing").empty());
    auto replayed = g.claim("billing", "c", 10, all, at_once);
    BOOST_REQUIRE(replayed.size() == 1u);
    BOOST_TEST(replayed[0].record.position == 4u);
    g.ack("billing", "c", 4);
  }
  auto e = open_rocksdb_engine(dir.path.string());
  BOOST_TEST(e->groups()->claim("billing", "d", 10, all, at_once).empty());
}
