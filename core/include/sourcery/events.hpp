// Events as the API sees them: typed, wrapped with metadata, recorded with a
// position, and raw as stored (SPEC §1, R-E4).
//
// Also here: values, stream id, tenant id, filters.
#pragma once

#include <sourcery/errors.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/uuid/uuid.hpp>

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <variant>
#include <vector>

// -- values ----------------------------------------------------------------
// Positions, versions, timestamps and event context (SPEC §1).
namespace sourcery {

using uuid = boost::uuids::uuid;

/// A committed event's place in the global log: unique across the runtime,
/// strictly increasing in commit order, the first being 1 (R-P1).
using position = std::uint64_t;

/// An event's 1-based index in its stream.
using version = std::uint64_t;

/// Marks a versionless stream in `append` (R-ES1).
struct no_versioning_t {
  friend bool operator==(no_versioning_t, no_versioning_t) = default;
};
inline constexpr no_versioning_t no_versioning{};

/// What `append` expects the stream's version to be: an integer (0 = absent
/// or empty) or `no_versioning`.
class expected_version {
public:
  expected_version(std::uint64_t v = 0) noexcept : value_(v) {} // NOLINT
  expected_version(int v);                                       // NOLINT
  expected_version(no_versioning_t) noexcept : value_(no_versioning) {} // NOLINT

  bool is_versioned() const noexcept { return value_.index() == 0; }
  /// @pre is_versioned()
  std::uint64_t value() const noexcept { return std::get<0>(value_); }

private:
  std::variant<std::uint64_t, no_versioning_t> value_;
};

/// A UTC point in time with microsecond precision; JSON form ISO 8601
/// ("2026-11-23T11:48:13.123456Z").
struct timestamp {
  using duration = std::chrono::microseconds;
  std::chrono::sys_time<duration> time{};

  static timestamp now() noexcept;
  std::int64_t micros() const noexcept { return time.time_since_epoch().count(); }
  static timestamp from_micros(std::int64_t us) noexcept {
    return timestamp{std::chrono::sys_time<duration>{duration{us}}};
  }
  std::string to_string() const;
  /// Parses ISO 8601 UTC text as written by to_string(); throws invalid_argument.
  static timestamp parse(std::string_view text);

  friend auto operator<=>(const timestamp&, const timestamp&) = default;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v,
                const timestamp& t);
timestamp tag_invoke(const boost::json::value_to_tag<timestamp>&,
                     const boost::json::value& v);

/// Metadata carried with an event; round-trips unchanged (R-C1).
struct context {
  std::optional<uuid> correlation_id;
  std::optional<uuid> causation_id;
  /// Any further fields, kept as given.
  boost::json::object extra;

  friend bool operator==(const context&, const context&) = default;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v,
                const context& c);
context tag_invoke(const boost::json::value_to_tag<context>&,
                   const boost::json::value& v);

} // namespace sourcery

namespace boost::uuids {
// JSON form of a UUID: its canonical text.
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v,
                const uuid& id);
uuid tag_invoke(const boost::json::value_to_tag<uuid>&,
                const boost::json::value& v);
} // namespace boost::uuids

// -- stream id -------------------------------------------------------------
// Stream ids (R-S1): a UUID plus an optional category; equality and hashing
// use the UUID and the category only, never the name.
namespace sourcery {

using uuid = boost::uuids::uuid;

/// The namespace of named stream ids; matches the Python library this design
/// follows, so `stream_id::named("Test #1")` has the same UUID there and here.
uuid stream_namespace() noexcept;

/// A fresh random (v4) UUID, from a per-thread generator.
uuid random_uuid();

/// Parses a UUID in its canonical text form; throws `invalid_argument`.
uuid parse_uuid(std::string_view text);

/// The canonical lower-case text of a UUID.
std::string to_string(const uuid& id);

class stream_id {
public:
  /// A random (v4) UUID.
  static stream_id random(std::optional<std::string> category = std::nullopt);

  /// UUID v5 of `name` under stream_namespace(); the name is kept.
  static stream_id named(std::string name,
                         std::optional<std::string> category = std::nullopt);

  /// From an explicit UUID; with a name, throws `incompatible_uuid_and_name`
  /// unless the name's v5 UUID equals `id`.
  explicit stream_id(uuid id, std::optional<std::string> category = std::nullopt,
                     std::optional<std::string> name = std::nullopt);

  /// From a UUID's hex text; throws `invalid_argument` for malformed text.
  static stream_id from_string(std::string_view id,
                               std::optional<std::string> category = std::nullopt,
                               std::optional<std::string> name = std::nullopt);

  const uuid& id() const noexcept { return uuid_; }
  const std::optional<std::string>& category() const noexcept { return category_; }
  const std::optional<std::string>& name() const noexcept { return name_; }

  /// "category/uuid (name)" — for messages.
  std::string to_string() const;

  friend bool operator==(const stream_id& a, const stream_id& b) noexcept {
    return a.uuid_ == b.uuid_ && a.category_ == b.category_;
  }

private:
  uuid uuid_;
  std::optional<std::string> category_;
  std::optional<std::string> name_;
};

std::size_t hash_value(const stream_id& id) noexcept;

/// Writes id.to_string().
std::ostream& operator<<(std::ostream& os, const stream_id& id);

} // namespace sourcery

template <>
struct std::hash<sourcery::stream_id> {
  std::size_t operator()(const sourcery::stream_id& id) const noexcept {
    return sourcery::hash_value(id);
  }
};

// -- tenant id -------------------------------------------------------------
// Tenant ids (R-T1).
namespace sourcery {

/// The default tenant.
inline const std::string default_tenant{};

/// Maximum length of a tenant id in bytes.
inline constexpr std::size_t max_tenant_id_bytes = 256;

/// Throws `illegal_tenant_id` unless `id` is at most 256 bytes of valid UTF-8
/// without control characters. The empty string (the default tenant) is valid.
void validate_tenant_id(std::string_view id);

} // namespace sourcery

namespace sourcery {

/// Any registered event value, reachable type-safely (R-E4). Immutable and
/// cheap to copy (shares the value).
class any_event {
public:
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, any_event>)
  any_event(E&& e) // NOLINT: implicit by design, `wrap(my_event{...})`
    : type_(typeid(std::decay_t<E>)),
      value_(std::make_shared<const std::decay_t<E>>(std::forward<E>(e))) {}

  any_event(std::type_index type, std::shared_ptr<const void> value,
            std::string_view name) noexcept
    : type_(type), value_(std::move(value)), name_(name) {}

  template <class E>
  bool is() const noexcept {
    return type_ == typeid(E);
  }

  /// The value as `E`; throws `wrong_event_type` if it is not an `E`.
  template <class E>
  const E& as() const {
    if (!is<E>())
      throw_wrong_type(typeid(E).name());
    return *static_cast<const E*>(value_.get());
  }

  /// The value as `E`, or nullptr.
  template <class E>
  const E* get_if() const noexcept {
    return is<E>() ? static_cast<const E*>(value_.get()) : nullptr;
  }

  std::type_index type() const noexcept { return type_; }
  const void* data() const noexcept { return value_.get(); }
  /// The registered name; empty for an event not yet appended or loaded.
  std::string_view name() const noexcept { return name_; }

private:
  [[noreturn]] void throw_wrong_type(const char* requested) const;

  std::type_index type_;
  std::shared_ptr<const void> value_;
  std::string_view name_;
};

/// An event plus its metadata.
template <class E = any_event>
struct wrapped_event {
  E event;
  uuid id = random_uuid();
  timestamp created_at = timestamp::now();
  /// Position in the stream; none on versionless streams or when `append`
  /// should number it (expected + 1, expected + 2, …).
  std::optional<sourcery::version> version;
  sourcery::context context;
};

/// Wraps an event for `append`.
template <class E>
wrapped_event<> wrap(E&& e, sourcery::context ctx = {}) {
  return wrapped_event<>{any_event(std::forward<E>(e)), random_uuid(),
                         timestamp::now(), std::nullopt, std::move(ctx)};
}

/// A committed event as subscriptions, listeners and the outbox see it: a
/// wrapped event (`event`, `id`, `created_at`, `version`, `context`, as
/// members, like `wrapped_event`) plus where it was committed.
struct recorded_event : wrapped_event<> {
  sourcery::stream_id stream_id;
  sourcery::position position = 0;
  std::string tenant_id;

  /// The wrapped event alone.
  const wrapped_event<>& wrapped() const noexcept { return *this; }
};

/// The stored form of an event: data and context as JSON text (encrypted
/// fields already encrypted).
struct raw_event {
  uuid id;
  timestamp created_at;
  std::string name;
  std::string data;
  std::string context;
  std::optional<sourcery::version> version;
  /// The schema version of the event type the data was written with (R-UP1);
  /// records stored before schema versions existed read as 1.
  std::uint32_t schema = 1;
  /// Not stored: whether `data` holds encrypted fields, whose ciphertext is
  /// new each time an event is encoded; a repeated append (R-ES6) compares
  /// such an event by everything but its data.
  bool encrypted = false;
};

} // namespace sourcery

// -- filters ---------------------------------------------------------------
// Value types that say which events go where: what an append committed, which
// records a subscription receives, which events enter the outbox. Shared by
// the public API, the runtime and the storage engines.
namespace sourcery {

/// What a successful append committed.
struct append_receipt {
  /// Positions of the first and last appended event (consecutive).
  position first_position = 0;
  position last_position = 0;
  /// The stream's version afterwards; none for a versionless stream.
  std::optional<sourcery::version> version;
};

/// Which records a subscription receives.
struct subscription_filter {
  std::optional<std::string> category;
  std::vector<std::type_index> event_types; // empty = all types
  std::optional<std::string> tenant;        // none = all tenants
};

/// Receives a push subscription's batches, on the subscription's own thread.
using batch_handler = std::function<void(std::span<const recorded_event>)>;

/// What the outbox filter sees of an event about to be committed.
struct outbox_candidate {
  std::string_view name;
  const stream_id& stream;
  std::string_view tenant;
  /// The stored JSON (encrypted fields encrypted).
  std::string_view data;
};

/// Decides whether an event enters the outbox. Runs on the appending tenant's
/// actor before the commit; a throw fails that append and stores nothing.
using outbox_filter = std::function<bool(const outbox_candidate&)>;

/// Figures of the outbox.
struct outbox_counts {
  std::size_t pending = 0;   // waiting to be published (including retries)
  std::size_t dead = 0;      // in the dead letters
  std::size_t published = 0; // finished for good since the start
  std::size_t failures = 0;  // failed attempts since the start
};

} // namespace sourcery
