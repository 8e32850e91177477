// The load harness's settings: a scenario from config/, overridable on the
// command line (SPEC §12, §13).
#pragma once

#include <sourcery/settings.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace harness {

/// A bad setting: names it; the harness exits with code 2.
struct setting_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Upper bounds of the settings (lower bounds: 0 or 1, see --help): what one
/// machine can hold, so that a typo is refused up front (exit code 2) rather
/// than failing an allocation mid-run.
namespace limits {
inline constexpr std::int64_t events = 1'000'000'000;     // one byte each is allocated up front
inline constexpr double seconds = 30 * 24 * 3600.0;         // 30 days
inline constexpr std::int64_t tenants = 1'000'000;
inline constexpr std::int64_t streams_per_tenant = 1'000'000;
inline constexpr std::int64_t streams = 100'000'000;        // tenants x streams-per-tenant
inline constexpr std::int64_t writers = 1024;               // threads
inline constexpr std::int64_t batch = 100'000;
inline constexpr std::int64_t in_flight = 100'000;
inline constexpr std::int64_t payload_bytes = 1 << 20;      // 1 MiB
inline constexpr std::int64_t subscriptions = 10'000;
inline constexpr std::int64_t subjects = 1'000'000;
inline constexpr std::int64_t keys = 10'000'000;            // tenants x subjects, when encrypted
inline constexpr double progress_interval = 3600;
inline constexpr std::int64_t cache_mb = 65'536;            // 64 GiB
inline constexpr std::int64_t kills = 10'000;
inline constexpr std::int64_t kill_window_ms = 600'000;
inline constexpr std::int64_t nodes = 64;                   // node processes on one database
} // namespace limits

/// Where the run's events are stored (SPEC §15, R-ST2).
struct storage_settings {
  std::string engine = "in_memory"; // in_memory | rocksdb | postgres
  std::string path;                 // the RocksDB folder; required for rocksdb
  std::string conninfo;             // postgres: libpq connection string ("" = PG* variables)
  std::string schema = "sourcery";  // postgres: the schema holding the store
  std::string durability = "full";  // full | normal (rocksdb)
  std::int64_t cache_mb = 64;       // rocksdb: record cache + block cache + memtables
  bool wipe = false;                // remove a Sourcery store already at `path` first

  bool durable() const { return engine != "in_memory"; }
};

/// The crash scenario (R-ST7): a child process appends, the harness kills it
/// with SIGKILL at a random moment, reopens the store and checks it, `kills`
/// times; 0 = not a crash scenario.
struct crash_settings {
  std::int64_t kills = 0;
  std::int64_t window_ms = 1500; // each kill falls uniformly in [0, window] after the child starts
  std::int64_t seed = 0;         // 0 = a random seed (printed either way)
  /// Create the store in the parent before the first child, so that no kill
  /// lands while the engine creates it (such a kill leaves a folder the
  /// engine then refuses; see README).
  bool create_store_first = false;
};

/// The failover scenario (R-N5): a pg_auto_failover formation made for the
/// run, its primary SIGKILLed `kills` times in turn while the nodes work;
/// 0 = not a failover scenario.
struct failover_settings {
  std::int64_t kills = 0;
  std::int64_t port = 26432; // the monitor's; the two servers take the next two
};

struct scenario {
  std::string name = "quick";
  std::string config_dir = "config";

  // Workload.
  std::int64_t events = 200'000;   // events to append (0 = until `seconds`)
  double seconds = 0;              // stop after this long (0 = until `events`)
  std::int64_t tenants = 100;
  std::int64_t streams_per_tenant = 10;
  std::int64_t writers = 4;
  std::int64_t batch = 10;         // events per append
  std::int64_t in_flight = 32;     // appends in flight per writer
  std::int64_t payload_bytes = 100;
  std::int64_t subscriptions = 2;  // push subscriptions, each verified
  /// Members of one subscription group over the whole log (0 = none); each
  /// record acked exactly once or parked (group_check.hpp).
  std::int64_t subscription_group_members = 0;
  bool listeners = true;           // an in-transaction listener counting events
  bool outbox = true;              // continuous outbox with a failing publisher
  double outbox_failure = 0.1;     // probability that one publish attempt fails
  double encrypted_share = 0;      // share of events with encrypted fields
  double shred_share = 0;          // share of data subjects shredded mid-run
  std::int64_t subjects = 100;     // data subjects per tenant
  double progress_interval = 1;    // seconds between progress lines
  std::string report_json = "out/report.json";
  std::string report_svg = "out/report.svg";
  /// Verification fails when resident memory grows more than this share
  /// between 20% of the writing time (minute 2 of a 10-minute soak) and its
  /// end; 0 = no such check.
  double max_rss_growth = 0;
  /// Node processes on one PostgreSQL database (SPEC §16); 0 = the run is
  /// this process alone. N ≥ 1: the harness starts N nodes, spreads the
  /// writers over them and verifies across them (apps/load/nodes.hpp).
  std::int64_t nodes = 0;
  /// After verifying, keep the runtime (and its metrics endpoint) up until
  /// SIGINT or SIGTERM.
  bool metrics_hold = false;

  storage_settings storage;
  crash_settings crash;
  failover_settings failover;

  // The runtime.
  sourcery::runtime_options runtime;
  sourcery::settings sourcery;

  /// "key = value" lines of every setting, for the report.
  std::vector<std::pair<std::string, std::string>> describe() const;
};

/// Reads `config_dir/sourcery.conf`, then `config_dir/scenarios/<name>.conf`,
/// then the command line (`--scenario=NAME`, `--config=DIR`, `--group.key=value`),
/// later ones overriding earlier ones. Throws setting_error naming the
/// setting for unknown keys, wrong types, out-of-range values and unreadable
/// files. `--help` throws help_requested.
scenario load_scenario(int argc, char** argv);

struct help_requested {
  std::string text;
};

} // namespace harness
