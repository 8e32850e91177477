// The data-subject keys of a RocksDB store, kept out of RocksDB (R-ST4,
// R-EN): RocksDB's write-ahead log, memtables and compactions keep deleted
// values in files for an unknown time, and a shredded key's bytes must not
// survive in any file of the store. Keys are few and small, so they live in
// one file, `keys`, rewritten whole on every change: written to `keys.tmp`,
// fsync'd, renamed over `keys`, and the folder fsync'd. After `remove`
// returns, no file in the folder holds the key.
//
// File: "SRCKEYS1", u32 entry count, entries (u32-length-prefixed tenant,
// subject and key), u32 CRC-32 of everything before it.
//
// Retired key ids (`retire`) are public — every value made under the key
// carries its id — so they are in RocksDB, in the meta family under
// "retired" + tenant + subject + id (length-prefixed), written synced.
#pragma once

#include <sourcery/encryption.hpp>

#include <filesystem>
#include <map>
#include <shared_mutex>
#include <string>

namespace sourcery::storage::rocksdb_detail {

struct store;

class key_file final : public key_storage {
public:
  /// Reads `folder`/keys if present; throws `storage_corrupt` when it is
  /// damaged, `storage_unavailable` when it cannot be read. Retired ids are
  /// in `db`'s meta family (`db` outlives this).
  key_file(std::filesystem::path folder, const rocksdb_detail::store& db);
  ~key_file() override;

  /// Throws `storage_corrupt` if `folder`/keys exists and is damaged; reads
  /// only.
  static void check(const std::filesystem::path& folder);

  std::optional<encryption_key> get(std::string_view tenant,
                                    std::string_view subject) const override;
  /// Durable when it returns; throws `storage_unavailable` (nothing stored).
  bool store(std::string_view tenant, std::string_view subject,
             const encryption_key& key) override;
  /// The key's bytes are gone from the folder when it returns; throws
  /// `storage_unavailable` (the key stays).
  void remove(std::string_view tenant, std::string_view subject) override;
  std::vector<subject_key> list() const override;
  /// Durable when it returns; throws `storage_unavailable` (read-only store).
  void retire(std::string_view tenant, std::string_view subject, std::string_view key_id) override;
  bool retired(std::string_view tenant, std::string_view subject,
               std::string_view key_id) const override;
  std::vector<retired_key_id> list_retired() const override;

  /// Writes the keys to `folder`/keys (a backup's copy), durable when it
  /// returns; no file when there are none. Throws `storage_unavailable`.
  void copy_to(const std::filesystem::path& folder) const;

private:
  using key_map = std::map<std::pair<std::string, std::string>, encryption_key, std::less<>>;
  static key_map load(const std::filesystem::path& file);
  void save(const key_map& keys) const;

  const std::filesystem::path folder_;
  const rocksdb_detail::store& db_;
  mutable std::shared_mutex mutex_;
  key_map keys_; // GUARDED_BY(mutex_); the file always matches it
};

} // namespace sourcery::storage::rocksdb_detail
