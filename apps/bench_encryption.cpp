// bench_encryption: the cost of encrypted fields (issue 5, item 7).
//
// Appends of an event with three encrypted fields beside appends of the same
// event with none, in the same run, on the same machine state: pipelined
// single-event appends and pipelined 100-event batches, from one writer
// thread. Encrypted with the default strategy (XChaCha20-Poly1305) and, where
// the CPU has AES-NI, with aes256gcm_strategy. Each figure is the best of
// --rounds runs, the variants interleaved, each run on a fresh in-memory
// backend. Loads (decrypting reads) are reported too, for information.
//
//   bench_encryption                                  # about half a minute
//   bench_encryption --events=20000 --batches=200 --loads=20 --rounds=1   # quick
//   bench_encryption --help                           # every option
//
// Target: encrypted appends at ≥ 50% of the plain-append throughput. Exit code
// 0 whether or not it is met ("MISSED" in the table), 1 when an append failed
// ("!!" on stderr), 2 for bad options.
#include "bench_common.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <semaphore>
#include <string>
#include <vector>

namespace {

using bench::clock_type;
using bench::seconds_since;

// -- the events: one shape, two registrations --------------------------------------

#define SOURCERY_BENCH_EVENT(name)                                                        \
  struct name {                                                                           \
    std::string user_id;                                                                  \
    std::string full_name;                                                                \
    std::string email;                                                                    \
    std::string street;                                                                   \
    std::string plan;                                                                     \
    int seats = 0;                                                                        \
  };                                                                                      \
  BOOST_DESCRIBE_STRUCT(name, (), (user_id, full_name, email, street, plan, seats))

SOURCERY_BENCH_EVENT(customer_registered)        // plain
SOURCERY_BENCH_EVENT(secret_customer_registered) // full_name, email, street encrypted

constexpr std::size_t subjects = 1000;

template <class E>
E make_event(std::size_t i) {
  auto n = std::to_string(i % subjects);
  return E{"user-" + n, "Customer Number " + n, "customer" + n + "@example.org",
           n + " Long Street Name", "business", static_cast<int>(i % 50)};
}

/// Events made before timing starts: the benchmark times what Sourcery does.
template <class E>
const std::vector<sourcery::wrapped_event<>>& event_pool() {
  static const auto pool = [] {
    std::vector<sourcery::wrapped_event<>> out;
    for (std::size_t i = 0; i < 4096; ++i)
      out.push_back(sourcery::wrap(make_event<E>(i)));
    return out;
  }();
  return pool;
}

// -- options -------------------------------------------------------------------------

struct bench_config : bench::config {
  std::size_t events = 300'000;
  std::size_t batches = 3'000;
  std::size_t loads = 300;
  std::size_t rounds = 3;

  /// The command line: what it parses, what --help prints.
  cli::options options() {
    using namespace bench::limits;
    cli::options o("bench_encryption",
                   "The cost of encrypted fields: appends and loads of an event with three "
                   "encrypted fields beside the same event with none (in memory), best of "
                   "--rounds runs.");
    o.count(events, "events", "pipelined single-event appends per run", 1, operations)
      .count(batches, "batches", "pipelined 100-event batch appends per run", 1, operations)
      .count(loads, "loads", "loads of a 1,000-event stream per run", 1, operations)
      .count(rounds, "rounds", "runs of each variant; the best counts", 1, 1'000);
    add_scheduler_options(o);
    return o;
  }
};

// -- the backends ----------------------------------------------------------------------

enum class variant { plain, xchacha, aesgcm };

/// A fresh in-memory backend encrypting with `v`'s strategy (plain events
/// are registered without encrypted fields, so the strategy never runs).
sourcery::backend make_backend(const bench_config& cfg, variant v) {
  auto b = sourcery::backend::in_memory(cfg.runtime());
  if (v == variant::aesgcm)
    b.with_encryption(std::make_shared<sourcery::aes256gcm_strategy>(),
                      std::make_shared<sourcery::in_memory_key_storage>());
  else
    b.with_encryption(std::make_shared<sourcery::xchacha20poly1305_strategy>(),
                      std::make_shared<sourcery::in_memory_key_storage>());
  b.registry().add<customer_registered>("customer_registered");
  b.registry().add<secret_customer_registered>(
    "secret_customer_registered", sourcery::encryption_spec_for<secret_customer_registered>()
                                    .subject("user_id")
                                    .encrypt("full_name", std::string("<erased>"))
                                    .encrypt("email", std::string("<erased>"))
                                    .encrypt("street", std::string("<erased>")));
  auto keys = b.encryption();
  for (std::size_t i = 0; i < subjects; ++i)
    keys.create_key("user-" + std::to_string(i));
  return b;
}

// -- measuring -------------------------------------------------------------------------

/// At most `limit` appends in flight, each slot refilled as soon as its append
/// completes (a counting semaphore, no hysteresis) — for bench::appender.
class semaphore_window {
public:
  explicit semaphore_window(std::size_t limit)
    : limit_(static_cast<std::ptrdiff_t>(limit)), slots_(limit_) {}

  void acquire() { slots_.acquire(); }

  void release(bool ok) {
    failures_ += ok ? 0 : 1;
    slots_.release();
  }

  /// Blocks until every append completed; returns the number that failed.
  std::size_t drain() {
    for (std::ptrdiff_t i = 0; i < limit_; ++i)
      slots_.acquire();
    return failures_;
  }

private:
  std::ptrdiff_t limit_;
  std::counting_semaphore<> slots_;
  std::atomic<std::size_t> failures_{0};
};

using pipeline = bench::appender<semaphore_window>;

/// Events per second of --events pipelined single-event appends, 1,000 in flight.
template <class E>
double single_appends(const bench_config& cfg, variant v) {
  auto backend = make_backend(cfg, v);
  const auto& pool = event_pool<E>();
  pipeline p(backend.event_store(), 1000, 1000, "customers");
  auto start = clock_type::now();
  for (std::size_t i = 0; i < cfg.events; ++i)
    p.append(pool[i % pool.size()]);
  p.drain("single appends");
  return cfg.events / seconds_since(start);
}

/// Events per second of --batches pipelined 100-event appends, 8 in flight.
template <class E>
double batch_appends(const bench_config& cfg, variant v) {
  constexpr std::size_t batch_size = 100;
  auto backend = make_backend(cfg, v);
  const auto& pool = event_pool<E>();
  pipeline p(backend.event_store(), 100, 8, "customers");
  auto start = clock_type::now();
  for (std::size_t b = 0; b < cfg.batches; ++b) {
    auto first = pool.begin() + (b * batch_size) % 4000;
    p.append_batch({first, first + batch_size});
  }
  p.drain("batch appends");
  return cfg.batches * batch_size / seconds_since(start);
}

/// Events per second decoded by --loads loads of one 1,000-event stream.
template <class E>
double loads(const bench_config& cfg, variant v) {
  auto backend = make_backend(cfg, v);
  auto store = backend.event_store();
  auto stream = sourcery::stream_id::random("customers");
  const auto& pool = event_pool<E>();
  store.append(stream, {pool.begin(), pool.begin() + 1000});
  auto start = clock_type::now();
  std::size_t seen = 0;
  for (std::size_t i = 0; i < cfg.loads; ++i)
    seen += store.load_stream(stream).size();
  return seen / seconds_since(start);
}

/// Best of `rounds` runs of each variant, interleaved; prints a row with
/// each ratio to plain and whether it meets `target` (0 = none).
void compare(const char* what, std::size_t rounds, double target, bool with_aesgcm,
             const std::function<double(variant)>& run) {
  double plain = 0;
  double xchacha = 0;
  double aesgcm = 0;
  for (std::size_t r = 0; r < rounds; ++r) {
    plain = std::max(plain, run(variant::plain));
    xchacha = std::max(xchacha, run(variant::xchacha));
    if (with_aesgcm)
      aesgcm = std::max(aesgcm, run(variant::aesgcm));
  }
  auto verdict = [&](double ratio) {
    return target == 0 ? "" : ratio >= target ? " met" : " MISSED";
  };
  std::printf("%-46s %10.0f %10.0f %6.1f%%%-7s", what, plain, xchacha, 100 * xchacha / plain,
              verdict(xchacha / plain));
  if (with_aesgcm)
    std::printf(" %10.0f %6.1f%%%s", aesgcm, 100 * aesgcm / plain, verdict(aesgcm / plain));
  std::printf("\n");
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  return cli::run_main(argc, argv, cfg.options(), [&] {
    bool with_aesgcm = sourcery::aes256gcm_strategy::available();
    std::printf("bench_encryption: %zu single appends, %zu batches of 100, %zu loads of 1,000 "
                "events; best of %zu rounds\n"
                "encrypted event: 3 of its 6 fields, %zu data subjects; one writer thread\n"
                "target: encrypted appends at >= 50%% of plain appends\n\n",
                cfg.events, cfg.batches, cfg.loads, cfg.rounds, subjects);
    std::printf("%-46s %10s %10s %14s", "events/s", "plain", "xchacha", "ratio");
    if (with_aesgcm)
      std::printf(" %10s %7s", "aes256gcm", "ratio");
    std::printf("\n");
    compare("pipelined single-event appends, 1,000 in flight", cfg.rounds, 0.5, with_aesgcm,
            [&](variant v) {
              return v == variant::plain ? single_appends<customer_registered>(cfg, v)
                                         : single_appends<secret_customer_registered>(cfg, v);
            });
    compare("pipelined 100-event batch appends, 8 in flight", cfg.rounds, 0.5, with_aesgcm,
            [&](variant v) {
              return v == variant::plain ? batch_appends<customer_registered>(cfg, v)
                                         : batch_appends<secret_customer_registered>(cfg, v);
            });
    compare("loads of a 1,000-event stream (information)", cfg.rounds, 0, with_aesgcm,
            [&](variant v) {
              return v == variant::plain ? loads<customer_registered>(cfg, v)
                                         : loads<secret_customer_registered>(cfg, v);
            });
    return bench::exit_code("bench_encryption");  });
  }
