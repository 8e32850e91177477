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
//
// Target: encrypted appends at ≥ 50% of the plain-append throughput.
#include <sourcery/sourcery.hpp>

#include <boost/describe.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <semaphore>
#include <string>
#include <string_view>
#include <vector>

namespace {

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

enum class variant { plain, xchacha, aesgcm };

sourcery::backend make_backend(variant v) {
  auto b = sourcery::backend::in_memory();
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

std::vector<sourcery::stream_id> make_streams(std::size_t n) {
  std::vector<sourcery::stream_id> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(sourcery::stream_id::random("customers"));
  return out;
}

// -- measuring -------------------------------------------------------------------------

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Pipelines appends: at most `window` in flight; waits for all at the end.
class pipeline {
public:
  explicit pipeline(std::ptrdiff_t window) : window_(window), slots_(window) {}

  void append(sourcery::event_store& store, const sourcery::stream_id& stream,
              std::vector<sourcery::wrapped_event<>> events, std::uint64_t expected) {
    slots_.acquire();
    store.append_async(stream, std::move(events), expected,
                       [this](sourcery::result<sourcery::append_receipt> r) {
                         if (!r.ok())
                           failed_ = true;
                         slots_.release();
                       });
  }

  void drain() {
    for (std::ptrdiff_t i = 0; i < window_; ++i)
      slots_.acquire();
    if (failed_) {
      std::fprintf(stderr, "an append failed\n");
      std::exit(1);
    }
  }

private:
  std::ptrdiff_t window_;
  std::counting_semaphore<> slots_;
  std::atomic<bool> failed_{false};
};

/// Events per second of `events` pipelined single-event appends.
template <class E>
double single_appends(variant v, std::size_t events) {
  auto backend = make_backend(v);
  auto store = backend.event_store();
  auto streams = make_streams(1000);
  std::vector<std::uint64_t> versions(streams.size(), 0);
  const auto& pool = event_pool<E>();
  pipeline p(1000);
  auto start = clock_type::now();
  for (std::size_t i = 0; i < events; ++i) {
    auto k = i % streams.size();
    p.append(store, streams[k], {pool[i % pool.size()]}, versions[k]++);
  }
  p.drain();
  return events / seconds_since(start);
}

/// Events per second of `batches` pipelined 100-event appends, 8 in flight.
template <class E>
double batch_appends(variant v, std::size_t batches) {
  constexpr std::size_t batch_size = 100;
  auto backend = make_backend(v);
  auto store = backend.event_store();
  auto streams = make_streams(100);
  std::vector<std::uint64_t> versions(streams.size(), 0);
  const auto& pool = event_pool<E>();
  pipeline p(8);
  auto start = clock_type::now();
  for (std::size_t b = 0; b < batches; ++b) {
    std::vector<sourcery::wrapped_event<>> batch(pool.begin() + (b * batch_size) % 4000,
                                                 pool.begin() + (b * batch_size) % 4000
                                                   + batch_size);
    auto k = b % streams.size();
    p.append(store, streams[k], std::move(batch), versions[k]);
    versions[k] += batch_size;
  }
  p.drain();
  return batches * batch_size / seconds_since(start);
}

/// Events per second decoded by `loads` loads of one 1,000-event stream.
template <class E>
double loads(variant v, std::size_t loads) {
  auto backend = make_backend(v);
  auto store = backend.event_store();
  auto stream = sourcery::stream_id::random("customers");
  const auto& pool = event_pool<E>();
  store.append(stream, {pool.begin(), pool.begin() + 1000});
  auto start = clock_type::now();
  std::size_t seen = 0;
  for (std::size_t i = 0; i < loads; ++i)
    seen += store.load_stream(stream).size();
  return seen / seconds_since(start);
}

struct options {
  std::size_t events = 300'000;
  std::size_t batches = 3'000;
  std::size_t loads = 300;
  std::size_t rounds = 3;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto eq = arg.find('=');
    auto name = arg.substr(0, eq);
    auto value = eq == std::string_view::npos ? 0 : std::strtoull(argv[i] + eq + 1, nullptr, 10);
    if (name == "--events")
      o.events = value;
    else if (name == "--batches")
      o.batches = value;
    else if (name == "--loads")
      o.loads = value;
    else if (name == "--rounds")
      o.rounds = value;
    else {
      std::fprintf(stderr,
                   "usage: bench_encryption [--events=N] [--batches=N] [--loads=N] [--rounds=N]\n");
      std::exit(arg == "--help" ? 0 : 2);
    }
  }
  if (o.events == 0 || o.batches == 0 || o.loads == 0 || o.rounds == 0) {
    std::fprintf(stderr, "every count must be at least 1\n");
    std::exit(2);
  }
  return o;
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
  auto o = parse(argc, argv);
  bool with_aesgcm = sourcery::aes256gcm_strategy::available();
  std::printf("bench_encryption: %zu single appends, %zu batches of 100, %zu loads of 1,000 "
              "events; best of %zu rounds\n"
              "encrypted event: 3 of its 6 fields, %zu data subjects; one writer thread\n"
              "target: encrypted appends at >= 50%% of plain appends\n\n",
              o.events, o.batches, o.loads, o.rounds, subjects);
  std::printf("%-46s %10s %10s %14s", "events/s", "plain", "xchacha", "ratio");
  if (with_aesgcm)
    std::printf(" %10s %7s", "aes256gcm", "ratio");
  std::printf("\n");
  compare("pipelined single-event appends, 1,000 in flight", o.rounds, 0.5, with_aesgcm,
                [&](variant v) {
                  return v == variant::plain ? single_appends<customer_registered>(v, o.events)
                                             : single_appends<secret_customer_registered>(v, o.events);
                });
  compare("pipelined 100-event batch appends, 8 in flight", o.rounds, 0.5, with_aesgcm,
                [&](variant v) {
                  return v == variant::plain ? batch_appends<customer_registered>(v, o.batches)
                                             : batch_appends<secret_customer_registered>(v, o.batches);
                });
  compare("loads of a 1,000-event stream (information)", o.rounds, 0, with_aesgcm, [&](variant v) {
    return v == variant::plain ? loads<customer_registered>(v, o.loads)
                               : loads<secret_customer_registered>(v, o.loads);
  });
  return 0;
}
