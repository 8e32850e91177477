#include <sourcery/rocksdb_backend.hpp>

namespace sourcery {

backend rocksdb_backend(const std::string& path, const storage::rocksdb_options& storage,
                        runtime_options options) {
  return backend::on(storage::open_rocksdb_engine(path, storage), std::move(options));
}

} // namespace sourcery
