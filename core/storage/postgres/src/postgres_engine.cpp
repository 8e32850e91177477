// The PostgreSQL engine (R-ST1–R-ST6, R-N1–R-N4): the parts put together.
// Tables: schema.hpp. Appends and positions: committer.hpp. The log and the
// cursors: below. The outbox: pg_outbox.hpp. Keys: pg_keys.hpp. Other
// nodes' commits: listener.hpp.
#include <sourcery/storage/postgres.hpp>
#include <sourcery/detail/wake_ups.hpp>

#include "committer.hpp"
#include "listener.hpp"
#include "pg_keys.hpp"
#include "pg_groups.hpp"
#include "pg_outbox.hpp"
#include "rows.hpp"
#include "schema.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace sourcery::storage {

namespace postgres_detail {

namespace {

connection_settings settings_of(const std::string& conninfo, const postgres_options& o) {
  return connection_settings{conninfo, o.connect_timeout_s, o.statement_timeout,
                             o.durability == postgres_options::durability::full};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

/// What a stream read returns owns the result and the stream's id.
struct stream_rows {
  explicit stream_rows(result_ptr r, std::string t, const stream_id& s)
    : result(std::move(r)), tenant(std::move(t)), stream(s) {}
  result_ptr result;
  std::string tenant;
  stream_id stream;
};

/// One tenant's streams. Appends go through the node's committer; reads,
/// snapshots and deletions use pooled connections. A snapshot or deletion
/// locks the stream's row, as an append does, so they are serialised with
/// appends to the stream on every node.
class pg_streams final : public stream_store {
public:
  pg_streams(std::string tenant, std::string schema, pool& connections, committer& commits,
             pg_outbox& outbox)
    : tenant_(std::move(tenant)), schema_(std::move(schema)), pool_(connections),
      commits_(commits), outbox_(outbox) {}

  const std::string& tenant() const noexcept override { return tenant_; }

  append_receipt append(const stream_id& id, expected_version expected,
                        std::span<const raw_event> events, std::span<const char> to_outbox,
                        const commit_hook& hook) override {
    if (events.empty())
      check_append(std::nullopt, expected, events, id, tenant_, // throws invalid_argument
                   [](version, version) { return record_batch{}; });
    pending_append a;
    a.tenant = tenant_;
    a.stream = &id;
    a.key = stream_key(tenant_, id);
    a.expected = expected;
    a.events = events;
    a.to_outbox = to_outbox;
    a.hook = &hook;
    a.shard = static_cast<std::int32_t>(outbox_.shard_of(tenant_));
    return commits_.commit(a);
  }

  std::optional<stream_info> info(const stream_id& id) const override {
    auto conn = pool_.take();
    auto r = conn->exec(
      in_schema("SELECT versionless, current FROM @.streams WHERE key = $1 AND current > 0",
                schema_),
      params{}.bytes(stream_key(tenant_, id)), "reading a stream's state");
    if (PQntuples(r.get()) == 0)
      return std::nullopt;
    return stream_info{get_bool(r.get(), 0, 0),
                       static_cast<version>(get_i64(r.get(), 0, 1))};
  }

  stream_read read(const stream_id& id, std::optional<version> start,
                   std::optional<version> stop) const override {
    // One statement: one consistent view of the stream, its snapshot and events.
    static const std::string sql_template =
      "SELECT 0 AS k, 0::bigint AS position, n.id, n.created_us, n.version, n.type, n.data,"
      " n.context, n.schema FROM @.streams s JOIN @.snapshots n ON n.key = s.key"
      " WHERE s.key = $1 AND s.current > 0"
      " UNION ALL SELECT 1, e.position, e.id, e.created_us, e.version, e.type, e.data,"
      " e.context, e.schema FROM @.streams s JOIN @.events e ON e.stream_key = s.key"
      " AND e.position >= s.since AND e.number > s.snap_number"
      " WHERE s.key = $1 AND s.current > 0"
      " AND (s.versionless OR (e.number >= $2 AND e.number < $3)) ORDER BY 1, 2";
    auto lo = static_cast<std::int64_t>(std::min<version>(start.value_or(0), INT64_MAX));
    auto hi = static_cast<std::int64_t>(std::min<version>(stop.value_or(INT64_MAX), INT64_MAX));
    result_ptr r;
    {
      auto conn = pool_.take();
      r = conn->exec(in_schema(sql_template, schema_),
                     params{}.bytes(stream_key(tenant_, id)).i64(lo).i64(hi),
                     "reading a stream");
    }
    stream_read out;
    auto owner = std::make_shared<stream_rows>(std::move(r), tenant_, id);
    auto* res = owner->result.get();
    int rows = PQntuples(res);
    int row = 0;
    auto in_range = [&](std::optional<version> v) {
      return !v || ((!start || *v >= *start) && (!stop || *v < *stop));
    };
    if (rows > 0 && get_i32(res, 0, 0) == 0) {
      raw_event snap;
      snap.id = get_id(res, 0, 2);
      snap.created_at = timestamp::from_micros(get_i64(res, 0, 3));
      if (!is_null(res, 0, 4))
        snap.version = static_cast<version>(get_i64(res, 0, 4));
      snap.name = std::string(get_bytes(res, 0, 5));
      snap.data = std::string(get_bytes(res, 0, 6));
      snap.context = std::string(get_bytes(res, 0, 7));
      snap.schema = static_cast<std::uint32_t>(get_i32(res, 0, 8));
      if (in_range(snap.version))
        out.snapshot = std::move(snap);
      row = 1;
    }
    out.events.records.reserve(static_cast<std::size_t>(rows - row));
    for (; row < rows; ++row) {
      record rec;
      rec.position = static_cast<position>(get_i64(res, row, 1));
      rec.tenant = owner->tenant;
      rec.stream = &owner->stream;
      rec.id = get_id(res, row, 2);
      rec.created_us = get_i64(res, row, 3);
      rec.version = static_cast<std::uint64_t>(get_i64(res, row, 4));
      rec.type = get_bytes(res, row, 5);
      rec.data = get_bytes(res, row, 6);
      rec.context = get_bytes(res, row, 7);
      rec.schema = static_cast<std::uint32_t>(get_i32(res, row, 8));
      out.events.records.push_back(rec);
    }
    out.events.owner = std::move(owner);
    return out;
  }

  void save_snapshot(const stream_id& id, raw_event snapshot) override {
    auto key = stream_key(tenant_, id);
    auto conn = pool_.take();
    try {
      auto locked = conn->pipeline(
        {statement{"BEGIN", {}},
         statement{in_schema("SELECT versionless, current FROM @.streams WHERE key = $1"
                             " AND current > 0 FOR UPDATE",
                             schema_),
                   params{}.bytes(key)}},
        "locking a stream for a snapshot");
      std::optional<stream_info> current;
      auto* r = locked[1].get();
      if (PQntuples(r) == 1)
        current = stream_info{get_bool(r, 0, 0), static_cast<version>(get_i64(r, 0, 1))};
      check_snapshot(current, snapshot, id, tenant_);
      params p;
      p.bytes(key).id(snapshot.id).i64(snapshot.created_at.micros());
      if (snapshot.version)
        p.i64(static_cast<std::int64_t>(*snapshot.version));
      else
        p.null(pg_type::int8);
      p.bytes(snapshot.name).bytes(snapshot.data).bytes(snapshot.context);
      p.i32(static_cast<std::int32_t>(snapshot.schema));
      conn->pipeline(
        {statement{in_schema("INSERT INTO @.snapshots VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                             " ON CONFLICT (key) DO UPDATE SET id = EXCLUDED.id,"
                             " created_us = EXCLUDED.created_us, version = EXCLUDED.version,"
                             " type = EXCLUDED.type, data = EXCLUDED.data,"
                             " context = EXCLUDED.context, schema = EXCLUDED.schema",
                             schema_),
                   std::move(p)},
         statement{in_schema("UPDATE @.streams SET snap_number = current WHERE key = $1",
                             schema_),
                   params{}.bytes(key)},
         statement{"COMMIT", {}}},
        "saving a snapshot");
    } catch (...) {
      conn->rollback();
      throw;
    }
  }

  void remove(const stream_id& id) override {
    auto key = stream_key(tenant_, id);
    auto conn = pool_.take();
    conn->exec(in_schema("WITH d AS (DELETE FROM @.streams WHERE key = $1)"
                         " DELETE FROM @.snapshots WHERE key = $1",
                         schema_),
               params{}.bytes(key), "deleting a stream");
  }

private:
  const std::string tenant_;
  const std::string schema_;
  pool& pool_;
  committer& commits_;
  pg_outbox& outbox_;
};

/// The global log: rows of the `events` table up to the highest position
/// this node knows committed (by it or, through the listener, by another);
/// wake-ups run when that position advances.
class pg_log final : public storage::log {
public:
  pg_log(pool& connections, const std::string& schema, position published)
    : pool_(connections), schema_(schema), published_(published),
      wake_ups_([this] { return published_.load(std::memory_order_seq_cst); }) {}

  position last_position() const override { return published_.load(std::memory_order_seq_cst); }

  void read(position after, std::size_t max, record_batch& out) const override {
    auto last = last_position();
    if (after >= last || max == 0)
      return;
    auto count = std::min<std::uint64_t>(max, last - after);
    result_ptr r;
    {
      auto conn = pool_.take();
      r = conn->exec(in_schema("SELECT " + std::string(record_columns)
                                 + " FROM @.events e WHERE e.position > $1 AND e.position <= $2"
                                   " ORDER BY e.position",
                               schema_),
                     params{}
                       .i64(static_cast<std::int64_t>(after))
                       .i64(static_cast<std::int64_t>(after + count)),
                     "reading the log");
    }
    auto owner = std::make_shared<rows>(std::move(r));
    auto* res = owner->result.get();
    if (static_cast<std::uint64_t>(PQntuples(res)) != count)
      throw storage_corrupt("the log of schema '" + schema_ + "' has a gap after position "
                            + std::to_string(after) + ": " + std::to_string(PQntuples(res))
                            + " of " + std::to_string(count) + " records found");
    out.records.reserve(out.records.size() + count);
    for (int i = 0; i < PQntuples(res); ++i) {
      out.records.push_back(read_record(*owner, i, 0));
      if (out.records.back().position != after + 1 + static_cast<std::uint64_t>(i))
        throw storage_corrupt("the log of schema '" + schema_ + "' has a gap before position "
                              + std::to_string(out.records.back().position));
    }
    if (out.owner) // keep what earlier reads into `out` hold alive too
      out.owner = std::make_shared<std::pair<std::shared_ptr<const void>, std::shared_ptr<rows>>>(
        std::move(out.owner), std::move(owner));
    else
      out.owner = std::move(owner);
  }

  std::uint64_t notify_after(position after, wake_fn wake) override {
    return wake_ups_.notify_after(after, std::move(wake));
  }
  void cancel(std::uint64_t id) override { wake_ups_.cancel(id); }
  void cancel_all() override { wake_ups_.cancel_all(); }

  /// Positions up to `p` are committed (by this node or another).
  void advance(position p) {
    auto seen = published_.load(std::memory_order_seq_cst);
    while (p > seen && !published_.compare_exchange_weak(seen, p, std::memory_order_seq_cst)) {
    }
    wake_ups_.published();
  }

private:
  pool& pool_;
  const std::string& schema_;
  std::atomic<position> published_;
  storage::wake_ups wake_ups_;
};

/// Projector cursors: rows of the `cursors` table.
class pg_cursors final : public cursor_store {
public:
  pg_cursors(pool& connections, const std::string& schema)
    : pool_(connections), schema_(schema) {}

  std::optional<version> load(const cursor_key& key) const override {
    auto conn = pool_.take();
    auto r = conn->exec(
      in_schema("SELECT version FROM @.cursors WHERE projection = $1 AND stream_key = $2",
                schema_),
      params{}.bytes(key.projection).bytes(stream_key(key.tenant_id, key.stream)),
      "reading a cursor");
    if (PQntuples(r.get()) == 0)
      return std::nullopt;
    return static_cast<version>(get_i64(r.get(), 0, 0));
  }

  void store(const cursor_key& key, version v) override {
    auto conn = pool_.take();
    conn->exec(in_schema("INSERT INTO @.cursors VALUES ($1, $2, $3) ON CONFLICT"
                         " (projection, stream_key) DO UPDATE SET version = EXCLUDED.version",
                         schema_),
               params{}
                 .bytes(key.projection)
                 .bytes(stream_key(key.tenant_id, key.stream))
                 .i64(static_cast<std::int64_t>(v)),
               "storing a cursor");
  }

private:
  pool& pool_;
  const std::string& schema_;
};

/// The operator's part, read from the schema's tables.
class pg_admin final : public store_admin {
public:
  pg_admin(pool& connections, const std::string& schema) : pool_(connections), schema_(schema) {}

  std::uint32_t format_version() const override {
    auto conn = pool_.take();
    auto r = conn->exec(in_schema("SELECT value FROM @.meta WHERE key = 'version'", schema_),
                        "reading the format");
    if (PQntuples(r.get()) != 1)
      throw storage_corrupt("the store in schema " + schema_ + " has no format version");
    return static_cast<std::uint32_t>(std::stoul(std::string(get_bytes(r.get(), 0, 0))));
  }

  std::optional<std::uint64_t> bytes_on_disk() const override {
    auto conn = pool_.take();
    auto r = conn->exec("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8"
                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = $1 AND c.relkind = 'r'",
                        params{}.text(schema_), "measuring the store");
    return static_cast<std::uint64_t>(get_i64(r.get(), 0, 0));
  }

  std::vector<pending_entry> pending_outbox() const override {
    auto conn = pool_.take();
    auto r = conn->exec(
      in_schema("SELECT position, attempts::int8 FROM @.outbox ORDER BY position", schema_),
      "reading the outbox");
    std::vector<pending_entry> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back({static_cast<position>(get_i64(r.get(), i, 0)),
                     static_cast<std::uint32_t>(get_i64(r.get(), i, 1))});
    return out;
  }

  std::vector<std::pair<cursor_key, version>> cursors() const override {
    auto conn = pool_.take();
    auto r = conn->exec(in_schema("SELECT projection, stream_key, version FROM @.cursors", schema_),
                        "reading the cursors");
    std::vector<std::pair<cursor_key, version>> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      auto projection = std::string(get_bytes(r.get(), i, 0));
      auto k = get_bytes(r.get(), i, 1); // stream_key(): u32 length, tenant, uuid, flag, category
      if (k.size() < 4)
        throw storage_corrupt("a cursor's stream key is malformed");
      auto b = reinterpret_cast<const unsigned char*>(k.data());
      std::size_t n = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16)
                      | (std::size_t{b[2]} << 8) | b[3];
      if (k.size() < 4 + n + 17)
        throw storage_corrupt("a cursor's stream key is malformed");
      auto tenant = std::string(k.substr(4, n));
      uuid id;
      std::memcpy(id.data, k.data() + 4 + n, 16);
      std::optional<std::string> category;
      if (k[4 + n + 16] != 0)
        category = std::string(k.substr(4 + n + 17));
      cursor_key key{std::move(projection), std::move(tenant), stream_id(id, std::move(category))};
      out.emplace_back(std::move(key), static_cast<version>(get_i64(r.get(), i, 2)));
    }
    return out;
  }

  void restore_outbox_entry(position pos, std::uint32_t attempts,
                            const std::string* last_error) override {
    auto conn = pool_.take();
    params p;
    p.i64(static_cast<std::int64_t>(pos)).i64(attempts);
    result_ptr r;
    if (last_error) {
      p.bytes(*last_error);
      r = conn->exec(in_schema("WITH d AS (DELETE FROM @.outbox WHERE position = $1 AND state = 0"
                               " RETURNING position, shard) INSERT INTO @.dead_letters"
                               " SELECT position, shard, $2::int8, $3 FROM d",
                               schema_),
                     p, "restoring an outbox entry");
    } else {
      r = conn->exec(in_schema("UPDATE @.outbox SET attempts = $2::int8"
                               " WHERE position = $1 AND state = 0",
                               schema_),
                     p, "restoring an outbox entry");
    }
    if (std::string_view(PQcmdTuples(r.get())) != "1")
      throw invalid_argument("no pending, unclaimed outbox entry at position "
                             + std::to_string(pos));
  }

private:
  pool& pool_;
  const std::string& schema_;
};

class postgres_engine final : public engine {
public:
  postgres_engine(const std::string& conninfo, const postgres_options& o)
    : schema_(lower(o.schema)), settings_(settings_of(conninfo, o)),
      pool_(std::make_shared<pool>(settings_, o.pool_size)), cursors_(*pool_, schema_) {
    std::size_t shards;
    {
      auto conn = pool_->take();
      shards = open_schema(*conn, schema_, o.outbox_shards, o.create);
      auto r = conn->exec(in_schema("SELECT last FROM @.head WHERE id = 1", schema_),
                          "reading the log's counter");
      log_ = std::make_unique<pg_log>(*pool_, schema_,
                                      static_cast<position>(get_i64(r.get(), 0, 0)));
    }
    outbox_ = std::make_unique<pg_outbox>(pool_, schema_, shards, o.outbox_lease);
    groups_ = std::make_unique<pg_groups>(pool_, schema_, *log_);
    keys_ = std::make_shared<pg_keys>(pool_, schema_);
    commits_ = std::make_unique<committer>(settings_, schema_,
                                           [this](position p) { log_->advance(p); });
    listener_ = std::make_unique<listener>(
      settings_, schema_,
      [this](std::uint64_t p) {
        notifications_.add();
        log_->advance(p);
      },
      [this] {
        notifications_.add();
        outbox_->changed();
      });
  }

  ~postgres_engine() override {
    log_->cancel_all();
    listener_.reset(); // no callbacks after this
  }

  std::string_view name() const noexcept override { return "postgres"; }

  storage::log& log() noexcept override { return *log_; }

  std::shared_ptr<stream_store> streams(const std::string& tenant) override {
    std::lock_guard lock(tenants_mutex_);
    auto& slot = tenants_[tenant];
    if (!slot)
      slot = std::make_shared<pg_streams>(tenant, schema_, *pool_, *commits_, *outbox_);
    return slot;
  }

  outbox_store& outbox() noexcept override { return *outbox_; }
  cursor_store& cursors() noexcept override { return cursors_; }
  group_store* groups() noexcept override { return groups_.get(); }
  std::shared_ptr<key_storage> keys() override { return keys_; }

  /// Records are not kept in memory: every read goes to the database.
  std::size_t memory_bytes() const override { return 0; }

  void collect_metrics(std::vector<metric_family>& out) const override {
    using sourcery::detail::single;
    sourcery::detail::add_commit_metrics(out, commits_->group_events(), commits_->commit_time());
    out.push_back(single("sourcery_postgres_pool_connections",
                         "Connections the engine's pool holds open, idle or in use",
                         metric_type::gauge, static_cast<double>(pool_->connections())));
    out.push_back(single("sourcery_postgres_listening",
                         "1 while the LISTEN connection is up, else 0", metric_type::gauge,
                         listener_ && listener_->listening() ? 1 : 0));
    out.push_back(single("sourcery_postgres_notifications_received_total",
                         "Notifications received on the LISTEN connection (commits, outbox changes)",
                         metric_type::counter, static_cast<double>(notifications_.value())));
  }

  store_admin* admin() noexcept override { return &admin_; }

private:
  const std::string schema_;
  const connection_settings settings_;
  std::shared_ptr<pool> pool_;
  pg_cursors cursors_;
  pg_admin admin_{*pool_, schema_};
  std::unique_ptr<pg_log> log_;
  std::unique_ptr<pg_outbox> outbox_;
  std::unique_ptr<pg_groups> groups_;
  std::shared_ptr<pg_keys> keys_;
  std::unique_ptr<committer> commits_;

  std::mutex tenants_mutex_;
  std::unordered_map<std::string, std::shared_ptr<pg_streams>> tenants_; // GUARDED_BY

  sourcery::detail::counter notifications_;
  std::unique_ptr<listener> listener_; // last: stopped first
};

} // namespace

} // namespace postgres_detail

std::shared_ptr<engine> open_postgres_engine(const std::string& conninfo,
                                             postgres_options options) {
  postgres_detail::check_schema_name(options.schema);
  return std::make_shared<postgres_detail::postgres_engine>(conninfo, options);
}

void drop_postgres_store(const std::string& conninfo, const std::string& schema) {
  postgres_detail::connection c(postgres_detail::connection_settings{conninfo});
  postgres_detail::drop_schema(c, schema);
}

void rename_postgres_store(const std::string& conninfo, const std::string& from,
                           const std::string& to) {
  postgres_detail::connection c(postgres_detail::connection_settings{conninfo});
  postgres_detail::rename_schema(c, from, to);
}

} // namespace sourcery::storage
