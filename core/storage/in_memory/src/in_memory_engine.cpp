// The in-memory engine: the global log, each tenant's streams, the outbox,
// keys, cursors and subscription groups, all in RAM (R-ST1, R-ST2).
#include <sourcery/storage/in_memory.hpp>
#include <sourcery/detail/group_ledger.hpp>
#include <sourcery/detail/instruments.hpp>

#include "memory_log.hpp"
#include "memory_outbox.hpp"

#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace sourcery::storage {

namespace in_memory_detail {

namespace {

struct mem_stream {
  bool versionless = false;
  version current = 0; // versioned: last version; versionless: event count
  std::optional<raw_event> snapshot;
  std::vector<const mem_record*> events; // after the snapshot
};

/// One tenant's streams. The stream ids that records point at are owned
/// here and outlive deletion (records stay in the log).
class memory_streams final : public stream_store {
public:
  memory_streams(std::string tenant, memory_log& log, memory_outbox& outbox)
    : tenant_(std::move(tenant)), log_(log), outbox_(outbox) {}

  const std::string& tenant() const noexcept override { return tenant_; }

  append_receipt append(const stream_id& id, expected_version expected,
                        std::span<const raw_event> events, std::span<const char> to_outbox,
                        const commit_hook& hook) override {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(id);
    auto check = check_append(info_locked(it), expected, events, id, tenant_,
                              [&](version first, version stop) {
                                return read_locked(it, first, stop).events;
                              });
    if (check.repeated)
      return *check.repeated;
    const auto& versions = check.versions;
    bool created = it == streams_.end();
    if (created)
      it = streams_.emplace(id, mem_stream{!expected.is_versioned(), 0, {}, {}}).first;
    std::vector<pending_event> pending(events.size());
    for (std::size_t i = 0; i < pending.size(); ++i)
      pending[i] = pending_event{&events[i], versions[i]};
    std::vector<const mem_record*> records;
    try {
      records = log_.commit(&tenant_, &it->first, pending,
                            [&](std::span<const mem_record* const> recs) {
                              if (hook) {
                                std::vector<record> views;
                                views.reserve(recs.size());
                                for (const auto* r : recs)
                                  r->view_into(views);
                                hook(views);
                              }
                              outbox_.add(recs, to_outbox); // last: it cannot throw
                            });
    } catch (...) {
      if (created)
        streams_.erase(it);
      throw;
    }
    auto& s = it->second;
    s.events.insert(s.events.end(), records.begin(), records.end());
    s.current += records.size();
    return append_receipt{records.front()->pos, records.back()->pos,
                          s.versionless ? std::nullopt : std::optional<version>(s.current)};
  }

  std::optional<stream_info> info(const stream_id& id) const override {
    std::lock_guard lock(mutex_);
    return info_locked(streams_.find(id));
  }

  stream_read read(const stream_id& id, std::optional<version> start,
                   std::optional<version> stop) const override {
    std::lock_guard lock(mutex_);
    return read_locked(streams_.find(id), start, stop);
  }

  void save_snapshot(const stream_id& id, raw_event snapshot) override {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(id);
    check_snapshot(info_locked(it), snapshot, id, tenant_);
    auto& s = it->second;
    s.snapshot = std::move(snapshot);
    s.events.clear();
    s.events.shrink_to_fit();
  }

  void remove(const stream_id& id) override {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(id);
    if (it == streams_.end())
      return;
    auto node = streams_.extract(it);
    node.mapped() = mem_stream{};
    retired_.push_back(std::move(node));
  }

private:
  using map = std::unordered_map<stream_id, mem_stream>;

  std::optional<stream_info> info_locked(map::const_iterator it) const {
    if (it == streams_.end())
      return std::nullopt;
    return stream_info{it->second.versionless, it->second.current};
  }

  stream_read read_locked(map::const_iterator it, std::optional<version> start,
                          std::optional<version> stop) const {
    stream_read out;
    if (it == streams_.end())
      return out;
    const auto& s = it->second;
    auto in_range = [&](std::optional<version> v) {
      if (!v) // versionless: slicing by version does not apply
        return true;
      return (!start || *v >= *start) && (!stop || *v < *stop);
    };
    if (s.snapshot && in_range(s.snapshot->version))
      out.snapshot = s.snapshot;
    if (!s.versionless && (start || stop)) {
      // Versioned: the events are in version order, so the range is a slice.
      auto begin = std::lower_bound(s.events.begin(), s.events.end(), start.value_or(0),
                                    [](const mem_record* r, version v) { return r->version < v; });
      auto end = stop ? std::lower_bound(begin, s.events.end(), *stop,
                                         [](const mem_record* r, version v) {
                                           return r->version < v;
                                         })
                      : s.events.end();
      out.events.records.reserve(static_cast<std::size_t>(end - begin));
      for (auto i = begin; i != end; ++i)
        (*i)->view_into(out.events.records);
      return out;
    }
    out.events.records.reserve(s.events.size());
    for (const auto* r : s.events)
      r->view_into(out.events.records);
    return out;
  }

  const std::string tenant_;
  memory_log& log_;
  memory_outbox& outbox_;
  mutable std::mutex mutex_;
  map streams_;                          // GUARDED_BY(mutex_)
  std::vector<map::node_type> retired_;  // GUARDED_BY(mutex_): ids records point at
};

/// The projector cursors, in a hash map.
class memory_cursors final : public cursor_store {
public:
  std::optional<version> load(const cursor_key& key) const override {
    std::lock_guard lock(mutex_);
    auto it = cursors_.find(key);
    return it == cursors_.end() ? std::nullopt : std::optional<version>(it->second);
  }
  void store(const cursor_key& key, version v) override {
    std::lock_guard lock(mutex_);
    cursors_[key] = v;
  }

  std::vector<std::pair<cursor_key, version>> all() const {
    std::lock_guard lock(mutex_);
    return {cursors_.begin(), cursors_.end()};
  }

private:
  struct key_hash {
    std::size_t operator()(const cursor_key& k) const noexcept { return hash_value(k); }
  };

  mutable std::mutex mutex_;
  std::unordered_map<cursor_key, version, key_hash> cursors_; // GUARDED_BY(mutex_)
};

/// The operator's part: nothing on disk; the outbox's entries and the cursors.
class memory_admin final : public store_admin {
public:
  memory_admin(memory_outbox& outbox, const memory_cursors& cursors)
    : outbox_(outbox), cursors_(cursors) {}

  std::uint32_t format_version() const override { return 1; }
  std::optional<std::uint64_t> bytes_on_disk() const override { return std::nullopt; }
  std::vector<pending_entry> pending_outbox() const override { return outbox_.pending_entries(); }
  std::vector<std::pair<cursor_key, version>> cursors() const override { return cursors_.all(); }
  void restore_outbox_entry(position pos, std::uint32_t attempts,
                            const std::string* last_error) override {
    outbox_.restore(pos, attempts, last_error);
  }

private:
  memory_outbox& outbox_;
  const memory_cursors& cursors_;
};

/// The root: the log is a memory_log, the outbox a memory_outbox.
class memory_engine final : public engine {
public:
  explicit memory_engine(const in_memory_options& o)
    : outbox_(o.outbox_shards ? o.outbox_shards
                              : std::max(1u, std::thread::hardware_concurrency())) {}

  std::string_view name() const noexcept override { return "in_memory"; }

  storage::log& log() noexcept override { return log_; }

  std::shared_ptr<stream_store> streams(const std::string& tenant) override {
    std::lock_guard lock(tenants_mutex_);
    auto& slot = tenants_[tenant];
    if (!slot)
      slot = std::make_shared<memory_streams>(tenant, log_, outbox_);
    return slot;
  }

  outbox_store& outbox() noexcept override { return outbox_; }
  cursor_store& cursors() noexcept override { return cursors_; }
  group_store* groups() noexcept override { return &groups_; }
  std::shared_ptr<key_storage> keys() override { return keys_; }

  std::size_t memory_bytes() const override { return log_.memory_bytes(); }

  void collect_metrics(std::vector<metric_family>& out) const override {
    out.push_back(sourcery::detail::single("sourcery_memory_log_bytes",
                                           "Bytes the in-memory log holds: records, payloads, indexes",
                                           metric_type::gauge,
                                           static_cast<double>(log_.memory_bytes())));
  }

  store_admin* admin() noexcept override { return &admin_; }

private:
  memory_log log_;
  memory_outbox outbox_;
  memory_cursors cursors_;
  group_ledger groups_{log_};
  memory_admin admin_{outbox_, cursors_};
  std::shared_ptr<key_storage> keys_ = std::make_shared<in_memory_key_storage>();

  std::mutex tenants_mutex_;
  std::unordered_map<std::string, std::shared_ptr<memory_streams>> tenants_; // GUARDED_BY
};

} // namespace

} // namespace in_memory_detail

std::shared_ptr<engine> make_in_memory_engine(in_memory_options options) {
  return std::make_shared<in_memory_detail::memory_engine>(options);
}

} // namespace sourcery::storage
