#include <sourcery/registry.hpp>

#include <boost/container/small_vector.hpp>
#include <boost/core/demangle.hpp>
#include <boost/json/serialize.hpp>

#include <mutex>
#include <vector>

namespace sourcery {

const event_type& event_registry::add(event_type type) {
  if (type.name.empty())
    throw invalid_argument("an event type needs a non-empty name");
  if (type.schema == 0)
    throw invalid_argument("event '" + type.name + "': schema versions start at 1");
  std::unique_lock lock(mutex_);
  if (by_name_.contains(type.name))
    throw duplicated_event("event name '" + type.name + "' is already registered");
  if (auto it = upcasters_.find(type.name); it != upcasters_.end() && !it->second.empty()) {
    auto last = it->second.rbegin()->first;
    if (last + 1 != type.schema)
      throw invalid_argument("event '" + type.name + "' at schema version "
                             + std::to_string(type.schema) + ": its upcasters end at version "
                             + std::to_string(last) + " → " + std::to_string(last + 1)
                             + ", which leaves a gap in the chain (R-UP3)");
  }
  if (auto it = by_type_.find(type.type); it != by_type_.end())
    throw duplicated_event("type " + boost::core::demangle(type.type.name())
                           + " is already registered as '" + it->second->name + "'");
  const auto& stored = types_.emplace_back(std::move(type));
  by_name_.emplace(stored.name, &stored);
  by_type_.emplace(stored.type, &stored);
  return stored;
}

void event_registry::add_upcaster(std::string name, std::uint32_t from, upcaster fn) {
  auto where = "upcaster of event '" + name + "' from schema version " + std::to_string(from);
  if (from == 0)
    throw invalid_argument(where + ": schema versions start at 1");
  if (!fn)
    throw invalid_argument(where + " is empty");
  std::unique_lock lock(mutex_);
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    if (it->second->name != name)
      throw invalid_argument(where + ": '" + name + "' is an alias of '" + it->second->name
                             + "'; register upcasters under the current name");
    if (from >= it->second->schema)
      throw invalid_argument(where + ": the event's current schema version is "
                             + std::to_string(it->second->schema)
                             + ", so there is nothing to upcast to (R-UP3)");
  }
  auto& chain = upcasters_[name];
  if (chain.contains(from))
    throw invalid_argument(where + " is already registered");
  if (!chain.empty() && from + 1 != chain.begin()->first && from != chain.rbegin()->first + 1)
    throw invalid_argument(where + " leaves a gap in the chain: the registered upcasters are from "
                           + std::to_string(chain.begin()->first) + " to "
                           + std::to_string(chain.rbegin()->first)
                           + "; register the missing versions in between first (R-UP3)");
  chain.emplace(from, std::move(fn));
}

void event_registry::alias(std::string old_name, std::string_view new_name) {
  if (old_name.empty())
    throw invalid_argument("an alias needs a non-empty name");
  std::unique_lock lock(mutex_);
  auto it = by_name_.find(new_name);
  if (it == by_name_.end())
    throw invalid_argument("cannot alias '" + old_name + "' to '" + std::string(new_name)
                           + "': no event is registered under that name");
  if (by_name_.contains(old_name))
    throw duplicated_event("event name '" + old_name + "' is already registered");
  const auto* type = it->second;
  const auto& key = aliases_.emplace_back(std::move(old_name));
  by_name_.emplace(key, type);
}

boost::json::object event_registry::upcast(const event_type& type, std::uint32_t from,
                                           boost::json::object data,
                                           const stream_id& stream) const {
  // Messages are built only on failure: this runs once per upcast event.
  auto fail = [&](const std::string& detail) {
    return deserialization_error(type.name, stream.to_string(), "",
                                 "stored at schema version " + std::to_string(from) + detail
                                   + " (R-UP3)");
  };
  if (from > type.schema)
    throw fail(", above the current version " + std::to_string(type.schema)
               + " of this build");
  // Upcasters are never removed and map nodes never move: the pointers stay
  // valid after the lock is released, and user code runs without it.
  boost::container::small_vector<const upcaster*, 8> chain;
  {
    std::shared_lock lock(mutex_);
    auto it = upcasters_.find(type.name);
    for (auto v = from; v < type.schema; ++v) {
      const upcaster* fn = nullptr;
      if (it != upcasters_.end())
        if (auto step = it->second.find(v); step != it->second.end())
          fn = &step->second;
      if (!fn)
        throw fail(": no upcaster chain reaches the current version "
                   + std::to_string(type.schema) + " (none from version " + std::to_string(v)
                   + ")");
      chain.push_back(fn);
    }
  }
  auto v = from;
  for (const auto* fn : chain) {
    try {
      data = (*fn)(std::move(data));
    } catch (const std::exception& e) {
      throw fail(": the upcaster from version " + std::to_string(v) + " failed: " + e.what());
    } catch (...) {
      throw fail(": the upcaster from version " + std::to_string(v) + " failed");
    }
    ++v;
  }
  return data;
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
  raw_event raw{e.id, e.created_at, type.name, std::move(data), {}, e.version, type.schema};
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
