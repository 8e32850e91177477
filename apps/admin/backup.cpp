// backup and restore (R-ADM6): a RocksDB checkpoint of the store, and a
// backup put in place of an absent or empty folder. PostgreSQL stores are
// backed up with pg_dump of their schema or with export (docs/operations.md).
#include "commands.hpp"

#include <sourcery/errors.hpp>
#include <sourcery/storage/rocksdb.hpp>

#include <filesystem>
#include <iostream>

namespace admin {

namespace fs = std::filesystem;
using namespace sourcery;

namespace {

void rocksdb_only(const common_args& c, const char* command) {
  if (c.storage.engine != "rocksdb")
    throw failure(bad_usage, std::string(command)
                               + " is for RocksDB stores; back up a PostgreSQL store with"
                                 " pg_dump --schema=<schema>, or with export and import");
}

} // namespace

int run_backup(const common_args& c, const std::string& dest) {
  rocksdb_only(c, "backup");
  std::error_code ec;
  if (fs::exists(dest, ec))
    throw failure(bad_usage, "the backup's folder " + dest + " exists already; name a new one");
  auto e = open_store(c.storage, access::change);
  try {
    storage::checkpoint_rocksdb(*e, dest);
  } catch (const storage_unavailable& ex) {
    throw failure(unavailable, ex.what());
  }
  std::cout << "backed up " << e->log().last_position() << " events to " << dest << '\n';
  return ok;
}

int run_restore(const common_args& c, const std::string& backup) {
  rocksdb_only(c, "restore");
  if (c.storage.path.empty())
    throw failure(bad_usage, "--storage.path names the folder to restore into");
  // The backup must be a store: opened read-only, it is checked and left as it is.
  auto source = open_store(storage_choice{"rocksdb", backup, "", ""}, access::read);
  auto events = source->log().last_position();
  source.reset();
  std::error_code ec;
  if (fs::exists(c.storage.path, ec) && !fs::is_empty(c.storage.path, ec))
    throw failure(bad_usage, "the folder " + c.storage.path
                               + " is not empty; restore into an absent or empty folder");
  fs::create_directories(c.storage.path, ec);
  fs::copy(backup, c.storage.path, fs::copy_options::recursive, ec);
  if (ec)
    throw failure(unavailable, "cannot copy " + backup + " to " + c.storage.path + ": "
                                         + ec.message());
  // Opened once for writing: a store RocksDB accepts, durable from now on.
  open_store(c.storage, access::change).reset();
  std::cout << "restored " << events << " events from " << backup << " to " << c.storage.path
            << '\n';
  return ok;
}

} // namespace admin
