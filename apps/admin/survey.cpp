#include "survey.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace admin {

using namespace sourcery;

void for_each_record(const storage::log& log, position from, position to,
                     const std::function<void(const storage::record&)>& visit) {
  auto after = from == 0 ? 0 : from - 1;
  if (after >= to)
    return;
  // One reader thread reads batch after batch, at most `ahead` before the
  // one `visit` sees. One thread for the whole pass, not one per batch: a
  // new thread each time started with a cold malloc arena and cold
  // thread-local caches (the engine's stream ids), and spent more time on
  // page faults than on reading (measured with bench_admin).
  constexpr std::uint64_t batch = 8192;
  constexpr std::size_t ahead = 2;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<storage::record_batch> ready; // GUARDED_BY(mutex)
  bool finished = false, stopping = false; // GUARDED_BY(mutex)
  std::exception_ptr failed;               // GUARDED_BY(mutex)
  std::thread reader([&] {
    try {
      for (auto at = after; at < to;) {
        storage::record_batch b;
        log.read(at, std::min(batch, to - at), b);
        if (b.records.empty())
          break;
        at = b.records.back().position;
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stopping || ready.size() < ahead; });
        if (stopping)
          return;
        ready.push_back(std::move(b));
        changed.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      failed = std::current_exception();
    }
    std::lock_guard lock(mutex);
    finished = true;
    changed.notify_all();
  });
  auto stop_reader = [&] {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    changed.notify_all();
    reader.join();
  };
  try {
    for (;;) {
      storage::record_batch b;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return finished || !ready.empty(); });
        if (ready.empty()) {
          if (failed)
            std::rethrow_exception(failed);
          break;
        }
        b = std::move(ready.front());
        ready.pop_front();
      }
      changed.notify_all();
      for (const auto& r : b.records)
        visit(r);
    }
  } catch (...) {
    stop_reader();
    throw;
  }
  stop_reader();
}

void stream_key(std::string& key, std::string_view tenant, const stream_id& s) {
  key.assign(tenant);
  key += '\0';
  key.append(reinterpret_cast<const char*>(s.id().data), 16);
  if (s.category()) {
    key += '\1';
    key += *s.category();
  }
}

std::string stream_key(std::string_view tenant, const stream_id& s) {
  std::string key;
  stream_key(key, tenant, s);
  return key;
}

std::string tenant_text(const std::string& tenant) {
  return tenant.empty() ? "the default tenant" : std::string("tenant '") + tenant + "'";
}

void surveyor::add(const storage::record& r) {
  ++result.events;
  if (tenant_ && r.tenant != *tenant_)
    return;
  if (!tenant_entry_ || r.tenant != tenant_name_) { // runs of one tenant: one lookup each
    tenant_name_.assign(r.tenant);
    tenant_entry_ = &result.tenants[tenant_name_];
  }
  auto& t = *tenant_entry_;
  if (t.events++ == 0)
    t.first = r.position;
  t.last = r.position;
  stream_key(key_, r.tenant, *r.stream);
  auto it = index_.find(key_);
  if (it == index_.end()) {
    it = index_.emplace(key_, result.streams.size()).first;
    ++t.streams;
    result.streams.push_back({std::string(r.tenant), *r.stream, 0, r.position, 0});
  }
  auto& s = result.streams[it->second];
  ++s.events;
  s.last = r.position;
}

survey survey_store(storage::engine& e, const std::optional<std::string>& tenant) {
  auto& log = e.log();
  surveyor s(tenant);
  s.result.last_position = log.last_position();
  for_each_record(log, 1, s.result.last_position,
                  [&](const storage::record& r) { s.add(r); });
  return std::move(s.result);
}

} // namespace admin
