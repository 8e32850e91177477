// Positions, versions, timestamps and event context (SPEC §1).
#pragma once

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/uuid/uuid.hpp>

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

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
