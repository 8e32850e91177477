// sourcery-admin: the operator's program for every durable engine (R-ADM1).
// What its commands share: the storage chosen on the command line, opening
// it for reading or for changing, the exit codes and the errors behind them,
// and printing tables or JSON.
#pragma once

#include <sourcery/storage/engine.hpp>

#include <boost/json.hpp>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace admin {

/// The exit codes (R-ADM3).
enum exit_code : int {
  ok = 0,
  problem_found = 1, // verify found damage; an unknown stream or tenant
  bad_usage = 2,
  unavailable = 3, // storage absent, not a store, locked, damaged, unreachable
};

/// An error that ends the program with `code` and one line on stderr.
struct failure : std::runtime_error {
  failure(exit_code c, const std::string& message) : std::runtime_error(message), code(c) {}
  exit_code code;
};

/// The storage options, named as the harness names them.
struct storage_choice {
  std::string engine = "rocksdb";
  std::string path;
  std::string conninfo;
  std::string schema = "sourcery";
};

/// How a command uses the store: reading opens a RocksDB store read-only
/// (R-ADM2); changing needs it to itself.
enum class access { read, change };

/// The engine `choice` names, opened for `how`; throws `failure` with the
/// reason an operator can act on.
std::shared_ptr<sourcery::storage::engine> open_store(const storage_choice& choice, access how);

/// A new store for an import (R-ADM5), made beside the store `choice` names
/// — a hidden sibling folder, another schema — and put in its place only by
/// `commit`: an import that fails, or is killed, leaves the named store as it
/// was. The named store must be absent or hold no events (checked when made
/// and again at `commit`).
class import_target {
public:
  explicit import_target(const storage_choice& choice);
  import_target(const import_target&) = delete;
  /// Uncommitted: the new store is dropped.
  ~import_target();

  sourcery::storage::engine& engine() { return *engine_; }
  /// Closes the new store and moves it to where `choice` names.
  void commit();
  /// Where the new store is while it is filled (a folder, or a schema).
  const std::string& staging() const noexcept { return staging_; }

private:
  storage_choice target_;
  std::string staging_;
  std::shared_ptr<sourcery::storage::engine> engine_;
  bool committed_ = false;
};

/// The engine's operator part; throws `failure` when it has none.
sourcery::storage::store_admin& admin_of(sourcery::storage::engine& e);

/// How output is printed.
struct output {
  bool json = false;
  std::ostream* out = nullptr;
};

/// `v` on one line.
void print_json(std::ostream& out, const boost::json::value& v);

/// A table: a header row, then rows, columns padded to their widest cell.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

/// "category/uuid (name)" of a stream, as the tables print it.
std::string stream_text(const sourcery::stream_id& s);

/// The stream a command names: a UUID, or a name (a named stream's UUID),
/// within `category`.
sourcery::stream_id parse_stream(const std::string& text, const std::optional<std::string>& category);

/// JSON of a stream id: {"id", "category", "name"} (absent parts null).
boost::json::value stream_json(const sourcery::stream_id& s);
sourcery::stream_id stream_from_json(const boost::json::value& v);

/// A record's stored data or context as JSON when it parses, else as a string.
boost::json::value payload_json(std::string_view text);

} // namespace admin
