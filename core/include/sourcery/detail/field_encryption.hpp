// Encrypts and decrypts the declared fields of an event's JSON (SPEC §5):
// the runtime calls it on append (caller's thread) and on every read.
//
// Thread-safe: const, and its strategy and key storage are thread-safe.
#pragma once

#include <sourcery/encryption.hpp>
#include <sourcery/events.hpp>

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery {

/// The key one decryption found for a subject: its id (as the strategy's
/// `key_id` gives it), or none when the subject had no key and its fields
/// were masked. What a decrypted value depends on beyond the stored bytes.
struct key_use {
  std::string subject;
  std::optional<std::string> key_id;

  friend bool operator==(const key_use&, const key_use&) = default;
};

class field_encryption {
public:
  field_encryption(std::shared_ptr<const encryption_strategy> strategy,
                   std::shared_ptr<key_storage> keys);

  /// Replaces each encrypted field of `data` (the JSON of one event) by the
  /// ciphertext of its JSON text under its subject's key in `tenant`. Throws
  /// `no_subject_id_found` naming `stream` when a field has no subject, and
  /// `key_not_found` naming the subject when it has no key; `data` is then
  /// partly encrypted and must be dropped.
  void encrypt(boost::json::object& data, const encryption_spec& spec, const stream_id& stream,
               std::string_view tenant) const;

  /// Replaces each encrypted field of `data` by its value, or by its mask
  /// when the key it was made under is gone: the subject has no key, or the
  /// value names a key id that the key storage recorded as the subject's
  /// shredded key (`key_storage::retired`; the key was created anew since).
  /// Throws `decryption_failed` naming the stream, `event_name` and the field
  /// for anything else: a ciphertext that fails authentication, or one that
  /// names a key id the subject never had (forged). Throws
  /// `no_subject_id_found` when the subject cannot be determined.
  /// With `used`, appends the key each subject had (key_use); a present key
  /// whose id is empty is reported with an empty id.
  void decrypt(boost::json::object& data, const encryption_spec& spec, std::string_view event_name,
               const stream_id& stream, std::string_view tenant,
               std::vector<key_use>* used = nullptr) const;

  /// Whether every subject in `used` still has the key it had then (the same
  /// id, or still none) in `tenant`: then decrypting the same data again
  /// gives the same value. False for a use with an empty key id (it cannot
  /// be told apart from a newer key). One key storage lookup per subject.
  bool same_keys(std::span<const key_use> used, std::string_view tenant) const;

  const std::shared_ptr<const encryption_strategy>& strategy() const noexcept { return strategy_; }
  const std::shared_ptr<key_storage>& keys() const noexcept { return keys_; }

  /// The tenant's view of the keys.
  encryption_keys keys_of(std::string tenant) const {
    return encryption_keys(strategy_, keys_, std::move(tenant));
  }

private:
  std::shared_ptr<const encryption_strategy> strategy_;
  std::shared_ptr<key_storage> keys_;
};

} // namespace sourcery
