// libpq, wrapped: one connection with typed errors, binary parameters and
// results, pipelines (several statements, one round trip), and a pool.
//
// Errors: a lost or refused connection, a timeout, a server shutting down or
// out of space is `storage_unavailable`; data the server reports damaged is
// `storage_corrupt`; anything else the server refuses is
// `storage_unavailable` carrying the server's message. Every error names
// what was being done.
//
// Thread-safety: a `connection` is used by one thread at a time; the `pool`
// may be used from any thread.
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery::storage::postgres_detail {

struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

/// Type OIDs of the parameters we send.
enum class pg_type : Oid { boolean = 16, bytea = 17, int8 = 20, int4 = 23, text = 25, uuid = 2950 };

/// A one-dimensional array of `element`s in PostgreSQL's binary form, built
/// element by element (for `unnest($n)` statements, whose text is the same
/// whatever the rows: prepared once, no per-row parameters to parse).
class array_param {
public:
  explicit array_param(pg_type element) : element_(element) {}
  array_param& i64(std::int64_t v);
  array_param& i32(std::int32_t v);
  array_param& boolean(bool v);
  array_param& bytes(std::string_view v); // bytea, or text's bytes
  array_param& id(const uuid& v);
  array_param& null();
  pg_type element() const noexcept { return element_; }
  std::size_t size() const noexcept { return size_; }
  /// The array's wire form: header, then the elements.
  std::string wire() const;

private:
  array_param& element(const void* data, std::size_t length);
  pg_type element_;
  std::string body_;
  std::size_t size_ = 0;
  bool nulls_ = false;
};

/// Statement parameters, sent in binary format (text for `text_array`).
class params {
public:
  params& i64(std::int64_t v);
  params& i32(std::int32_t v);
  params& boolean(bool v);
  params& bytes(std::string_view v); // bytea
  params& text(std::string_view v);
  params& id(const uuid& v);
  params& null(pg_type t);
  /// An int8[] in PostgreSQL's text form, e.g. {1,2,3}.
  params& int8_array(const std::vector<std::int64_t>& v);
  /// An array, in binary form.
  params& array(const array_param& a);
  std::size_t size() const noexcept { return values_.size(); }

  struct view {
    std::vector<Oid> types;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
  };
  view pointers() const;

private:
  params& add(std::string bytes, pg_type t, int format = 1);
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
};

/// Reads binary result fields.
std::int64_t get_i64(const PGresult* r, int row, int col);
std::int32_t get_i32(const PGresult* r, int row, int col);
bool get_bool(const PGresult* r, int row, int col);
std::string_view get_bytes(const PGresult* r, int row, int col);
uuid get_id(const PGresult* r, int row, int col);
bool is_null(const PGresult* r, int row, int col);

struct connection_settings {
  std::string conninfo;
  int connect_timeout_s = 5;
  std::chrono::milliseconds statement_timeout{30'000};
  bool synchronous_commit = true;
};

/// One statement of a pipeline. With a `prepared` name, `sql` is prepared
/// on the connection under that name the first time, and executed by name
/// afterwards (the name must always stand for the same text).
struct statement {
  std::string sql;
  params args;
  const char* prepared = nullptr;
};

class connection {
public:
  /// Connects; throws `storage_unavailable`.
  explicit connection(const connection_settings& s);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Runs one statement (binary results); throws as the file comment says.
  result_ptr exec(std::string_view sql, const params& p, std::string_view what);
  result_ptr exec(std::string_view sql, std::string_view what) { return exec(sql, params{}, what); }
  /// Runs `statements` in one round trip (libpq's pipeline mode), returns
  /// their results in order; the first failure throws after the pipeline is
  /// drained (statements after it did not run).
  std::vector<result_ptr> pipeline(const std::vector<statement>& statements,
                                   std::string_view what);
  /// Rolls back an open transaction, if any; never throws (a connection that
  /// cannot is marked broken).
  void rollback() noexcept;

  /// Whether the connection is usable (not lost).
  bool ok() const noexcept { return PQstatus(conn_.get()) == CONNECTION_OK && !broken_; }
  /// Connects again (throws `storage_unavailable`).
  void reconnect();
  PGconn* raw() const noexcept { return conn_.get(); }

private:
  struct conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
  };
  void connect();
  [[noreturn]] void fail(const PGresult* r, std::string_view what);
  /// Prepares the pipeline's named statements this connection lacks.
  void prepare(const std::vector<statement>& statements, std::string_view what);

  connection_settings settings_;
  std::unique_ptr<PGconn, conn_deleter> conn_;
  bool broken_ = false;
  std::vector<std::string> prepared_; // names prepared on conn_
};

/// Throws `storage_unavailable` naming `what` and libpq's message.
[[noreturn]] void throw_unavailable(std::string_view what, std::string_view message);

/// Connections for any thread: take() lends one (connecting lazily, and
/// again when it was lost), the lease gives it back.
class pool {
public:
  pool(connection_settings s, std::size_t size);

  class lease {
  public:
    lease(pool& p, std::unique_ptr<connection> c) : pool_(&p), conn_(std::move(c)) {}
    lease(lease&&) = default;
    ~lease();
    connection& operator*() const noexcept { return *conn_; }
    connection* operator->() const noexcept { return conn_.get(); }

  private:
    pool* pool_;
    std::unique_ptr<connection> conn_;
  };

  /// A usable connection; throws `storage_unavailable` when none can be made.
  lease take();

  /// Connections open now, idle or lent.
  std::size_t connections();

private:
  void give_back(std::unique_ptr<connection> c) noexcept;

  connection_settings settings_;
  const std::size_t size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<connection>> idle_; // GUARDED_BY(mutex_)
  std::size_t lent_ = 0;                          // GUARDED_BY(mutex_)
};

} // namespace sourcery::storage::postgres_detail
