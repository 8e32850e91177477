// The durable embedded backend: the runtime on the RocksDB engine.
//
//   auto backend = sourcery::rocksdb_backend("/var/lib/app/events");
//
// In the CMake target sourcery::rocksdb (find_package(sourcery COMPONENTS
// rocksdb)); a service that does not link it does not link RocksDB.
#pragma once

#include <sourcery/backend.hpp>
#include <sourcery/storage/rocksdb.hpp>

#include <string>

namespace sourcery {

/// A backend over the RocksDB store in folder `path`, created when absent
/// (see <sourcery/storage/rocksdb.hpp> for what it keeps and what each
/// durability level survives). Throws as storage::open_rocksdb_engine does:
/// `storage_corrupt`, `storage_version_mismatch`, `storage_unavailable`.
backend rocksdb_backend(const std::string& path, const storage::rocksdb_options& storage = {},
                        runtime_options options = {});

} // namespace sourcery
