// Stream ids (R-S1): a UUID plus an optional category; equality and hashing
// use the UUID and the category only, never the name.
#pragma once

#include <boost/uuid/uuid.hpp>

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

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
