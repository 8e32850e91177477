#include <sourcery/detail/codec.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

namespace sourcery {

namespace {

/// The JSON text of `v`, serialised straight into one growing buffer.
std::string to_text(const boost::json::value& v) {
  boost::json::serializer sr;
  sr.reset(&v);
  std::string out(512, '\0');
  std::size_t length = 0;
  while (!sr.done()) {
    if (out.size() - length < 128)
      out.resize(2 * out.size());
    length += sr.read(out.data() + length, out.size() - length).size();
  }
  out.resize(length);
  return out;
}

std::shared_ptr<const field_encryption> configured(std::shared_ptr<const field_encryption> e,
                                                   const event_type& type) {
  if (!e)
    throw encryption_not_configured(
      "event '" + type.name
      + "' has encrypted fields but no encryption is configured; call "
        "backend.with_encryption(strategy, key_storage) first (nothing is stored in plain text)");
  return e;
}

} // namespace

namespace {
std::atomic<std::uint64_t> next_codec_id{1};
} // namespace

codec::codec(std::shared_ptr<event_registry> registry)
  : registry_(std::move(registry)), id_(next_codec_id++) {
  if (!registry_)
    throw invalid_argument("a codec needs an event registry");
}

void codec::set_encryption(std::shared_ptr<const field_encryption> encryption) {
  encryption_.store(std::move(encryption));
}

raw_event codec::encode(const wrapped_event<>& e, const stream_id& stream,
                        const std::string& tenant) const {
  const auto& type = registry_->get(e.event.type());
  if (!type.encryption)
    return event_registry::to_raw(e, type);
  auto encryption = configured(encryption_.load(), type);
  // The event's JSON lives only here: allocate it on the stack.
  unsigned char buffer[4096];
  boost::json::monotonic_resource arena(buffer, sizeof buffer);
  auto data = event_registry::encode_value(e, type, &arena);
  auto* fields = data.if_object();
  if (!fields)
    throw invalid_argument("event '" + type.name
                           + "' has encrypted fields, so its JSON must be an object");
  encryption->encrypt(*fields, *type.encryption, stream, tenant);
  auto raw = event_registry::to_raw(e, type, to_text(data));
  raw.encrypted = true;
  return raw;
}

void codec::decrypt(boost::json::object& fields, const event_type& type, const stream_id& stream,
                    std::string_view tenant, decode_basis* basis) const {
  auto encryption = configured(encryption_.load(), type);
  std::size_t first = basis ? basis->keys.size() : 0;
  encryption->decrypt(fields, *type.encryption, type.name, stream, tenant,
                      basis ? &basis->keys : nullptr);
  if (basis)
    for (auto i = first; i < basis->keys.size(); ++i)
      if (basis->keys[i].key_id && basis->keys[i].key_id->empty())
        basis->reusable = false;
}

bool codec::still_current(const decode_basis& basis, std::string_view tenant) const {
  if (basis.keys.empty())
    return true;
  auto encryption = encryption_.load();
  return encryption && encryption->same_keys(basis.keys, tenant);
}

any_event codec::decode_data(const event_type& type, std::string_view data,
                             std::uint32_t schema, const stream_id& stream,
                             std::string_view tenant, decode_basis* basis) const {
  if (schema != type.schema)
    return decode_older(type, data, schema, stream, tenant, basis);
  if (!type.encryption)
    return event_registry::decode(type, data, stream);
  configured(encryption_.load(), type); // before the data: no encryption is the error
  boost::json::value json;
  try {
    json = serde::parse(data);
  } catch (const serde::decode_failure& f) {
    throw deserialization_error(type.name, stream.to_string(), f.field, f.what());
  }
  if (auto* fields = json.if_object())
    decrypt(*fields, type, stream, tenant, basis);
  return event_registry::decode(type, json, stream);
}

any_event codec::decode_older(const event_type& type, std::string_view data,
                              std::uint32_t schema, const stream_id& stream,
                              std::string_view tenant, decode_basis* basis) const {
  // Built only on failure: this runs once per upcast event.
  auto stored = [&] {
    return " (stored at schema version " + std::to_string(schema) + ", current "
           + std::to_string(type.schema) + ")";
  };
  boost::json::value json;
  try {
    json = serde::parse(data);
  } catch (const serde::decode_failure& f) {
    throw deserialization_error(type.name, stream.to_string(), f.field, f.what() + stored());
  }
  auto* fields = json.if_object();
  if (!fields)
    throw deserialization_error(type.name, stream.to_string(), "",
                                "the stored JSON is not an object, so it cannot be upcast"
                                  + stored());
  // Upcasters see decrypted data; a shredded field reaches them masked (R-EN).
  if (type.encryption)
    decrypt(*fields, type, stream, tenant, basis);
  boost::json::value upcast = registry_->upcast(type, schema, std::move(*fields), stream);
  try {
    auto value = type.decode_value ? type.decode_value(upcast)
                                   : type.decode(boost::json::serialize(upcast));
    return any_event(type.type, std::move(value), type.name);
  } catch (const serde::decode_failure& f) {
    throw deserialization_error(type.name, stream.to_string(), f.field,
                                std::string("the upcast JSON does not fit the type: ") + f.what()
                                  + stored());
  }
}

const event_type& codec::type_of(std::string_view name) const {
  // Registered types are never removed, so a hit stays valid while this codec
  // (which owns the registry) lives; the id keeps codecs apart.
  thread_local std::uint64_t cached_codec = 0;
  thread_local std::string cached_name;
  thread_local const event_type* cached_type = nullptr;
  if (cached_codec == id_ && cached_name == name)
    return *cached_type;
  const auto& type = registry_->get(name);
  cached_codec = id_;
  cached_name.assign(name);
  cached_type = &type;
  return type;
}

wrapped_event<> codec::decode_wrapped(const storage::record& r) const {
  const auto& type = type_of(r.type);
  return event_registry::with_metadata(decode_data(type, r.data, r.schema, *r.stream, r.tenant), r.context,
                                       r.id, timestamp::from_micros(r.created_us),
                                       r.opt_version(), *r.stream);
}

recorded_event codec::decode(const storage::record& r, decode_basis* basis) const {
  const auto& type = type_of(r.type);
  return recorded_event{
    event_registry::with_metadata(decode_data(type, r.data, r.schema, *r.stream, r.tenant, basis),
                                  r.context, r.id, timestamp::from_micros(r.created_us),
                                  r.opt_version(), *r.stream),
    *r.stream, r.position, std::string(r.tenant)};
}

wrapped_event<> codec::decode_snapshot(const raw_event& raw, const stream_id& stream,
                                       const std::string& tenant) const {
  const auto& type = type_of(raw.name);
  return event_registry::with_metadata(decode_data(type, raw.data, raw.schema, stream, tenant), raw.context,
                                       raw.id, raw.created_at, raw.version, stream);
}

} // namespace sourcery
