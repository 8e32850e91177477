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

raw_event event_registry::to_raw(const wrapped_event<>& e, const event_type& type) {
  raw_event raw{e.id, e.created_at, type.name, type.encode(e.event.data()), {}, e.version};
  if (e.context != sourcery::context{})
    raw.context = boost::json::serialize(boost::json::value_from(e.context));
  return raw;
}

any_event event_registry::decode(std::string_view name, std::string_view data,
                                 const stream_id& stream) const {
  const auto& type = get(name);
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
  wrapped_event<> w{decode(name, data, stream), id, created_at, version, {}};
  if (!context.empty()) {
    try {
      w.context = serde::decode<sourcery::context>(context);
    } catch (const serde::decode_failure& f) {
      throw deserialization_error(std::string(name), stream.to_string(), "context", f.what());
    }
  }
  return w;
}

} // namespace sourcery
