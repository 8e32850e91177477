// The RocksDB engine's operator capabilities: a read-only open that changes
// no file and reads a store another engine has open (R-ADM2), and a
// checkpoint taken while appends go on that holds every acknowledged one
// (R-ADM6).
#include <sourcery/errors.hpp>
#include <sourcery/storage/rocksdb.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace sourcery;
using namespace sourcery::storage;
namespace fs = std::filesystem;

namespace {

struct temp_folder {
  temp_folder() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path()
           / ("sourcery-rocksdb-admin-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter++));
    fs::remove_all(path);
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

raw_event event(int n) {
  raw_event e;
  e.id = random_uuid();
  e.created_at = timestamp::now();
  e.name = "counted";
  e.data = "{\"n\":" + std::to_string(n) + "}";
  e.context = "{}";
  return e;
}

/// Every file of `folder` with its bytes.
std::map<std::string, std::string> contents(const fs::path& folder) {
  std::map<std::string, std::string> out;
  for (const auto& f : fs::recursive_directory_iterator(folder)) {
    if (!f.is_regular_file())
      continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    out[f.path().lexically_relative(folder).string()] = bytes.str();
  }
  return out;
}

/// Given a store with `n` events on one stream, closed.
void given_store(const fs::path& folder, int n) {
  auto e = open_rocksdb_engine(folder.string());
  auto stream = stream_id::named("counter");
  for (int i = 0; i < n; ++i)
    e->streams("acme")->append(stream, static_cast<std::uint64_t>(i), std::vector{event(i)}, {},
                               nullptr);
}

rocksdb_options read_only() {
  rocksdb_options o;
  o.read_only = true;
  return o;
}

} // namespace

BOOST_AUTO_TEST_SUITE(rocksdb_admin)

BOOST_AUTO_TEST_CASE(a_read_only_open_reads_everything_and_changes_no_file) {
  temp_folder dir;
  given_store(dir.path, 20);
  auto before = contents(dir.path);
  {
    auto e = open_rocksdb_engine(dir.path.string(), read_only());
    BOOST_TEST(e->log().last_position() == 20u);
    record_batch b;
    e->log().read(0, 100, b);
    BOOST_TEST(b.records.size() == 20u);
    BOOST_TEST(e->streams("acme")->info(stream_id::named("counter"))->current == 20u);
    BOOST_TEST(e->admin()->format_version() == 2u);
    BOOST_CHECK_THROW(e->streams("acme")->append(stream_id::named("counter"), 20,
                                                 std::vector{event(20)}, {}, nullptr),
                      storage_unavailable);
  }
  BOOST_TEST((contents(dir.path) == before));
}

BOOST_AUTO_TEST_CASE(a_read_only_open_reads_a_store_another_engine_has_open) {
  temp_folder dir;
  auto writer = open_rocksdb_engine(dir.path.string());
  auto stream = stream_id::named("counter");
  for (int i = 0; i < 5; ++i)
    writer->streams("acme")->append(stream, static_cast<std::uint64_t>(i), std::vector{event(i)},
                                    {}, nullptr);
  BOOST_CHECK_THROW(open_rocksdb_engine(dir.path.string()), storage_unavailable); // its LOCK
  auto reader = open_rocksdb_engine(dir.path.string(), read_only());
  BOOST_TEST(reader->log().last_position() == 5u);
}

BOOST_AUTO_TEST_CASE(a_read_only_open_of_an_absent_folder_is_refused_and_creates_nothing) {
  temp_folder dir;
  BOOST_CHECK_THROW(open_rocksdb_engine(dir.path.string(), read_only()), storage_unavailable);
  BOOST_TEST(!fs::exists(dir.path));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_taken_during_appends_holds_every_acknowledged_one) {
  temp_folder dir, copy;
  auto e = open_rocksdb_engine(dir.path.string());
  std::atomic<bool> stop{false};
  std::atomic<position> acknowledged{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      auto stream = stream_id::named("writer-" + std::to_string(w));
      for (std::uint64_t v = 0; !stop; ++v) {
        auto r = e->streams("acme")->append(stream, v, std::vector{event(int(v))}, {}, nullptr);
        auto seen = acknowledged.load();
        while (r.last_position > seen && !acknowledged.compare_exchange_weak(seen, r.last_position))
          ;
      }
    });
  while (acknowledged.load() < 2000) // the writers are under way
    std::this_thread::yield();
  auto before = acknowledged.load();
  checkpoint_rocksdb(*e, copy.path.string());
  stop = true;
  for (auto& t : writers)
    t.join();
  BOOST_TEST_MESSAGE("acknowledged before the checkpoint: " << before
                     << ", at the end: " << acknowledged.load());

  auto restored = open_rocksdb_engine(copy.path.string(), read_only());
  auto last = restored->log().last_position();
  BOOST_TEST(last >= before);
  BOOST_TEST(last <= acknowledged.load());
  record_batch original, copied;
  e->log().read(0, last, original);
  restored->log().read(0, last, copied);
  BOOST_REQUIRE_EQUAL(copied.records.size(), last); // gap-free
  for (std::size_t i = 0; i < last; ++i) {
    BOOST_TEST(copied.records[i].position == i + 1);
    BOOST_TEST((copied.records[i].id == original.records[i].id));
  }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_refuses_an_existing_folder_and_a_read_only_store) {
  temp_folder dir, copy;
  given_store(dir.path, 1);
  auto e = open_rocksdb_engine(dir.path.string(), read_only());
  BOOST_CHECK_THROW(checkpoint_rocksdb(*e, copy.path.string()), invalid_argument);
  BOOST_TEST(!fs::exists(copy.path));
}

BOOST_AUTO_TEST_SUITE_END()
