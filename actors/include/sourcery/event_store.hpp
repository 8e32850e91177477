// One tenant's event store (SPEC §3).
//
// An event_store is a cheap handle; copies share the tenant's storage actor.
// All calls are safe from any thread, any number at once. Every call has a
// blocking form, which throws the typed errors of <sourcery/errors.hpp>, and
// an asynchronous form, which returns at once and later calls its callback
// with a `result` on a runtime thread (keep callbacks short; never call the
// blocking API from one). Input refused before anything is sent (an
// unregistered type, unencodable data) completes the callback at once, on the
// calling thread.
//
// Also here: result.
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

// -- result ----------------------------------------------------------------
// The outcome of an asynchronous call: a value or the error the blocking form
// would have thrown.
namespace caf {
class error;
} // namespace caf

namespace sourcery {

template <class T>
class result {
public:
  result(T value) : v_(std::move(value)) {} // NOLINT
  result(std::exception_ptr e) : v_(std::move(e)) {} // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; rethrows the typed exception on error.
  T& value() & {
    if (!ok())
      std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && { return std::move(value()); }

  /// The exception; nullptr on success.
  std::exception_ptr exception() const noexcept {
    return ok() ? nullptr : std::get<1>(v_);
  }

private:
  std::variant<T, std::exception_ptr> v_;
};

/// Completes an empty call (delete, snapshot).
struct done_t {};

template <class T>
using callback = std::function<void(result<T>)>;

/// The error as a `caf::error` in category "sourcery": the code is the
/// `errc` (listener_failed for a foreign exception), the context holds the
/// message. `none` for nullptr.
caf::error to_caf_error(const std::exception_ptr& e);

/// The code of an exception raised by Sourcery; listener_failed for others.
errc code_of(const std::exception_ptr& e) noexcept;

} // namespace sourcery

namespace sourcery {

class codec;
namespace storage {
class log;
} // namespace storage
namespace detail {
class tenant_slot;
} // namespace detail

class event_store {
public:
  /// Made by backend::event_store(): the tenant's slot in the runtime's
  /// directory (sharing ownership of the runtime, which owns the codec and
  /// the engine as well), the codec events are encoded and decoded with,
  /// and the engine's global log (for position()).
  event_store(std::shared_ptr<detail::tenant_slot> tenant, const codec& codec,
              const storage::log& log);

  /// The tenant this store belongs to ("" = default tenant).
  const std::string& tenant_id() const noexcept;

  // -- blocking ---------------------------------------------------------------

  /// Appends `events` atomically (R-ES1). With an integer `expected`, the
  /// stream's version must equal it (0 = absent or empty), else
  /// `concurrent_stream_write_error{expected, actual}`; events without a
  /// version get expected+1, expected+2, … With `no_versioning` the stream is
  /// versionless. Zero events → `invalid_argument`. Nothing is stored on error.
  append_receipt append(const stream_id& stream, std::vector<wrapped_event<>> events,
                        expected_version expected = 0);

  /// The stream's events in version order: its latest snapshot (if any)
  /// followed by the events after it. `start` is inclusive, `stop` exclusive,
  /// both versions. An unknown stream yields an empty vector (R-ES2).
  std::vector<wrapped_event<>> load_stream(const stream_id& stream,
                                           std::optional<version> start = std::nullopt,
                                           std::optional<version> stop = std::nullopt);

  /// Saves a snapshot (R-ES3). Its version must equal the stream's current
  /// version (none given = current), else `versioning_mismatch`.
  void save_snapshot(const stream_id& stream, wrapped_event<> snapshot);

  /// Removes the stream; no-op when absent (R-ES4).
  void delete_stream(const stream_id& stream);

  /// The last committed position of the whole runtime; none before the
  /// first commit (R-ES5). `subscriber().start_from(store.position())`
  /// follows what is committed from now on.
  std::optional<sourcery::position> position() const;

  // -- asynchronous -------------------------------------------------------------

  void append_async(const stream_id& stream, std::vector<wrapped_event<>> events,
                    expected_version expected, callback<append_receipt> done);
  void load_stream_async(const stream_id& stream, std::optional<version> start,
                         std::optional<version> stop,
                         callback<std::vector<wrapped_event<>>> done);
  void save_snapshot_async(const stream_id& stream, wrapped_event<> snapshot,
                           callback<done_t> done);
  void delete_stream_async(const stream_id& stream, callback<done_t> done);

private:
  std::shared_ptr<detail::tenant_slot> tenant_; // keeps the runtime, so the parts below
  const codec* codec_;
  const storage::log* log_;
};

} // namespace sourcery
