// bench_admin: how fast sourcery-admin's verify and export read a RocksDB
// store, beside a raw iteration of the same column families (log and index)
// with RocksDB's own iterators. One run, one table.
//   bench_admin [--events=N] [--streams=S] [--path=FOLDER] [--keep=yes]
#include "commands.hpp"
#include "../allocator.hpp"
#include "../cli.hpp"

#include <sourcery/storage/rocksdb.hpp>

#include "store.hpp" // the engine's column families, for the raw iteration

#include <rocksdb/db.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace sourcery;
using namespace sourcery::storage;

namespace {

double seconds_of(const std::function<void()>& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void fill(const std::string& path, std::uint64_t events, std::uint64_t streams) {
  rocksdb_options o;
  o.durability = rocksdb_options::durability::normal;
  auto e = open_rocksdb_engine(path, o);
  auto store = e->streams("bench");
  std::vector<raw_event> batch(100);
  std::vector<std::uint64_t> versions(streams, 0);
  for (std::uint64_t done = 0; done < events; done += batch.size()) {
    auto s = (done / batch.size()) % streams;
    for (auto& ev : batch) {
      ev.id = random_uuid();
      ev.created_at = timestamp::now();
      ev.name = "measured";
      ev.data = R"({"amount":1234,"currency":"EUR","note":"a typical small event"})";
      ev.context = "{}";
    }
    store->append(stream_id::named("stream-" + std::to_string(s), "bench"), versions[s], batch,
                  {}, nullptr);
    versions[s] += batch.size();
  }
}

/// Every key and value of `families`, touched (their sizes summed).
std::uint64_t raw_iteration(const std::string& path,
                            std::initializer_list<rocksdb_detail::family> families) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto* n : rocksdb_detail::family_names)
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles, &raw);
  if (!s.ok())
    throw std::runtime_error(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::uint64_t bytes = 0;
  for (auto f : families) {
    rocksdb::ReadOptions ro;
    ro.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[std::size_t(f)]));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      bytes += it->key().size() + it->value().size();
  }
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h);
  return bytes;
}

} // namespace

int main(int argc, char** argv) {
  std::uint64_t events = 1'000'000, streams = 1'000;
  std::string keep = "no";
  std::string path =
    (fs::temp_directory_path() / ("bench-admin-" + std::to_string(::getpid()))).string();
  cli::options o("bench_admin", "sourcery-admin's verify and export on a RocksDB store, beside a "
                                "raw iteration of its log and index; one table on stdout.");
  o.count(events, "events", "events stored (in appends of 100)", 100, 1'000'000'000)
    .count(streams, "streams", "streams they are spread over", 1, 10'000'000)
    .text(path, "path", "the store's folder (removed before, and after unless --keep)")
    .choice(keep, "keep", "leave the store in place afterwards (to run sourcery-admin on it)",
            {"no", "yes"});
  return cli::run_main(argc, argv, o, [&] {
    events -= events % 100;
    fs::remove_all(path);
    std::cout << "bench_admin: " << cli::grouped(events) << " events in " << cli::grouped(streams)
              << " streams, RocksDB at " << path << ", " << apps::allocator_name() << '\n';
    auto fill_s = seconds_of([&] { fill(path, events, streams); });
    auto row = [&](const char* what, double s) {
      std::printf("%-38s %8.2f s  %12.0f events/s\n", what, s, events / s);
    };
    row("filling (appends of 100)", fill_s);
    row("raw iteration: log",
        seconds_of([&] { raw_iteration(path, {rocksdb_detail::family::log}); }));
    row("raw iteration: log + index", seconds_of([&] {
          raw_iteration(path, {rocksdb_detail::family::log, rocksdb_detail::family::index});
        }));

    admin::common_args c;
    c.storage.path = path;
    std::streambuf* shown = std::cout.rdbuf();
    std::ostringstream verify_out;
    std::cout.rdbuf(verify_out.rdbuf());
    int code = 0;
    double verify_s = 0, export_s = 0;
    try {
      verify_s = seconds_of([&] { code = admin::run_verify(c, {}); });
      export_s = seconds_of([&] {
        admin::export_args a;
        a.file = "/dev/null";
        admin::run_export(c, a);
      });
    } catch (...) {
      std::cout.rdbuf(shown);
      throw;
    }
    std::cout.rdbuf(shown);
    row("sourcery-admin verify", verify_s);
    row("sourcery-admin export (to /dev/null)", export_s);
    std::cout << "verify said: " << verify_out.str();
    if (keep == "no")
      fs::remove_all(path);
    if (code != 0)
      std::cerr << "!! verify found problems in the store it filled\n";
    return code;
  });
}
