#include "store_setup.hpp"

#include <sourcery/errors.hpp>
#include <sourcery/postgres_backend.hpp>
#include <sourcery/rocksdb_backend.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace harness {

sourcery::storage::rocksdb_options rocksdb_options_of(const storage_settings& s) {
  sourcery::storage::rocksdb_options o;
  o.durability = s.durability == "normal" ? sourcery::storage::rocksdb_options::durability::normal
                                          : sourcery::storage::rocksdb_options::durability::full;
  o.cache_mb = static_cast<std::size_t>(s.cache_mb);
  return o;
}

sourcery::storage::postgres_options postgres_options_of(const storage_settings& s) {
  sourcery::storage::postgres_options o;
  o.schema = s.schema;
  o.durability = s.durability == "normal" ? sourcery::storage::postgres_options::durability::normal
                                          : sourcery::storage::postgres_options::durability::full;
  return o;
}

namespace {

/// storage.schema ready for a fresh store: an absent or empty store is fine;
/// one holding events is dropped when storage.wipe is set, refused otherwise.
void prepare_fresh_schema(const storage_settings& s) {
  auto refuse = [&](const std::string& why) {
    throw setting_error("setting 'storage.schema': '" + s.schema + "' " + why);
  };
  bool empty = false;
  try {
    empty = open_engine(s)->log().last_position() == 0;
  } catch (const sourcery::storage_unavailable& e) {
    // Not a bad setting: the server is down, unreachable or refuses us
    // (exit code 1, not 2).
    throw std::runtime_error("storage.conninfo: cannot use PostgreSQL"
                             + (s.conninfo.empty() ? std::string(" (PG* environment variables)")
                                                   : " at '" + s.conninfo + "'")
                             + ": " + e.what());
  } catch (const std::exception& e) {
    refuse(std::string("is not a Sourcery store the harness may use: ") + e.what());
  }
  if (empty)
    return;
  if (!s.wipe)
    refuse("holds events; the harness verifies a fresh store (set storage.wipe = true to drop "
           "it first, or choose another schema)");
  sourcery::storage::drop_postgres_store(s.conninfo, s.schema);
}

} // namespace

void prepare_fresh_store(const storage_settings& s) {
  if (s.engine == "postgres")
    return prepare_fresh_schema(s);
  if (!s.durable())
    return;
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path folder(s.path);
  if (!fs::exists(folder, error) || fs::is_empty(folder, error))
    return;
  auto refuse = [&](const std::string& why) {
    throw setting_error("setting 'storage.path': '" + s.path + "' " + why);
  };
  if (!s.wipe)
    refuse("is not empty; the harness verifies a fresh store (set storage.wipe = true to remove "
           "a store there first, or choose another folder)");
  try {
    // Only a folder the engine opens as its own is removed.
    open_engine(s).reset();
  } catch (const sourcery::storage_unavailable& e) {
    // Locked by another process, unreadable: not a bad setting (exit code 1).
    throw std::runtime_error("storage.path: cannot open '" + s.path + "': " + e.what());
  } catch (const std::exception& e) {
    refuse(std::string("is not a Sourcery store the harness may remove: ") + e.what());
  }
  fs::remove_all(folder, error);
  if (error)
    refuse("could not be removed: " + error.message());
}

sourcery::backend open_backend(const scenario& sc) {
  if (!sc.storage.durable())
    return sourcery::backend::in_memory(sc.runtime);
  if (sc.storage.engine == "postgres")
    return sourcery::postgres_backend(sc.storage.conninfo, postgres_options_of(sc.storage),
                                       sc.runtime);
  return sourcery::rocksdb_backend(sc.storage.path, rocksdb_options_of(sc.storage), sc.runtime);
}

std::shared_ptr<sourcery::storage::engine> open_engine(const storage_settings& s) {
  if (s.engine == "postgres")
    return sourcery::storage::open_postgres_engine(s.conninfo, postgres_options_of(s));
  return sourcery::storage::open_rocksdb_engine(s.path, rocksdb_options_of(s));
}

} // namespace harness
