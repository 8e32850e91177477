#include "connection.hpp"

#include <arpa/inet.h>
#include <endian.h>

#include <algorithm>
#include <cstring>

namespace sourcery::storage::postgres_detail {

// -- params -------------------------------------------------------------------

params& params::add(std::string bytes, pg_type t, int format) {
  values_.push_back(std::move(bytes));
  nulls_.push_back(false);
  types_.push_back(static_cast<Oid>(t));
  formats_.push_back(format);
  return *this;
}

params& params::i64(std::int64_t v) {
  auto be = htobe64(static_cast<std::uint64_t>(v));
  return add(std::string(reinterpret_cast<const char*>(&be), 8), pg_type::int8);
}

params& params::i32(std::int32_t v) {
  auto be = htobe32(static_cast<std::uint32_t>(v));
  return add(std::string(reinterpret_cast<const char*>(&be), 4), pg_type::int4);
}

params& params::boolean(bool v) { return add(std::string(1, v ? '\1' : '\0'), pg_type::boolean); }
params& params::bytes(std::string_view v) { return add(std::string(v), pg_type::bytea); }
params& params::text(std::string_view v) { return add(std::string(v), pg_type::text); }
params& params::id(const uuid& v) {
  return add(std::string(reinterpret_cast<const char*>(v.data), 16), pg_type::uuid);
}

params& params::null(pg_type t) {
  add({}, t);
  nulls_.back() = true;
  return *this;
}

params& params::int8_array(const std::vector<std::int64_t>& v) {
  std::string text = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i)
      text += ',';
    text += std::to_string(v[i]);
  }
  text += '}';
  return add(std::move(text), static_cast<pg_type>(1016), 0); // int8[], text form
}

params& params::array(const array_param& a) {
  Oid type = 0;
  switch (a.element()) {
    case pg_type::boolean: type = 1000; break;
    case pg_type::bytea: type = 1001; break;
    case pg_type::int4: type = 1007; break;
    case pg_type::text: type = 1009; break;
    case pg_type::int8: type = 1016; break;
    case pg_type::uuid: type = 2951; break;
  }
  return add(a.wire(), static_cast<pg_type>(type));
}

params::view params::pointers() const {
  view v;
  v.types = types_;
  v.formats = formats_;
  v.values.reserve(values_.size());
  v.lengths.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    v.values.push_back(nulls_[i] ? nullptr : values_[i].data());
    v.lengths.push_back(static_cast<int>(values_[i].size()));
  }
  return v;
}

// -- arrays ---------------------------------------------------------------------

namespace {

void put32(std::string& out, std::uint32_t v) {
  auto be = htobe32(v);
  out.append(reinterpret_cast<const char*>(&be), 4);
}

} // namespace

array_param& array_param::element(const void* data, std::size_t length) {
  put32(body_, static_cast<std::uint32_t>(length));
  body_.append(static_cast<const char*>(data), length);
  ++size_;
  return *this;
}

array_param& array_param::i64(std::int64_t v) {
  auto be = htobe64(static_cast<std::uint64_t>(v));
  return element(&be, 8);
}

array_param& array_param::i32(std::int32_t v) {
  auto be = htobe32(static_cast<std::uint32_t>(v));
  return element(&be, 4);
}

array_param& array_param::boolean(bool v) {
  char b = v ? 1 : 0;
  return element(&b, 1);
}

array_param& array_param::bytes(std::string_view v) { return element(v.data(), v.size()); }
array_param& array_param::id(const uuid& v) { return element(v.data, 16); }

array_param& array_param::null() {
  put32(body_, 0xFFFFFFFFu); // length -1
  nulls_ = true;
  ++size_;
  return *this;
}

std::string array_param::wire() const {
  std::string out;
  out.reserve(20 + body_.size());
  put32(out, size_ ? 1 : 0); // dimensions
  put32(out, nulls_ ? 1 : 0);
  put32(out, static_cast<std::uint32_t>(element_));
  if (size_) {
    put32(out, static_cast<std::uint32_t>(size_));
    put32(out, 1); // lower bound
  }
  out += body_;
  return out;
}

// -- results --------------------------------------------------------------------

namespace {

void need(const PGresult* r, int row, int col, int length) {
  if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != length)
    throw storage_corrupt("a stored value has an unexpected size (column "
                          + std::string(PQfname(r, col)) + ")");
}

} // namespace

std::int64_t get_i64(const PGresult* r, int row, int col) {
  need(r, row, col, 8);
  std::uint64_t be;
  std::memcpy(&be, PQgetvalue(r, row, col), 8);
  return static_cast<std::int64_t>(be64toh(be));
}

std::int32_t get_i32(const PGresult* r, int row, int col) {
  need(r, row, col, 4);
  std::uint32_t be;
  std::memcpy(&be, PQgetvalue(r, row, col), 4);
  return static_cast<std::int32_t>(be32toh(be));
}

bool get_bool(const PGresult* r, int row, int col) {
  need(r, row, col, 1);
  return *PQgetvalue(r, row, col) != 0;
}

std::string_view get_bytes(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
}

uuid get_id(const PGresult* r, int row, int col) {
  need(r, row, col, 16);
  uuid out;
  std::memcpy(out.data, PQgetvalue(r, row, col), 16);
  return out;
}

bool is_null(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

// -- connection -----------------------------------------------------------------

void throw_unavailable(std::string_view what, std::string_view message) {
  std::string m(message);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
    m.pop_back();
  throw storage_unavailable("PostgreSQL: " + std::string(what) + " failed: " + m);
}

connection::connection(const connection_settings& s) : settings_(s) { connect(); }

void connection::connect() {
  auto timeout = std::to_string(settings_.connect_timeout_s);
  // Defaults first: what the conninfo (expanded from dbname) says wins.
  // A node writes: of several hosts (host=a,b) it connects to the one that
  // is the primary now (after a failover, the promoted standby; R-N5).
  const char* keys[] = {"connect_timeout", "keepalives",          "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                        "target_session_attrs", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "1",        "5",
                          "2",             "3",        "10000",
                          "read-write",    "sourcery", settings_.conninfo.c_str(), nullptr};
  conn_.reset(PQconnectdbParams(keys, values, 1));
  broken_ = false;
  prepared_.clear();
  if (!conn_)
    throw storage_unavailable("PostgreSQL: cannot allocate a connection");
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    throw_unavailable("connecting", PQerrorMessage(conn_.get()));
  auto setup = "SET statement_timeout = " + std::to_string(settings_.statement_timeout.count())
               + "; SET synchronous_commit = " + (settings_.synchronous_commit ? "on" : "off")
               + "; SET client_min_messages = warning";
  result_ptr r(PQexec(conn_.get(), setup.c_str()));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    fail(r.get(), "setting up a connection");
}

void connection::reconnect() { connect(); }

void connection::fail(const PGresult* r, std::string_view what) {
  std::string message = r ? PQresultErrorMessage(r) : "";
  if (message.empty())
    message = PQerrorMessage(conn_.get());
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view code = state ? state : "";
  // Lost, shut down, or no longer the primary (25006: a demoted server takes
  // no writes): the next use connects again, to whichever host is primary.
  if (PQstatus(conn_.get()) != CONNECTION_OK || code.starts_with("08") || code.starts_with("57P")
      || code == "25006")
    broken_ = true;
  if (code == "XX001" || code == "XX002")
    throw storage_corrupt("PostgreSQL: " + std::string(what) + " failed: " + message);
  throw_unavailable(what, message);
}

result_ptr connection::exec(std::string_view sql, const params& p, std::string_view what) {
  if (!ok())
    throw storage_unavailable("PostgreSQL: " + std::string(what)
                              + " failed: the connection was lost");
  auto v = p.pointers();
  std::string text(sql);
  result_ptr r(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(p.size()),
                            v.types.data(), v.values.data(), v.lengths.data(),
                            v.formats.data(), 1));
  auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    fail(r.get(), what);
  return r;
}

void connection::prepare(const std::vector<statement>& statements, std::string_view what) {
  for (const auto& s : statements) {
    if (!s.prepared
        || std::find(prepared_.begin(), prepared_.end(), s.prepared) != prepared_.end())
      continue;
    result_ptr r(PQprepare(conn_.get(), s.prepared, s.sql.c_str(), 0, nullptr));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      fail(r.get(), what);
    prepared_.emplace_back(s.prepared);
  }
}

std::vector<result_ptr> connection::pipeline(const std::vector<statement>& statements,
                                             std::string_view what) {
  if (!ok())
    throw storage_unavailable("PostgreSQL: " + std::string(what)
                              + " failed: the connection was lost");
  prepare(statements, what);
  auto* c = conn_.get();
  auto lost = [&]() -> std::vector<result_ptr> {
    broken_ = true;
    throw_unavailable(what, PQerrorMessage(c));
  };
  if (PQenterPipelineMode(c) != 1)
    return lost();
  for (const auto& s : statements) {
    auto v = s.args.pointers();
    auto sent = s.prepared
                  ? PQsendQueryPrepared(c, s.prepared, static_cast<int>(s.args.size()),
                                        v.values.data(), v.lengths.data(), v.formats.data(), 1)
                  : PQsendQueryParams(c, s.sql.c_str(), static_cast<int>(s.args.size()),
                                      v.types.data(), v.values.data(), v.lengths.data(),
                                      v.formats.data(), 1);
    if (sent != 1)
      return lost();
  }
  if (PQpipelineSync(c) != 1)
    return lost();
  std::vector<result_ptr> out;
  result_ptr first_error;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    result_ptr r(PQgetResult(c));
    if (!r)
      return lost();
    while (PGresult* extra = PQgetResult(c)) // the statement's end (NULL)
      PQclear(extra);
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !first_error
        && status != PGRES_PIPELINE_ABORTED)
      first_error = std::move(r);
    out.push_back(std::move(r));
  }
  result_ptr sync(PQgetResult(c));
  if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
    return lost();
  if (PQexitPipelineMode(c) != 1)
    return lost();
  if (first_error)
    fail(first_error.get(), what);
  for (const auto& r : out)
    if (!r || PQresultStatus(r.get()) == PGRES_PIPELINE_ABORTED)
      throw_unavailable(what, "a statement of the pipeline did not run");
  return out;
}

void connection::rollback() noexcept {
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    broken_ = true;
    return;
  }
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE)
    return;
  result_ptr r(PQexec(conn_.get(), "ROLLBACK"));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    broken_ = true;
}

// -- pool -----------------------------------------------------------------------

pool::pool(connection_settings s, std::size_t size)
  : settings_(std::move(s)), size_(std::max<std::size_t>(1, size)) {}

pool::lease::~lease() {
  if (pool_ && conn_)
    pool_->give_back(std::move(conn_));
}

pool::lease pool::take() {
  std::unique_ptr<connection> c;
  {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [&] { return !idle_.empty() || lent_ < size_; });
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
    ++lent_;
  }
  try {
    if (!c)
      c = std::make_unique<connection>(settings_);
    else if (!c->ok())
      c->reconnect();
  } catch (...) {
    std::lock_guard lock(mutex_);
    --lent_;
    freed_.notify_one();
    throw;
  }
  return lease(*this, std::move(c));
}

std::size_t pool::connections() {
  std::lock_guard lock(mutex_);
  return idle_.size() + lent_;
}

void pool::give_back(std::unique_ptr<connection> c) noexcept {
  c->rollback();
  std::lock_guard lock(mutex_);
  --lent_;
  if (c->ok())
    idle_.push_back(std::move(c));
  freed_.notify_one();
}

} // namespace sourcery::storage::postgres_detail
