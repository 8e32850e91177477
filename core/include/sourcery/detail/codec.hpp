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
#include <string_view>
#include <vector>

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

  /// What a decoded event depends on beyond its stored bytes and the
  /// registry: the key each subject of its encrypted fields had (none for a
  /// type without encrypted fields). A decoded event may be reused for the
  /// same record while still_current() says so (R-SUB-DECODE-ONCE).
  struct decode_basis {
    std::vector<key_use> keys;
    /// False when reuse cannot be checked (a key without an id).
    bool reusable = true;
  };

  /// A committed record as subscriptions, listeners and the outbox see it,
  /// upcast to its type's current schema version (R-UP1). Throws
  /// `unknown_event`, `deserialization_error`, `decryption_failed`. With
  /// `basis`, fills it in.
  recorded_event decode(const storage::record& r, decode_basis* basis = nullptr) const;

  /// Whether an event decoded with `basis` from a record of `tenant` is what
  /// decoding that record now would give: every subject still has the key
  /// it had (the same id, or still none). True at once without encrypted
  /// fields; otherwise one key storage lookup per subject.
  bool still_current(const decode_basis& basis, std::string_view tenant) const;
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
                        const stream_id& stream, std::string_view tenant,
                        decode_basis* basis = nullptr) const;
  /// Data stored at an older schema version: parsed, decrypted, upcast
  /// (R-UP1), then decoded; throws `deserialization_error` naming the stored
  /// version (R-UP3).
  any_event decode_older(const event_type& type, std::string_view data, std::uint32_t schema,
                         const stream_id& stream, std::string_view tenant,
                         decode_basis* basis) const;
  /// Decrypts `fields` of `type`, noting the keys used in `basis` (if any).
  void decrypt(boost::json::object& fields, const event_type& type, const stream_id& stream,
               std::string_view tenant, decode_basis* basis) const;

  std::shared_ptr<event_registry> registry_;
  std::atomic<std::shared_ptr<const field_encryption>> encryption_;
  std::uint64_t id_; // unique per codec, for the per-thread cache of type_of
};

} // namespace sourcery
