// The codec: events to their stored form and back, with encrypted fields
// encrypted on the way in and decrypted (or masked, once shredded) on the way
// out (R-E1, R-E3, R-EN). Every read path decodes here.
//
// Thread-safe: encode and decode run on any thread at once; the encryption
// may be replaced while they run (each call uses one consistent strategy).
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/detail/field_encryption.hpp>
#include <sourcery/registry.hpp>
#include <sourcery/storage/engine.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace sourcery {

class codec {
public:
  explicit codec(std::shared_ptr<event_registry> registry);

  event_registry& registry() const noexcept { return *registry_; }

  /// Encrypts declared fields from now on; null = no encryption.
  void set_encryption(std::shared_ptr<const field_encryption> encryption);
  std::shared_ptr<const field_encryption> encryption() const { return encryption_.load(); }

  /// The stored form of `e` for `stream` of `tenant`. Throws
  /// `invalid_argument` for an unregistered type, `encryption_not_configured`,
  /// `no_subject_id_found`, `key_not_found`, serde errors.
  raw_event encode(const wrapped_event<>& e, const stream_id& stream,
                   const std::string& tenant) const;

  /// A committed record as subscriptions, listeners and the outbox see it,
  /// upcast to its type's current schema version (R-UP1). Throws
  /// `unknown_event`, `deserialization_error`, `decryption_failed`.
  recorded_event decode(const storage::record& r) const;
  /// A committed record as `load_stream` returns it.
  wrapped_event<> decode_wrapped(const storage::record& r) const;
  /// A stored snapshot of `stream` of `tenant`.
  wrapped_event<> decode_snapshot(const raw_event& raw, const stream_id& stream,
                                  const std::string& tenant) const;

private:
  /// The registered type of a stored name; remembers the last one per thread
  /// (consecutive records are mostly of one type).
  const event_type& type_of(std::string_view name) const;
  /// The event from its stored data; data stored at the current schema
  /// version is decoded straight from its text (no JSON tree unless fields
  /// are encrypted).
  any_event decode_data(const event_type& type, std::string_view data, std::uint32_t schema,
                        const stream_id& stream, std::string_view tenant) const;
  /// Data stored at an older schema version: parsed, decrypted, upcast
  /// (R-UP1), then decoded; throws `deserialization_error` naming the stored
  /// version (R-UP3).
  any_event decode_older(const event_type& type, std::string_view data, std::uint32_t schema,
                         const stream_id& stream, std::string_view tenant) const;

  std::shared_ptr<event_registry> registry_;
  std::atomic<std::shared_ptr<const field_encryption>> encryption_;
  std::uint64_t id_; // unique per codec, for the per-thread cache of type_of
};

} // namespace sourcery
