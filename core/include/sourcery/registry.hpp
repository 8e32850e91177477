// The event registry: each event type under one stable name and back (R-E2).
//
// Thread-safe: types may be registered while other threads encode and decode.
//
// Also here: serde.
#pragma once

#include <sourcery/encryption.hpp>
#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>
#include <sourcery/detail/serde_flat.hpp>

#include <boost/describe.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>

// -- serde -----------------------------------------------------------------
// JSON serialisation of events through Boost.Describe + Boost.JSON (R-E1).
//
// Any struct described with BOOST_DESCRIBE_STRUCT (members of described
// structs, strings, arithmetic types, bool, std::optional, std::vector,
// std::map<std::string, …>, sourcery::timestamp, sourcery::uuid) converts
// without hand-written JSON code.
namespace sourcery::serde {

/// Data that does not fit a type: the dotted path of the field and why.
struct decode_failure : std::runtime_error {
  decode_failure(std::string path, const std::string& detail)
    : std::runtime_error(detail), field(std::move(path)) {}
  std::string field;
};

/// A value that has no JSON form that reads back (NaN, an infinity, a string
/// that is not UTF-8 …): the dotted path of the field and why.
struct encode_failure : std::runtime_error {
  encode_failure(std::string path, const std::string& detail)
    : std::runtime_error(detail), field(std::move(path)) {}
  std::string field;
};

/// The deepest nesting of arrays and objects that any JSON Sourcery stores
/// may have: an event's data, its context, an encrypted field's value. The
/// outermost array or object counts as level 1, so an event's fields are at
/// level 2 and a context's extra fields too. Writes refuse deeper values
/// (`encode`, `detail::check_encodable`: encode_failure) and reads parse with
/// exactly this limit, so everything stored reads back (issue 14).
inline constexpr std::size_t max_depth = 64;

/// Parses JSON text nested at most `max_depth` levels; throws decode_failure
/// with an empty path when malformed, nested deeper, or holding a number
/// beyond the range of double (it would read as an infinity, which no write
/// stores).
boost::json::value parse(std::string_view text);

namespace detail {

std::string join_path(std::string_view parent, std::string_view child);
std::string describe_exception(const std::exception& e);

/// Throws encode_failure unless `v` serialises to JSON that parses back:
/// finite numbers, UTF-8 strings and keys, and arrays and objects nested at
/// most `max_depth` levels. Iterative: a value nested a million levels deep is
/// refused without deep recursion (its first `max_depth` levels are walked).
void check_encodable(const boost::json::value& v);

/// As above for an object that is the root of a document (level 1).
void check_encodable(const boost::json::object& root);

} // namespace detail

/// The JSON text of `value`; throws encode_failure when it has none that
/// would read back, so nothing unreadable is ever stored. Flat structs are
/// written straight to text (serde_flat.hpp).
template <class T>
std::string encode(const T& value) {
  if (auto fast = detail::try_encode_flat(value))
    return std::move(*fast);
  boost::json::value v;
  try {
    v = boost::json::value_from(value);
  } catch (const encode_failure&) {
    throw; // from a conversion that checks its own part (e.g. the context)
  } catch (const std::exception& e) {
    throw encode_failure("", detail::describe_exception(e));
  }
  detail::check_encodable(v);
  return boost::json::serialize(v);
}

namespace detail {

/// Finds the first member of a described struct that does not convert;
/// returns its dotted path, or "" when the fault is not in a member, and sets
/// `why` (when empty) to the innermost failure's message.
template <class T>
std::string find_bad_field(const boost::json::value& v, std::string_view path,
                           [[maybe_unused]] std::string& why) {
  if constexpr (boost::describe::has_describe_members<T>::value) {
    if (!v.is_object())
      return std::string(path);
    const auto& obj = v.get_object();
    std::string found;
    using members = boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<members>([&](auto d) {
      if (!found.empty())
        return;
      using member_t = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      auto child = join_path(path, d.name);
      const auto* it = obj.if_contains(d.name);
      try {
        boost::json::value_to<member_t>(it ? *it : boost::json::value{});
      } catch (const std::exception& e) {
        auto deeper = it ? find_bad_field<member_t>(*it, child, why) : child;
        found = deeper.empty() ? child : deeper;
        if (why.empty())
          why = describe_exception(e);
      }
    });
    return found;
  } else {
    return std::string(path);
  }
}

} // namespace detail

/// Converts a JSON value to T; throws decode_failure naming the field.
template <class T>
T convert(const boost::json::value& v) {
  try {
    return boost::json::value_to<T>(v);
  } catch (const std::exception& e) {
    std::string why;
    auto field = detail::find_bad_field<T>(v, "", why);
    throw decode_failure(std::move(field), why.empty() ? detail::describe_exception(e) : why);
  }
}

/// T from JSON text; throws decode_failure naming the field. Flat structs
/// are filled straight from the text (serde_flat.hpp), the same result.
template <class T>
T decode(std::string_view text) {
  if (auto fast = detail::try_decode_flat<T>(text))
    return std::move(*fast);
  return convert<T>(parse(text));
}

} // namespace sourcery::serde

namespace sourcery {

/// How one registered type is written and read.
struct event_type {
  std::string name;
  std::type_index type;
  /// The event's JSON text.
  std::string (*encode)(const void* event);
  /// The event decoded from JSON text; throws serde::decode_failure.
  std::shared_ptr<const void> (*decode)(std::string_view json);
  /// As encode and decode, on a JSON value (spares a parse where the JSON is
  /// rewritten, as for encrypted fields); null = go through the text forms.
  boost::json::value (*encode_value)(const void* event, boost::json::storage_ptr sp) = nullptr;
  std::shared_ptr<const void> (*decode_value)(const boost::json::value& json) = nullptr;
  /// The encrypted fields and data subject (R-EN); null = none.
  std::shared_ptr<const encryption_spec> encryption;
  /// The schema version this build writes and decodes to (R-UP1); ≥ 1.
  std::uint32_t schema = 1;
};

/// Turns the stored JSON of one schema version of an event into the next
/// (R-UP1). May throw; the read then fails with `deserialization_error`.
using upcaster = std::function<boost::json::object(boost::json::object)>;

class event_registry {
public:
  event_registry() = default;
  event_registry(const event_registry&) = delete;
  event_registry& operator=(const event_registry&) = delete;

  /// Registers `E` under `name` at schema version `schema` (R-UP1): events
  /// of `E` are stored with it, and stored events of an older version are
  /// upcast to it on every read. Throws `duplicated_event` if `E` or `name`
  /// is already registered (also as an alias), `invalid_argument` for an
  /// empty name, a schema version 0, or upcasters already registered for
  /// `name` that do not end at `schema` - 1 (a gap in the chain, R-UP3).
  template <class E>
  const event_type& add(std::string name, std::uint32_t schema = 1) {
    return add(event_type{std::move(name), typeid(E), &encode_as<E>, &decode_as<E>,
                          &encode_value_as<E>, &decode_value_as<E>, nullptr, schema});
  }

  /// Registers `E` with encrypted fields (R-EN). Also throws
  /// `invalid_argument` naming the path when `encryption` does not fit `E`.
  template <class E>
  const event_type& add(std::string name, const encryption_spec_for<E>& encryption,
                        std::uint32_t schema = 1) {
    auto spec = encryption.check(name);
    return add(event_type{std::move(name), typeid(E), &encode_as<E>, &decode_as<E>,
                          &encode_value_as<E>, &decode_value_as<E>, std::move(spec), schema});
  }

  const event_type& add(event_type type);

  /// Registers the upcaster of event `name` from schema version `from` to
  /// `from` + 1 (R-UP1). Upcasters may be registered before or after the
  /// type, but each next to the ones already registered for `name`: their
  /// from-versions always form one unbroken run (1, 2, 3 — or 2, 3 when
  /// version 1 is no longer read). Throws `invalid_argument` for `from` 0,
  /// an empty `fn`, an upcaster already registered for (`name`, `from`),
  /// one that leaves a gap in the run, or one whose `from` is not below the
  /// registered type's schema version (R-UP3). A run that stops short of the
  /// current version is reported when such an event is read.
  void add_upcaster(std::string name, std::uint32_t from, upcaster fn);

  /// Makes events stored under `old_name` load as `E` (a rename, R-UP2);
  /// they are upcast with `E`'s upcasters. Throws `invalid_argument` if `E`
  /// is not registered, `duplicated_event` if `old_name` is already a name
  /// or an alias.
  template <class E>
  void add_alias(std::string old_name) {
    alias(std::move(old_name), name_of<E>());
  }
  /// As add_alias, by the current name; `invalid_argument` if `new_name` is
  /// not registered.
  void alias(std::string old_name, std::string_view new_name);

  /// `data` of `type` stored at schema version `from`, upcast to
  /// `type.schema` (R-UP1). Throws `deserialization_error` naming the event,
  /// the stored version and `stream` when `from` is above the current
  /// version, no chain of upcasters reaches it, or an upcaster throws (R-UP3).
  boost::json::object upcast(const event_type& type, std::uint32_t from,
                             boost::json::object data, const stream_id& stream) const;

  /// The registered type, or nullptr.
  const event_type* find(std::string_view name) const;
  const event_type* find(std::type_index type) const;

  /// The registered type; throws `invalid_argument` naming the C++ type.
  const event_type& get(std::type_index type) const;
  /// The registered type; throws `unknown_event` naming it (R-E3).
  const event_type& get(std::string_view name) const;

  template <class E>
  const std::string& name_of() const {
    return get(typeid(E)).name;
  }

  /// Encodes a wrapped event to its stored form; throws if its type is not
  /// registered.
  raw_event to_raw(const wrapped_event<>& e) const { return to_raw(e, get(e.event.type())); }

  /// Encodes a wrapped event of the registered `type`.
  static raw_event to_raw(const wrapped_event<>& e, const event_type& type);
  /// As to_raw, with the data already encoded (e.g. with encrypted fields).
  static raw_event to_raw(const wrapped_event<>& e, const event_type& type, std::string data);

  /// The event's data as a JSON value.
  static boost::json::value encode_value(const wrapped_event<>& e, const event_type& type,
                                         boost::json::storage_ptr sp = {});

  /// Decodes a stored event; throws `unknown_event` or `deserialization_error`
  /// naming the event, the stream and the field (R-E3).
  wrapped_event<> from_raw(const raw_event& e, const stream_id& stream) const {
    return from_parts(e.name, e.data, e.context, e.id, e.created_at, e.version, stream);
  }

  /// As from_raw, from the stored parts.
  wrapped_event<> from_parts(std::string_view name, std::string_view data,
                             std::string_view context, const uuid& id, timestamp created_at,
                             std::optional<version> version, const stream_id& stream) const;

  /// Decodes the data of one registered event (as from_raw).
  any_event decode(std::string_view name, std::string_view data,
                   const stream_id& stream) const;

  /// Decodes JSON text of a registered `type`, without looking it up again.
  static any_event decode(const event_type& type, std::string_view data,
                          const stream_id& stream);

  /// Decodes parsed data of `type` (as from_raw).
  static any_event decode(const event_type& type, const boost::json::value& data,
                          const stream_id& stream);

  /// `event` with its stored metadata; throws `deserialization_error` for a
  /// malformed context.
  static wrapped_event<> with_metadata(any_event event, std::string_view context, const uuid& id,
                                       timestamp created_at, std::optional<version> version,
                                       const stream_id& stream);

private:
  template <class E>
  static std::string encode_as(const void* event) {
    return serde::encode(*static_cast<const E*>(event));
  }
  template <class E>
  static std::shared_ptr<const void> decode_as(std::string_view json) {
    return std::make_shared<const E>(serde::decode<E>(json));
  }
  template <class E>
  static boost::json::value encode_value_as(const void* event, boost::json::storage_ptr sp) {
    boost::json::value v(sp);
    try {
      v = boost::json::value_from(*static_cast<const E*>(event), sp);
    } catch (const std::exception& e) {
      throw serde::encode_failure("", serde::detail::describe_exception(e));
    }
    serde::detail::check_encodable(v); // as serde::encode
    return v;
  }
  template <class E>
  static std::shared_ptr<const void> decode_value_as(const boost::json::value& json) {
    return std::make_shared<const E>(serde::convert<E>(json));
  }

  mutable std::shared_mutex mutex_;
  std::deque<event_type> types_; // stable addresses
  std::unordered_map<std::string_view, const event_type*> by_name_;
  std::unordered_map<std::type_index, const event_type*> by_type_;
  std::deque<std::string> aliases_; // stable keys of by_name_
  /// Upcasters by event name, then by from-version.
  std::unordered_map<std::string, std::map<std::uint32_t, upcaster>> upcasters_;
};

} // namespace sourcery
