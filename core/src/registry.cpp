#include <sourcery/registry.hpp>

#include <boost/core/demangle.hpp>
#include <boost/json/serialize.hpp>

#include <mutex>

namespace sourcery {

const event_type& event_registry::add(event_type type) {
  if (type.name.empty())
    throw invalid_argument("an event type needs a non-empty name");
  std::unique_lock lock(mutex_);
  if (by_name_.contains(type.name))
    throw duplicated_event("event name '" + type.name + "' is already registered");
  if (auto it = by_type_.find(type.type); it != by_type_.end())
    throw duplicated_event("type " + boost::core::demangle(type.type.name())
                           + " is already registered as '" + it->second->name + "'");
  const auto& stored = types_.emplace_back(std::move(type));
  by_name_.emplace(stored.name, &stored);
  by_type_.emplace(stored.type, &stored);
  return stored;
}

const event_type* event_registry::find(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const event_type* event_registry::find(std::type_index type) const {
  std::shared_lock lock(mutex_);
  auto it = by_type_.find(type);
  return it == by_type_.end() ? nullptr : it->second;
}

const event_type& event_registry::get(std::type_index type) const {
  if (auto* t = find(type))
    return *t;
  throw invalid_argument("event type " + boost::core::demangle(type.name())
                         + " is not registered");
}

const event_type& event_registry::get(std::string_view name) const {
  if (auto* t = find(name))
    return *t;
  throw unknown_event(std::string(name));
}

namespace {

// Refused when encoding, so that nothing unreadable is ever stored (R-E3).
invalid_argument cannot_store(const event_type& type, const serde::encode_failure& f) {
  return invalid_argument("event '" + type.name + "' cannot be stored"
                          + (f.field.empty() ? std::string() : ": field '" + f.field + "'")
                          + ": " + f.what());
}

} // namespace

raw_event event_registry::to_raw(const wrapped_event<>& e, const event_type& type) {
  std::string data;
  try {
    data = type.encode(e.event.data());
  } catch (const serde::encode_failure& f) {
    throw cannot_store(type, f);
  }
  return to_raw(e, type, std::move(data));
}

raw_event event_registry::to_raw(const wrapped_event<>& e, const event_type& type,
                                 std::string data) {
  raw_event raw{e.id, e.created_at, type.name, std::move(data), {}, e.version};
  if (e.context != sourcery::context{}) {
    try {
      raw.context = serde::encode(e.context);
    } catch (const serde::encode_failure& f) {
      throw invalid_argument("the context of event '" + type.name + "' cannot be stored"
                             + (f.field.empty() ? std::string() : ": field '" + f.field + "'")
                             + ": " + f.what());
    }
  }
  return raw;
}

any_event event_registry::decode(std::string_view name, std::string_view data,
                                 const stream_id& stream) const {
  return decode(get(name), data, stream);
}

any_event event_registry::decode(const event_type& type, std::string_view data,
                                 const stream_id& stream) {
  try {
    return any_event(type.type, type.decode(data), type.name);
  } catch (const serde::decode_failure& f) {
    throw deserialization_error(type.name, stream.to_string(), f.field, f.what());
  }
}

wrapped_event<> event_registry::from_parts(std::string_view name, std::string_view data,
                                           std::string_view context, const uuid& id,
                                           timestamp created_at, std::optional<version> version,
                                           const stream_id& stream) const {
  return with_metadata(decode(name, data, stream), context, id, created_at, version, stream);
}

boost::json::value event_registry::encode_value(const wrapped_event<>& e, const event_type& type,
                                                boost::json::storage_ptr sp) {
  try {
    if (type.encode_value)
      return type.encode_value(e.event.data(), std::move(sp));
    return boost::json::value(serde::parse(type.encode(e.event.data())), std::move(sp));
  } catch (const serde::encode_failure& f) {
    throw cannot_store(type, f);
  }
}

any_event event_registry::decode(const event_type& type, const boost::json::value& data,
                                 const stream_id& stream) {
  try {
    auto value = type.decode_value ? type.decode_value(data)
                                   : type.decode(boost::json::serialize(data));
    return any_event(type.type, std::move(value), type.name);
  } catch (const serde::decode_failure& f) {
    throw deserialization_error(type.name, stream.to_string(), f.field, f.what());
  }
}

wrapped_event<> event_registry::with_metadata(any_event event, std::string_view context,
                                              const uuid& id, timestamp created_at,
                                              std::optional<version> version,
                                              const stream_id& stream) {
  wrapped_event<> w{std::move(event), id, created_at, version, {}};
  if (!context.empty()) {
    try {
      w.context = serde::decode<sourcery::context>(context);
    } catch (const serde::decode_failure& f) {
      throw deserialization_error(std::string(w.event.name()), stream.to_string(), "context",
                                  f.what());
    }
  }
  return w;
}

} // namespace sourcery
