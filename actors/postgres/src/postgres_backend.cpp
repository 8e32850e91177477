#include <sourcery/postgres_backend.hpp>

namespace sourcery {

backend postgres_backend(const std::string& conninfo, const storage::postgres_options& storage,
                         runtime_options options) {
  return backend::on(storage::open_postgres_engine(conninfo, storage), std::move(options));
}

} // namespace sourcery
