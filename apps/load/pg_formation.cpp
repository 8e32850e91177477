#include "pg_formation.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace harness {

namespace fs = std::filesystem;

namespace {

/// The processes of `pid`'s tree, itself first.
std::vector<pid_t> tree_of(pid_t pid) {
  std::vector<pid_t> out{pid};
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto p = std::to_string(out[i]);
    std::ifstream children("/proc/" + p + "/task/" + p + "/children");
    for (pid_t child = 0; children >> child;)
      out.push_back(child);
  }
  return out;
}

void kill_tree(pid_t pid) {
  for (auto p : tree_of(pid))
    ::kill(p, SIGKILL);
}

/// The postmaster's pid of a data folder, 0 when none.
pid_t postmaster_of(const fs::path& data) {
  std::ifstream pidfile(data / "postmaster.pid");
  pid_t pid = 0;
  pidfile >> pid;
  return pid;
}

bool as_root() { return ::geteuid() == 0; }

void require(bool ok, const std::string& what) {
  if (!ok)
    throw std::runtime_error("pg_auto_failover: " + what);
}

} // namespace

void pg_formation::conn_deleter::operator()(pg_conn* c) const noexcept { PQfinish(c); }

pg_formation::pg_formation(int first_port, std::string bindir, std::string log)
  : bindir_(std::move(bindir)), log_(log.empty() ? "/dev/null" : std::move(log)) {
  for (int i = 0; i < 3; ++i)
    port_[i] = std::to_string(first_port + i);
  char name[] = "/tmp/sourcery-formation-XXXXXX";
  require(::mkdtemp(name) != nullptr, "cannot make a temporary folder");
  dir_ = name;
  fs::create_directories(dir_ / "xdg");
  if (as_root())
    require(std::system(("chown -R postgres: " + dir_.string()).c_str()) == 0,
            "cannot give " + dir_.string() + " to the postgres user");
  try {
    require(run(env() + "pg_autoctl create monitor --pgdata " + (dir_ / "monitor").string()
                + " --pgport " + port_[0]
                + " --hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl"),
            "pg_autoctl create monitor failed (see " + log_ + ")");
    {
      // Notice a dead primary within seconds (the defaults take about 30 s).
      std::ofstream conf(dir_ / "monitor" / "postgresql.conf", std::ios::app);
      conf << "pgautofailover.health_check_period = 1000\n"
           << "pgautofailover.health_check_timeout = 1000\n"
           << "pgautofailover.health_check_max_retries = 1\n"
           << "pgautofailover.health_check_retry_delay = 500\n"
           << "pgautofailover.node_considered_unhealthy_timeout = 2000\n"
           << "pgautofailover.primary_demote_timeout = 2000\n"
           << "pgautofailover.startup_grace_period = 2000\n";
    }
    // The monitor is a PostgreSQL server with the extension, whose own workers
    // check the nodes: started (and waited for) by pg_ctl, it needs no keeper.
    require(run(bindir_ + "/pg_ctl -D " + (dir_ / "monitor").string() + " -l "
                + (dir_ / "monitor.log").string() + " -w -t 60 start"),
            "the monitor did not start (see " + log_ + ")");
    listen_to_monitor();
    create_node(1, "a");
    require(wait_for_state("a", {"single"}), "node a did not start (see " + log_ + ")");
    create_node(2, "b");
    require(wait_for_state("a", {"primary"}) && wait_for_state("b", {"secondary"}),
            "a did not become the primary with b its standby (see " + log_ + ")");
  } catch (...) {
    tear_down();
    throw;
  }
}

pg_formation::~pg_formation() { tear_down(); }

void pg_formation::tear_down() noexcept {
  monitor_.reset();
  for (const char* node : {"a", "b", "monitor"}) {
    int i = std::string(node) == "monitor" ? 0 : index(node);
    auto postmaster = postmaster_of(dir_ / node);
    if (keeper_[i] > 0) {
      ::kill(-keeper_[i], SIGKILL);
      int status = 0;
      ::waitpid(keeper_[i], &status, 0);
      keeper_[i] = 0;
    }
    if (postmaster > 0 && ::kill(postmaster, 0) == 0)
      kill_tree(postmaster);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string pg_formation::conninfo() const {
  return "host=127.0.0.1,127.0.0.1 port=" + port_[1] + "," + port_[2]
         + " user=postgres dbname=postgres target_session_attrs=read-write";
}

void pg_formation::kill(const std::string& name) {
  int i = index(name);
  auto postmaster = postmaster_of(dir_ / name);
  if (keeper_[i] > 0) {
    ::kill(-keeper_[i], SIGKILL);
    int status = 0;
    ::waitpid(keeper_[i], &status, 0);
    keeper_[i] = 0;
  }
  if (postmaster > 0)
    kill_tree(postmaster);
}

void pg_formation::restart(const std::string& name) {
  keeper_[index(name)] = start_keeper(name);
}

bool pg_formation::wait_for_state(const std::string& name,
                                  std::initializer_list<const char*> states,
                                  std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto now = reported_state(name);
    for (const char* s : states)
      if (now == s)
        return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd fd{PQsocket(monitor_.get()), POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(std::min<long>(left.count(), 2000)));
    PQconsumeInput(monitor_.get());
    while (PGnotify* n = PQnotifies(monitor_.get()))
      PQfreemem(n);
  }
}

std::string pg_formation::reported_state(const std::string& name) {
  if (PQstatus(monitor_.get()) != CONNECTION_OK)
    PQreset(monitor_.get());
  const char* values[] = {name.c_str()};
  auto* r = PQexecParams(monitor_.get(),
                         "SELECT reportedstate::text FROM pgautofailover.node WHERE nodename = $1",
                         1, nullptr, values, nullptr, nullptr, 0);
  std::string out;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
    out = PQgetvalue(r, 0, 0);
  PQclear(r);
  return out;
}

bool pg_formation::run(const std::string& command) const {
  auto line = (as_root() ? "runuser -u postgres -- " : "") + command;
  return std::system((line + " >>" + log_ + " 2>&1").c_str()) == 0;
}

std::string pg_formation::env() const {
  auto x = (dir_ / "xdg").string();
  return "env PATH=" + bindir_ + ":/usr/bin:/bin XDG_CONFIG_HOME=" + x
         + "/config XDG_DATA_HOME=" + x + "/data XDG_RUNTIME_DIR=" + x + "/run ";
}

void pg_formation::create_node(int i, const std::string& name) {
  require(run(env() + "pg_autoctl create postgres --pgdata " + (dir_ / name).string()
              + " --pgport " + port_[i] + " --hostname 127.0.0.1 --listen 127.0.0.1 --name "
              + name + " --monitor postgres://autoctl_node@127.0.0.1:" + port_[0]
              + "/pg_auto_failover --auth trust --no-ssl"),
          "pg_autoctl create postgres " + name + " failed (see " + log_ + ")");
  keeper_[i] = start_keeper(name);
}

pid_t pg_formation::start_keeper(const std::string& name) {
  auto command = std::string("exec ") + (as_root() ? "runuser -u postgres -- " : "") + env()
                 + "pg_autoctl run --pgdata " + (dir_ / name).string() + " >>" + log_ + " 2>&1";
  pid_t pid = ::fork();
  require(pid >= 0, "cannot fork");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

void pg_formation::listen_to_monitor() {
  auto info = "host=127.0.0.1 port=" + port_[0] + " user=postgres dbname=pg_auto_failover";
  monitor_.reset(PQconnectdb(info.c_str()));
  require(PQstatus(monitor_.get()) == CONNECTION_OK,
          std::string("cannot connect to the monitor: ") + PQerrorMessage(monitor_.get()));
  PQclear(PQexec(monitor_.get(), "LISTEN state"));
}

} // namespace harness
