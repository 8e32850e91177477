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
//
// Also here: encryption spec.
#pragma once

#include <sourcery/errors.hpp>

#include <boost/describe.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/uuid/uuid.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
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
/// A subject's key as a key storage lists it.
struct subject_key {
  std::string tenant, subject;
  encryption_key key;
};

/// A key id that `key_storage::retire` recorded for a subject.
struct retired_key_id {
  std::string tenant, subject, key_id;
};

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

  /// Every key, sorted by tenant and subject (bytewise): what an operator's
  /// export takes with `--with-keys` and an import stores back (R-ADM5). The
  /// default throws `invalid_argument`: a storage that does not hand out its
  /// keys (a KMS) is exported without them.
  virtual std::vector<subject_key> list() const;

  /// Every key id `retire` recorded, sorted by tenant, subject and id. The
  /// default: none (as the default `retire` records none).
  virtual std::vector<retired_key_id> list_retired() const;
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
  std::vector<subject_key> list() const override;
  std::vector<retired_key_id> list_retired() const override;

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

// -- encryption spec -------------------------------------------------------
// Declaring which fields of an event type are encrypted, and whose key
// encrypts them (SPEC §5, R-EN).
//
//   registry.add<user_registered>("user_registered",
//     encryption_spec_for<user_registered>()
//       .subject("user_id")
//       .encrypt("email", std::string("<erased>"))
//       .encrypt("address.street", std::string(), /*subject=*/"owner_id"));
//
// A field's subject is the value of its own subject field if it declares one,
// else of the event's data-subject field, else the stream's name; an empty
// string or null counts as absent and falls through to the next. Subject
// fields hold strings, integers or UUIDs and are never encrypted themselves.
// Reads resolve the subject the same way, from the stream id the stream was
// created with: to rely on the stream's name, give it from the first append.
// Paths are dotted member names through described structs (not through
// optionals, vectors or maps).
namespace sourcery {

/// One encrypted field.
struct encrypted_field {
  /// Dotted path: "email", "address.street".
  std::string path;
  /// What the field reads as once its key is gone: the JSON of a value of the
  /// field's own type.
  boost::json::value mask;
  /// The field's own subject field (a dotted path); empty = none.
  std::string subject;
};

/// The checked encryption declaration of one event type; immutable.
struct encryption_spec {
  /// The event's data-subject field (a dotted path); empty = none.
  std::string subject;
  std::vector<encrypted_field> fields;
};

namespace detail {

/// A member found by path: its type, and whether it can name a subject.
struct member_info {
  std::type_index type;
  bool can_be_subject;
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
constexpr bool subject_type() {
  if constexpr (is_optional<T>::value)
    return subject_type<typename T::value_type>();
  else
    return std::is_same_v<T, std::string> || std::is_same_v<T, boost::uuids::uuid>
           || (std::integral<T> && !std::is_same_v<T, bool>);
}

/// The member of described struct `T` at dotted `path`, or none.
template <class T>
std::optional<member_info> find_member(std::string_view path) {
  if constexpr (!boost::describe::has_describe_members<T>::value) {
    return std::nullopt;
  } else {
    auto dot = path.find('.');
    auto head = path.substr(0, dot);
    std::optional<member_info> found;
    using namespace boost::describe;
    boost::mp11::mp_for_each<describe_members<T, mod_public | mod_inherited>>([&](auto d) {
      if (found || head != d.name)
        return;
      using member_t = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      if (dot == std::string_view::npos)
        found = member_info{typeid(member_t), subject_type<member_t>()};
      else
        found = find_member<member_t>(path.substr(dot + 1));
    });
    return found;
  }
}

/// An encrypted field as declared, before it is checked.
struct declared_field {
  std::string path;
  std::type_index mask_type;
  boost::json::value mask;
  std::string subject;
};

using member_lookup = std::optional<member_info> (*)(std::string_view path);

/// Checks a declaration against the event's members; throws
/// `invalid_argument` naming the event and the offending path.
std::shared_ptr<const encryption_spec> check_encryption_spec(
  std::string_view event_name, member_lookup find, const std::vector<std::string>& subjects,
  std::vector<declared_field> fields);

} // namespace detail

/// The encryption declaration of event type `E`, checked against E's
/// described members when E is registered (`event_registry::add`).
template <class E>
class encryption_spec_for {
public:
  /// Names the event's data-subject field (at most one per event type).
  encryption_spec_for& subject(std::string path) {
    subjects_.push_back(std::move(path));
    return *this;
  }

  /// Encrypts the field at `path`. Once its subject's key is gone it reads as
  /// `mask`, which must be a value of the field's own type (for a
  /// std::optional<int> field: std::optional<int>(), not std::nullopt).
  /// `subject` names the field's own subject field, overriding the event's.
  template <class M>
  encryption_spec_for& encrypt(std::string path, const M& mask, std::string subject = {}) {
    fields_.push_back(detail::declared_field{std::move(path), typeid(M),
                                             boost::json::value_from(mask), std::move(subject)});
    return *this;
  }

  /// The checked declaration; throws `invalid_argument` naming the path of a
  /// field that does not exist, a mask of another type than its field, a
  /// second data-subject field, a subject field that is encrypted or holds
  /// neither a string, an integer nor a UUID, or overlapping paths.
  std::shared_ptr<const encryption_spec> check(std::string_view event_name) const {
    return detail::check_encryption_spec(event_name, &detail::find_member<E>, subjects_, fields_);
  }

private:
  std::vector<std::string> subjects_;
  std::vector<detail::declared_field> fields_;
};

} // namespace sourcery
