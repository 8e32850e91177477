// The crash scenario's parent: spawn a child, kill it at a random moment,
// reopen the store and check it; repeat; one last child ends normally.
#include "crash.hpp"
#include "child_process.hpp"
#include "crash_wire.hpp"
#include "crash_check.hpp"
#include "report.hpp"
#include "store_setup.hpp"

#include <boost/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <poll.h>
#include <random>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace harness {

namespace {

using clock = std::chrono::steady_clock;

/// Reads the child's messages until `deadline` (none = until end of file);
/// returns true at end of file.
bool read_messages(int fd, std::optional<clock::time_point> deadline, crash_reports& reports,
                   std::uint64_t& acks) {
  crash_message buffer[256];
  std::size_t have = 0; // bytes of a message split across reads
  for (;;) {
    int timeout = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock::now()).count();
      if (left <= 0)
        return false;
      timeout = static_cast<int>(left);
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready == 0)
      return false;
    auto n = ::read(fd, reinterpret_cast<char*>(buffer) + have, sizeof buffer - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return true;
    have += static_cast<std::size_t>(n);
    auto whole = have / sizeof(crash_message);
    for (std::size_t i = 0; i < whole; ++i) {
      if (buffer[i].kind == crash_message::acknowledged) {
        reports.acknowledged.push_back(buffer[i]);
        ++acks;
      } else {
        reports.published.insert(buffer[i].first);
      }
    }
    auto rest = have % sizeof(crash_message);
    std::memmove(buffer, reinterpret_cast<char*>(buffer) + whole * sizeof(crash_message), rest);
    have = rest;
  }
}

} // namespace

int run_crash(const scenario& sc, const std::vector<std::string>& argv) {
  prepare_fresh_store(sc.storage);
  if (sc.crash.create_store_first)
    open_engine(sc.storage).reset();
  std::uint64_t seed = sc.crash.seed > 0 ? static_cast<std::uint64_t>(sc.crash.seed)
                                         : (static_cast<std::uint64_t>(std::random_device{}()) << 32
                                            | std::random_device{}());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> kill_after(0, sc.crash.window_ms);
  std::cout << "Crash scenario '" << sc.name << "': " << sc.crash.kills
            << " kills with SIGKILL, each uniformly in [0, " << sc.crash.window_ms
            << "] ms after its child started; seed " << seed << " (--crash.seed=" << seed
            << " repeats the moments)\n"
            << "Store: rocksdb at '" << sc.storage.path << "', durability " << sc.storage.durability
            << "; " << sc.tenants << " tenants x " << sc.streams_per_tenant << " streams, "
            << sc.writers << " writers x " << sc.in_flight << " appends in flight, 1.."
            << sc.batch << " events per append, outbox " << (sc.outbox ? "on" : "off") << "; the store "
            << (sc.crash.create_store_first ? "created before the first child" : "created by the first child")
            << "\n";

  crash_reports reports;
  crash_findings last_found;
  std::int64_t kills_checked = 0, before_first_ack = 0;
  std::vector<std::string> failures;
  auto t0 = clock::now();
  boost::json::array rounds;
  for (std::int64_t round = 1; round <= sc.crash.kills + 1 && failures.empty(); ++round) {
    bool final_round = round > sc.crash.kills;
    auto args = argv;
    args.push_back(crash_child_flag + std::to_string(round));
    if (final_round)
      args.push_back(crash_child_appends_flag + std::to_string(100));
    auto delay = final_round ? 0 : kill_after(rng);
    std::uint64_t acks = 0;
    auto child = spawn_child(args, crash_pipe_fd);
    auto started = clock::now();
    bool ended = read_messages(child.from_child,
                               final_round ? std::nullopt
                                           : std::optional(started + std::chrono::milliseconds(delay)),
                               reports, acks);
    if (!final_round)
      ::kill(child.pid, SIGKILL);
    if (!ended)
      read_messages(child.from_child, std::nullopt, reports, acks);
    ::close(child.from_child);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    bool expected_end = final_round ? WIFEXITED(status) && WEXITSTATUS(status) == 0
                                    : WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (!expected_end)
      failures.push_back("child " + std::to_string(round) + " " + describe_status(status)
                         + (final_round ? "" : " before it was killed"));

    try {
      auto engine = open_engine(sc.storage);
      last_found = check_crashed_store(*engine, sc, reports);
      engine.reset(); // closes the store for the next child
    } catch (const std::exception& e) {
      last_found = {};
      last_found.violations.push_back(std::string("the store does not open: ") + e.what());
    }
    if (!final_round) {
      ++kills_checked;
      before_first_ack += acks == 0;
    }
    char line[300];
    std::snprintf(line, sizeof line,
                  "%s %3lld at %5lld ms: %6llu appends acknowledged (%7zu in all); store: %8llu "
                  "events, %7llu commits (%llu unacknowledged), outbox %llu pending + %llu dead + "
                  "%llu published: %s\n",
                  final_round ? "final " : "kill  ", static_cast<long long>(final_round ? 0 : round),
                  static_cast<long long>(final_round ? 0 : delay), static_cast<unsigned long long>(acks),
                  reports.acknowledged.size(), static_cast<unsigned long long>(last_found.events),
                  static_cast<unsigned long long>(last_found.commits),
                  static_cast<unsigned long long>(last_found.commits > reports.acknowledged.size()
                                                    ? last_found.commits - reports.acknowledged.size() : 0),
                  static_cast<unsigned long long>(last_found.pending),
                  static_cast<unsigned long long>(last_found.dead),
                  static_cast<unsigned long long>(last_found.published_only),
                  last_found.violations.empty() ? "ok" : "VIOLATED");
    std::cout << line << std::flush;
    rounds.push_back({{"round", round},
                      {"final", final_round},
                      {"kill_after_ms", final_round ? -1 : delay},
                      {"acknowledged", acks},
                      {"events", last_found.events},
                      {"commits", last_found.commits},
                      {"violations", boost::json::value_from(last_found.violations)}});
    for (const auto& v : last_found.violations)
      failures.push_back("after " + std::string(final_round ? "the final child" : "kill " + std::to_string(round))
                         + ": " + v);
  }
  double seconds = std::chrono::duration<double>(clock::now() - t0).count();

  std::cout << "\n== Sourcery load harness: scenario '" << sc.name << "' (crash safety, R-ST7)\n"
            << "  " << kills_checked << " kills checked (" << before_first_ack
            << " before the child's first acknowledgement), then a child that ended normally; "
            << reports.acknowledged.size() << " acknowledged appends, " << last_found.events
            << " events stored, in " << static_cast<long>(seconds) << " s\n"
            << "  After every kill the store was reopened and read back: every acknowledged append\n"
            << "  present with its positions and versions; no commit half stored (each stream's\n"
            << "  versions 1..n, each commit's events all there at consecutive positions);\n"
            << "  positions 1..last without gaps; every event's outbox entry pending, dead or\n"
            << "  published (pending + dead + published = last position).\n"
            << "Verification:\n";
  for (const auto& f : failures)
    std::cout << "  [FAILED] " << f << "\n";
  bool ok = failures.empty() && kills_checked == sc.crash.kills;
  std::cout << (ok ? "PASSED" : "FAILED") << "\n";

  boost::json::object doc{{"scenario", sc.name},
                          {"seed", seed},
                          {"kills_checked", kills_checked},
                          {"kills_before_first_ack", before_first_ack},
                          {"acknowledged_appends", reports.acknowledged.size()},
                          {"events", last_found.events},
                          {"seconds", seconds},
                          {"rounds", rounds},
                          {"failures", boost::json::value_from(failures)},
                          {"passed", ok}};
  auto parent = std::filesystem::path(sc.report_json).parent_path();
  if (!parent.empty())
    std::filesystem::create_directories(parent);
  std::ofstream(sc.report_json) << boost::json::serialize(doc) << "\n";
  std::cout << "Report: " << sc.report_json << "\n";
  return ok ? 0 : 1;
}

} // namespace harness
