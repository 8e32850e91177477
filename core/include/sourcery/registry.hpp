// The event registry: each event type under one stable name and back (R-E2).
//
// Thread-safe: types may be registered while other threads encode and decode.
#pragma once

#include <sourcery/encryption_spec.hpp>
#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>
#include <sourcery/serde.hpp>

#include <deque>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>

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
};

class event_registry {
public:
  event_registry() = default;
  event_registry(const event_registry&) = delete;
  event_registry& operator=(const event_registry&) = delete;

  /// Registers `E` under `name`. Throws `duplicated_event` if `E` or `name`
  /// is already registered, `invalid_argument` for an empty name.
  template <class E>
  const event_type& add(std::string name) {
    return add(event_type{std::move(name), typeid(E), &encode_as<E>, &decode_as<E>,
                          &encode_value_as<E>, &decode_value_as<E>, nullptr});
  }

  /// Registers `E` with encrypted fields (R-EN). Also throws
  /// `invalid_argument` naming the path when `encryption` does not fit `E`.
  template <class E>
  const event_type& add(std::string name, const encryption_spec_for<E>& encryption) {
    auto spec = encryption.check(name);
    return add(event_type{std::move(name), typeid(E), &encode_as<E>, &decode_as<E>,
                          &encode_value_as<E>, &decode_value_as<E>, std::move(spec)});
  }

  const event_type& add(event_type type);

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
};

} // namespace sourcery
