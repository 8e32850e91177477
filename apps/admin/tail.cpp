// tail: prints records as they commit in another process, until SIGINT or
// SIGTERM (Ctrl-C), which end it cleanly with exit code 0.
//
// PostgreSQL: the engine's wake-ups, fed by LISTEN/NOTIFY, say when the log
// grew. RocksDB: a read-only open sees the store as it was when it began, so
// the store is opened again, read-only, whenever the writer changed one of
// its files — its write-ahead log, a table file, the manifest — as inotify
// tells (RocksDB's LOCK keeps a second writer out, never a reader). No
// polling: a store nobody writes to costs nothing to follow.
#include "commands.hpp"
#include "survey.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <mutex>
#include <thread>

namespace admin {

using namespace sourcery;
namespace json = boost::json;

namespace {

/// SIGINT and SIGTERM, taken by a thread of their own (sigwait) rather than
/// a handler: they set `stopped` and wake the follower.
class interrupt_watch {
public:
  interrupt_watch() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    // Blocked before any other thread starts (the engine's), so each
    // inherits the mask and only the watcher takes them.
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    watcher_ = std::thread([this] {
      int sig = 0;
      sigwait(&set_, &sig);
      {
        std::lock_guard lock(mutex);
        stopped = true;
      }
      changed.notify_all();
    });
  }
  ~interrupt_watch() {
    {
      std::lock_guard lock(mutex);
      if (!stopped)
        pthread_kill(watcher_.native_handle(), SIGTERM); // ended otherwise: release the watcher
    }
    watcher_.join();
  }
  interrupt_watch(const interrupt_watch&) = delete;
  interrupt_watch& operator=(const interrupt_watch&) = delete;

  std::mutex mutex;
  std::condition_variable changed;
  bool stopped = false; // GUARDED_BY(mutex)
  bool grew = false;    // GUARDED_BY(mutex)

private:
  sigset_t set_;
  std::thread watcher_;
};

/// A RocksDB store's folder watched with inotify, on a thread of its own:
/// a write by another process to one of the files that carry commits sets
/// `grew` and wakes the follower. The files RocksDB's own readers touch
/// (its info log, LOG) are not among them, so a reopen wakes nobody.
class folder_watch {
public:
  folder_watch(const std::string& folder, interrupt_watch& watch) : watch_(watch) {
    inotify_ = ::inotify_init1(IN_CLOEXEC);
    if (inotify_ < 0 || ::inotify_add_watch(inotify_, folder.c_str(),
                                            IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
      auto why = std::string(std::strerror(errno));
      if (inotify_ >= 0)
        ::close(inotify_);
      throw failure(unavailable, "cannot watch " + folder + " for commits: " + why);
    }
    stop_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { run(); });
  }
  ~folder_watch() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_, &one, sizeof one);
    thread_.join();
    ::close(stop_);
    ::close(inotify_);
  }
  folder_watch(const folder_watch&) = delete;
  folder_watch& operator=(const folder_watch&) = delete;

private:
  /// A file whose change may carry a commit: a write-ahead log (*.log), a
  /// table (*.sst), the manifest or CURRENT.
  static bool carries_commits(std::string_view name) {
    return name.ends_with(".log") || name.ends_with(".sst") || name.starts_with("MANIFEST")
           || name == "CURRENT";
  }

  void run() {
    alignas(inotify_event) char buffer[4096];
    pollfd fds[2] = {{inotify_, POLLIN, 0}, {stop_, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR)
          continue;
        return;
      }
      if (fds[1].revents != 0)
        return;
      auto n = ::read(inotify_, buffer, sizeof buffer);
      if (n <= 0)
        continue;
      bool commits = false;
      for (char* at = buffer; at < buffer + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(at);
        commits = commits || (ev->len > 0 && carries_commits(ev->name))
                  || (ev->mask & IN_Q_OVERFLOW) != 0;
        at += sizeof(inotify_event) + ev->len;
      }
      if (!commits)
        continue;
      {
        std::lock_guard lock(watch_.mutex);
        watch_.grew = true;
      }
      watch_.changed.notify_all();
    }
  }

  interrupt_watch& watch_;
  int inotify_ = -1, stop_ = -1;
  std::thread thread_;
};

bool wanted(const tail_args& a, const storage::record& r) {
  return (!a.tenant || r.tenant == *a.tenant)
         && (!a.category || r.stream->category() == a.category) && (!a.type || r.type == *a.type);
}

void print(const common_args& c, const storage::record& r) {
  if (c.json) {
    json::object o;
    o["position"] = r.position;
    o["tenant"] = r.tenant;
    o["stream"] = stream_json(*r.stream);
    o["version"] = r.version == 0 ? json::value(nullptr) : json::value(r.version);
    o["type"] = r.type;
    o["data"] = payload_json(r.data);
    std::cout << json::serialize(o) << '\n';
  } else {
    std::cout << r.position << "  " << (r.tenant.empty() ? "(default)" : std::string(r.tenant))
              << "  " << stream_text(*r.stream) << "  "
              << (r.version ? std::to_string(r.version) : std::string("-")) << "  " << r.type
              << "  " << r.data << '\n';
  }
}

} // namespace

int run_tail(const common_args& c, const tail_args& a) {
  interrupt_watch watch;
  bool live = c.storage.engine == "postgres"; // wake-ups from other processes
  // Watching before the first open: a commit made while it opens wakes the loop.
  std::optional<folder_watch> files;
  if (!live && std::filesystem::is_directory(c.storage.path))
    files.emplace(c.storage.path, watch);
  auto e = open_store(c.storage, access::read);
  position after = a.from ? (*a.from == 0 ? 0 : *a.from - 1) : e->log().last_position();
  while (true) {
    auto last = e->log().last_position();
    if (last > after) {
      for_each_record(e->log(), after + 1, last, [&](const storage::record& r) {
        if (wanted(a, r))
          print(c, r);
      });
      after = last;
      std::cout.flush();
    }
    std::uint64_t wake = 0;
    if (live)
      wake = e->log().notify_after(after, [&watch] {
        {
          std::lock_guard lock(watch.mutex);
          watch.grew = true;
        }
        watch.changed.notify_all();
      });
    {
      std::unique_lock lock(watch.mutex);
      watch.changed.wait(lock, [&] { return watch.stopped || watch.grew; });
      watch.grew = false;
      if (watch.stopped)
        break;
    }
    if (live) {
      e->log().cancel(wake);
    } else {
      e.reset(); // the store as it is now
      e = open_store(c.storage, access::read);
    }
  }
  e->log().cancel_all();
  return ok;
}

} // namespace admin
