// Small file operations of the RocksDB engine's own files (the keys file,
// the creation marker), each durable when it returns.
#pragma once

#include <filesystem>
#include <string>

namespace sourcery::storage::rocksdb_detail {

/// Writes `bytes` to `p` and fsyncs it; throws `storage_unavailable`.
void write_synced(const std::filesystem::path& p, const std::string& bytes);

/// Fsyncs `folder`, so that files created, renamed or removed in it stay so;
/// throws `storage_unavailable`.
void sync_folder(const std::filesystem::path& folder);

} // namespace sourcery::storage::rocksdb_detail
