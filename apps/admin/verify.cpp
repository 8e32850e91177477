// verify (R-ADM4): reads the whole store and checks what the engine promises.
//
// One pass over the log checks positions (gap-free, increasing) and each
// stream's versions (1..n in log order, a deleted stream starting again at
// 1; a versionless stream's all 0), keeping each stream's positions of its
// current life. Each stream that exists is read through its index — on a
// second thread, from the moment the pass meets the stream's first event, so
// that the two reads overlap — and what the index gives must be the log's
// records of that stream after its snapshot, which must be at a version the
// stream had. Last, every outbox entry and dead letter must point at a
// stored record.
#include "commands.hpp"
#include "survey.hpp"

#include <sourcery/errors.hpp>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace admin {

using namespace sourcery;
namespace json = boost::json;

namespace {

struct problem {
  std::optional<position> at;
  std::string stream; // "" when not about one stream
  std::string what;
};

/// What a stream's own records say: its state, snapshot and index.
struct stream_read {
  std::optional<storage::stream_info> info; // none: deleted
  std::optional<raw_event> snapshot;
  std::vector<position> indexed;
  std::string error; // "" unless it could not be read
};

struct stream_life {
  std::string tenant;
  stream_id stream{uuid{}};
  bool versionless = false;
  std::uint64_t last_version = 0;
  std::vector<position> positions; // of its current life, index = version - 1
  stream_read read;                // filled by the index reader
};

/// Reads each stream handed to it, on a thread of its own, into the
/// stream's `read`; `finish` waits for the last. The lives it is handed stay
/// where they are (an unordered_map's nodes do not move).
class index_reader {
public:
  index_reader(storage::engine& e, storage::store_admin& admin) : e_(e), admin_(admin) {}
  ~index_reader() { finish(); }

  void add(stream_life& life) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(&life);
    }
    ready_.notify_one();
  }

  void finish() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable())
      thread_.join();
  }

private:
  void run() {
    for (;;) {
      std::deque<stream_life*> work;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty())
          return;
        work.swap(queue_);
      }
      for (auto* life : work)
        read(*life);
    }
  }

  void read(stream_life& life) {
    auto& out = life.read;
    try {
      auto streams = e_.streams(life.tenant);
      out.info = streams->info(life.stream);
      if (!out.info)
        return; // deleted: its events stay in the log, it has no index
      out.snapshot = admin_.snapshot(*streams, life.stream);
      out.indexed = admin_.indexed(*streams, life.stream);
    } catch (const std::exception& e) {
      out.error = e.what();
    }
  }

  storage::engine& e_;
  storage::store_admin& admin_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<stream_life*> queue_;
  bool done_ = false;
  std::thread thread_{[this] { run(); }}; // last: starts once the rest is built
};

/// Progress on stderr: events read, rate, time left; at most 4 times a second.
class progress_bar {
public:
  progress_bar(bool on, std::uint64_t total) : on_(on), total_(total) {}
  void at(std::uint64_t done) {
    if (!on_ || (done & 0xffff) != 0)
      return;
    auto now = std::chrono::steady_clock::now();
    if (now - shown_ < std::chrono::milliseconds(250))
      return;
    shown_ = now;
    double s = std::chrono::duration<double>(now - start_).count();
    double rate = s > 0 ? done / s : 0;
    double left = rate > 0 ? (total_ - done) / rate : 0;
    int width = 30;
    int filled = total_ ? static_cast<int>(width * done / total_) : width;
    std::fprintf(stderr, "\r[%s%s] %llu/%llu events, %.0f/s, %.0f s left ",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                 rate, left);
  }
  void done() {
    if (on_)
      std::fprintf(stderr, "\r%80s\r", "");
  }

private:
  bool on_;
  std::uint64_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), shown_{};
};

class verifier {
public:
  explicit verifier(storage::engine& e) : e_(e), admin_(admin_of(e)) {}

  void run(progress_bar& bar) {
    auto last = e_.log().last_position();
    scan_log(last, bar);
    indexes_.finish();
    check_streams();
    check_outbox(last);
  }

  std::vector<problem> problems;
  std::uint64_t events = 0, snapshots = 0, outbox_entries = 0;
  std::size_t streams() const { return lives_.size(); }

private:
  void scan_log(position last, progress_bar& bar) {
    position expect = 1;
    auto visit = [&](const storage::record& r) {
      if (r.position != expect)
        problems.push_back({r.position, "", "position out of order: expected "
                                              + std::to_string(expect)});
      expect = r.position + 1;
      ++events;
      bar.at(events);
      record(r);
    };
    // Read in large runs; a run the engine cannot read (a hole) is read one
    // position at a time to find the holes and keep going after them.
    position after = 0;
    while (after < last) {
      auto to = std::min<position>(last, after + 65'536);
      try {
        for_each_record(e_.log(), after + 1, to, visit);
        after = to;
      } catch (const storage_corrupt&) {
        for (auto p = std::max(after + 1, expect); p <= to; ++p) {
          try {
            for_each_record(e_.log(), p, p, visit);
          } catch (const storage_corrupt& e) {
            holes_.insert(p);
            problems.push_back({p, "", std::string("the log cannot be read here: ") + e.what()});
            expect = p + 1;
          }
        }
        after = to;
      }
    }
  }

  void record(const storage::record& r) {
    stream_key(key_, r.tenant, *r.stream);
    auto it = lives_.find(key_);
    if (it == lives_.end()) {
      it = lives_.emplace(key_, stream_life{}).first;
      order_.push_back(key_);
      it->second.tenant = std::string(r.tenant);
      it->second.stream = *r.stream;
      it->second.versionless = r.version == 0;
      indexes_.add(it->second);
    }
    auto& life = it->second;
    // Named only when there is a problem: building the text is most of a record's cost.
    auto where = [&] { return stream_text(*r.stream) + " of " + tenant_text(life.tenant); };
    if (r.version == 0) {
      if (!life.versionless)
        problems.push_back({r.position, where(), "a versionless event in a versioned stream"});
      life.positions.push_back(r.position);
      return;
    }
    if (r.version == 1 && !life.positions.empty()) { // deleted, then written again
      life.positions.clear();
      life.last_version = 0;
      life.versionless = false;
    }
    if (life.versionless && !life.positions.empty())
      problems.push_back({r.position, where(), "a versioned event in a versionless stream"});
    if (r.version != life.last_version + 1)
      problems.push_back({r.position, where(),
                          "version " + std::to_string(r.version) + ", expected "
                            + std::to_string(life.last_version + 1)});
    life.last_version = r.version;
    life.positions.push_back(r.position);
  }

  void check_streams() {
    for (const auto& key : order_) {
      auto& life = lives_[key];
      auto where = stream_text(life.stream) + " of " + tenant_text(life.tenant);
      const auto& [info, snapshot, got, error] = life.read;
      if (!error.empty()) {
        problems.push_back({std::nullopt, where, "cannot be read: " + error});
        continue;
      }
      if (!info)
        continue; // deleted: its events stay in the log, it has no index
      if (info->current != life.positions.size())
        problems.push_back({std::nullopt, where,
                            "its state says " + std::to_string(info->current)
                              + " events, the log holds "
                              + std::to_string(life.positions.size())});
      std::size_t skip = 0; // events before the snapshot: not in the index any more
      if (snapshot) {
        ++snapshots;
        auto v = snapshot->version;
        if (v && (*v == 0 || *v > life.positions.size()))
          problems.push_back({std::nullopt, where,
                              "a snapshot at version " + std::to_string(*v)
                                + ", which the stream never had"});
        skip = v ? std::min<std::size_t>(*v, life.positions.size())
                 : life.positions.size() - std::min(life.positions.size(), got.size());
      }
      std::size_t want = life.positions.size() - skip;
      for (std::size_t i = 0; i < std::max(want, got.size()); ++i) {
        auto expected = i < want ? std::optional<position>(life.positions[skip + i]) : std::nullopt;
        auto found = i < got.size() ? std::optional<position>(got[i]) : std::nullopt;
        if (expected == found)
          continue;
        auto n = std::to_string(skip + i + 1);
        if (found && holes_.contains(*found))
          problems.push_back({found, where, "the index points event " + n
                                              + " at a position the log does not hold"});
        else if (!found)
          problems.push_back({expected, where, "the index has no entry for event " + n});
        else if (!expected)
          problems.push_back({found, where, "the index has an entry past the stream's end"});
        else
          problems.push_back({expected, where, "the index points event " + n + " at position "
                                                 + std::to_string(*found)});
        break; // the rest of the stream is off by the same
      }
    }
  }

  void check_outbox(position last) {
    auto* a = e_.admin();
    auto pointing = [&](position p, const std::string& what) {
      if (p == 0 || p > last || holes_.contains(p))
        problems.push_back({p, "", what + " points at no stored record"});
    };
    if (a)
      for (const auto& entry : a->pending_outbox()) {
        ++outbox_entries;
        pointing(entry.position, "an outbox entry");
      }
    try {
      for (const auto& d : e_.outbox().dead_letters()) {
        ++outbox_entries;
        pointing(d.record.position, "a dead letter");
      }
    } catch (const std::exception& e) {
      problems.push_back({std::nullopt, "", std::string("the dead letters cannot be read: ")
                                              + e.what()});
    }
  }

  storage::engine& e_;
  storage::store_admin& admin_;
  std::unordered_map<std::string, stream_life> lives_;
  std::vector<std::string> order_;
  std::unordered_set<position> holes_;
  std::string key_; // reused for each record
  index_reader indexes_{e_, admin_}; // last: reads lives_ until finished
};

} // namespace

int run_verify(const common_args& c, const verify_args& a) {
  auto e = open_store(c.storage, access::read);
  auto format = admin_of(*e).format_version();
  auto start = std::chrono::steady_clock::now();
  progress_bar bar(a.progress || isatty(STDERR_FILENO), e->log().last_position());
  verifier v(*e);
  v.run(bar);
  bar.done();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (c.json) {
    json::array list;
    for (const auto& p : v.problems)
      list.push_back(json::object{{"position", p.at ? json::value(*p.at) : json::value(nullptr)},
                                  {"stream", p.stream.empty() ? json::value(nullptr)
                                                              : json::value(p.stream)},
                                  {"problem", p.what}});
    print_json(std::cout, json::object{{"ok", v.problems.empty()},
                                       {"format_version", format},
                                       {"events", v.events},
                                       {"streams", v.streams()},
                                       {"snapshots", v.snapshots},
                                       {"outbox_entries", v.outbox_entries},
                                       {"seconds", seconds},
                                       {"problems", std::move(list)}});
  } else {
    for (const auto& p : v.problems) {
      if (p.at)
        std::cout << "position " << *p.at << ": ";
      if (!p.stream.empty())
        std::cout << p.stream << ": ";
      std::cout << p.what << '\n';
    }
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.2f s, %.0f events/s", seconds,
                  seconds > 0 ? v.events / seconds : 0.0);
    auto n = v.problems.size();
    std::cout << (n == 0 ? std::string("ok")
                         : std::to_string(n) + (n == 1 ? " problem" : " problems"))
              << ": " << v.events << " events, " << v.streams() << " streams, " << v.snapshots
              << " snapshots, " << v.outbox_entries << " outbox entries, format version "
              << format << " (" << rate << ")\n";
  }
  return v.problems.empty() ? ok : problem_found;
}

} // namespace admin
