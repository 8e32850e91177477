// Opening the store a command names, and the output helpers (admin.hpp).
#include "admin.hpp"

#include <sourcery/errors.hpp>
#ifdef SOURCERY_ADMIN_POSTGRES
#include <sourcery/storage/postgres.hpp>
#endif
#include <sourcery/storage/rocksdb.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>

namespace admin {

namespace fs = std::filesystem;
using namespace sourcery;

namespace {

bool locked(const std::string& message) {
  return message.find("lock") != std::string::npos || message.find("LOCK") != std::string::npos;
}

/// Throws unless the RocksDB store in `path` is absent, an empty folder or
/// a store without events.
void require_empty_rocksdb(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec) || (fs::is_directory(path, ec) && fs::is_empty(path, ec)))
    return;
  if (!fs::is_directory(path, ec) || !fs::exists(fs::path(path) / "CURRENT", ec))
    throw failure(unavailable, path + " holds files that are not a Sourcery store");
  storage::rocksdb_options look;
  look.read_only = true;
  position last = 0;
  try {
    last = storage::open_rocksdb_engine(path, look)->log().last_position();
  } catch (const std::exception& e) {
    throw failure(admin::unavailable, e.what());
  }
  if (last != 0)
    throw failure(problem_found, "the store in " + path + " is not empty (last position "
                                   + std::to_string(last) + "): an import needs an empty store");
}

/// `path`'s folder made durable: a rename in it survives a crash.
void sync_folder(const fs::path& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    throw failure(unavailable, "cannot open " + folder.string() + ": " + std::strerror(errno));
  int r = ::fsync(fd);
  ::close(fd);
  if (r != 0)
    throw failure(unavailable, "cannot sync " + folder.string() + ": " + std::strerror(errno));
}

std::shared_ptr<storage::engine> open_rocksdb(const storage_choice& c, access how,
                                              bool create = false) {
  if (c.path.empty())
    throw failure(bad_usage, "--storage.path is required for the rocksdb engine");
  std::error_code ec;
  if (!create) {
    if (!fs::exists(c.path, ec))
      throw failure(unavailable, "there is no folder " + c.path);
    if (!fs::is_directory(c.path, ec))
      throw failure(unavailable, c.path + " is not a folder");
    if (fs::is_empty(c.path, ec))
      throw failure(unavailable, "the folder " + c.path + " is empty: it holds no store");
  }
  storage::rocksdb_options o;
  o.read_only = how == access::read;
  // Written to the operating system, not fsync'd per append: an import's
  // store is closed (flushed) before it is put in place, and a repair
  // interrupted by a machine's crash is run again.
  o.durability = storage::rocksdb_options::durability::normal;
  try {
    return storage::open_rocksdb_engine(c.path, o);
  } catch (const storage_unavailable& e) {
    if (locked(e.what()))
      throw failure(admin::unavailable,
                    "the store in " + c.path
                      + " is in use by another process (it holds the store's LOCK); stop that"
                        " process to change the store, or read it meanwhile: info, tenants,"
                        " streams, read, log, outbox status, outbox dead-letters, verify and"
                        " export open it read-only");
    throw failure(admin::unavailable, e.what());
  } catch (const storage_corrupt& e) {
    throw failure(admin::unavailable, e.what());
  } catch (const storage_version_mismatch& e) {
    throw failure(admin::unavailable, e.what());
  }
}

#ifdef SOURCERY_ADMIN_POSTGRES
/// Runs `f`, turning the engine's errors into failures.
template <class F>
auto postgres_call(F&& f) {
  try {
    return f();
  } catch (const invalid_argument& e) {
    throw failure(bad_usage, e.what());
  } catch (const storage_unavailable& e) {
    throw failure(admin::unavailable, e.what());
  } catch (const storage_corrupt& e) {
    throw failure(admin::unavailable, e.what());
  } catch (const storage_version_mismatch& e) {
    throw failure(admin::unavailable, e.what());
  }
}
#endif

std::shared_ptr<storage::engine> open_postgres(const storage_choice& c, bool create = false) {
#ifndef SOURCERY_ADMIN_POSTGRES
  (void)c;
  (void)create;
  throw failure(bad_usage, "this build has no PostgreSQL engine");
#else
  storage::postgres_options o;
  o.schema = c.schema;
  o.create = create;
  return postgres_call([&] { return storage::open_postgres_engine(c.conninfo, o); });
#endif
}

/// Throws unless the schema `c` names holds no store or one without events.
void require_empty_postgres(const storage_choice& c) {
#ifdef SOURCERY_ADMIN_POSTGRES
  std::shared_ptr<storage::engine> e;
  try {
    storage::postgres_options o;
    o.schema = c.schema;
    o.create = false;
    e = storage::open_postgres_engine(c.conninfo, o);
  } catch (const storage_unavailable&) {
    return; // no store there; or no server, which making the new store will say
  } catch (const invalid_argument& ex) {
    throw failure(bad_usage, ex.what());
  } catch (const std::exception& ex) {
    throw failure(admin::unavailable, ex.what());
  }
  if (auto last = e->log().last_position(); last != 0)
    throw failure(problem_found, "the store in schema " + c.schema + " is not empty (last"
                                 " position " + std::to_string(last)
                                   + "): an import needs an empty store");
#else
  (void)c;
#endif
}

} // namespace

std::shared_ptr<storage::engine> open_store(const storage_choice& choice, access how) {
  if (choice.engine == "rocksdb")
    return open_rocksdb(choice, how);
  if (choice.engine == "postgres")
    return open_postgres(choice);
  if (choice.engine == "in_memory")
    throw failure(bad_usage, "an in_memory store lives only inside its own process; choose"
                             " --storage.engine=rocksdb or postgres");
  throw failure(bad_usage, "unknown --storage.engine '" + choice.engine
                             + "' (rocksdb or postgres)");
}

import_target::import_target(const storage_choice& choice) : target_(choice) {
  auto staged = choice;
  if (choice.engine == "rocksdb") {
    if (choice.path.empty())
      throw failure(bad_usage, "--storage.path is required for the rocksdb engine");
    require_empty_rocksdb(choice.path);
    auto target = fs::absolute(choice.path).lexically_normal();
    if (target.filename().empty()) // "folder/"
      target = target.parent_path();
    auto parent = target.parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec))
      throw failure(unavailable, "there is no folder " + parent.string());
    std::string name = ".";
    name += target.filename().string();
    name += ".importing-";
    name += std::to_string(::getpid());
    staged.path = (parent / name).string();
    fs::remove_all(staged.path, ec); // this process id's: left by an import that was killed
    staging_ = staged.path;
    engine_ = open_rocksdb(staged, access::change, true);
  } else if (choice.engine == "postgres") {
    require_empty_postgres(choice);
    std::random_device random;
    char tag[16];
    std::snprintf(tag, sizeof tag, "%08x", static_cast<unsigned>(random()));
    staged.schema = "sourcery_import_" + std::to_string(::getpid()) + "_" + tag;
    staging_ = staged.schema;
    engine_ = open_postgres(staged, true);
  } else {
    open_store(choice, access::read); // throws what is wrong with the choice
  }
}

import_target::~import_target() {
  if (committed_ || staging_.empty())
    return;
  engine_.reset();
  try {
    if (target_.engine == "rocksdb")
      fs::remove_all(staging_);
#ifdef SOURCERY_ADMIN_POSTGRES
    else
      storage::drop_postgres_store(target_.conninfo, staging_);
#endif
  } catch (const std::exception& e) {
    std::cerr << "sourcery-admin: the unfinished import in " << staging_
              << " could not be removed: " << e.what() << '\n';
  }
}

void import_target::commit() {
  engine_.reset(); // closed: flushed, and no file or connection of it open
  if (target_.engine == "rocksdb") {
    require_empty_rocksdb(target_.path); // again: another process may have written since
    fs::path target = fs::absolute(target_.path);
    std::error_code ec;
    try {
      if (fs::exists(target, ec) && !fs::is_empty(target, ec))
        fs::remove_all(target); // a store without events
      fs::rename(staging_, target); // replaces an empty folder
    } catch (const fs::filesystem_error& e) {
      throw failure(unavailable, "cannot put the imported store in place of " + target_.path
                                   + " (it stays in " + staging_ + "): " + e.what());
    }
    sync_folder(target.lexically_normal().parent_path());
  } else {
#ifdef SOURCERY_ADMIN_POSTGRES
    try {
      storage::rename_postgres_store(target_.conninfo, staging_, target_.schema);
    } catch (const invalid_argument& e) {
      throw failure(problem_found, std::string(e.what()) + ": an import needs an empty store");
    } catch (const std::exception& e) {
      throw failure(unavailable, "cannot put the imported store in schema " + target_.schema
                                   + ": " + e.what());
    }
#endif
  }
  committed_ = true;
}

storage::store_admin& admin_of(storage::engine& e) {
  auto* a = e.admin();
  if (!a)
    throw failure(unavailable, "the " + std::string(e.name())
                                         + " engine offers no operator access");
  return *a;
}

void print_json(std::ostream& out, const boost::json::value& v) {
  out << boost::json::serialize(v) << '\n';
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i)
    width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size())
        text += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out << text << '\n';
  };
  line(header);
  for (const auto& r : rows)
    line(r);
}

std::string stream_text(const stream_id& s) {
  std::string out = s.category() ? *s.category() + "/" : std::string();
  out += to_string(s.id());
  if (s.name())
    out += " (" + *s.name() + ")";
  return out;
}

stream_id parse_stream(const std::string& text, const std::optional<std::string>& category) {
  try {
    return stream_id(parse_uuid(text), category);
  } catch (const invalid_argument&) {
    return stream_id::named(text, category);
  }
}

boost::json::value stream_json(const stream_id& s) {
  boost::json::object o;
  o["id"] = to_string(s.id());
  o["category"] = s.category() ? boost::json::value(*s.category()) : nullptr;
  o["name"] = s.name() ? boost::json::value(*s.name()) : nullptr;
  return o;
}

stream_id stream_from_json(const boost::json::value& v) {
  const auto& o = v.as_object();
  std::optional<std::string> category, name;
  if (!o.at("category").is_null())
    category = std::string(o.at("category").as_string());
  if (!o.at("name").is_null())
    name = std::string(o.at("name").as_string());
  return stream_id(parse_uuid(o.at("id").as_string()), category, name);
}

boost::json::value payload_json(std::string_view text) {
  boost::json::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec)
    return boost::json::string(text);
  return v;
}

} // namespace admin
