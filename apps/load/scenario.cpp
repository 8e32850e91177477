#include "scenario.hpp"

#include <sourcery/errors.hpp>

#include "../cli.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <system_error>

namespace harness {

namespace {

using setter = std::function<void(scenario&, const std::string& key, const caf::config_value&)>;

struct option {
  setter set;
  std::string help;
};

[[noreturn]] void bad(const std::string& key, const std::string& why) {
  throw setting_error("setting '" + key + "': " + why);
}

/// `v` as written in a message: reals in the shortest form ("1e+12").
std::string shown(const caf::config_value& v) {
  if (auto* d = caf::get_if<caf::config_value::real>(&v)) {
    std::ostringstream out;
    out << *d;
    return out.str();
  }
  return caf::to_string(v);
}

std::int64_t as_int(const std::string& key, const caf::config_value& v) {
  if (auto* i = caf::get_if<caf::config_value::integer>(&v))
    return *i;
  bad(key, "expected an integer, got " + caf::to_string(v));
}

double as_real(const std::string& key, const caf::config_value& v) {
  if (auto* d = caf::get_if<caf::config_value::real>(&v))
    return *d;
  if (auto* i = caf::get_if<caf::config_value::integer>(&v))
    return static_cast<double>(*i);
  bad(key, "expected a number, got " + caf::to_string(v));
}

std::string as_string(const std::string& key, const caf::config_value& v) {
  if (auto* s = caf::get_if<std::string>(&v))
    return *s;
  if (auto* a = caf::get_if<caf::atom_value>(&v))
    return caf::to_string(*a);
  bad(key, "expected a string, got " + caf::to_string(v));
}

bool as_bool(const std::string& key, const caf::config_value& v) {
  if (auto* b = caf::get_if<bool>(&v))
    return *b;
  bad(key, "expected true or false, got " + caf::to_string(v));
}

/// An integer setting in [min, max], applied by `apply`.
setter ranged(std::int64_t min, std::int64_t max, void (*apply)(scenario&, std::int64_t)) {
  return [=](scenario& s, const std::string& key, const caf::config_value& v) {
    auto n = as_int(key, v);
    if (n < min || n > max)
      bad(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got "
                 + std::to_string(n));
    apply(s, n);
  };
}

/// An integer setting in [min, max]. A whole number written as a real
/// ("1e6") is accepted; anything out of range is refused naming the range.
setter count(std::int64_t scenario::*field, std::int64_t min, std::int64_t max) {
  return [=](scenario& s, const std::string& key, const caf::config_value& v) {
    auto out_of_range = [&] {
      bad(key, "must be at least " + std::to_string(min) + " and at most " + std::to_string(max)
                 + ", got " + shown(v));
    };
    std::int64_t n;
    if (auto* d = caf::get_if<caf::config_value::real>(&v)) {
      if (!(*d >= static_cast<double>(min) && *d <= static_cast<double>(max)))
        out_of_range(); // NaN and the infinities too
      if (*d != std::floor(*d))
        bad(key, "expected an integer, got " + shown(v));
      n = static_cast<std::int64_t>(*d);
    } else {
      n = as_int(key, v);
    }
    if (n < min || n > max)
      out_of_range();
    s.*field = n;
  };
}

setter probability(double scenario::*field) {
  return [=](scenario& s, const std::string& key, const caf::config_value& v) {
    auto p = as_real(key, v);
    if (!(p >= 0 && p <= 1))
      bad(key, "must be a probability in [0, 1], got " + caf::to_string(v));
    s.*field = p;
  };
}

/// A real setting in [0, max].
setter non_negative(double scenario::*field, double max) {
  return [=](scenario& s, const std::string& key, const caf::config_value& v) {
    auto x = as_real(key, v);
    if (!(x >= 0 && x <= max)) {
      std::ostringstream range;
      range << "must be in [0, " << max << "], got " << shown(v);
      bad(key, range.str());
    }
    s.*field = x;
  };
}

setter flag(bool scenario::*field) {
  return [=](scenario& s, const std::string& key, const caf::config_value& v) {
    s.*field = as_bool(key, v);
  };
}

setter text(std::string scenario::*field) {
  return [=](scenario& s, const std::string& key, const caf::config_value& v) {
    s.*field = as_string(key, v);
  };
}

/// A string setting of `scenario::storage` that must be one of `allowed`.
setter one_of(std::string storage_settings::*field, std::vector<std::string> allowed) {
  return [=](scenario& s, const std::string& key, const caf::config_value& v) {
    auto value = as_string(key, v);
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
      s.storage.*field = value;
      return;
    }
    std::string list;
    for (std::size_t i = 0; i < allowed.size(); ++i)
      list += (i == 0 ? "'" : i + 1 == allowed.size() ? " or '" : ", '") + allowed[i] + "'";
    bad(key, "must be " + list + ", got '" + value + "'");
  };
}

const std::map<std::string, option>& options() {
  static const std::map<std::string, option> all{
    {"harness.events", {count(&scenario::events, 0, limits::events), "events to append (0 = run for harness.seconds)"}},
    {"harness.seconds", {non_negative(&scenario::seconds, limits::seconds), "stop after this many seconds (0 = after harness.events)"}},
    {"harness.tenants", {count(&scenario::tenants, 1, limits::tenants), "simulated tenants"}},
    {"harness.streams-per-tenant", {count(&scenario::streams_per_tenant, 1, limits::streams_per_tenant), "streams per tenant"}},
    {"harness.writers", {count(&scenario::writers, 1, limits::writers), "concurrent writer threads"}},
    {"harness.batch", {count(&scenario::batch, 1, limits::batch), "events per append"}},
    {"harness.in-flight", {count(&scenario::in_flight, 1, limits::in_flight), "asynchronous appends in flight per writer"}},
    {"harness.payload-bytes", {count(&scenario::payload_bytes, 1, limits::payload_bytes), "approximate JSON size of one event"}},
    {"harness.subscriptions", {count(&scenario::subscriptions, 0, limits::subscriptions), "push subscriptions, each verified"}},
    {"harness.subscription-group-members", {count(&scenario::subscription_group_members, 0, 64), "members of one subscription group, each record acked once or parked (0 = none)"}},
    {"harness.listeners", {flag(&scenario::listeners), "an in-transaction listener counting events"}},
    {"harness.outbox", {flag(&scenario::outbox), "continuous outbox with a failing publisher"}},
    {"harness.outbox-failure", {probability(&scenario::outbox_failure), "probability that one publish attempt fails"}},
    {"harness.encrypted-share", {probability(&scenario::encrypted_share), "share of events with encrypted fields"}},
    {"harness.shred-share", {probability(&scenario::shred_share), "share of data subjects shredded mid-run"}},
    {"harness.subjects", {count(&scenario::subjects, 1, limits::subjects), "data subjects per tenant (encrypted events)"}},
    {"harness.progress-interval", {non_negative(&scenario::progress_interval, limits::progress_interval), "seconds between progress lines"}},
    {"harness.report-json", {text(&scenario::report_json), "path of the JSON report"}},
    {"harness.report-svg", {text(&scenario::report_svg), "path of the SVG picture"}},
    {"harness.nodes", {count(&scenario::nodes, 0, limits::nodes), "node processes on one PostgreSQL database, writers spread over them (0 = this process alone)"}},
    {"harness.max-rss-growth", {probability(&scenario::max_rss_growth), "largest share resident memory may grow between 20% of the run and its end (0 = unchecked)"}},
    {"storage.engine", {one_of(&storage_settings::engine, {"in_memory", "rocksdb", "postgres"}), "storage engine: in_memory, rocksdb or postgres"}},
    {"storage.conninfo", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.storage.conninfo = as_string(k, v);
     }, "postgres: libpq connection string (empty = the PG* environment variables)"}},
    {"storage.schema", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.storage.schema = as_string(k, v);
     }, "postgres: the schema holding the store"}},
    {"storage.path", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.storage.path = as_string(k, v);
     }, "the store's folder (required for rocksdb)"}},
    {"storage.durability", {one_of(&storage_settings::durability, {"full", "normal"}), "rocksdb: full (fsync'd) or normal (written, not fsync'd)"}},
    {"storage.cache-mb", {ranged(4, limits::cache_mb, [](scenario& s, std::int64_t n) {
       s.storage.cache_mb = n;
     }), "rocksdb: MB for the record cache, block cache and memtables"}},
    {"storage.wipe", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.storage.wipe = as_bool(k, v);
     }, "remove a Sourcery store already in storage.path before the run"}},
    {"crash.kills", {ranged(0, limits::kills, [](scenario& s, std::int64_t n) {
       s.crash.kills = n;
     }), "crash scenario: child processes killed with SIGKILL (0 = not a crash scenario)"}},
    {"crash.window-ms", {ranged(1, limits::kill_window_ms, [](scenario& s, std::int64_t n) {
       s.crash.window_ms = n;
     }), "crash scenario: each kill falls uniformly in [0, window] after the child starts"}},
    {"crash.seed", {ranged(0, std::numeric_limits<std::int64_t>::max(), [](scenario& s, std::int64_t n) {
       s.crash.seed = n;
     }), "crash scenario: seed of the kill moments (0 = random, printed)"}},
    {"crash.create-store-first", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.crash.create_store_first = as_bool(k, v);
     }, "crash scenario: create the store before the first child (false: kills may land while it is created)"}},
    {"failover.kills", {ranged(0, 100, [](scenario& s, std::int64_t n) {
       s.failover.kills = n;
     }), "failover scenario: primaries SIGKILLed in turn, each after the next share of the events (0 = not a failover scenario)"}},
    {"failover.port", {ranged(1024, 65'533, [](scenario& s, std::int64_t n) {
       s.failover.port = n;
     }), "failover scenario: the monitor's port on 127.0.0.1; the two servers take the next two"}},
    {"scheduler.policy", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       auto p = as_string(k, v);
       if (p != "sharing" && p != "stealing")
         bad(k, "must be 'sharing' or 'stealing', got '" + p + "'");
       s.runtime.scheduler_policy = p;
     }, "CAF scheduler policy"}},
    {"scheduler.max-threads", {ranged(0, 1024, [](scenario& s, std::int64_t n) {
       s.runtime.scheduler_threads = static_cast<std::size_t>(n);
     }), "worker threads (0 = one per core)"}},
    {"scheduler.max-throughput", {ranged(0, 1'000'000, [](scenario& s, std::int64_t n) {
       s.runtime.max_throughput = static_cast<std::size_t>(n);
     }), "messages per actor turn (0 = CAF default)"}},
    {"sourcery.outbox-attempts", {ranged(1, 1000, [](scenario& s, std::int64_t n) {
       s.sourcery.outbox_attempts = static_cast<std::uint32_t>(n);
     }), "attempts before an outbox entry is dead-lettered"}},
    {"sourcery.outbox-backoff-base-ms", {ranged(1, 3'600'000, [](scenario& s, std::int64_t n) {
       s.sourcery.outbox_backoff_base = std::chrono::milliseconds(n);
     }), "first retry delay of the continuous outbox"}},
    {"sourcery.outbox-backoff-cap-ms", {ranged(1, 3'600'000, [](scenario& s, std::int64_t n) {
       s.sourcery.outbox_backoff_cap = std::chrono::milliseconds(n);
     }), "largest retry delay"}},
    {"sourcery.subscription-buffer", {ranged(1, 1'000'000, [](scenario& s, std::int64_t n) {
       s.sourcery.subscription_buffer = static_cast<std::size_t>(n);
     }), "records in flight to a push consumer actor"}},
    {"sourcery.subscription-callback-threads", {ranged(1, 1024, [](scenario& s, std::int64_t n) {
       s.runtime.subscription_callback_threads = static_cast<std::size_t>(n);
     }), "threads running push subscriptions' callbacks, shared by all"}},
    {"sourcery.subscription-decode-cache", {ranged(0, 1'048'576, [](scenario& s, std::int64_t n) {
       s.runtime.subscription_decode_cache = static_cast<std::size_t>(n);
     }), "decoded records kept for subscriptions to share (0 = off)"}},
    {"sourcery.tenant-idle-ms", {ranged(0, 86'400'000, [](scenario& s, std::int64_t n) {
       s.sourcery.tenant_idle = std::chrono::milliseconds(n);
     }), "passivate a tenant's actor idle this long (0 = never; R-ST5)"}},
    {"metrics.enabled", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.runtime.metrics = as_bool(k, v);
     }, "count appends, subscriptions and the outbox for the metrics (R-MET)"}},
    {"metrics.listen", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.sourcery.metrics_listen = as_string(k, v);
       try {
         sourcery::settings probe; // the address alone
         probe.metrics_listen = s.sourcery.metrics_listen;
         probe.validate();
       } catch (const sourcery::invalid_argument& e) {
         bad(k, e.what());
       }
     }, "serve /metrics (Prometheus) at host:port, e.g. 127.0.0.1:9464 (empty = no endpoint)"}},
    {"metrics.tenant-series", {ranged(0, 10'000, [](scenario& s, std::int64_t n) {
       s.sourcery.metrics_tenant_series = static_cast<std::size_t>(n);
     }), "per-tenant series for at most this many tenants, the busiest (0 = none)"}},
    {"metrics.hold", {[](scenario& s, const std::string& k, const caf::config_value& v) {
       s.metrics_hold = as_bool(k, v);
     }, "after verifying, keep serving /metrics until interrupted (Ctrl-C, SIGTERM)"}},
  };
  return all;
}

/// Applies every entry of a parsed config file.
void apply_settings(scenario& s, const caf::settings& parsed, const std::string& origin,
                    const std::string& prefix = "") {
  for (const auto& [key, value] : parsed) {
    auto full = prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
    if (auto* group = caf::get_if<caf::settings>(&value)) {
      apply_settings(s, *group, origin, full);
      continue;
    }
    auto it = options().find(full);
    if (it == options().end())
      throw setting_error("unknown setting '" + full + "' in " + origin);
    it->second.set(s, full, value);
  }
}

void apply_file(scenario& s, const std::filesystem::path& file) {
  // The non-throwing form: a name too long for the file system is a bad
  // setting too (found by fuzz_harness_settings).
  std::error_code error;
  if (!std::filesystem::exists(file, error))
    throw setting_error("cannot read config file '" + file.string()
                        + "': " + (error ? error.message() : "no such file"));
  auto parsed = caf::actor_system_config::parse_config_file(file.c_str());
  if (!parsed)
    throw setting_error("cannot read config file '" + file.string()
                        + "': " + caf::to_string(parsed.error()));
  apply_settings(s, *parsed, "'" + file.string() + "'");
}

/// Every setting's value in `s`, as the command line writes it.
std::map<std::string, std::string> values_of(const scenario& s) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : s.describe())
    out[key] = value;
  auto num = [](auto x) {
    std::ostringstream o;
    o << x;
    return o.str();
  };
  out["harness.progress-interval"] = num(s.progress_interval);
  out["harness.report-json"] = s.report_json;
  out["harness.report-svg"] = s.report_svg;
  out["crash.kills"] = num(s.crash.kills);
  out["crash.window-ms"] = num(s.crash.window_ms);
  out["crash.seed"] = num(s.crash.seed);
  out["crash.create-store-first"] = s.crash.create_store_first ? "true" : "false";
  out["failover.kills"] = num(s.failover.kills);
  out["failover.port"] = num(s.failover.port);
  out["scheduler.max-throughput"] = num(s.runtime.max_throughput);
  return out;
}

/// The usage: every setting with its meaning and its value in `s` (the
/// chosen scenario, or the built-in defaults when `origin` says so),
/// wrapped to 100 columns.
std::string help_text(const scenario& s, const std::string& origin) {
  constexpr std::size_t columns = 100, width = 36; // "--sourcery.outbox-backoff-base-ms=N"
  std::ostringstream out;
  out << "usage: sourcery_load [--scenario=NAME] [--config=DIR] [--group.key=value ...]\n"
      << cli::wrap("Runs a scenario of " + s.config_dir + "/scenarios/*.conf (--scenario, default "
                     "quick; --config names the folder) through the public API and verifies that "
                     "nothing was lost. Each setting's default below is its value in " + origin
                     + "; a setting on the command line overrides it.",
                   0, columns)
      << "\nSettings:\n";
  auto values = values_of(s);
  for (const auto& [key, opt] : options()) {
    auto left = "--" + key + "=V";
    auto v = values.find(key);
    auto right = opt.help;
    if (v != values.end())
      right += " [default " + (v->second.empty() ? "''" : v->second) + "]";
    out << "  " << left;
    if (left.size() > width)
      out << "\n" << std::string(width + 4, ' ');
    else
      out << std::string(width - left.size() + 2, ' ');
    out << cli::wrap(right, width + 4, columns);
  }
  out << "  -h, --help" << std::string(width - 10 + 2, ' ') << "print this help and exit\n\n"
      << cli::wrap("Exit codes: 0 verified; 1 verification failed, or an error stopped the run "
                   "(one line on stderr); 2 a bad setting (one line naming it).",
                   0, columns);
  return out.str();
}

/// Limits on products of settings, each within its own range: what the
/// harness allocates up front per stream and per key.
void check_combinations(const scenario& s) {
  auto streams = s.tenants * s.streams_per_tenant; // both at most 10^6: no overflow
  if (streams > limits::streams)
    throw setting_error("settings 'harness.tenants' x 'harness.streams-per-tenant': at most "
                        + std::to_string(limits::streams) + " streams in all, got "
                        + std::to_string(streams));
  if (s.writers > streams)
    throw setting_error("setting 'harness.writers': more writers (" + std::to_string(s.writers)
                        + ") than streams (" + std::to_string(streams) + ")");
  if (s.encrypted_share > 0 && s.tenants * s.subjects > limits::keys)
    throw setting_error("settings 'harness.tenants' x 'harness.subjects': at most "
                        + std::to_string(limits::keys) + " keys in all, got "
                        + std::to_string(s.tenants * s.subjects));
}

} // namespace

std::vector<std::pair<std::string, std::string>> scenario::describe() const {
  auto num = [](auto x) {
    std::ostringstream o;
    o << x;
    return o.str();
  };
  return {
    {"scenario", name},
    {"harness.events", num(events)},
    {"harness.seconds", num(seconds)},
    {"harness.tenants", num(tenants)},
    {"harness.streams-per-tenant", num(streams_per_tenant)},
    {"harness.writers", num(writers)},
    {"harness.batch", num(batch)},
    {"harness.in-flight", num(in_flight)},
    {"harness.payload-bytes", num(payload_bytes)},
    {"harness.subscriptions", num(subscriptions)},
    {"harness.subscription-group-members", num(subscription_group_members)},
    {"harness.listeners", listeners ? "true" : "false"},
    {"harness.outbox", outbox ? "true" : "false"},
    {"harness.outbox-failure", num(outbox_failure)},
    {"harness.encrypted-share", num(encrypted_share)},
    {"harness.shred-share", num(shred_share)},
    {"harness.subjects", num(subjects)},
    {"harness.max-rss-growth", num(max_rss_growth)},
    {"harness.nodes", num(nodes)},
    {"storage.engine", storage.engine},
    {"storage.path", storage.path},
    {"storage.conninfo", storage.conninfo},
    {"storage.schema", storage.schema},
    {"storage.durability", storage.durability},
    {"storage.cache-mb", num(storage.cache_mb)},
    {"storage.wipe", storage.wipe ? "true" : "false"},
    {"scheduler.policy", runtime.scheduler_policy},
    {"scheduler.max-threads", num(runtime.scheduler_threads)},
    {"sourcery.outbox-attempts", num(sourcery.outbox_attempts)},
    {"sourcery.outbox-backoff-base-ms", num(sourcery.outbox_backoff_base.count())},
    {"sourcery.outbox-backoff-cap-ms", num(sourcery.outbox_backoff_cap.count())},
    {"sourcery.subscription-buffer", num(sourcery.subscription_buffer)},
    {"sourcery.subscription-callback-threads", num(runtime.subscription_callback_threads)},
    {"sourcery.subscription-decode-cache", num(runtime.subscription_decode_cache)},
    {"sourcery.tenant-idle-ms", num(sourcery.tenant_idle.count())},
    {"metrics.enabled", runtime.metrics ? "true" : "false"},
    {"metrics.listen", sourcery.metrics_listen},
    {"metrics.tenant-series", num(sourcery.metrics_tenant_series)},
    {"metrics.hold", metrics_hold ? "true" : "false"},
  };
}

scenario load_scenario(int argc, char** argv) {
  scenario s;
  std::vector<std::pair<std::string, std::string>> overrides;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    auto eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos)
      throw setting_error("cannot understand argument '" + arg + "': expected --key=value");
    auto key = arg.substr(2, eq - 2);
    auto value = arg.substr(eq + 1);
    if (key == "scenario")
      s.name = value;
    else if (key == "config")
      s.config_dir = value;
    else
      overrides.emplace_back(key, value);
  }
  std::filesystem::path dir(s.config_dir);
  if (help) {
    // The defaults shown are the chosen scenario's, when its files read.
    auto chosen = s;
    auto base = dir / "sourcery.conf", file = dir / "scenarios" / (s.name + ".conf");
    std::string origin;
    try {
      apply_file(chosen, base);
      apply_file(chosen, file);
      origin = "scenario '" + s.name + "' (" + base.string() + ", then " + file.string() + ")";
    } catch (const setting_error& e) {
      chosen = s;
      origin = "no config file (" + std::string(e.what()) + "): the built-in defaults";
    }
    throw help_requested{help_text(chosen, origin)};
  }
  apply_file(s, dir / "sourcery.conf");
  apply_file(s, dir / "scenarios" / (s.name + ".conf"));
  for (const auto& [key, text] : overrides) {
    auto it = options().find(key);
    if (it == options().end())
      throw setting_error("unknown setting '" + key + "' on the command line (see --help)");
    auto parsed = caf::config_value::parse(text);
    // Plain words parse as atoms or fail; treat them as strings.
    it->second.set(s, key, parsed ? *parsed : caf::config_value{text});
  }
  try {
    s.sourcery.validate();
  } catch (const std::exception& e) {
    throw setting_error(e.what());
  }
  if (s.storage.engine == "rocksdb" && s.storage.path.empty())
    throw setting_error("setting 'storage.path': required when storage.engine = '" + s.storage.engine
                        + "' (the store's folder)");
  if (s.crash.kills > 0 && !s.storage.durable())
    throw setting_error("setting 'storage.engine': the crash scenario needs a durable engine "
                        "('rocksdb'), got '" + s.storage.engine + "'");
  if (s.nodes > 0 && s.storage.engine != "postgres")
    throw setting_error("setting 'harness.nodes': several nodes share one PostgreSQL database; needs "
                        "storage.engine = 'postgres', got '" + s.storage.engine + "'");
  if (s.nodes > 0 && s.crash.kills > 0)
    throw setting_error("setting 'harness.nodes': not with the crash scenario (crash.kills > 0)");
  if (s.nodes > 0 && s.encrypted_share > 0)
    throw setting_error("setting 'harness.nodes': not with encrypted events (harness.encrypted-share > 0)");
  if (s.nodes > s.writers)
    throw setting_error("setting 'harness.writers': at least one writer per node (harness.nodes = "
                        + std::to_string(s.nodes) + "), got " + std::to_string(s.writers));
  if (s.events == 0 && s.seconds == 0)
    throw setting_error("setting 'harness.events': 0 needs harness.seconds > 0");
  if (s.failover.kills > 0 && s.storage.engine != "postgres")
    throw setting_error("setting 'failover.kills': the failover scenario needs storage.engine = "
                        "'postgres', got '" + s.storage.engine + "'");
  if (s.failover.kills > 0 && (s.nodes < 1 || s.crash.kills > 0 || s.events == 0))
    throw setting_error("setting 'failover.kills': needs harness.nodes >= 1, harness.events > 0 "
                        "and no crash.kills");
  check_combinations(s);
  return s;
}

} // namespace harness
