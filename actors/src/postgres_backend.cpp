// backend::postgres — its own target (sourcery::postgres), so that only
// embedders that use it link libpq (R-ST2).
#include <sourcery/backend.hpp>
#include <sourcery/storage/postgres.hpp>

namespace sourcery {

backend backend::postgres(const std::string& conninfo) {
  return postgres(conninfo, storage::postgres_options{});
}

backend backend::postgres(const std::string& conninfo, const storage::postgres_options& storage,
                          runtime_options options) {
  return on(storage::open_postgres_engine(conninfo, storage), std::move(options));
}

} // namespace sourcery
