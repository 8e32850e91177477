// bench_rocksdb: the RocksDB engine beside raw RocksDB in the same run
// (issue 11, item 8). The engine is used directly (no actor system): what is
// measured is storage, group commit and the cache.
//
//   bench_rocksdb                     # the full run (a few minutes)
//   bench_rocksdb --baseline-batches=5 --raw-singles=50 --concurrent=2000
//                 --batches=20 --blocking=50 --loads=2 --scan-events=20000
//                                     # (one line) a tiny run, for CI
//   bench_rocksdb --help              # every option
//
// Baselines: raw RocksDB WriteBatches of exactly the keys and values the
// engine writes (record, stream index entry, outbox entry per event; the
// stream's state per append), 1,000 events per batch, and single-event
// batches, with the same durability (fsync'd for full). Stores live in
// fresh folders under --folder and are removed afterwards. Exit code 0
// whether or not targets are met, 1 when a correctness check failed ("!!"
// on stderr), 2 for bad options.
#include "bench_common.hpp"

#include <sourcery/storage/rocksdb.hpp>

#include "layout.hpp" // the engine's key and value encodings, for the baseline

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <random>
#include <thread>

namespace {

namespace fs = std::filesystem;
namespace st = sourcery::storage;
namespace layout = sourcery::storage::rocksdb_detail;
using bench::clock_type;
using bench::number;
using bench::seconds_since;

struct bench_config : bench::config {
  std::string durability = "full";
  std::string folder = "/tmp";
  std::size_t baseline_batches = 300;
  std::size_t raw_singles = 3'000;
  std::size_t concurrent = 50'000;
  std::size_t appenders = 8;
  std::size_t wide_appenders = 128;
  std::size_t streams = 1'000;
  std::size_t batches = 3'000;
  std::size_t batch_size = 100;
  std::size_t blocking = 3'000;
  std::size_t loads = 5;
  std::size_t load_size = 1'000;
  std::size_t scan_events = 1'000'000;
  std::size_t cache_mb = 64;

  bench_config() {
    opt_group{custom_options_, "global"}
      .add(durability, "durability", "full (fsync'd) or normal (written, not fsync'd)")
      .add(folder, "folder", "where the stores are made (and removed)")
      .add(baseline_batches, "baseline-batches", "baseline: raw batches of 1,000 events")
      .add(raw_singles, "raw-singles", "baseline: raw single-event batches")
      .add(concurrent, "concurrent", "(a) single-event appends from all appender threads")
      .add(appenders, "appenders", "(a) appender threads")
      .add(wide_appenders, "wide-appenders", "(a') appender threads of the second run")
      .add(streams, "streams", "(a) streams the appends go to")
      .add(batches, "batches", "(b) batch appends")
      .add(batch_size, "batch-size", "(b) events per batch append")
      .add(blocking, "blocking", "(c) single-event appends from one thread")
      .add(loads, "loads", "(d) cold reads of one stream (each after a reopen)")
      .add(load_size, "load-size", "(d) events in the read stream")
      .add(scan_events, "scan-events", "(e) events read by the full scan")
      .add(cache_mb, "cache-mb", "the engine's cache (records + block cache), MB");
  }
};

/// A folder that is removed with everything in it.
struct scratch {
  fs::path path;
  explicit scratch(const std::string& base, const char* what) {
    std::random_device rd;
    path = fs::path(base) / ("sourcery-bench-" + std::string(what) + "-" + std::to_string(rd()));
    fs::remove_all(path);
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// 4,096 stored-form events of ~100 bytes of JSON, made before timing.
const std::vector<sourcery::raw_event>& raw_pool() {
  static const auto pool = [] {
    std::vector<sourcery::raw_event> out;
    for (const auto& e : bench::event_pool()) {
      sourcery::raw_event r;
      r.id = sourcery::random_uuid();
      r.created_at = sourcery::timestamp::now();
      r.name = "order_placed";
      r.data = sourcery::serde::encode(e);
      r.context = "{}";
      out.push_back(std::move(r));
    }
    return out;
  }();
  return pool;
}

const sourcery::raw_event& raw(std::size_t i) { return raw_pool()[i % raw_pool().size()]; }

const std::vector<char> to_outbox(100'000, 1);

// -- the baseline: raw RocksDB ---------------------------------------------------

struct raw_store {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs; // default, log, streams, index, outbox

  explicit raw_store(const fs::path& p) {
    rocksdb::DBOptions o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    rocksdb::ColumnFamilyOptions cf;
    cf.compression = rocksdb::kLZ4Compression;
    cf.write_buffer_size = 16 << 20;
    std::vector<rocksdb::ColumnFamilyDescriptor> d;
    for (auto* n : {"default", "log", "streams", "index", "outbox"})
      d.emplace_back(n, cf);
    rocksdb::DB* r = nullptr;
    auto s = rocksdb::DB::Open(o, p.string(), d, &cfs, &r);
    if (!s.ok())
      throw std::runtime_error(s.ToString());
    db.reset(r);
  }
  ~raw_store() {
    for (auto* h : cfs)
      db->DestroyColumnFamilyHandle(h);
    db->Close();
  }
};

/// Appends, to `batch`, what the engine writes for `n` events appended to
/// stream `s` of tenant "t1" at position `pos` and version `v`.
void raw_append(rocksdb::WriteBatch& batch, raw_store& r, const sourcery::stream_id& s,
                std::uint64_t& pos, std::uint64_t& v, std::size_t n) {
  auto key = layout::stream_key("t1", s);
  for (std::size_t i = 0; i < n; ++i, ++pos, ++v) {
    auto pk = layout::position_key(pos);
    batch.Put(r.cfs[1], pk, layout::encode_record("t1", s, raw(pos), v));
    batch.Put(r.cfs[3], layout::index_key(key, v), pk);
    batch.Put(r.cfs[4], layout::outbox_key(0, pos), layout::encode_attempts(0));
  }
  batch.Put(r.cfs[2], key, layout::encode_state(st::stream_info{false, v - 1}));
}

/// Events/s of raw batches of `per_batch` events (one stream per batch).
double raw_rate(const bench_config& cfg, std::size_t batches, std::size_t per_batch, bool sync) {
  scratch dir(cfg.folder, "raw");
  raw_store r(dir.path);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::uint64_t pos = 1;
  auto start = clock_type::now();
  for (std::size_t b = 0; b < batches; ++b) {
    rocksdb::WriteBatch batch;
    std::uint64_t v = 1;
    raw_append(batch, r, sourcery::stream_id::random(), pos, v, per_batch);
    if (auto s = r.db->Write(wo, &batch); !s.ok())
      bench::fail("raw write: %s", s.ToString().c_str());
  }
  return static_cast<double>(batches * per_batch) / seconds_since(start);
}

// -- the engine ---------------------------------------------------------------------

st::rocksdb_options engine_options(const bench_config& cfg) {
  st::rocksdb_options o;
  o.durability = cfg.durability == "normal" ? st::rocksdb_options::durability::normal
                                            : st::rocksdb_options::durability::full;
  o.cache_mb = cfg.cache_mb;
  o.outbox_shards = 1;
  return o;
}

/// Checks that the log holds `expected` records at positions 1.. without gaps.
void check_log(const st::engine& e, std::size_t expected) {
  if (e.last_position() != expected)
    bench::fail("last position %zu, expected %zu", std::size_t(e.last_position()), expected);
  sourcery::position at = 0;
  while (at < e.last_position()) {
    st::record_batch b;
    e.read(at, 10'000, b);
    for (const auto& r : b.records)
      if (r.position != ++at) {
        bench::fail("gap in the log at position %zu", std::size_t(at));
        return;
      }
  }
}

/// (a) Single-event appends from `appenders` threads over `streams` streams.
double concurrent_rate(const bench_config& cfg, std::size_t appenders) {
  scratch dir(cfg.folder, "concurrent");
  auto e = st::open_rocksdb_engine(dir.path, engine_options(cfg));
  auto store = e->streams("t1");
  auto ids = bench::make_streams(cfg.streams);
  std::vector<std::uint64_t> versions(ids.size(), 0);
  std::vector<std::mutex> locks(ids.size());
  std::atomic<std::size_t> next{0};
  auto start = clock_type::now();
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < appenders; ++t)
    threads.emplace_back([&] {
      for (auto i = next++; i < cfg.concurrent; i = next++) {
        auto k = i % ids.size();
        std::lock_guard lock(locks[k]); // the caller knows its stream's version
        store->append(ids[k], versions[k], std::span(&raw(i), 1), std::span(to_outbox.data(), 1),
                      {});
        ++versions[k];
      }
    });
  for (auto& t : threads)
    t.join();
  auto rate = static_cast<double>(cfg.concurrent) / seconds_since(start);
  check_log(*e, cfg.concurrent);
  return rate;
}

/// (b) Batch appends of `batch_size` events from one thread; (c) the same
/// with one event per append.
double batch_rate(const bench_config& cfg, std::size_t appends, std::size_t per_append) {
  scratch dir(cfg.folder, "batches");
  auto e = st::open_rocksdb_engine(dir.path, engine_options(cfg));
  auto store = e->streams("t1");
  std::vector<sourcery::raw_event> events;
  for (std::size_t i = 0; i < per_append; ++i)
    events.push_back(raw(i));
  auto start = clock_type::now();
  for (std::size_t i = 0; i < appends; ++i)
    store->append(sourcery::stream_id::random(), 0, events,
                  std::span(to_outbox.data(), per_append), {});
  auto rate = static_cast<double>(appends * per_append) / seconds_since(start);
  check_log(*e, appends * per_append);
  return rate;
}

struct read_figures {
  double stream_ms = 0;   // (d) median cold read of one stream
  double scan_rate = 0;   // (e) events/s of the full scan
};

/// (d) and (e): one store with a `load_size`-event stream among `scan_events`
/// events; each read runs on a freshly opened engine (cold caches; the
/// operating system's page cache stays warm).
read_figures reads(const bench_config& cfg) {
  scratch dir(cfg.folder, "reads");
  auto id = sourcery::stream_id::random();
  {
    auto o = engine_options(cfg);
    o.durability = st::rocksdb_options::durability::normal; // filling is not measured
    auto e = st::open_rocksdb_engine(dir.path, o);
    auto store = e->streams("t1");
    std::vector<sourcery::raw_event> chunk;
    for (std::size_t i = 0; i < 100; ++i)
      chunk.push_back(raw(i));
    std::size_t written = 0, loaded = 0;
    while (written < cfg.scan_events) {
      // Interleave the read stream with the rest, as a live system would.
      if (loaded < cfg.load_size && written % 1'000 == 0) {
        auto n = std::min<std::size_t>(100, cfg.load_size - loaded);
        store->append(id, loaded, std::span(chunk.data(), n), {}, {});
        loaded += n;
        written += n;
        continue;
      }
      auto n = std::min<std::size_t>(100, cfg.scan_events - written);
      store->append(sourcery::stream_id::random(), 0, std::span(chunk.data(), n), {}, {});
      written += n;
    }
  }
  read_figures out;
  std::vector<double> times;
  for (std::size_t i = 0; i < cfg.loads; ++i) {
    auto e = st::open_rocksdb_engine(dir.path, engine_options(cfg));
    auto start = clock_type::now();
    auto r = e->streams("t1")->read(id, std::nullopt, std::nullopt);
    times.push_back(seconds_since(start) * 1000);
    if (r.events.records.size() != std::min(cfg.load_size, cfg.scan_events))
      bench::fail("the read stream has %zu events", r.events.records.size());
  }
  std::sort(times.begin(), times.end());
  out.stream_ms = times[times.size() / 2];

  auto e = st::open_rocksdb_engine(dir.path, engine_options(cfg));
  auto start = clock_type::now();
  sourcery::position at = 0;
  std::size_t bytes = 0;
  while (at < e->last_position()) {
    st::record_batch b;
    e->read(at, 10'000, b);
    for (const auto& r : b.records) {
      if (r.position != at + 1)
        bench::fail("gap in the scan at position %zu", std::size_t(at + 1));
      at = r.position;
      bytes += r.data.size();
    }
  }
  out.scan_rate = static_cast<double>(at) / seconds_since(start);
  if (at != cfg.scan_events || bytes == 0)
    bench::fail("the scan read %zu events, expected %zu", std::size_t(at), cfg.scan_events);
  return out;
}

std::string percent_of(double x, double of) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", of > 0 ? 100 * x / of : 0);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  if (auto done = bench::parse_command_line(cfg, argc, argv, "bench_rocksdb"))
    return *done;
  if (!bench::all_positive({cfg.baseline_batches, cfg.raw_singles, cfg.concurrent,
                            cfg.appenders, cfg.wide_appenders, cfg.streams, cfg.batches, cfg.batch_size,
                            cfg.blocking, cfg.loads, cfg.load_size, cfg.scan_events}))
    return bench::usage_error("bench_rocksdb", "every count must be at least 1");
  if (cfg.durability != "full" && cfg.durability != "normal")
    return bench::usage_error("bench_rocksdb", "--durability must be full or normal");
  if (cfg.batch_size > to_outbox.size())
    return bench::usage_error("bench_rocksdb", "--batch-size is at most 100,000");
  bool sync = cfg.durability == "full";
  auto events_s = "events/s";
  const int w = 52;

  auto base_batch = raw_rate(cfg, cfg.baseline_batches, 1'000, sync);
  bench::print_progress(w, "baseline: raw batches of 1,000 events", number(base_batch), events_s);
  auto base_single = raw_rate(cfg, cfg.raw_singles, 1, sync);
  bench::print_progress(w, "baseline: raw single-event batches", number(base_single), events_s);
  auto conc = concurrent_rate(cfg, cfg.appenders);
  bench::print_progress(w, "(a) concurrent single appends", number(conc), events_s);
  auto wide = concurrent_rate(cfg, cfg.wide_appenders);
  bench::print_progress(w, "(a') concurrent single appends, more threads", number(wide),
                        events_s);
  auto batch = batch_rate(cfg, cfg.batches, cfg.batch_size);
  bench::print_progress(w, "(b) batch appends", number(batch), events_s);
  auto blocking = batch_rate(cfg, cfg.blocking, 1);
  bench::print_progress(w, "(c) blocking single appends", number(blocking), events_s);
  auto r = reads(cfg);
  bench::print_progress(w, "(d) cold read of one stream", number(r.stream_ms), "ms");
  bench::print_progress(w, "(e) full scan", number(r.scan_rate), events_s);

  auto met = [](bool ok) { return std::string(ok ? "yes" : "no"); };
  std::vector<bench::table_row> rows{
    {"baseline: raw RocksDB, 1,000-event batches", number(base_batch), events_s, "", "", ""},
    {"baseline: raw RocksDB, 1-event batches", number(base_single), events_s, "", "", ""},
    {"(a) single appends, " + std::to_string(cfg.appenders) + " threads, "
       + number(static_cast<double>(cfg.streams)) + " streams",
     number(conc), events_s, ">= 100,000 and 50%",
     met(conc >= 100'000 && conc >= base_batch / 2), percent_of(conc, base_batch) + " of batches"},
    {"(a') the same, " + std::to_string(cfg.wide_appenders) + " threads", number(wide),
     events_s, ">= 100,000 and 50%", met(wide >= 100'000 && wide >= base_batch / 2),
     percent_of(wide, base_batch) + " of batches"},
    {"(b) " + std::to_string(cfg.batch_size) + "-event batch appends, 1 thread", number(batch),
     events_s, ">= 80%", met(batch >= 0.8 * base_batch),
     percent_of(batch, base_batch) + " of batches"},
    {"(c) blocking single appends, 1 thread", number(blocking), events_s, ">= 80%",
     met(blocking >= 0.8 * base_single), percent_of(blocking, base_single) + " of 1-event"},
    {"(d) cold read of a " + number(static_cast<double>(cfg.load_size)) + "-event stream",
     number(r.stream_ms), "ms", "", "",
     number(static_cast<double>(cfg.load_size) / r.stream_ms * 1000) + " events/s"},
    {"(e) full read scan of " + number(static_cast<double>(cfg.scan_events)) + " events",
     number(r.scan_rate), events_s, ">= 1,000,000", met(r.scan_rate >= 1e6), "cold engine"},
  };
  std::printf("\nSourcery RocksDB engine benchmark (durability %s, %u cores, %zu-byte events)\n\n",
              cfg.durability.c_str(), std::thread::hardware_concurrency(),
              raw(0).data.size());
  bench::print_table({50, 10, 8, 18, 3, 22}, {"what", "value", "unit", "target", "met", "note"},
                     rows);
  return bench::exit_code("bench_rocksdb");
}
