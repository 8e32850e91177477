// backend::rocksdb — its own target (sourcery::rocksdb), so that only
// embedders that use it link RocksDB (R-ST2).
#include <sourcery/backend.hpp>
#include <sourcery/storage/rocksdb.hpp>

namespace sourcery {

backend backend::rocksdb(const std::string& path) {
  return rocksdb(path, storage::rocksdb_options{});
}

backend backend::rocksdb(const std::string& path, const storage::rocksdb_options& storage,
                         runtime_options options) {
  return on(storage::open_rocksdb_engine(path, storage), std::move(options));
}

} // namespace sourcery
