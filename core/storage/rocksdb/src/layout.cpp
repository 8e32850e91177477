#include "layout.hpp"

#include <cstring>
#include <unordered_map>

namespace sourcery::storage::rocksdb_detail {

std::string position_key(position p) {
  std::string out;
  put_u64(out, p);
  return out;
}

void put_string(std::string& out, std::string_view s) {
  if (s.size() > UINT32_MAX)
    throw invalid_argument("a stored value is larger than 4 GiB");
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

void put_id(std::string& out, const uuid& id) {
  out.append(reinterpret_cast<const char*>(id.data), 16);
}

void byte_reader::truncated(std::size_t n) const {
  throw storage_corrupt("a stored value is truncated (" + std::to_string(bytes_.size())
                        + " bytes, needed " + std::to_string(at_ + n) + ")");
}

namespace {

void put_optional(std::string& out, const std::optional<std::string>& s) {
  out.push_back(s ? 1 : 0);
  if (s)
    put_string(out, *s);
}

std::optional<std::string_view> get_optional_view(byte_reader& r) {
  if (r.u8() == 0)
    return std::nullopt;
  return r.string();
}

} // namespace

std::string stream_key(std::string_view tenant, const stream_id& stream) {
  std::string out;
  out.reserve(tenant.size() + 32);
  put_string(out, tenant);
  put_id(out, stream.id());
  put_optional(out, stream.category());
  return out;
}

void index_key(std::string& out, std::string_view stream_key, std::uint64_t n) {
  out.assign(stream_key);
  put_u64(out, n);
}

std::string index_key(std::string_view stream_key, std::uint64_t n) {
  std::string out;
  index_key(out, stream_key, n);
  return out;
}

std::string outbox_key(std::uint32_t shard, position p) {
  std::string out;
  put_u32(out, shard);
  put_u64(out, p);
  return out;
}

std::string cursor_store_key(const cursor_key& key) {
  std::string out;
  put_string(out, key.projection);
  out += stream_key(key.tenant_id, key.stream);
  return out;
}

std::string encode_state(const stream_info& info) {
  std::string out;
  out.push_back(info.versionless ? 1 : 0);
  put_u64(out, info.current);
  return out;
}

stream_info decode_state(std::string_view bytes) {
  byte_reader r(bytes);
  stream_info out;
  out.versionless = r.u8() != 0;
  out.current = r.u64();
  return out;
}

std::string encode_snapshot(const raw_event& s) {
  std::string out;
  put_id(out, s.id);
  put_u64(out, static_cast<std::uint64_t>(s.created_at.micros()));
  put_string(out, s.name);
  put_string(out, s.data);
  put_string(out, s.context);
  out.push_back(s.version ? 1 : 0);
  put_u64(out, s.version.value_or(0));
  put_u32(out, s.schema); // since format 2
  return out;
}

raw_event decode_snapshot(std::string_view bytes) {
  byte_reader r(bytes);
  raw_event out;
  out.id = r.id();
  out.created_at = timestamp::from_micros(static_cast<std::int64_t>(r.u64()));
  out.name = r.string();
  out.data = r.string();
  out.context = r.string();
  bool versioned = r.u8() != 0;
  auto v = r.u64();
  if (versioned)
    out.version = v;
  out.schema = r.done() ? 1 : r.u32(); // format 1 snapshots have none
  return out;
}

std::string encode_attempts(std::uint32_t attempts) {
  std::string out;
  put_u32(out, attempts);
  return out;
}

std::uint32_t decode_attempts(std::string_view bytes) {
  byte_reader r(bytes);
  return r.u32();
}

std::string encode_dead(std::uint32_t attempts, std::string_view last_error) {
  std::string out;
  put_u32(out, attempts);
  put_string(out, last_error);
  return out;
}

std::pair<std::uint32_t, std::string> decode_dead(std::string_view bytes) {
  byte_reader r(bytes);
  auto attempts = r.u32();
  return {attempts, std::string(r.string())};
}

// A record: u8 layout (2), tenant, stream (id, category?, name?), event id,
// created (µs), version (0 = versionless), schema (u32, layout 2 only), type,
// data, context. Layout 1 (format 1 stores) has no schema: it reads as 1.
std::string encode_record(std::string_view tenant, const stream_id& stream,
                          const raw_event& e, std::uint64_t version) {
  std::string out;
  out.reserve(64 + tenant.size() + e.name.size() + e.data.size() + e.context.size());
  out.push_back(2);
  put_string(out, tenant);
  put_id(out, stream.id());
  put_optional(out, stream.category());
  put_optional(out, stream.name());
  put_id(out, e.id);
  put_u64(out, static_cast<std::uint64_t>(e.created_at.micros()));
  put_u64(out, version);
  put_u32(out, e.schema);
  put_string(out, e.name);
  put_string(out, e.data);
  put_string(out, e.context);
  return out;
}

namespace {

struct bytes_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

/// Named stream ids cost a SHA-1 to rebuild; a reading thread keeps the ones
/// it met last, keyed by their stored bytes (looked up without copying them).
const stream_id& cached_stream(std::string_view stored, const uuid& id,
                               std::optional<std::string_view> category,
                               std::optional<std::string_view> name) {
  thread_local std::unordered_map<std::string, stream_id, bytes_hash, std::equal_to<>> seen;
  if (auto it = seen.find(stored); it != seen.end())
    return it->second;
  if (seen.size() >= 4096)
    seen.clear();
  auto owned = [](std::optional<std::string_view> s) {
    return s ? std::optional<std::string>(std::string(*s)) : std::nullopt;
  };
  // The name was checked against the UUID when the stream id was made.
  auto made = name ? stream_id(id, owned(category), owned(name)) : stream_id(id, owned(category));
  return seen.emplace(std::string(stored), std::move(made)).first->second;
}

} // namespace

record_fields parse_record(position p, std::string_view bytes) {
  byte_reader r(bytes);
  auto layout = r.u8();
  if (layout != 1 && layout != 2)
    throw storage_corrupt("record at position " + std::to_string(p) + " has an unknown layout");
  record_fields f;
  f.tenant = r.string();
  auto stream_at = r.offset();
  f.stream_uuid = r.id();
  f.category = get_optional_view(r);
  f.name = get_optional_view(r);
  f.stream_bytes = bytes.substr(stream_at, r.offset() - stream_at);
  f.id = r.id();
  f.created_us = static_cast<std::int64_t>(r.u64());
  f.version = r.u64();
  f.schema = layout == 1 ? 1 : r.u32();
  f.type = r.string();
  f.data = r.string();
  f.context = r.string();
  return f;
}

const stream_id& stream_of(const record_fields& f) {
  return cached_stream(f.stream_bytes, f.stream_uuid, f.category, f.name);
}

void stored_record::decode(const stream_id* known) {
  auto f = parse_record(pos, bytes);
  auto at = [&](std::string_view s) { return static_cast<std::uint32_t>(s.data() - bytes.data()); };
  auto len = [](std::string_view s) { return static_cast<std::uint32_t>(s.size()); };
  tenant_at = at(f.tenant);
  tenant_len = len(f.tenant);
  stream = known ? *known : stream_of(f);
  id = f.id;
  created_us = f.created_us;
  version = f.version;
  schema = f.schema;
  type_at = at(f.type);
  type_len = len(f.type);
  data_at = at(f.data);
  data_len = len(f.data);
  context_at = at(f.context);
  context_len = len(f.context);
}

record stored_record::view() const noexcept {
  const char* b = bytes.data();
  return record{pos,
                {b + tenant_at, tenant_len},
                &stream,
                id,
                created_us,
                version,
                {b + type_at, type_len},
                {b + data_at, data_len},
                {b + context_at, context_len},
                schema};
}

void stored_record::view_into(std::vector<record>& out) const {
  const char* b = bytes.data();
#ifdef __cpp_aggregate_paren_init
  out.emplace_back(pos, std::string_view(b + tenant_at, tenant_len), &stream, id, created_us,
                   version, std::string_view(b + type_at, type_len),
                   std::string_view(b + data_at, data_len),
                   std::string_view(b + context_at, context_len), schema);
#else // clang before 16 (the fuzz build): no aggregate init in emplace_back
  (void)b;
  out.push_back(view());
#endif
}

std::size_t stored_record::footprint() const noexcept {
  return sizeof(stored_record) + bytes.capacity() + 32;
}

std::shared_ptr<stored_record> decode_record(position p, std::string bytes) {
  auto out = std::make_shared<stored_record>();
  out->pos = p;
  out->bytes = std::move(bytes);
  out->decode();
  return out;
}

} // namespace sourcery::storage::rocksdb_detail
