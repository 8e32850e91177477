// bench_rocksdb: Sourcery on RocksDB beside raw RocksDB in the same run
// (issue 11, item 8). Sourcery is used through its public API —
// rocksdb_backend, event_store, a subscription — so what is measured is the
// whole path: encoding, the tenant's actor, group commit, fsync, the cache.
//
//   bench_rocksdb                     # the full run (a few minutes)
//   bench_rocksdb --baseline-batches=5 --raw-singles=50 --pipelined=2000
//                 --batches=20 --blocking=50 --loads=2 --scan-events=20000
//                                     # (one line) a tiny run, for CI
//   bench_rocksdb --help              # every option
//
// Baselines: raw RocksDB WriteBatches of exactly the keys and values the
// engine writes (record, stream index entry, outbox entry per event; the
// stream's state per append), 1,000 events per batch, and single-event
// batches, with the same durability (fsync'd for full); the single-event
// baseline runs in alternating slices with (c), its comparison. Stores live in
// fresh folders under --folder and are removed afterwards. The program
// allocates with jemalloc, as the README tells a service embedding the
// engine to (with glibc's malloc, (a) reached ~45% of its baseline instead
// of ~70%); its table names the allocator. Exit code 0
// whether or not targets are met, 1 when a correctness check failed ("!!"
// on stderr) or an error stopped the run (--folder missing or not writable,
// RocksDB's own errors: one line on stderr), 2 for bad options.
#include "allocator.hpp"
#include "bench_common.hpp"

#include <sourcery/rocksdb_backend.hpp>

#include "layout.hpp" // the engine's key and value encodings, for the baseline

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <random>
#include <thread>

#include <sys/resource.h>

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
  std::size_t pipelined = 200'000;
  std::size_t window = 10'000;
  std::size_t streams = 1'000;
  std::size_t batches = 3'000;
  std::size_t batch_size = 100;
  std::size_t blocking = 3'000;
  std::size_t loads = 5;
  std::size_t load_size = 1'000;
  std::size_t scan_events = 1'000'000;
  std::size_t cache_mb = 64;

  /// The command line: what it parses, what --help prints.
  cli::options options() {
    using namespace bench::limits;
    cli::options o("bench_rocksdb",
                   "Sourcery on RocksDB beside raw RocksDB writing the same keys and values, in "
                   "the same run; one table on stdout.");
    o.choice(durability, "durability", "full: fsync'd; normal: written, not fsync'd",
             {"full", "normal"})
      .text(folder, "folder", "an existing folder where the stores are made (and removed)",
            [](const std::string& f) -> std::optional<std::string> {
              if (f.empty())
                return "must name a folder";
              return std::nullopt;
            })
      .count(baseline_batches, "baseline-batches", "baseline: raw batches of 1,000 events", 1,
             operations / 1'000)
      .count(raw_singles, "raw-singles", "baseline: raw single-event batches", 1, operations)
      .count(pipelined, "pipelined", "(a) pipelined single-event appends", 1, operations)
      .count(window, "window", "(a) appends in flight", 1, in_flight)
      .count(streams, "streams", "(a) streams the appends go to, round robin", 1,
             bench::limits::streams)
      .count(batches, "batches", "(b) batch appends", 1, operations)
      .count(batch_size, "batch-size", "(b) events per batch append", 1, batch)
      .count(blocking, "blocking", "(c) blocking single-event appends from one thread", 1,
             operations)
      .count(loads, "loads", "(d) cold load_stream calls (each after a reopen)", 1, 100'000)
      .count(load_size, "load-size", "(d) events in the loaded stream", 1, stored)
      .count(scan_events, "scan-events", "(e) events the subscription catches up on", 1, stored)
      .count(cache_mb, "cache-mb", "the engine's cache (records + block cache), MB", 4, 65'536);
    add_scheduler_options(o);
    return o;
  }
};

/// Throws (naming --folder) unless `folder` is a folder this process can
/// make stores in: it must exist, and a folder made in it for a moment must
/// be made and removed. A runtime failure (exit code 1), checked before any
/// measurement.
void check_folder(const std::string& folder) {
  std::error_code ec;
  auto status = fs::status(folder, ec);
  if (!fs::exists(status))
    throw std::runtime_error("--folder: '" + folder + "' does not exist");
  if (!fs::is_directory(status))
    throw std::runtime_error("--folder: '" + folder + "' is not a folder");
  std::random_device rd;
  auto probe = fs::path(folder) / ("sourcery-bench-probe-" + std::to_string(rd()));
  if (!fs::create_directory(probe, ec) || ec)
    throw std::runtime_error("--folder: cannot make a store in '" + folder + "': "
                             + (ec ? ec.message() : "the folder exists already"));
  fs::remove(probe, ec);
}

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

// -- Sourcery on RocksDB -------------------------------------------------------------

st::rocksdb_options engine_options(const bench_config& cfg) {
  st::rocksdb_options o;
  o.durability = cfg.durability == "normal" ? st::rocksdb_options::durability::normal
                                            : st::rocksdb_options::durability::full;
  o.cache_mb = cfg.cache_mb;
  return o;
}

sourcery::backend open(const bench_config& cfg, const fs::path& folder,
                       std::optional<st::rocksdb_options> options = std::nullopt) {
  auto b = sourcery::rocksdb_backend(folder.string(), options.value_or(engine_options(cfg)),
                                      cfg.runtime());
  b.registry().add<bench::order_placed>("order_placed");
  return b;
}

/// Checks that the store's last position is `expected`.
void check_count(sourcery::backend& b, std::size_t expected, const char* what) {
  auto last = b.event_store().position().value_or(0);
  if (last != expected)
    bench::fail("%s: last position %zu, expected %zu", what, std::size_t(last), expected);
}

/// (a) Pipelined single-event appends from one thread over `streams`
/// streams, `window` in flight.
double pipelined_rate(const bench_config& cfg) {
  scratch dir(cfg.folder, "pipelined");
  auto b = open(cfg, dir.path);
  bench::appender app(b.event_store(), cfg.streams, cfg.window);
  auto start = clock_type::now();
  for (std::size_t i = 0; i < cfg.pipelined; ++i)
    app.append(bench::wrapped(i));
  app.drain("pipelined");
  auto rate = static_cast<double>(cfg.pipelined) / seconds_since(start);
  check_count(b, cfg.pipelined, "pipelined");
  return rate;
}

/// (b) Batch appends of `batch_size` events: blocking from one thread, or
/// `in_flight` pipelined.
double batch_rate(const bench_config& cfg, std::size_t in_flight) {
  scratch dir(cfg.folder, "batches");
  auto b = open(cfg, dir.path);
  bench::appender app(b.event_store(), cfg.streams, in_flight);
  auto start = clock_type::now();
  for (std::size_t n = 0; n < cfg.batches; ++n) {
    std::vector<sourcery::wrapped_event<>> events;
    events.reserve(cfg.batch_size);
    for (std::size_t i = 0; i < cfg.batch_size; ++i)
      events.push_back(bench::wrapped(n * cfg.batch_size + i));
    app.append_batch(std::move(events));
  }
  app.drain("batches");
  auto rate = static_cast<double>(cfg.batches * cfg.batch_size) / seconds_since(start);
  check_count(b, cfg.batches * cfg.batch_size, "batches");
  return rate;
}

/// CPU seconds (user + system) of the process, or of the calling thread, to
/// the microsecond.
double cpu_seconds(int who = RUSAGE_SELF) {
  rusage u{};
  getrusage(who, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

struct single_figures {
  double raw = 0;      // raw RocksDB single-event batches, events/s
  double blocking = 0; // (c), events/s
  double raw_cpu = 0, blocking_cpu = 0; // CPU seconds per event
};

/// The raw single-event baseline and (c) blocking single-event appends from
/// one thread, in alternating slices of 100 writes, so that both see the
/// same machine: the host's load here drifts within seconds, and measured
/// one after the other their ratio moved by more than ten points between
/// runs of the same build.
single_figures singles(const bench_config& cfg, bool sync) {
  scratch raw_dir(cfg.folder, "raw-singles");
  scratch dir(cfg.folder, "blocking");
  raw_store r(raw_dir.path);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::uint64_t pos = 1;
  auto b = open(cfg, dir.path);
  auto store = b.event_store();
  auto ids = bench::make_streams(cfg.streams);
  std::vector<std::uint64_t> versions(ids.size(), 0);

  double raw_s = 0, blocking_s = 0, raw_cpu = 0, blocking_cpu = 0;
  std::size_t raw_done = 0, blocking_done = 0;
  constexpr std::size_t slice = 100;
  while (raw_done < cfg.raw_singles || blocking_done < cfg.blocking) {
    auto start = clock_type::now();
    auto cpu = cpu_seconds();
    for (auto end = std::min(cfg.raw_singles, raw_done + slice); raw_done < end; ++raw_done) {
      rocksdb::WriteBatch batch;
      std::uint64_t v = 1;
      raw_append(batch, r, sourcery::stream_id::random(), pos, v, 1);
      if (auto s = r.db->Write(wo, &batch); !s.ok())
        bench::fail("raw write: %s", s.ToString().c_str());
    }
    raw_s += seconds_since(start);
    raw_cpu += cpu_seconds() - cpu;
    start = clock_type::now();
    cpu = cpu_seconds();
    for (auto end = std::min(cfg.blocking, blocking_done + slice); blocking_done < end;
         ++blocking_done) {
      auto k = blocking_done % ids.size();
      store.append(ids[k], {bench::wrapped(blocking_done)}, versions[k]++);
    }
    blocking_s += seconds_since(start);
    blocking_cpu += cpu_seconds() - cpu;
  }
  check_count(b, cfg.blocking, "blocking");
  return {static_cast<double>(cfg.raw_singles) / raw_s,
          static_cast<double>(cfg.blocking) / blocking_s,
          raw_cpu / static_cast<double>(cfg.raw_singles),
          blocking_cpu / static_cast<double>(cfg.blocking)};
}

struct read_figures {
  double stream_ms = 0;   // (d) median cold load_stream
  double catch_up = 0;    // (e) events/s of a subscription's catch-up from 0
  double catch_up_cpu = 0; // (e) CPU seconds per event
  double catch_up_puller_cpu = 0; // (e) of which on the pulling (decoding) thread
};

/// (d) and (e): one store with a `load_size`-event stream among `scan_events`
/// events; each read runs on a freshly opened store (cold caches; the
/// operating system's page cache stays warm).
read_figures reads(const bench_config& cfg) {
  scratch dir(cfg.folder, "reads");
  auto id = sourcery::stream_id::random("orders");
  {
    auto o = engine_options(cfg);
    o.durability = st::rocksdb_options::durability::normal; // filling is not measured
    auto b = open(cfg, dir.path, o);
    auto store = b.event_store();
    bench::appender fill(store, cfg.streams, 8);
    std::size_t written = 0, loaded = 0;
    auto chunk = [&](std::size_t n) {
      std::vector<sourcery::wrapped_event<>> events;
      for (std::size_t i = 0; i < n; ++i)
        events.push_back(bench::wrapped(written + i));
      return events;
    };
    while (written < cfg.scan_events) {
      // Interleave the loaded stream with the rest, as a live system would.
      if (loaded < cfg.load_size && written % 1'000 == 0) {
        auto n = std::min<std::size_t>(100, cfg.load_size - loaded);
        store.append(id, chunk(n), loaded);
        loaded += n;
        written += n;
        continue;
      }
      auto n = std::min<std::size_t>(100, cfg.scan_events - written);
      fill.append_batch(chunk(n));
      written += n;
    }
    fill.drain("filling");
  }
  read_figures out;
  std::vector<double> times;
  for (std::size_t i = 0; i < cfg.loads; ++i) {
    auto b = open(cfg, dir.path);
    auto store = b.event_store();
    auto start = clock_type::now();
    auto events = store.load_stream(id);
    times.push_back(seconds_since(start) * 1000);
    if (events.size() != std::min(cfg.load_size, cfg.scan_events))
      bench::fail("the loaded stream has %zu events", events.size());
  }
  std::sort(times.begin(), times.end());
  out.stream_ms = times[times.size() / 2];

  auto b = open(cfg, dir.path);
  auto start = clock_type::now();
  auto cpu = cpu_seconds();
  auto puller_cpu = cpu_seconds(RUSAGE_THREAD);
  auto sub = b.subscriber().start_from(0).build_batch(1'000, std::chrono::seconds(5));
  std::size_t got = 0;
  sourcery::position last = 0;
  while (got < cfg.scan_events) {
    auto batch = sub.next();
    if (batch.empty()) {
      bench::fail("catch-up: an empty batch after %zu events", got);
      break;
    }
    for (const auto& r : batch) {
      if (r.position != last + 1)
        bench::fail("catch-up: position %zu after %zu", std::size_t(r.position),
                    std::size_t(last));
      last = r.position;
    }
    got += batch.size();
  }
  out.catch_up = static_cast<double>(got) / seconds_since(start);
  out.catch_up_cpu = (cpu_seconds() - cpu) / static_cast<double>(got);
  out.catch_up_puller_cpu = (cpu_seconds(RUSAGE_THREAD) - puller_cpu) / static_cast<double>(got);
  return out;
}

std::string decimal(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}

std::string cpu_note(double seconds_per_event) {
  return decimal(1e6 * seconds_per_event) + " µs CPU/event";
}

std::string percent_of(double x, double of) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", of > 0 ? 100 * x / of : 0);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  return cli::run_main(argc, argv, cfg.options(), [&] {
    check_folder(cfg.folder);
    bool sync = cfg.durability == "full";
    auto events_s = "events/s";
    const int w = 52;
    bench::machine_watch machine;

    // CPU this process spent per event in each write phase (all its threads,
    // RocksDB's included): unlike a rate, it does not move when other
    // processes or the host take the cores.
    std::vector<std::string> cpu;
    auto timed = [&](std::size_t events, auto phase) {
      auto before = cpu_seconds();
      auto rate = phase();
      cpu.push_back(cpu_note((cpu_seconds() - before) / static_cast<double>(events)));
      return rate;
    };
    auto base_batch = timed(cfg.baseline_batches * 1'000,
                            [&] { return raw_rate(cfg, cfg.baseline_batches, 1'000, sync); });
    bench::print_progress(w, "baseline: raw batches of 1,000 events", number(base_batch), events_s);
    // What one fsync per `batch_size` events allows raw RocksDB: the ceiling of
    // (b) blocking, which waits for each batch's fsync before the next.
    auto base_sized = timed(cfg.batches * cfg.batch_size,
                            [&] { return raw_rate(cfg, cfg.batches, cfg.batch_size, sync); });
    bench::print_progress(w, "baseline: raw batches of " + std::to_string(cfg.batch_size) + " events",
                          number(base_sized), events_s);
    auto one = singles(cfg, sync);
    auto base_single = one.raw;
    bench::print_progress(w, "baseline: raw single-event batches", number(base_single), events_s);
    bench::print_progress(w, "(c) blocking single appends", number(one.blocking), events_s);
    auto pipelined = timed(cfg.pipelined, [&] { return pipelined_rate(cfg); });
    bench::print_progress(w, "(a) pipelined single appends", number(pipelined), events_s);
    auto batches = cfg.batches * cfg.batch_size;
    auto batch = timed(batches, [&] { return batch_rate(cfg, 1); });
    bench::print_progress(w, "(b) blocking batch appends", number(batch), events_s);
    auto batch8 = timed(batches, [&] { return batch_rate(cfg, 8); });
    bench::print_progress(w, "(b') batch appends, 8 in flight", number(batch8), events_s);
    auto r = reads(cfg);
    bench::print_progress(w, "(d) cold load_stream", number(r.stream_ms), "ms");
    bench::print_progress(w, "(e) catch-up from 0", number(r.catch_up), events_s);

    auto met = [](bool ok) { return std::string(ok ? "yes" : "no"); };
    auto size = std::to_string(cfg.batch_size);
    std::vector<bench::table_row> rows{
      {"baseline: raw RocksDB, 1,000-event batches", number(base_batch), events_s, "", "", cpu[0]},
      {"baseline: raw RocksDB, " + size + "-event batches", number(base_sized), events_s, "", "",
       percent_of(base_sized, base_batch) + " of 1,000-event; " + cpu[1]},
      {"baseline: raw RocksDB, 1-event batches", number(base_single), events_s, "", "",
       cpu_note(one.raw_cpu) + "; alternating with (c)"},
      {"(a) pipelined single appends, " + number(static_cast<double>(cfg.streams)) + " streams",
       number(pipelined), events_s, ">= 100,000 and 50%",
       met(pipelined >= 100'000 && pipelined >= base_batch / 2),
       percent_of(pipelined, base_batch) + " of batches; " + cpu[2]},
      {"(b) " + size + "-event appends, blocking", number(batch), events_s, ">= 80%",
       met(batch >= 0.8 * base_batch),
       percent_of(batch, base_batch) + " of batches, " + percent_of(batch, base_sized) + " of " + size
         + "-event; " + cpu[3]},
      {"(b') " + size + "-event appends, 8 in flight", number(batch8), events_s, ">= 80%",
       met(batch8 >= 0.8 * base_batch), percent_of(batch8, base_batch) + " of batches; " + cpu[4]},
      {"(c) blocking single appends, 1 thread", number(one.blocking), events_s, ">= 80%",
       met(one.blocking >= 0.8 * base_single),
       percent_of(one.blocking, base_single) + " of 1-event; " + cpu_note(one.blocking_cpu)},
      {"(d) cold load_stream of " + number(static_cast<double>(cfg.load_size)) + " events",
       number(r.stream_ms), "ms", "", "",
       number(static_cast<double>(cfg.load_size) / r.stream_ms * 1000) + " events/s"},
      {"(e) catch-up from 0 over " + number(static_cast<double>(cfg.scan_events)) + " events",
       number(r.catch_up), events_s, ">= 1,000,000", met(r.catch_up >= 1e6),
       "pull build_batch(1,000), cold; " + cpu_note(r.catch_up_cpu) + ", "
         + decimal(1e6 * r.catch_up_puller_cpu) + " decoding on the pulling thread"},
    };
    std::printf("\nSourcery on RocksDB benchmark (durability %s, %u cores, %zu-byte events, %s)\n\n",
                cfg.durability.c_str(), std::thread::hardware_concurrency(), raw(0).data.size(),
                apps::allocator_name().c_str());
    bench::print_table({50, 10, 8, 18, 3, 22}, {"what", "value", "unit", "target", "met", "note"},
                       rows);
    std::printf("\n%s %s\n", machine.load_averages().c_str(), machine.others_cpu().c_str());
    return bench::exit_code("bench_rocksdb");  });
  }
