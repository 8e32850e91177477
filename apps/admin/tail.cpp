// tail: prints records as they commit in another process, until SIGINT or
// SIGTERM (Ctrl-C), which end it cleanly with exit code 0.
//
// PostgreSQL: the engine's wake-ups, fed by LISTEN/NOTIFY, say when the log
// grew. RocksDB: a read-only open sees the store as it was when it began, so
// the store is opened again, read-only, four times a second while nothing
// new was found (RocksDB's LOCK keeps a second writer out, never a reader).
#include "commands.hpp"
#include "survey.hpp"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
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
  auto e = open_store(c.storage, access::read);
  position after = a.from ? (*a.from == 0 ? 0 : *a.from - 1) : e->log().last_position();
  bool live = c.storage.engine == "postgres"; // wake-ups from other processes
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
      auto done = [&] { return watch.stopped || watch.grew; };
      if (live)
        watch.changed.wait(lock, done);
      else
        watch.changed.wait_for(lock, std::chrono::milliseconds(250), done);
      watch.grew = false;
      if (watch.stopped)
        break;
    }
    if (live) {
      e->log().cancel(wake);
    } else if (e->log().last_position() == after) {
      e.reset(); // the store as it is now
      e = open_store(c.storage, access::read);
    }
  }
  e->log().cancel_all();
  return ok;
}

} // namespace admin
