// The data-subject keys of a PostgreSQL store (R-EN, R-ST4): rows of the
// `keys` table, shared by every node; no node caches them, so a key shredded
// on one node is gone for all at once.
//
// Shredding deletes the row. PostgreSQL keeps the bytes of a deleted row in
// its table file until the space is reused and in its write-ahead log until
// that is recycled, so `remove` then runs VACUUM on the table (which frees
// the row's space for reuse); the bytes may stay on disk until overwritten.
// The README says what this means for R-ST4.
#pragma once

#include "connection.hpp"

#include <sourcery/encryption.hpp>

#include <memory>

namespace sourcery::storage::postgres_detail {

class pg_keys final : public key_storage {
public:
  pg_keys(std::shared_ptr<pool> connections, std::string schema);

  std::optional<encryption_key> get(std::string_view tenant,
                                    std::string_view subject) const override;
  bool store(std::string_view tenant, std::string_view subject,
             const encryption_key& key) override;
  void remove(std::string_view tenant, std::string_view subject) override;
  void retire(std::string_view tenant, std::string_view subject,
              std::string_view key_id) override;
  bool retired(std::string_view tenant, std::string_view subject,
               std::string_view key_id) const override;
  std::vector<subject_key> list() const override;
  std::vector<retired_key_id> list_retired() const override;

private:
  std::shared_ptr<pool> pool_;
  const std::string schema_;
};

} // namespace sourcery::storage::postgres_detail
