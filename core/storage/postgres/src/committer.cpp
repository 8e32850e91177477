#include "committer.hpp"

#include "schema.hpp"

#include <algorithm>
#include <map>

namespace sourcery::storage::postgres_detail {

namespace {

/// Rows per statement: the events' arrays are cut at this many rows (bounds
/// one message), the outbox's multi-row INSERT (two parameters a row) must
/// stay under PostgreSQL's 65,535 parameters.
constexpr std::size_t rows_per_statement = 4000;

struct stream_state {
  bool versionless = false;
  std::uint64_t current = 0; // 0 = absent (or a placeholder)
  std::uint64_t since = 0;
  std::uint64_t snap_number = 0;
  bool touched = false;
};

/// One event row to insert.
struct event_row {
  position pos;
  const pending_append* a;
  std::size_t index;
  std::uint64_t number;
  std::uint64_t version;
};

} // namespace

struct group_transaction {
  /// The group's streams, locked, by key: as read, then as the accepted
  /// appends leave them.
  std::map<std::string, stream_state, std::less<>> states;
  /// The next position to take (the counter's last + 1 once locked).
  position next = 0;
  std::vector<event_row> rows;
  std::vector<pending_append*> accepted;

  /// The last position taken. @pre !accepted.empty()
  position last() const noexcept { return next - 1; }
};

committer::committer(connection_settings settings, std::string schema,
                     std::function<void(position)> published)
  : settings_(std::move(settings)), schema_(std::move(schema)),
    published_(std::move(published)) {}

append_receipt committer::commit(pending_append& a) {
  std::unique_lock lock(mutex_);
  queue_.push_back(&a);
  if (gather_until_ != 0 && queue_.size() >= gather_until_)
    arrived_.notify_one();
  while (!a.done) {
    if (!leading_)
      lead(lock);
    else
      wait_for_leader(a, lock);
  }
  if (a.error)
    std::rethrow_exception(a.error);
  return a.receipt;
}

void committer::wait_for_leader(pending_append& a, std::unique_lock<std::mutex>& lock) {
  completion_latch woken;
  a.wake = &woken;
  lock.unlock();
  woken.wait();
  lock.lock();
  a.wake = nullptr;
}

namespace {

/// Wakes `a`'s thread if it sleeps (under the committer's mutex).
void wake(pending_append& a) {
  if (a.wake)
    a.wake->release();
}

} // namespace

void committer::gather(std::unique_lock<std::mutex>& lock) {
  if (queue_.size() >= last_group_)
    return;
  auto wait = std::min<std::chrono::microseconds>(last_commit_ / 2, std::chrono::milliseconds(2));
  gather_until_ = last_group_;
  arrived_.wait_for(lock, wait, [&] { return queue_.size() >= gather_until_; });
  gather_until_ = 0;
}

void committer::lead(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  gather(lock);
  std::vector<pending_append*> group;
  group.swap(queue_);
  lock.unlock();
  auto start = std::chrono::steady_clock::now();
  try {
    run(group);
  } catch (...) {
    auto error = std::current_exception();
    for (auto* a : group)
      if (!a->error)
        a->error = error;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(elapsed);
  std::uint64_t committed = 0;
  for (auto* a : group)
    if (!a->error)
      committed += a->events.size();
  if (committed > 0) {
    group_events_.observe(committed);
    commit_time_.observe(elapsed);
  }
  lock.lock();
  last_group_ = group.size();
  last_commit_ = took;
  for (auto* a : group) {
    a->done = true;
    wake(*a);
  }
  leading_ = false;
  if (!queue_.empty())
    wake(*queue_.front()); // the next leader
}

void committer::run(std::span<pending_append* const> group) {
  auto& c = leader_connection();
  auto t = lock_streams_and_counter(c, group);
  check_number_and_run_hooks(c, group, t);
  if (t.accepted.empty()) { // each append has its error
    c.rollback();
    return;
  }
  if (write_and_commit(c, t))
    published_(t.last());
}

connection& committer::leader_connection() {
  if (!conn_)
    conn_ = std::make_unique<connection>(settings_);
  else if (!conn_->ok())
    conn_->reconnect();
  return *conn_;
}

// 1. BEGIN; lock the streams (in key order) and the counter; read both. On
// failure, rolls back and throws (the whole group fails).
group_transaction committer::lock_streams_and_counter(connection& c,
                                                      std::span<pending_append* const> group) {
  std::vector<std::string> keys;
  for (auto* a : group)
    keys.push_back(a->key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  array_param key_array(pg_type::bytea);
  for (const auto& k : keys)
    key_array.bytes(k);
  std::vector<statement> first(3);
  first[0].sql = "BEGIN";
  // Rows come out of unnest in the array's (key) order, and are locked in it.
  first[1].sql = in_schema("INSERT INTO @.streams (key, versionless, current, since, snap_number)"
                           " SELECT k, false, 0, 0, 0 FROM unnest($1::bytea[]) AS k"
                           " ON CONFLICT (key) DO UPDATE SET current = @.streams.current"
                           " RETURNING key, versionless, current, since, snap_number",
                           schema_);
  first[1].args.array(key_array);
  first[1].prepared = "sourcery_lock_streams";
  first[2].sql = in_schema("SELECT last FROM @.head WHERE id = 1 FOR UPDATE", schema_);
  first[2].prepared = "sourcery_lock_head";
  std::vector<result_ptr> locked;
  try {
    locked = c.pipeline(first, "locking streams and the log's counter");
  } catch (...) {
    c.rollback();
    throw;
  }
  group_transaction t;
  {
    auto* r = locked[1].get();
    for (int i = 0; i < PQntuples(r); ++i)
      t.states.emplace(std::string(get_bytes(r, i, 0)),
                       stream_state{get_bool(r, i, 1),
                                    static_cast<std::uint64_t>(get_i64(r, i, 2)),
                                    static_cast<std::uint64_t>(get_i64(r, i, 3)),
                                    static_cast<std::uint64_t>(get_i64(r, i, 4)), false});
    if (PQntuples(locked[2].get()) != 1) {
      c.rollback();
      throw storage_corrupt("the log's counter row is missing from schema '" + schema_ + "'");
    }
  }
  t.next = static_cast<position>(get_i64(locked[2].get(), 0, 0)) + 1;
  return t;
}

namespace {

/// Owns what the records of a stored_events_of read view.
struct read_rows {
  result_ptr result;
};

// For the check of a repeated append (R-ES6), on a conflict only: the
// stream's events of its current life with versions in [first, stop), read
// in the group's transaction (the stream's row is locked, so they are the
// committed ones). Events this group has not written yet are not among them.
record_batch stored_events_of(connection& c, const std::string& schema, const pending_append& a,
                              const stream_state& st, version first, version stop) {
  auto r = c.exec(in_schema("SELECT position, id, created_us, version, type, data, context,"
                            " schema FROM @.events WHERE stream_key = $1 AND position >= $2"
                            " AND number > $3 AND number >= $4 AND number < $5 ORDER BY number",
                            schema),
                  params{}
                    .bytes(a.key)
                    .i64(static_cast<std::int64_t>(st.since))
                    .i64(static_cast<std::int64_t>(st.snap_number))
                    .i64(static_cast<std::int64_t>(std::min<version>(first, INT64_MAX)))
                    .i64(static_cast<std::int64_t>(std::min<version>(stop, INT64_MAX))),
                  "reading a stream's events for a repeated append");
  record_batch out;
  auto owner = std::make_shared<read_rows>(read_rows{std::move(r)});
  auto* res = owner->result.get();
  int rows = PQntuples(res);
  out.records.reserve(static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    record rec;
    rec.position = static_cast<position>(get_i64(res, row, 0));
    rec.tenant = a.tenant;
    rec.stream = a.stream;
    rec.id = get_id(res, row, 1);
    rec.created_us = get_i64(res, row, 2);
    rec.version = static_cast<std::uint64_t>(get_i64(res, row, 3));
    rec.type = get_bytes(res, row, 4);
    rec.data = get_bytes(res, row, 5);
    rec.context = get_bytes(res, row, 6);
    rec.schema = static_cast<std::uint32_t>(get_i32(res, row, 7));
    out.records.push_back(rec);
  }
  out.owner = std::move(owner);
  return out;
}

} // namespace

// 2. Check, number and run hooks, one append after the other. An append
// that fails its check or its hook gets the error and is left out; the next
// one takes the same positions.
void committer::check_number_and_run_hooks(connection& c,
                                           std::span<pending_append* const> group,
                                           group_transaction& t) const {
  auto& next = t.next;
  for (auto* a : group) {
    try {
      auto& st = t.states.at(a->key);
      std::optional<stream_info> current;
      if (st.current > 0)
        current = stream_info{st.versionless, st.current};
      auto check = check_append(current, a->expected, a->events, *a->stream, a->tenant,
                                [&](version first, version stop) {
                                  return stored_events_of(c, schema_, *a, st, first, stop);
                                });
      if (check.repeated) { // stored by an earlier transaction: nothing to write
        a->receipt = *check.repeated;
        continue;
      }
      const auto& versions = check.versions;
      auto n = a->events.size();
      if (next + n < next || next + n > (position{1} << 62))
        throw storage_full("the log cannot take more positions");
      if (*a->hook) {
        std::vector<record> views(n);
        for (std::size_t i = 0; i < n; ++i) {
          const auto& e = a->events[i];
          auto& v = views[i];
          v.position = next + i;
          v.tenant = a->tenant;
          v.stream = a->stream;
          v.id = e.id;
          v.created_us = e.created_at.micros();
          v.version = versions[i];
          v.type = e.name;
          v.data = e.data;
          v.context = e.context;
          v.schema = e.schema;
        }
        (*a->hook)(views); // a throw leaves this append out
      }
      if (st.current == 0) { // a new life of the stream
        st.versionless = !a->expected.is_versioned();
        st.since = next;
        st.snap_number = 0;
      }
      for (std::size_t i = 0; i < n; ++i)
        t.rows.push_back(event_row{next + i, a, i, st.current + 1 + i, versions[i]});
      st.current += n;
      st.touched = true;
      a->receipt = append_receipt{next, next + n - 1,
                                  st.versionless ? std::nullopt
                                                 : std::optional<version>(st.current)};
      next += n;
      t.accepted.push_back(a);
    } catch (...) {
      a->error = std::current_exception();
    }
  }
}

// 3. Write everything, move the counter, notify, commit. Returns whether
// committed; if not, rolls back and fails every accepted append.
bool committer::write_and_commit(connection& c, group_transaction& t) {
  auto writes = event_inserts(t);
  for (auto& s : outbox_inserts(t))
    writes.push_back(std::move(s));
  writes.push_back(stream_updates(t));
  writes.push_back(statement{in_schema("UPDATE @.head SET last = $1::int8 WHERE id = 1", schema_),
                             params{}.i64(static_cast<std::int64_t>(t.last())),
                             "sourcery_move_head"});
  writes.push_back(statement{"SELECT pg_notify($1::text, $2::text)",
                             params{}.text(schema_ + "_log").text(std::to_string(t.last())),
                             "sourcery_notify"});
  writes.push_back(statement{"COMMIT", {}});
  try {
    c.pipeline(writes, "committing appends");
  } catch (...) {
    c.rollback();
    auto error = std::current_exception();
    for (auto* a : t.accepted)
      a->error = error;
    return false;
  }
  return true;
}

std::vector<statement> committer::event_inserts(const group_transaction& t) const {
  const auto& rows = t.rows;
  std::vector<statement> out;
  for (std::size_t at = 0; at < rows.size(); at += rows_per_statement) {
    auto end = std::min(rows.size(), at + rows_per_statement);
    array_param pos(pg_type::int8), key(pg_type::bytea), number(pg_type::int8),
      tenant(pg_type::text), stream(pg_type::uuid), category(pg_type::bytea),
      name(pg_type::bytea), id(pg_type::uuid), created(pg_type::int8), version(pg_type::int8),
      type(pg_type::bytea), data(pg_type::bytea), context(pg_type::bytea),
      schema(pg_type::int4);
    for (auto i = at; i < end; ++i) {
      const auto& row = rows[i];
      const auto& e = row.a->events[row.index];
      pos.i64(static_cast<std::int64_t>(row.pos));
      key.bytes(row.a->key);
      number.i64(static_cast<std::int64_t>(row.number));
      tenant.bytes(row.a->tenant);
      stream.id(row.a->stream->id());
      if (const auto& cat = row.a->stream->category())
        category.bytes(*cat);
      else
        category.null();
      if (const auto& n = row.a->stream->name())
        name.bytes(*n);
      else
        name.null();
      id.id(e.id);
      created.i64(e.created_at.micros());
      version.i64(static_cast<std::int64_t>(row.version));
      type.bytes(e.name);
      data.bytes(e.data);
      context.bytes(e.context);
      schema.i32(static_cast<std::int32_t>(e.schema));
    }
    statement s;
    s.sql = in_schema("INSERT INTO @.events (position, stream_key, number, tenant, stream,"
                      " category, name, id, created_us, version, type, data, context, schema)"
                      " SELECT * FROM unnest($1::int8[], $2::bytea[], $3::int8[], $4::text[],"
                      " $5::uuid[], $6::bytea[], $7::bytea[], $8::uuid[], $9::int8[],"
                      " $10::int8[], $11::bytea[], $12::bytea[], $13::bytea[], $14::int4[])",
                      schema_);
    for (const auto* a : {&pos, &key, &number, &tenant, &stream, &category, &name, &id, &created,
                          &version, &type, &data, &context, &schema})
      s.args.array(*a);
    s.prepared = "sourcery_insert_events";
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<statement> committer::outbox_inserts(const group_transaction& t) const {
  std::vector<statement> out;
  statement s;
  for (const auto& row : t.rows) {
    if (row.index >= row.a->to_outbox.size() || !row.a->to_outbox[row.index])
      continue;
    if (s.args.size() >= rows_per_statement * 2) {
      out.push_back(std::move(s));
      s = statement{};
    }
    if (s.sql.empty())
      s.sql = in_schema("INSERT INTO @.outbox (position, shard, attempts, state) VALUES ",
                        schema_);
    else
      s.sql += ',';
    s.sql += "($" + std::to_string(s.args.size() + 1) + ", $"
             + std::to_string(s.args.size() + 2) + ", 0, 0)";
    s.args.i64(static_cast<std::int64_t>(row.pos)).i32(row.a->shard);
  }
  if (!s.sql.empty())
    out.push_back(std::move(s));
  return out;
}

statement committer::stream_updates(const group_transaction& t) const {
  array_param key(pg_type::bytea), versionless(pg_type::boolean), current(pg_type::int8),
    since(pg_type::int8), snap(pg_type::int8);
  for (const auto& [k, st] : t.states) {
    if (!st.touched)
      continue;
    key.bytes(k);
    versionless.boolean(st.versionless);
    current.i64(static_cast<std::int64_t>(st.current));
    since.i64(static_cast<std::int64_t>(st.since));
    snap.i64(static_cast<std::int64_t>(st.snap_number));
  }
  statement s;
  s.sql = in_schema("UPDATE @.streams AS s SET versionless = v.vl, current = v.cur,"
                    " since = v.since, snap_number = v.snap FROM unnest($1::bytea[],"
                    " $2::boolean[], $3::int8[], $4::int8[], $5::int8[])"
                    " AS v (key, vl, cur, since, snap) WHERE s.key = v.key",
                    schema_);
  for (const auto* a : {&key, &versionless, &current, &since, &snap})
    s.args.array(*a);
  s.prepared = "sourcery_update_streams";
  return s;
}

} // namespace sourcery::storage::postgres_detail
