#include "pg_groups.hpp"

#include "rows.hpp"
#include "schema.hpp"

#include <algorithm>

namespace sourcery::storage::postgres_detail {

namespace {

/// Records read ahead of the members, at most (as the group ledger does).
constexpr std::int64_t read_ahead = 4096;

/// Unsettled, not parked.
constexpr const char* live_states = "state IN (0, 1, 2)";

std::chrono::milliseconds backoff(const group_policy& p, std::uint32_t failures) {
  auto d = p.backoff_base;
  for (std::uint32_t i = 1; i < failures && d < p.backoff_cap; ++i)
    d *= 2;
  return std::min(d, p.backoff_cap);
}

void check_policy(const group_policy& p) {
  if (p.attempts == 0)
    throw invalid_argument("a subscription group needs at least 1 attempt");
  if (p.lease.count() < 1)
    throw invalid_argument("a subscription group's lease must be at least 1 ms");
}

/// The checkpoint after settling: below the first unsettled row above it,
/// or the frontier; never back. $1 is the group.
constexpr const char* advance_sql =
  "UPDATE @.sub_groups g SET checkpoint = GREATEST(g.checkpoint, COALESCE((SELECT"
  " min(position) - 1 FROM @.sub_group_entries WHERE grp = g.name AND state IN (0, 1, 2)"
  " AND position > g.checkpoint), g.frontier)) WHERE g.name = $1";

/// Runs `body` in a transaction on `c`; rolls back when it throws.
template <class F>
auto in_transaction(connection& c, std::string_view what, F&& body) {
  c.exec("BEGIN", what);
  try {
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      c.exec("COMMIT", what);
    } else {
      auto out = body();
      c.exec("COMMIT", what);
      return out;
    }
  } catch (...) {
    c.rollback();
    throw;
  }
}

[[noreturn]] void not_held(const std::string& group, const std::string& member, position pos) {
  throw record_not_held("subscription group '" + group + "': member '" + member
                        + "' does not hold the record at position " + std::to_string(pos));
}

} // namespace

pg_groups::pg_groups(std::shared_ptr<pool> connections, std::string schema,
                     const storage::log& log)
  : pool_(std::move(connections)), schema_(std::move(schema)), log_(log) {}

void pg_groups::check_exists(connection& c, const std::string& group) const {
  auto r = c.exec(in_schema("SELECT 1 FROM @.sub_groups WHERE name = $1", schema_),
                  params{}.bytes(group), "looking for a subscription group");
  if (PQntuples(r.get()) == 0)
    throw unknown_group("no subscription group named '" + group + "'");
}

void pg_groups::open(const group_spec& spec) {
  if (spec.name.empty())
    throw invalid_argument("a subscription group needs a name");
  auto conn = pool_->take();
  conn->exec(in_schema("INSERT INTO @.sub_groups VALUES ($1, $2, $3, $3)"
                       " ON CONFLICT (name) DO NOTHING",
                       schema_),
             params{}.bytes(spec.name).boolean(spec.per_stream_order).i64(
               static_cast<std::int64_t>(spec.start)),
             "opening a subscription group");
  auto r = conn->exec(in_schema("SELECT per_stream_order FROM @.sub_groups WHERE name = $1",
                                schema_),
                      params{}.bytes(spec.name), "opening a subscription group");
  if (PQntuples(r.get()) == 1 && get_bool(r.get(), 0, 0) != spec.per_stream_order)
    throw invalid_argument("subscription group '" + spec.name
                           + "' exists with another per-stream order setting");
}

std::vector<std::string> pg_groups::groups() const {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("SELECT name FROM @.sub_groups ORDER BY name", schema_),
                      "listing the subscription groups");
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    out.emplace_back(get_bytes(r.get(), i, 0));
  return out;
}

std::vector<group_claim> pg_groups::claim(const std::string& group, const std::string& member,
                                          std::size_t limit, const record_filter& accept,
                                          const group_policy& policy) {
  check_policy(policy);
  auto conn = pool_->take();
  auto& c = *conn;
  return in_transaction(c, "claiming subscription group records", [&] {
    auto g = c.exec(in_schema("SELECT per_stream_order, frontier FROM @.sub_groups"
                              " WHERE name = $1 FOR UPDATE",
                              schema_),
                    params{}.bytes(group), "locking a subscription group");
    if (PQntuples(g.get()) == 0)
      throw unknown_group("no subscription group named '" + group + "'");
    bool ordered = get_bool(g.get(), 0, 0);
    auto frontier = get_i64(g.get(), 0, 1);
    auto lease = static_cast<std::int64_t>(policy.lease.count());
    c.exec(in_schema("UPDATE @.sub_group_entries SET state = 0, member = NULL, lease_until = NULL"
                     " WHERE grp = $1 AND state IN (1, 2) AND lease_until <= clock_timestamp()",
                     schema_),
           params{}.bytes(group), "ending leases and backoffs");
    c.exec(in_schema("UPDATE @.sub_group_entries SET lease_until = clock_timestamp()"
                     " + $3::float8 * interval '1 millisecond'"
                     " WHERE grp = $1 AND state = 1 AND member = $2",
                     schema_),
           params{}.bytes(group).bytes(member).i64(lease), "renewing leases");
    // Read further along the log.
    auto n = c.exec(in_schema(std::string("SELECT count(*) FROM @.sub_group_entries WHERE grp = $1 AND ")
                                + live_states,
                              schema_),
                    params{}.bytes(group), "counting a group's records");
    auto live = get_i64(n.get(), 0, 0);
    auto last = static_cast<std::int64_t>(log_.last_position());
    auto start_frontier = frontier;
    while (live < read_ahead && frontier < last) {
      auto page = std::make_shared<rows>(c.exec(
        in_schema("SELECT " + std::string(record_columns)
                    + " FROM @.events e WHERE e.position > $1 AND e.position <= $2"
                      " ORDER BY e.position LIMIT $3",
                  schema_),
        params{}.i64(frontier).i64(last).i64(read_ahead - live), "reading the log for a group"));
      auto count = PQntuples(page->result.get());
      if (count == 0)
        break;
      array_param positions(pg_type::int8), keys(pg_type::bytea);
      for (int i = 0; i < count; ++i) {
        auto r = read_record(*page, i, 0);
        frontier = static_cast<std::int64_t>(r.position);
        if (accept && !accept(r))
          continue;
        positions.i64(static_cast<std::int64_t>(r.position));
        keys.bytes(stream_key(r.tenant, *r.stream));
        ++live;
      }
      if (positions.size() > 0)
        c.exec(in_schema("INSERT INTO @.sub_group_entries (grp, position, stream_key, state,"
                         " attempts) SELECT $1, p, k, 0, 0 FROM unnest($2, $3) AS t(p, k)"
                         " ON CONFLICT DO NOTHING",
                         schema_),
               params{}.bytes(group).array(positions).array(keys), "adding a group's records");
    }
    if (frontier != start_frontier)
      c.exec(in_schema("UPDATE @.sub_groups SET frontier = $2 WHERE name = $1", schema_),
             params{}.bytes(group).i64(frontier), "moving a group's frontier");
    // Claim.
    std::string pick = "SELECT position FROM @.sub_group_entries e WHERE grp = $1 AND state = 0";
    if (ordered)
      pick += " AND NOT EXISTS (SELECT 1 FROM @.sub_group_entries f WHERE f.grp = e.grp"
              " AND f.stream_key = e.stream_key AND f.position < e.position AND f.state IN (0, 1, 2))";
    pick += " ORDER BY position LIMIT $4";
    auto claimed = std::make_shared<rows>(c.exec(
      in_schema("WITH c AS (" + pick + "), u AS (UPDATE @.sub_group_entries o SET state = 1,"
                  " member = $2, lease_until = clock_timestamp() + $3::float8 * interval"
                  " '1 millisecond' FROM c WHERE o.grp = $1 AND o.position = c.position"
                  " RETURNING o.position, o.attempts) SELECT u.attempts, "
                  + std::string(record_columns)
                  + " FROM u JOIN @.events e ON e.position = u.position ORDER BY u.position",
                schema_),
      params{}.bytes(group).bytes(member).i64(lease).i64(
        static_cast<std::int64_t>(std::min<std::size_t>(limit, INT32_MAX))),
      "claiming a group's records"));
    c.exec(in_schema(advance_sql, schema_), params{}.bytes(group), "moving a group's checkpoint");
    std::vector<group_claim> out;
    auto* res = claimed->result.get();
    for (int i = 0; i < PQntuples(res); ++i)
      out.push_back(group_claim{read_record(*claimed, i, 1),
                                static_cast<std::uint32_t>(get_i32(res, i, 0)), claimed});
    return out;
  });
}

void pg_groups::ack(const std::string& group, const std::string& member, position pos) {
  {
    auto conn = pool_->take();
    auto& c = *conn;
    auto deleted = in_transaction(c, "acking a group's record", [&] {
      // The group row first, as a claim locks it: acks and claims queue in one order.
      auto g = c.exec(in_schema("SELECT 1 FROM @.sub_groups WHERE name = $1 FOR UPDATE", schema_),
                      params{}.bytes(group), "locking a subscription group");
      if (PQntuples(g.get()) == 0)
        throw unknown_group("no subscription group named '" + group + "'");
      auto d = c.exec(in_schema("DELETE FROM @.sub_group_entries WHERE grp = $1 AND position = $2"
                                " AND state = 1 AND member = $3 RETURNING 1",
                                schema_),
                      params{}.bytes(group).i64(static_cast<std::int64_t>(pos)).bytes(member),
                      "acking a group's record");
      if (PQntuples(d.get()) == 0)
        not_held(group, member, pos);
      c.exec(in_schema(advance_sql, schema_), params{}.bytes(group),
             "moving a group's checkpoint");
      return true;
    });
    (void)deleted;
  }
  changed(group);
}

nack_outcome pg_groups::nack(const std::string& group, const std::string& member, position pos,
                             const std::string& error, const group_policy& policy) {
  check_policy(policy);
  auto conn = pool_->take();
  auto& c = *conn;
  return in_transaction(c, "nacking a group's record", [&] {
    auto g = c.exec(in_schema("SELECT 1 FROM @.sub_groups WHERE name = $1 FOR UPDATE", schema_),
                    params{}.bytes(group), "locking a subscription group");
    if (PQntuples(g.get()) == 0)
      throw unknown_group("no subscription group named '" + group + "'");
    auto r = c.exec(in_schema("SELECT attempts FROM @.sub_group_entries WHERE grp = $1"
                              " AND position = $2 AND state = 1 AND member = $3 FOR UPDATE",
                              schema_),
                    params{}.bytes(group).i64(static_cast<std::int64_t>(pos)).bytes(member),
                    "nacking a group's record");
    if (PQntuples(r.get()) == 0)
      not_held(group, member, pos);
    auto attempts = static_cast<std::uint32_t>(get_i32(r.get(), 0, 0)) + 1;
    bool park = attempts >= policy.attempts;
    params p;
    p.bytes(group).i64(static_cast<std::int64_t>(pos)).i32(static_cast<std::int32_t>(attempts))
      .bytes(error);
    if (park) {
      c.exec(in_schema("UPDATE @.sub_group_entries SET state = 3, attempts = $3, last_error = $4,"
                       " member = NULL, lease_until = NULL WHERE grp = $1 AND position = $2",
                       schema_),
             p, "parking a group's record");
    } else {
      p.i64(backoff(policy, attempts).count());
      c.exec(in_schema("UPDATE @.sub_group_entries SET state = 2, attempts = $3, last_error = $4,"
                       " member = NULL, lease_until = clock_timestamp() + $5::float8 * interval"
                       " '1 millisecond' WHERE grp = $1 AND position = $2",
                       schema_),
             p, "retrying a group's record");
    }
    c.exec(in_schema(advance_sql, schema_), params{}.bytes(group), "moving a group's checkpoint");
    return park ? nack_outcome::parked : nack_outcome::retry;
  });
}

void pg_groups::renew(const std::string& group, const std::string& member,
                      const group_policy& policy) {
  check_policy(policy);
  auto conn = pool_->take();
  check_exists(*conn, group);
  conn->exec(in_schema("UPDATE @.sub_group_entries SET lease_until = clock_timestamp()"
                       " + $3::float8 * interval '1 millisecond'"
                       " WHERE grp = $1 AND state = 1 AND member = $2",
                       schema_),
             params{}.bytes(group).bytes(member).i64(policy.lease.count()), "renewing leases");
}

void pg_groups::leave(const std::string& group, const std::string& member) {
  {
    auto conn = pool_->take();
    check_exists(*conn, group);
    conn->exec(in_schema("UPDATE @.sub_group_entries SET state = 0, member = NULL,"
                         " lease_until = NULL WHERE grp = $1 AND state = 1 AND member = $2",
                         schema_),
               params{}.bytes(group).bytes(member), "leaving a group");
  }
  changed(group);
}

group_status pg_groups::status(const std::string& group) const {
  auto conn = pool_->take();
  auto r = conn->exec(
    in_schema("SELECT g.checkpoint, count(*) FILTER (WHERE e.state = 1),"
              " count(*) FILTER (WHERE e.state IN (0, 2)), count(*) FILTER (WHERE e.state = 3)"
              " FROM @.sub_groups g LEFT JOIN @.sub_group_entries e ON e.grp = g.name"
              " WHERE g.name = $1 GROUP BY g.checkpoint",
              schema_),
    params{}.bytes(group), "reading a group's status");
  if (PQntuples(r.get()) == 0)
    throw unknown_group("no subscription group named '" + group + "'");
  group_status s;
  s.checkpoint = static_cast<position>(get_i64(r.get(), 0, 0));
  s.in_hand = static_cast<std::size_t>(get_i64(r.get(), 0, 1));
  s.waiting = static_cast<std::size_t>(get_i64(r.get(), 0, 2));
  s.parked = static_cast<std::size_t>(get_i64(r.get(), 0, 3));
  return s;
}

std::vector<parked_record> pg_groups::parked(const std::string& group) const {
  auto conn = pool_->take();
  check_exists(*conn, group);
  auto owner = std::make_shared<rows>(conn->exec(
    in_schema("SELECT g.attempts, g.last_error, " + std::string(record_columns)
                + " FROM @.sub_group_entries g JOIN @.events e ON e.position = g.position"
                  " WHERE g.grp = $1 AND g.state = 3 ORDER BY g.position",
              schema_),
    params{}.bytes(group), "listing a group's parked records"));
  auto* res = owner->result.get();
  std::vector<parked_record> out;
  for (int i = 0; i < PQntuples(res); ++i)
    out.push_back(parked_record{read_record(*owner, i, 2),
                                static_cast<std::uint32_t>(get_i32(res, i, 0)),
                                std::string(get_bytes(res, i, 1)), owner});
  return out;
}

std::size_t pg_groups::replay(const std::string& group, std::optional<position> at) {
  std::size_t n;
  {
    auto conn = pool_->take();
    check_exists(*conn, group);
    params p;
    p.bytes(group);
    std::string sql = "UPDATE @.sub_group_entries SET state = 0, attempts = 0"
                      " WHERE grp = $1 AND state = 3";
    if (at) {
      sql += " AND position = $2";
      p.i64(static_cast<std::int64_t>(*at));
    }
    auto r = conn->exec(in_schema(sql + " RETURNING 1", schema_), p, "replaying parked records");
    n = static_cast<std::size_t>(PQntuples(r.get()));
  }
  if (n > 0)
    changed(group);
  return n;
}

std::size_t pg_groups::purge(const std::string& group, std::optional<position> at) {
  auto conn = pool_->take();
  check_exists(*conn, group);
  params p;
  p.bytes(group);
  std::string sql = "DELETE FROM @.sub_group_entries WHERE grp = $1 AND state = 3";
  if (at) {
    sql += " AND position = $2";
    p.i64(static_cast<std::int64_t>(*at));
  }
  auto r = conn->exec(in_schema(sql + " RETURNING 1", schema_), p, "purging parked records");
  return static_cast<std::size_t>(PQntuples(r.get()));
}

std::optional<std::chrono::milliseconds> pg_groups::next_due(const std::string& group) const {
  auto conn = pool_->take();
  check_exists(*conn, group);
  auto r = conn->exec(
    in_schema("SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM min(lease_until) - clock_timestamp())"
              " * 1000))::int8 FROM @.sub_group_entries WHERE grp = $1 AND state IN (1, 2)",
              schema_),
    params{}.bytes(group), "reading a group's next lease end");
  if (is_null(r.get(), 0, 0))
    return std::nullopt;
  return std::chrono::milliseconds(get_i64(r.get(), 0, 0));
}

std::uint64_t pg_groups::notify_change(const std::string& group, std::function<void()> wake) {
  {
    auto conn = pool_->take();
    check_exists(*conn, group);
  }
  std::lock_guard lock(wake_mutex_);
  auto id = ++next_wake_;
  wakes_.emplace(id, std::make_pair(group, std::move(wake)));
  return id;
}

void pg_groups::cancel_wake(std::uint64_t id) {
  std::lock_guard lock(wake_mutex_);
  wakes_.erase(id);
}

void pg_groups::changed(const std::string& group) {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(wake_mutex_);
    for (auto it = wakes_.begin(); it != wakes_.end();)
      if (it->second.first == group) {
        ready.push_back(std::move(it->second.second));
        it = wakes_.erase(it);
      } else {
        ++it;
      }
  }
  for (auto& w : ready)
    w();
}

} // namespace sourcery::storage::postgres_detail
