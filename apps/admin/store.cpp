// Opening the store a command names, and the output helpers (admin.hpp).
#include "admin.hpp"

#include <sourcery/errors.hpp>
#ifdef SOURCERY_ADMIN_POSTGRES
#include <sourcery/storage/postgres.hpp>
#endif
#include <sourcery/storage/rocksdb.hpp>

#include <algorithm>
#include <filesystem>
#include <ostream>

namespace admin {

namespace fs = std::filesystem;
using namespace sourcery;

namespace {

bool locked(const std::string& message) {
  return message.find("lock") != std::string::npos || message.find("LOCK") != std::string::npos;
}

std::shared_ptr<storage::engine> open_rocksdb(const storage_choice& c, access how) {
  if (c.path.empty())
    throw failure(bad_usage, "--storage.path is required for the rocksdb engine");
  std::error_code ec;
  bool exists = fs::exists(c.path, ec);
  bool empty = exists && fs::is_directory(c.path, ec) && fs::is_empty(c.path, ec);
  if (how == access::create) {
    if (exists && !empty && !fs::exists(fs::path(c.path) / "CURRENT", ec))
      throw failure(unavailable, c.path + " holds files that are not a Sourcery store");
  } else if (!exists) {
    throw failure(unavailable, "there is no folder " + c.path);
  } else if (!fs::is_directory(c.path, ec)) {
    throw failure(unavailable, c.path + " is not a folder");
  } else if (empty) {
    throw failure(unavailable, "the folder " + c.path + " is empty: it holds no store");
  }
  if (how == access::create && exists && !empty) { // a store: it must be empty, checked read-only
    storage::rocksdb_options look;
    look.read_only = true;
    position last = 0;
    try {
      last = storage::open_rocksdb_engine(c.path, look)->log().last_position();
    } catch (const std::exception& e) {
      throw failure(admin::unavailable, e.what());
    }
    if (last != 0)
      throw failure(problem_found, "the store in " + c.path + " is not empty (last position "
                                     + std::to_string(last) + "): an import needs an empty store");
  }
  storage::rocksdb_options o;
  o.read_only = how == access::read;
  // Written to the operating system, not fsync'd per append: an import or a
  // repair interrupted by a machine's crash is run again.
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

std::shared_ptr<storage::engine> open_postgres(const storage_choice& c, access how) {
#ifndef SOURCERY_ADMIN_POSTGRES
  (void)c;
  (void)how;
  throw failure(bad_usage, "this build has no PostgreSQL engine");
#else
  storage::postgres_options o;
  o.schema = c.schema;
  o.create = how == access::create;
  try {
    auto e = storage::open_postgres_engine(c.conninfo, o);
    if (how == access::create && e->log().last_position() != 0)
      throw failure(problem_found, "the store in schema " + c.schema + " is not empty (last"
                                   " position " + std::to_string(e->log().last_position())
                                     + "): an import needs an empty store");
    return e;
  } catch (const invalid_argument& e) {
    throw failure(bad_usage, e.what());
  } catch (const storage_unavailable& e) {
    throw failure(admin::unavailable, e.what());
  } catch (const storage_corrupt& e) {
    throw failure(admin::unavailable, e.what());
  } catch (const storage_version_mismatch& e) {
    throw failure(admin::unavailable, e.what());
  }
#endif
}

} // namespace

std::shared_ptr<storage::engine> open_store(const storage_choice& choice, access how) {
  if (choice.engine == "rocksdb")
    return open_rocksdb(choice, how);
  if (choice.engine == "postgres")
    return open_postgres(choice, how);
  if (choice.engine == "in_memory")
    throw failure(bad_usage, "an in_memory store lives only inside its own process; choose"
                             " --storage.engine=rocksdb or postgres");
  throw failure(bad_usage, "unknown --storage.engine '" + choice.engine
                             + "' (rocksdb or postgres)");
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
