// One node for the multi-process tests of the PostgreSQL engine (R-N1, R-N2,
// R-N4; tests/storage/postgres_nodes_test.cpp starts several). A plain
// program: it opens the store in the schema given, does one job, reports on
// stdout (one line per fact, flushed) and exits 0 when its own checks pass.
//
//   postgres_node race SCHEMA STREAM-UUID
//       reads an expected version per line on stdin, appends one event to
//       STREAM with it, answers "win" or "lose ACTUAL"; ends at "quit".
//   postgres_node follow SCHEMA NAME APPENDS TOTAL
//       appends APPENDS times (1–3 events, tenant NAME, over 10 streams)
//       while following the global log from position 0 with notify_after
//       (woken by this node's commits and by LISTEN/NOTIFY) until it has
//       TOTAL events; checks that it saw positions 1..TOTAL exactly once, in
//       order, and prints "tenant T N" per tenant seen, then "followed TOTAL".
//   postgres_node append SCHEMA TENANT
//       appends one event at a time forever, printing "ack VERSION POSITION"
//       after each acknowledged append (the parent kills it).
//   postgres_node outbox SCHEMA NAME APPENDS TOTAL LEASE-MS SEED
//       appends APPENDS events with outbox entries (tenant NAME) while
//       publishing outbox entries of every node: a publish fails with
//       probability 0.3, 3 attempts; prints "published POSITION" before
//       reporting each success. Ends when the log holds TOTAL events and no
//       entry is pending.
#include <sourcery/storage/postgres.hpp>

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

using namespace sourcery;
using namespace sourcery::storage;

namespace {

raw_event event(int n) {
  return raw_event{random_uuid(), timestamp::now(), "item_added",
                   R"({"n":)" + std::to_string(n) + "}", "{}", std::nullopt};
}

std::shared_ptr<engine> open(const std::string& schema) {
  postgres_options o;
  o.schema = schema;
  return open_postgres_engine("", o);
}

int race(const std::string& schema, const std::string& stream) {
  auto e = open(schema);
  auto store = e->streams("race");
  auto s = stream_id::from_string(stream);
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    std::vector<raw_event> one{event(0)};
    try {
      store->append(s, static_cast<std::uint64_t>(std::stoull(line)), one, {}, {});
      std::cout << "win" << std::endl;
    } catch (const concurrent_stream_write_error& err) {
      std::cout << "lose " << err.actual() << std::endl;
    }
  }
  return 0;
}

int follow(const std::string& schema, const std::string& name, int appends, position total) {
  auto e = open(schema);
  std::mutex m;
  std::condition_variable cv;
  bool woken = false;
  std::map<std::string, std::size_t> per_tenant;
  bool ok = true;
  std::thread follower([&] {
    position cursor = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (cursor < total) {
      {
        std::unique_lock lock(m);
        woken = false;
      }
      e->log().notify_after(cursor, [&] {
        std::lock_guard lock(m);
        woken = true;
        cv.notify_all();
      });
      {
        std::unique_lock lock(m);
        if (!cv.wait_until(lock, deadline, [&] { return woken; })) {
          std::cerr << name << ": not woken after position " << cursor << std::endl;
          ok = false;
          return;
        }
      }
      record_batch batch;
      e->log().read(cursor, 1000, batch);
      for (const auto& r : batch.records) {
        if (r.position != cursor + 1) {
          std::cerr << name << ": position " << r.position << " after " << cursor << std::endl;
          ok = false;
          return;
        }
        cursor = r.position;
        ++per_tenant[std::string(r.tenant)];
      }
    }
  });
  std::vector<stream_id> streams;
  std::vector<version> versions(10, 0);
  for (int i = 0; i < 10; ++i)
    streams.push_back(stream_id::random());
  for (int i = 0; i < appends; ++i) {
    std::vector<raw_event> evs;
    for (int k = 0; k <= i % 3; ++k)
      evs.push_back(event(i));
    auto& v = versions[i % 10];
    v = *e->streams(name)->append(streams[i % 10], v, evs, {}, {}).version;
  }
  follower.join();
  for (const auto& [tenant, n] : per_tenant)
    std::cout << "tenant " << tenant << " " << n << "\n";
  if (!ok)
    return 1;
  std::cout << "followed " << total << std::endl;
  return 0;
}

int append_forever(const std::string& schema, const std::string& tenant) {
  auto e = open(schema);
  auto store = e->streams(tenant);
  auto s = stream_id::named("kill-target");
  version v = 0;
  for (int i = 0;; ++i) {
    std::vector<raw_event> one{event(i)};
    auto r = store->append(s, v, one, {}, {});
    v = *r.version;
    std::cout << "ack " << v << " " << r.last_position << std::endl;
  }
}

int outbox(const std::string& schema, const std::string& name, int appends, position total,
           int lease_ms, unsigned seed) {
  postgres_options o;
  o.schema = schema;
  o.outbox_lease = std::chrono::milliseconds(lease_ms);
  auto e = open_postgres_engine("", o);
  std::thread writer([&] {
    auto s = stream_id::random();
    std::vector<char> flag{1};
    for (int i = 0; i < appends; ++i) {
      std::vector<raw_event> one{event(i)};
      e->streams(name)->append(s, static_cast<std::uint64_t>(i), one, flag, {});
    }
  });
  std::mt19937 random(seed);
  std::bernoulli_distribution fails(0.3);
  std::string why = "publisher failed";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  auto reporter = e->outbox().open({.attempts = 3});
  while (std::chrono::steady_clock::now() < deadline) {
    auto claims = e->outbox().claim_all(5);
    for (const auto& c : claims) {
      bool failed = fails(random);
      if (!failed)
        std::cout << "published " << c.record.position << std::endl;
      reporter.report(c, failed ? &why : nullptr);
    }
    if (!claims.empty())
      continue;
    if (e->log().last_position() >= total && e->outbox().counts().pending == 0)
      break;
    // Nothing to claim now: entries are in other nodes' hands (or a dead
    // node's, until its lease runs out) or not appended yet. Wait for an
    // entry to leave the outbox, at most one lease.
    e->outbox().wait_until_empty(std::chrono::milliseconds(lease_ms));
  }
  writer.join();
  if (e->outbox().counts().pending != 0) {
    std::cerr << name << ": entries still pending at the deadline" << std::endl;
    return 1;
  }
  std::cout << "done" << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "race" && argc == 4)
      return race(argv[2], argv[3]);
    if (mode == "follow" && argc == 6)
      return follow(argv[2], argv[3], std::stoi(argv[4]), std::stoull(argv[5]));
    if (mode == "outbox" && argc == 8)
      return outbox(argv[2], argv[3], std::stoi(argv[4]), std::stoull(argv[5]), std::stoi(argv[6]),
                    static_cast<unsigned>(std::stoul(argv[7])));
    if (mode == "append" && argc == 4)
      return append_forever(argv[2], argv[3]);
    std::cerr << "usage: postgres_node race|follow|append …\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "postgres_node: " << e.what() << std::endl;
    return 1;
  }
}
