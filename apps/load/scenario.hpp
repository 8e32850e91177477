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
} // namespace limits

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
  bool listeners = true;           // an in-transaction listener counting events
  bool outbox = true;              // continuous outbox with a failing publisher
  double outbox_failure = 0.1;     // probability that one publish attempt fails
  double encrypted_share = 0;      // share of events with encrypted fields
  double shred_share = 0;          // share of data subjects shredded mid-run
  std::int64_t subjects = 100;     // data subjects per tenant
  double progress_interval = 1;    // seconds between progress lines
  std::string report_json = "out/report.json";
  std::string report_svg = "out/report.svg";

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
