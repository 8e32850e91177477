// What `read` shows of an encrypted field (R-ADM1): its value, decrypted
// with the tenant's key from the store's own key storage, or a mask where
// the key is gone (shredded).
//
// The tool does not know a service's event types, so it does not know which
// fields are encrypted nor their masks; it knows the stored form of the two
// built-in strategies instead — a JSON string "xchacha1:…" or "aes256gcm1:…"
// naming its key's public id (encryption.hpp) — and finds each such string
// anywhere in an event's data. A field whose key id belongs to none of the
// tenant's keys shows as "<shredded>". Values of another strategy stay as
// stored.
#pragma once

#include <sourcery/encryption.hpp>

#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <string>

namespace admin {

class field_revealer {
public:
  /// The tenant's keys, read once from `keys`; throws what its `list`
  /// throws (a storage that does not list its keys).
  field_revealer(const sourcery::key_storage& keys, const std::string& tenant);

  /// `data` (an event's stored JSON) with every encrypted value replaced.
  boost::json::value reveal(const boost::json::value& data) const;

  /// What the mask of a shredded value shows.
  static constexpr const char* mask = "<shredded>";

  std::size_t revealed() const noexcept { return revealed_; }
  std::size_t masked() const noexcept { return masked_; }

private:
  void visit(boost::json::value& v) const;
  const sourcery::encryption_strategy* strategy_of(std::string_view text) const;

  std::map<std::string, sourcery::encryption_key> by_id_; // key id → key
  std::unique_ptr<sourcery::encryption_strategy> xchacha_, aes_; // aes_: null without AES-NI
  mutable std::size_t revealed_ = 0, masked_ = 0;
};

} // namespace admin
