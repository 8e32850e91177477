// The PostgreSQL engine benchmark (issue 12, item 6): one run, one table.
//
//   baseline  the same rows as the engine stores (the events table's columns,
//             ~100-byte JSON payloads) inserted from one connection with
//             multi-row INSERTs of --rows-per-insert rows, one transaction
//             each, synchronous_commit on: what one connection gets from the
//             server without any of the engine's work
//   engine    Sourcery's engine with 1, 2, 3 nodes (processes), each running
//             --threads appenders, every append one event to the appender's
//             own stream (expected version checked), durability full; the
//             node's concurrent appends share transactions (group commit), so
//             --threads is the appends in flight per node (pipelined
//             appends); "events per commit" is counted afterwards from the
//             stored rows (distinct xmin)
//
// The baseline runs before and after the engine; percentages are of the
// higher of its two figures.
//
// Run inside a PostgreSQL, e.g. `pg_virtualenv -t -o fsync=on bench_postgres`
// (pg_virtualenv turns fsync off by default; the table says what the server
// had), or name one with --conninfo. Performance is reported, never
// asserted. Exit codes: 0 the run completed, 1 it failed (the server
// unreachable, a statement or a node failed: one line on stderr), 2 bad
// options (--help lists them).
#include "cli.hpp"

#include <sourcery/storage/postgres.hpp>

#include <libpq-fe.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace sourcery;
using namespace sourcery::storage;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  long events = 60000;        // per configuration
  int threads = 256;          // appenders per node: appends in flight
  int rows_per_insert = 1000; // baseline
  std::string schema = "bench";
  std::string conninfo;       // libpq's connection string; "" = the PG* variables

  /// The command line: what it parses, what --help prints.
  cli::options command_line() {
    cli::options o("bench_postgres",
                   "The PostgreSQL engine: multi-row INSERTs from one connection (the baseline) "
                   "beside Sourcery's engine on 1, 2 and 3 node processes; one table on stdout.");
    o.count(events, "events", "events per configuration", 1, 100'000'000)
      .count(threads, "threads", "appenders per node: appends in flight", 1, 4'096)
      .count(rows_per_insert, "rows-per-insert", "baseline: rows per INSERT statement", 1,
             10'000)
      .text(conninfo, "conninfo",
            "libpq connection string, e.g. 'host=127.0.0.1 port=5432 dbname=bench'", {},
            "none: the PG* environment variables")
      .text(schema, "schema", "the schema the engine's store is made in (and dropped)",
            [](const std::string& v) -> std::optional<std::string> {
              bool ok = !v.empty() && v.size() <= 63 && !(v[0] >= '0' && v[0] <= '9')
                        && std::all_of(v.begin(), v.end(), [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                           });
              if (ok)
                return std::nullopt;
              return "must be a lower-case SQL name (a-z, 0-9, _; not starting with a digit), "
                     "got '" + v + "'";
            })
      .note("The run drops and re-creates the table bench_baseline and the schema --schema.");
    return o;
  }
};

std::string payload(long i) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                R"({"customer":"customer-%06ld","sku":"SKU-%08ld","quantity":%ld,"price":%ld.5,"note":"bench"})",
                i % 1000000, i * 7919 % 100000000, i % 10 + 1, i % 1000);
  return buf;
}

/// A connection to --conninfo; throws with libpq's message when there is none.
PGconn* connect(const options& o) {
  // conninfo is expanded first; the options after it win.
  const char* keys[] = {"dbname", "options", nullptr};
  const char* values[] = {o.conninfo.c_str(), "--client-min-messages=warning", nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (PQstatus(c) != CONNECTION_OK) {
    std::string message = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("cannot connect to PostgreSQL"
                             + (o.conninfo.empty() ? std::string(" (PG* environment variables)")
                                                   : " at '" + o.conninfo + "'")
                             + ": " + message);
  }
  return c;
}

void run_sql(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
    std::string message = PQresultErrorMessage(r);
    PQclear(r);
    throw std::runtime_error(sql.substr(0, 80) + ": " + message);
  }
  PQclear(r);
}

std::string show(PGconn* c, const char* setting) {
  PGresult* r = PQexec(c, (std::string("SHOW ") + setting).c_str());
  std::string out = PQntuples(r) ? PQgetvalue(r, 0, 0) : "?";
  PQclear(r);
  return out;
}

/// Multi-row INSERTs of the engine's columns into a plain copy of its table.
double baseline(const options& o) {
  PGconn* c = connect(o);
  run_sql(c, "DROP TABLE IF EXISTS bench_baseline");
  run_sql(c, "CREATE TABLE bench_baseline (position bigint PRIMARY KEY, stream_key bytea NOT NULL,"
             " number bigint NOT NULL, tenant text NOT NULL, stream uuid NOT NULL, category bytea,"
             " name bytea, id uuid NOT NULL, created_us bigint NOT NULL, version bigint NOT NULL,"
             " type bytea NOT NULL, data bytea NOT NULL, context bytea NOT NULL, schema integer"
             " NOT NULL)");
  run_sql(c, "CREATE INDEX ON bench_baseline (stream_key, position)");
  run_sql(c, "SET synchronous_commit = on");
  auto start = clock_type::now();
  for (long at = 0; at < o.events; at += o.rows_per_insert) {
    std::string sql = "INSERT INTO bench_baseline VALUES ";
    std::vector<std::string> values;
    long end = std::min<long>(o.events, at + o.rows_per_insert);
    for (long i = at; i < end; ++i) {
      int k = static_cast<int>(values.size());
      if (i != at)
        sql += ',';
      char row[256]; // at most ~190: four longs and two ints of 20 and 11 digits
      std::snprintf(row, sizeof row,
                    "(%ld, $%d::bytea, %ld, 't', gen_random_uuid(), NULL, NULL, gen_random_uuid(),"
                    " %ld, %ld, 'order_placed', $%d::bytea, '{}', 1)",
                    i + 1, k + 1, i / 100 + 1, i, i % 100 + 1, k + 2);
      sql += row;
      values.push_back("key-" + std::to_string(i / 100));
      values.push_back(payload(i));
    }
    std::vector<const char*> ptrs;
    std::vector<int> lengths, formats;
    for (const auto& v : values) {
      ptrs.push_back(v.data());
      lengths.push_back(static_cast<int>(v.size()));
      formats.push_back(1);
    }
    PGresult* r = PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               ptrs.data(), lengths.data(), formats.data(), 1);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      std::string message = PQresultErrorMessage(r);
      PQclear(r);
      PQfinish(c);
      throw std::runtime_error("baseline insert: " + message);
    }
    PQclear(r);
  }
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  run_sql(c, "DROP TABLE bench_baseline");
  PQfinish(c);
  return static_cast<double>(o.events) / seconds;
}

/// One node: `threads` appenders, `events` events in all; writes the
/// latencies (µs) to `out_fd` as raw int64s, after waiting for `go_fd`.
void node(const options& o, long events, int go_fd, int out_fd) {
  postgres_options po;
  po.schema = o.schema;
  po.pool_size = 2;
  auto e = open_postgres_engine(o.conninfo, po);
  char go;
  if (::read(go_fd, &go, 1) != 1)
    std::exit(1);
  std::vector<std::vector<std::int64_t>> lat(static_cast<std::size_t>(o.threads));
  std::vector<std::thread> pool;
  std::mutex failed_m;
  std::string failed; // the first appender's error, thrown after the join
  for (int t = 0; t < o.threads; ++t)
    pool.emplace_back([&, t] {
      try {
        auto store = e->streams("bench");
        auto s = stream_id::random();
        long mine = events / o.threads + (t < events % o.threads ? 1 : 0);
        for (long i = 0; i < mine; ++i) {
          std::vector<raw_event> one{raw_event{random_uuid(), timestamp::now(), "order_placed",
                                               payload(i), "{}", std::nullopt}};
          auto start = clock_type::now();
          store->append(s, static_cast<std::uint64_t>(i), one, {}, {});
          lat[static_cast<std::size_t>(t)].push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start)
              .count());
        }
      } catch (const std::exception& x) {
        std::lock_guard lock(failed_m);
        if (failed.empty())
          failed = x.what();
      }
    });
  for (auto& t : pool)
    t.join();
  if (!failed.empty())
    throw std::runtime_error("append: " + failed);
  for (const auto& l : lat)
    if (!l.empty() && ::write(out_fd, l.data(), l.size() * 8) < 0)
      std::exit(1);
  std::exit(0);
}

struct result {
  double events_per_s;
  double p50_ms, p99_ms;
  double events_per_commit;
};

/// The transactions that wrote the events (one xmin each).
long commits(const options& o) {
  PGconn* c = connect(o);
  PGresult* r = PQexec(c, ("SELECT count(DISTINCT xmin::text) FROM " + o.schema + ".events").c_str());
  long n = PQresultStatus(r) == PGRES_TUPLES_OK ? std::stol(PQgetvalue(r, 0, 0)) : 0;
  PQclear(r);
  PQfinish(c);
  return n;
}

result engine_run(const options& o, int nodes) {
  drop_postgres_store(o.conninfo, o.schema);
  open_postgres_engine(o.conninfo, postgres_options{o.schema}).reset(); // created before the nodes
  std::fflush(stdout); // the children must not print the parent's buffer again
  std::cout.flush();
  std::vector<pid_t> pids;
  std::vector<int> go, out;
  for (int n = 0; n < nodes; ++n) {
    int g[2], r[2];
    if (::pipe(g) || ::pipe(r))
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    auto pid = ::fork();
    if (pid < 0)
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::close(g[1]);
      ::close(r[0]);
      // A node's failure is its exit code; the parent names the node.
      try {
        node(o, o.events / nodes, g[0], r[1]);
      } catch (const std::exception& e) {
        std::cerr << "bench_postgres: node " << n + 1 << ": " << cli::one_line(e.what()) << '\n';
      }
      std::_Exit(1);
    }
    ::close(g[0]);
    ::close(r[1]);
    pids.push_back(pid);
    go.push_back(g[1]);
    out.push_back(r[0]);
  }
  auto start = clock_type::now();
  for (int fd : go)
    if (::write(fd, "g", 1) != 1)
      throw std::runtime_error("a node stopped before the start");
  std::vector<std::int64_t> all;
  for (int fd : out) {
    std::int64_t buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
      all.insert(all.end(), buf, buf + n / 8);
  }
  for (auto pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("a node failed (" + std::to_string(nodes) + " nodes)");
  }
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  std::sort(all.begin(), all.end());
  auto pct = [&](double q) {
    return all.empty() ? 0.0 : static_cast<double>(all[static_cast<std::size_t>(q * (all.size() - 1))]) / 1000.0;
  };
  auto check = open_postgres_engine(o.conninfo, postgres_options{o.schema});
  if (check->log().last_position() != static_cast<position>(all.size()))
    throw std::runtime_error(std::to_string(check->log().last_position()) + " positions for "
                             + std::to_string(all.size()) + " appends");
  check.reset();
  auto n = commits(o);
  drop_postgres_store(o.conninfo, o.schema);
  return {static_cast<double>(all.size()) / seconds, pct(0.5), pct(0.99),
          n ? static_cast<double>(all.size()) / static_cast<double>(n) : 0.0};
}

} // namespace

int main(int argc, char** argv) {
  options o;
  return cli::run_main(argc, argv, o.command_line(), [&] {
    PGconn* c = connect(o);
    std::cout << "PostgreSQL " << show(c, "server_version") << ", fsync " << show(c, "fsync")
              << ", synchronous_commit " << show(c, "synchronous_commit") << "; "
              << std::thread::hardware_concurrency() << " cores; " << o.events
              << " events of ~100 bytes per row\n\n";
    PQfinish(c);
    // The baseline runs before and after the engine (the load of a shared
    // machine moves it the most); percentages are of the higher of the two.
    auto before = baseline(o);
    std::vector<result> runs;
    for (int nodes = 1; nodes <= 3; ++nodes)
      runs.push_back(engine_run(o, nodes));
    auto after = baseline(o);
    auto base = std::max(before, after);
    std::printf("| what | events/s | vs baseline | append p50 | append p99 | events per commit |\n");
    std::printf("|---|---:|---:|---:|---:|---:|\n");
    for (auto [when, value] : {std::pair{"before", before}, std::pair{"after", after}})
      std::printf("| baseline (%s the engine): multi-row INSERT, %d rows per statement, 1 connection"
                  " | %.0f | %.0f%% | | | %d |\n",
                  when, o.rows_per_insert, value, 100.0 * value / base, o.rows_per_insert);
    for (int nodes = 1; nodes <= 3; ++nodes) {
      const auto& r = runs[static_cast<std::size_t>(nodes - 1)];
      std::printf("| Sourcery, %d node%s x %d appenders, 1 event per append | %.0f | %.0f%% | %.2f ms | %.2f ms | %.1f |\n",
                  nodes, nodes > 1 ? "s" : "", o.threads, r.events_per_s,
                  100.0 * r.events_per_s / base, r.p50_ms, r.p99_ms, r.events_per_commit);
    }
    return 0;
  });
}
