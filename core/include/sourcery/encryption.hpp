// Encryption and crypto-shredding (SPEC §5, R-EN): the replaceable parts.
//
// An `encryption_strategy` turns a field's JSON text into ciphertext under a
// key and back; a `key_storage` keeps one key per data subject and tenant.
// Shredding a subject deletes its key: every field encrypted under it then
// reads as its mask value. Both are interfaces, so a service can plug in a KMS
// or a database; the defaults are libsodium's XChaCha20-Poly1305 and an
// in-memory map.
//
// A key id names a key publicly: strategies that have them store it in clear
// in every value made under the key. It is a claim, never a proof: a value
// whose id differs from the subject's current key reads as masked only when
// the key storage recorded that id as one of the subject's shredded keys
// (`key_storage::retire`); any other mismatch is `decryption_failed`, so
// whoever can write to the storage cannot erase a field by altering its id.
//
// Keys are created explicitly, never on demand: `encryption_keys::create_key`
// (typically when a data subject first appears, e.g. a user registers).
// Appending a field whose subject has no key is `key_not_found`, so a
// shredded subject stays shredded instead of silently getting a new key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery {

/// Secret key bytes; their length is the strategy's business.
using encryption_key = std::vector<std::uint8_t>;

/// What `encryption_strategy::decrypt` found.
struct decryption {
  enum outcome_t {
    ok,        ///< `plaintext` holds the value.
    other_key, ///< Names another key id than the key's: made under another key, or
               ///< forged. Not authenticated (the named key is not at hand).
    failed,    ///< Fails authentication: tampered, truncated or not ciphertext at all.
  };
  outcome_t outcome = failed;
  std::string plaintext;
  /// For `other_key`: the key id the value names, as `key_id` gives it.
  std::string key_id;
};

/// Encrypts and decrypts single values. Implementations must be safe for
/// concurrent use from many threads.
class encryption_strategy {
public:
  virtual ~encryption_strategy() = default;

  /// A new random key.
  virtual encryption_key generate_key() const = 0;

  /// `plaintext` encrypted under `key`, as printable text (it is stored as a
  /// JSON string). Encrypting one value twice gives two different texts.
  virtual std::string encrypt(std::string_view plaintext, const encryption_key& key) const = 0;

  /// The plaintext of `ciphertext` under `key`. Never returns unauthenticated
  /// data. A strategy that cannot tell a wrong key from tampering reports
  /// `failed` for both; one that can reports `other_key` with the id the
  /// value names, which the caller must not trust on its own (see above).
  virtual decryption decrypt(std::string_view ciphertext, const encryption_key& key) const = 0;

  /// The public id of `key`, as values made under it name it; empty when
  /// the strategy has no key ids (it then never reports `other_key`) or
  /// `key` is not of its form. Never throws for a malformed key.
  virtual std::string key_id(const encryption_key& key) const;
};

/// The default strategy: libsodium's XChaCha20-Poly1305-IETF (AEAD) with a
/// fresh random 192-bit nonce per value (operating-system randomness) and
/// 256-bit secrets. A key is 40 bytes: a random public key id (8) followed by
/// the secret (32); generate_key makes them. Stored form of a value:
///
///   "xchacha1:" base64( key_id[8] ‖ nonce[24] ‖ ciphertext ‖ tag[16] )
///
/// (standard base64 with padding; "xchacha1" names cipher and format). The
/// key id is authenticated as associated data: a value naming the key's own
/// id decrypts (`ok`) or fails authentication (`failed`); one naming another
/// id is `other_key` with that id, unauthenticated.
class xchacha20poly1305_strategy final : public encryption_strategy {
public:
  /// Initialises libsodium; throws std::runtime_error if it cannot.
  xchacha20poly1305_strategy();

  encryption_key generate_key() const override;
  std::string encrypt(std::string_view plaintext, const encryption_key& key) const override;
  decryption decrypt(std::string_view ciphertext, const encryption_key& key) const override;
  /// The key's first 8 bytes; empty unless the key has 40.
  std::string key_id(const encryption_key& key) const override;
};

/// The faster alternative on CPUs with AES-NI and CLMUL (x86-64): libsodium's
/// AES-256-GCM, about three times faster per value than XChaCha20-Poly1305
/// there. Its random nonces have 96 bits: NIST allows 2^32 values per key,
/// and a key here serves one data subject. Keys as for the default strategy;
/// stored form as above with "aes256gcm1:" and a 12-byte nonce. Values
/// written by it can only be read on such CPUs.
class aes256gcm_strategy final : public encryption_strategy {
public:
  /// Whether this CPU runs it.
  static bool available();
  /// Throws std::runtime_error when !available().
  aes256gcm_strategy();

  encryption_key generate_key() const override;
  std::string encrypt(std::string_view plaintext, const encryption_key& key) const override;
  decryption decrypt(std::string_view ciphertext, const encryption_key& key) const override;
  /// The key's first 8 bytes; empty unless the key has 40.
  std::string key_id(const encryption_key& key) const override;
};

/// Keeps one key per (tenant, data subject). Implementations must be safe for
/// concurrent use from many threads. Tenants never share keys: the same
/// subject id in two tenants is two subjects.
class key_storage {
public:
  virtual ~key_storage() = default;

  /// The subject's key, or none (never created, or shredded).
  virtual std::optional<encryption_key> get(std::string_view tenant,
                                            std::string_view subject) const = 0;

  /// Stores `key` unless the subject already has one, atomically; returns
  /// whether it was stored. A key is never replaced: data under the old key
  /// would become unreadable without anyone deciding so.
  virtual bool store(std::string_view tenant, std::string_view subject,
                     const encryption_key& key) = 0;

  /// Deletes the subject's key (the SPEC's `delete`). Not an error if it has
  /// none.
  virtual void remove(std::string_view tenant, std::string_view subject) = 0;

  /// Records that `key_id` named a key of the subject that is being shredded
  /// (called before `remove`), so that values made under it read as masked
  /// after a new key is created for the subject. The id is public (it is in
  /// every such value), never the key's secret. The default records nothing:
  /// such values then read as `decryption_failed` once the subject has a new
  /// key (and as masked while it has none).
  virtual void retire(std::string_view tenant, std::string_view subject, std::string_view key_id);

  /// Whether `retire` recorded `key_id` for the subject. The default: false.
  virtual bool retired(std::string_view tenant, std::string_view subject,
                       std::string_view key_id) const;
};

/// Keys in memory, guarded by a reader-writer lock. Lost when the process
/// ends, like the in-memory store.
class in_memory_key_storage final : public key_storage {
public:
  in_memory_key_storage();
  ~in_memory_key_storage() override;

  std::optional<encryption_key> get(std::string_view tenant,
                                    std::string_view subject) const override;
  bool store(std::string_view tenant, std::string_view subject,
             const encryption_key& key) override;
  void remove(std::string_view tenant, std::string_view subject) override;
  /// Kept in memory as long as the storage: a few bytes per shredded key.
  void retire(std::string_view tenant, std::string_view subject, std::string_view key_id) override;
  bool retired(std::string_view tenant, std::string_view subject,
               std::string_view key_id) const override;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// One tenant's data-subject keys, as `backend::encryption()` hands them out.
/// A cheap handle; thread-safe as its strategy and key storage are.
class encryption_keys {
public:
  encryption_keys(std::shared_ptr<const encryption_strategy> strategy,
                  std::shared_ptr<key_storage> keys, std::string tenant);

  /// Generates and stores a key for `subject` unless it has one; returns
  /// whether a key was created. Safe to call on every sign-up. After a shred
  /// it creates a new key: new data is readable, the shredded data stays
  /// masked.
  bool create_key(std::string_view subject);

  /// Stores a key made elsewhere (e.g. by a KMS) unless the subject has one;
  /// returns whether it was stored.
  bool store_key(std::string_view subject, const encryption_key& key);

  bool has_key(std::string_view subject) const;
  std::optional<encryption_key> key(std::string_view subject) const;

  /// Crypto-shreds `subject`: records its key's id as retired, then deletes
  /// the key, so each field encrypted under it reads as its mask from now on
  /// (also after a new key is created), and appending new data for it fails
  /// with `key_not_found` until a key is created again. Not an error if the
  /// subject has no key.
  void shred(std::string_view subject);

  const std::string& tenant_id() const noexcept { return tenant_; }

private:
  std::shared_ptr<const encryption_strategy> strategy_;
  std::shared_ptr<key_storage> keys_;
  std::string tenant_;
};

} // namespace sourcery
