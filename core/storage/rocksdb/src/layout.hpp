// How the RocksDB engine lays out its keys and values (the key layout itself
// is described at the top of rocksdb_engine.cpp). Integers in keys are
// big-endian and fixed-width, so RocksDB's bytewise order is numeric order;
// strings in keys carry their length first, so a key is never a prefix of
// another key of the same kind.
#pragma once

#include <sourcery/storage/engine.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sourcery::storage::rocksdb_detail {

/// The store's format (the "format" key of the meta column family). A store
/// written by a newer build is refused (R-ST6). Version 2 added the schema
/// version of each event (record layout 2, a trailing u32 in snapshots,
/// R-UP1); a version-1 store is read as is and marked version 2 when opened
/// for writing, so that older builds refuse it from then on.
inline constexpr std::string_view format_magic = "sourcery-rocksdb";
inline constexpr std::uint32_t format_version = 2;

// -- big-endian integers -------------------------------------------------------
// Inline: every record read or written runs them a dozen times.

inline void put_u32(std::string& out, std::uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}
inline void put_u64(std::string& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
  put_u32(out, static_cast<std::uint32_t>(v));
}
inline std::uint32_t get_u32(const char* p) noexcept {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8)
         | std::uint32_t{b[3]};
}
inline std::uint64_t get_u64(const char* p) noexcept {
  return (std::uint64_t{get_u32(p)} << 32) | get_u32(p + 4);
}

/// A position as a log key (8 bytes, big-endian).
std::string position_key(position p);

/// Reads values written by the put_ functions; throws `storage_corrupt` when
/// the bytes run out.
class byte_reader {
public:
  explicit byte_reader(std::string_view bytes) : bytes_(bytes) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(*take(1)); }
  std::uint32_t u32() { return get_u32(take(4)); }
  std::uint64_t u64() { return get_u64(take(8)); }
  uuid id() {
    uuid out;
    std::memcpy(out.data, take(16), 16);
    return out;
  }
  /// A string written with put_string: its u32 length, then its bytes.
  std::string_view string() {
    auto n = u32();
    return {take(n), n};
  }
  std::size_t offset() const noexcept { return at_; }
  bool done() const noexcept { return at_ == bytes_.size(); }

private:
  const char* take(std::size_t n) {
    if (bytes_.size() - at_ < n) [[unlikely]]
      truncated(n);
    auto p = bytes_.data() + at_;
    at_ += n;
    return p;
  }
  [[noreturn]] void truncated(std::size_t n) const;
  std::string_view bytes_;
  std::size_t at_ = 0;
};

void put_string(std::string& out, std::string_view s);
void put_id(std::string& out, const uuid& id);

// -- keys -------------------------------------------------------------------

/// (tenant, stream): the key of a stream's state and snapshot, and the
/// prefix of its index entries. Name is not part of it (R-S1 equality).
std::string stream_key(std::string_view tenant, const stream_id& stream);
/// stream_key + the event's number in the stream (its version, or its count
/// on versionless streams).
std::string index_key(std::string_view stream_key, std::uint64_t n);
/// The same, into `out` (its buffer reused: the writer makes one per event).
void index_key(std::string& out, std::string_view stream_key, std::uint64_t n);
/// The shard's prefix, then the position.
std::string outbox_key(std::uint32_t shard, position p);
std::string cursor_store_key(const cursor_key& key);

// -- values -----------------------------------------------------------------

/// A stream's state value.
std::string encode_state(const stream_info& info);
stream_info decode_state(std::string_view bytes);

std::string encode_snapshot(const raw_event& snapshot);
raw_event decode_snapshot(std::string_view bytes);

/// An outbox entry's value: its failed attempts.
std::string encode_attempts(std::uint32_t attempts);
std::uint32_t decode_attempts(std::string_view bytes);

/// A dead letter's value: attempts and the last error.
std::string encode_dead(std::uint32_t attempts, std::string_view last_error);
std::pair<std::uint32_t, std::string> decode_dead(std::string_view bytes);

/// One committed event as stored in the log (the position is its key), and
/// the decoded form `record` views point into. Never moved after `view()` is
/// taken: keep it behind a pointer or in a container that does not
/// reallocate.
struct stored_record {
  position pos = 0;
  std::string bytes; // the log value
  stream_id stream{uuid{}};
  uuid id{};
  std::int64_t created_us = 0;
  std::uint64_t version = 0;
  std::uint32_t schema = 1;
  std::uint32_t tenant_at = 0, tenant_len = 0, type_at = 0, type_len = 0, data_at = 0,
                data_len = 0, context_at = 0, context_len = 0;

  /// Fills the fields from `bytes`; throws `storage_corrupt`. `known` is
  /// the stream when the caller has it (saves rebuilding a named id).
  void decode(const stream_id* known = nullptr);
  record view() const noexcept;
  /// Appends the view to `out`, constructed in place (a temporary copied in
  /// stalls on store forwarding, see the in-memory engine's mem_record).
  void view_into(std::vector<record>& out) const;
  /// Bytes of memory it holds (for the cache's budget).
  std::size_t footprint() const noexcept;
};

/// Where the fields of one log value are in its bytes (views into them).
struct record_fields {
  std::string_view tenant;
  std::string_view stream_bytes; // the stream's stored form: id, category?, name?
  uuid stream_uuid{};
  std::optional<std::string_view> category, name;
  uuid id{};
  std::int64_t created_us = 0;
  std::uint64_t version = 0;
  std::uint32_t schema = 1;
  std::string_view type, data, context;
};
/// The fields of the log value at `p`; throws `storage_corrupt`.
record_fields parse_record(position p, std::string_view bytes);

/// The stream a log value names, rebuilt from its fields: a reading thread
/// keeps the ones it met last (a named id costs a SHA-1 to rebuild). The
/// reference is valid until this thread's next call.
const stream_id& stream_of(const record_fields& f);

/// The log value of one event.
std::string encode_record(std::string_view tenant, const stream_id& stream,
                          const raw_event& event, std::uint64_t version);

/// A stored record from its position and log value.
std::shared_ptr<stored_record> decode_record(position p, std::string bytes);

} // namespace sourcery::storage::rocksdb_detail
