// A throwaway pg_auto_failover formation on this machine (SPEC §16, R-N5):
// a monitor (a server started by pg_ctl) and two PostgreSQL nodes, "a" and
// "b", in a temporary folder, each run by its own `pg_autoctl run` in a
// process group of its own. "a" is
// created first and becomes the primary, "b" its synchronous standby. The
// monitor is tuned to fail over within seconds. Used by the harness's
// failover scenario and by tests/actors/failover_test.cpp.
//
// Runs the tools as the `postgres` user when this process is root (initdb
// refuses root). States are waited for on the monitor's notifications
// (LISTEN state), with a look at least every 2 s.
//
// Not thread-safe: one thread drives it.
#pragma once

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <sys/types.h>

struct pg_conn;

namespace harness {

class pg_formation {
public:
  /// Creates and starts the formation: the monitor on `first_port`, "a" on
  /// the next, "b" on the one after, all on 127.0.0.1; PostgreSQL's tools
  /// from `bindir`; their output appended to `log` ("" = discarded). Returns
  /// once "a" is primary and "b" its standby. Throws std::runtime_error
  /// naming the step that failed.
  pg_formation(int first_port, std::string bindir, std::string log);
  /// SIGKILLs whatever still runs and removes the folder.
  ~pg_formation();
  pg_formation(const pg_formation&) = delete;
  pg_formation& operator=(const pg_formation&) = delete;

  /// Both nodes, for a Sourcery node: libpq finds the primary.
  std::string conninfo() const;

  /// SIGKILLs node `name` ("a" or "b"): its keeper, its postmaster, all their
  /// processes — a crash of that server.
  void kill(const std::string& name);
  /// Starts node `name`'s keeper again: it rejoins, as the standby.
  void restart(const std::string& name);

  /// Waits until the monitor reports node `name` in one of `states`
  /// ("primary", "wait_primary", "secondary", …); false after `limit`.
  bool wait_for_state(const std::string& name, std::initializer_list<const char*> states,
                      std::chrono::seconds limit = std::chrono::seconds(120));
  /// The state the monitor reports for node `name` ("" when unknown).
  std::string reported_state(const std::string& name);

private:
  struct conn_deleter {
    void operator()(pg_conn* c) const noexcept;
  };
  void tear_down() noexcept;
  bool run(const std::string& command) const;
  std::string env() const;
  void create_node(int i, const std::string& name);
  pid_t start_keeper(const std::string& name);
  void listen_to_monitor();
  static int index(const std::string& name) { return name == "a" ? 1 : 2; }

  std::filesystem::path dir_;
  std::string bindir_, log_;
  std::string port_[3];
  pid_t keeper_[3] = {0, 0, 0};
  std::unique_ptr<pg_conn, conn_deleter> monitor_;
};

} // namespace harness
