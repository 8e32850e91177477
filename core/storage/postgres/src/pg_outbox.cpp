#include "pg_outbox.hpp"

#include "rows.hpp"
#include "schema.hpp"

#include <algorithm>
#include <chrono>

namespace sourcery::storage::postgres_detail {

namespace {

/// Claimed rows (position, shard, attempts) joined to their events.
std::string claimed_rows_with_events(std::string_view cte) {
  return std::string(cte) + " SELECT u.shard, u.attempts, " + std::string(record_columns)
         + " FROM u JOIN @.events e ON e.position = u.position ORDER BY u.position";
}

std::string lease_end() { return "clock_timestamp() + $2::float8 * interval '1 millisecond'"; }

} // namespace

pg_outbox::pg_outbox(std::shared_ptr<pool> connections, std::string schema, std::size_t shards,
                     std::chrono::milliseconds lease)
  : pool_(std::move(connections)), schema_(std::move(schema)),
    shards_(std::max<std::size_t>(1, shards)), lease_(lease), node_(random_uuid()),
    channel_(schema_ + "_outbox") {}

std::size_t pg_outbox::shard_of(std::string_view tenant) const noexcept {
  return postgres_detail::shard_of(tenant, shards_);
}

std::vector<outbox_claim> pg_outbox::claims_of(result_ptr r) const {
  auto owner = std::make_shared<rows>(std::move(r));
  auto* res = owner->result.get();
  std::vector<outbox_claim> out;
  out.reserve(PQntuples(res));
  for (int i = 0; i < PQntuples(res); ++i) {
    outbox_claim c;
    c.shard = static_cast<std::size_t>(get_i32(res, i, 0));
    c.attempts = static_cast<std::uint32_t>(get_i32(res, i, 1));
    c.record = read_record(*owner, i, 2);
    c.handle = c.record.position;
    c.owner = owner;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<outbox_claim> pg_outbox::claim(std::size_t shard, std::size_t limit) {
  return claim_rows(shard, limit);
}

std::vector<outbox_claim> pg_outbox::claim_all(std::size_t limit) {
  return claim_rows(std::nullopt, limit);
}

std::vector<outbox_claim> pg_outbox::claim_rows(std::optional<std::size_t> shard,
                                                std::size_t limit) {
  if (shard && *shard >= shards_)
    throw invalid_argument("outbox shard " + std::to_string(*shard) + " does not exist");
  if (limit == 0)
    return {};
  params p;
  p.id(node_).i64(lease_.count()).i64(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT32_MAX)));
  std::string where = "(state = 0 OR lease_until < clock_timestamp())";
  if (shard) {
    p.i32(static_cast<std::int32_t>(*shard));
    where = "shard = $4 AND " + where;
  }
  auto sql = in_schema(
    claimed_rows_with_events(
      "WITH c AS (SELECT position FROM @.outbox WHERE " + where
      + " ORDER BY position LIMIT $3 FOR UPDATE SKIP LOCKED),"
        " u AS (UPDATE @.outbox o SET state = 1, owner = $1, lease_until = "
      + lease_end() + " FROM c WHERE o.position = c.position"
      + " RETURNING o.position, o.shard, o.attempts)"),
    schema_);
  auto conn = pool_->take();
  return claims_of(conn->exec(sql, p, "claiming outbox entries"));
}

outbox_outcome pg_outbox::report(const outbox_claim& c, const std::string* failure,
                                 const outbox_policy& policy) {
  auto pos = static_cast<std::int64_t>(c.handle);
  auto tries = c.attempts + 1;
  auto attempts = static_cast<std::int32_t>(tries); // the column's type
  auto outcome = !failure                    ? outbox_outcome::done
                 : tries >= policy.attempts ? outbox_outcome::dead
                                             : outbox_outcome::retry;
  params p;
  p.i64(pos).id(node_);
  std::string sql;
  const char* mine = " WHERE position = $1 AND owner = $2 AND state = 1";
  switch (outcome) {
  case outbox_outcome::done:
    sql = std::string("WITH d AS (DELETE FROM @.outbox") + mine
          + " RETURNING 1) SELECT pg_notify($3, '') FROM d";
    p.text(channel_);
    break;
  case outbox_outcome::dead:
    sql = std::string("WITH d AS (DELETE FROM @.outbox") + mine
          + " RETURNING position, shard), i AS (INSERT INTO @.dead_letters"
            " SELECT position, shard, $3, $4 FROM d ON CONFLICT (position) DO UPDATE SET"
            " attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error,"
            " shard = EXCLUDED.shard RETURNING 1) SELECT pg_notify($5, '') FROM i";
    p.i32(attempts).bytes(*failure).text(channel_);
    break;
  case outbox_outcome::retry:
    if (policy.hold_for_retry)
      sql = std::string("UPDATE @.outbox SET attempts = $3, state = 2, lease_until = "
                        "clock_timestamp() + $4::float8 * interval '1 millisecond'")
            + mine + " RETURNING 1";
    else
      sql = std::string("UPDATE @.outbox SET attempts = $3, state = 0, owner = NULL,"
                        " lease_until = NULL")
            + mine + " RETURNING 1";
    p.i32(attempts);
    if (policy.hold_for_retry)
      p.i64(lease_.count());
    break;
  }
  result_ptr r;
  {
    auto conn = pool_->take();
    r = conn->exec(in_schema(sql, schema_), p, "recording an outbox outcome");
  }
  if (PQntuples(r.get()) == 0)
    throw invalid_argument("outbox entry at position " + std::to_string(pos)
                           + " is not claimed by this node (not claimed, or its lease ran out)");
  if (failure)
    ++failures_;
  if (outcome == outbox_outcome::done)
    ++published_;
  if (outcome != outbox_outcome::retry)
    changed();
  return outcome;
}

std::optional<outbox_claim> pg_outbox::claim_held(std::size_t shard, position pos) {
  params p;
  p.id(node_).i64(lease_.count()).i64(static_cast<std::int64_t>(pos));
  p.i32(static_cast<std::int32_t>(shard));
  auto sql = in_schema(
    claimed_rows_with_events(
      "WITH u AS (UPDATE @.outbox SET state = 1, lease_until = " + lease_end()
      + " WHERE position = $3 AND shard = $4 AND state = 2 AND owner = $1"
        " RETURNING position, shard, attempts)"),
    schema_);
  auto conn = pool_->take();
  auto out = claims_of(conn->exec(sql, p, "claiming a held outbox entry"));
  if (out.empty())
    return std::nullopt;
  return std::move(out.front());
}

void pg_outbox::release_held(std::size_t shard) {
  auto conn = pool_->take();
  conn->exec(in_schema("UPDATE @.outbox SET state = 0, owner = NULL, lease_until = NULL"
                       " WHERE shard = $1 AND state = 2 AND owner = $2",
                       schema_),
             params{}.i32(static_cast<std::int32_t>(shard)).id(node_),
             "releasing held outbox entries");
}

std::vector<dead_entry> pg_outbox::dead_letters() const {
  result_ptr r;
  {
    auto conn = pool_->take();
    r = conn->exec(in_schema("SELECT d.attempts, d.last_error, " + std::string(record_columns)
                               + " FROM @.dead_letters d JOIN @.events e"
                                 " ON e.position = d.position ORDER BY d.position",
                             schema_),
                   params{}, "reading the dead letters");
  }
  auto owner = std::make_shared<rows>(std::move(r));
  auto* res = owner->result.get();
  std::vector<dead_entry> out;
  for (int i = 0; i < PQntuples(res); ++i)
    out.push_back(dead_entry{read_record(*owner, i, 2),
                             static_cast<std::uint32_t>(get_i32(res, i, 0)),
                             std::string(get_bytes(res, i, 1)), owner});
  return out;
}

std::size_t pg_outbox::requeue(std::optional<position> at) {
  params p;
  if (at)
    p.i64(static_cast<std::int64_t>(*at));
  else
    p.null(pg_type::int8);
  auto conn = pool_->take();
  auto r = conn->exec(
    in_schema("WITH d AS (DELETE FROM @.dead_letters WHERE $1::int8 IS NULL OR position = $1"
              " RETURNING position, shard) INSERT INTO @.outbox (position, shard, attempts, state)"
              " SELECT position, shard, 0, 0 FROM d ON CONFLICT (position) DO NOTHING",
              schema_),
    p, "requeueing dead letters");
  return std::stoul(PQcmdTuples(r.get()));
}

std::size_t pg_outbox::purge(std::optional<position> at) {
  params p;
  if (at)
    p.i64(static_cast<std::int64_t>(*at));
  else
    p.null(pg_type::int8);
  auto conn = pool_->take();
  auto r = conn->exec(
    in_schema("DELETE FROM @.dead_letters WHERE $1::int8 IS NULL OR position = $1", schema_), p,
    "purging dead letters");
  return std::stoul(PQcmdTuples(r.get()));
}

std::size_t pg_outbox::pending() const {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("SELECT count(*) FROM @.outbox", schema_), params{},
                      "counting outbox entries");
  return static_cast<std::size_t>(get_i64(r.get(), 0, 0));
}

outbox_counts pg_outbox::counts() const {
  auto conn = pool_->take();
  auto r = conn->exec(in_schema("SELECT (SELECT count(*) FROM @.outbox),"
                                " (SELECT count(*) FROM @.dead_letters)",
                                schema_),
                      params{}, "counting outbox entries");
  return outbox_counts{static_cast<std::size_t>(get_i64(r.get(), 0, 0)),
                       static_cast<std::size_t>(get_i64(r.get(), 0, 1)), published_.load(),
                       failures_.load()};
}

std::optional<std::chrono::milliseconds> pg_outbox::next_release(std::size_t shard) const {
  // The database's clock decides when a lease ran out (claim_rows compares
  // lease_until with clock_timestamp()), so the time left is computed there.
  // Leases already run out are left to the claim that holds them locked.
  auto conn = pool_->take();
  auto r = conn->exec(
    in_schema("SELECT ceil(extract(epoch FROM min(lease_until) - clock_timestamp()) * 1000)::int8"
              " FROM @.outbox WHERE shard = $1 AND state <> 0 AND lease_until > clock_timestamp()",
              schema_),
    params{}.i32(static_cast<std::int32_t>(shard)), "reading the outbox's next lease end");
  if (PQntuples(r.get()) != 1 || PQgetisnull(r.get(), 0, 0))
    return std::nullopt;
  return std::chrono::milliseconds(std::max<std::int64_t>(0, get_i64(r.get(), 0, 0)));
}

void pg_outbox::changed() noexcept {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

bool pg_outbox::wait_until_empty(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::uint64_t seen;
    {
      std::lock_guard lock(mutex_);
      seen = generation_;
    }
    if (pending() == 0)
      return true;
    std::unique_lock lock(mutex_);
    if (!changed_.wait_until(lock, deadline, [&] { return generation_ != seen; }))
      return false;
  }
}

} // namespace sourcery::storage::postgres_detail
