// backup and restore (R-ADM6): a RocksDB checkpoint of the store (or, when
// a service has it open, a copy through a read-only view), and a backup put
// in place of an absent or empty folder. PostgreSQL stores are
// backed up with pg_dump of their schema or with export (docs/operations.md).
#include "commands.hpp"

#include <sourcery/errors.hpp>
#include <sourcery/storage/rocksdb.hpp>

#include <filesystem>
#include <iostream>
#include <sstream>

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

/// A store another process has open: copied through a read-only view (as
/// of its opening, every acknowledged append in it), by an export to a file
/// beside the backup and an import of it, plus the keys file.
int logical_backup(const common_args& c, const std::string& dest) {
  auto file = dest + ".export.ndjson";
  std::cout << "the store is in use by another process: copying it through a read-only view"
               " (export, then import)\n";
  export_args ea;
  ea.file = file;
  run_export(c, ea);
  common_args to = c;
  to.storage.path = dest;
  std::ostringstream said;
  auto* shown = std::cout.rdbuf(said.rdbuf());
  try {
    run_import(to, file);
  } catch (...) {
    std::cout.rdbuf(shown);
    throw;
  }
  std::cout.rdbuf(shown);
  std::error_code ec;
  fs::remove(file, ec);
  auto keys = fs::path(c.storage.path) / "keys";
  if (fs::exists(keys, ec))
    fs::copy_file(keys, fs::path(dest) / "keys", ec);
  if (ec)
    throw failure(unavailable, "cannot copy the keys to " + dest + ": " + ec.message());
  auto copy = open_store(storage_choice{"rocksdb", dest, "", ""}, access::read);
  std::cout << "backed up " << copy->log().last_position() << " events to " << dest << '\n';
  return ok;
}

} // namespace

int run_backup(const common_args& c, const std::string& dest) {
  rocksdb_only(c, "backup");
  std::error_code ec;
  if (fs::exists(dest, ec))
    throw failure(bad_usage, "the backup's folder " + dest + " exists already; name a new one");
  std::shared_ptr<storage::engine> e;
  try {
    e = open_store(c.storage, access::change);
  } catch (const failure& f) {
    if (std::string(f.what()).find("in use by another process") == std::string::npos)
      throw;
    return logical_backup(c, dest);
  }
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
