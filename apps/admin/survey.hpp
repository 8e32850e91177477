// One pass over the global log that finds what the store holds: its tenants
// and streams with their events' counts and positions (streams and tenants
// exist only through their events, so the log names every one).
#pragma once

#include <sourcery/storage/engine.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace admin {

struct stream_entry {
  std::string tenant;
  sourcery::stream_id stream{sourcery::uuid{}};
  std::uint64_t events = 0; // in the log, deleted generations included
  sourcery::position first = 0, last = 0;
};

struct tenant_entry {
  std::uint64_t streams = 0, events = 0;
  sourcery::position first = 0, last = 0;
};

struct survey {
  sourcery::position last_position = 0;
  std::uint64_t events = 0;
  std::map<std::string, tenant_entry> tenants;
  std::vector<stream_entry> streams; // in the order of their first event
};

/// The records of the log with positions in [from, to], in order, in
/// batches, each read while `visit` sees the one before it (on a second
/// thread, one for the whole pass). Reads as the engine gives them (a hole throws what the engine
/// throws, after `visit` saw every record before the failed batch).
void for_each_record(const sourcery::storage::log& log, sourcery::position from,
                     sourcery::position to,
                     const std::function<void(const sourcery::storage::record&)>& visit);

/// A survey built one record at a time, in log order (`survey_store` runs
/// it over the whole log; `export` beside its own use of each record).
class surveyor {
public:
  /// `tenant`: only that tenant's streams and events are kept.
  explicit surveyor(std::optional<std::string> tenant = std::nullopt)
    : tenant_(std::move(tenant)) {}

  void add(const sourcery::storage::record& r);

  survey result; // last_position is the caller's to set

private:
  std::optional<std::string> tenant_;
  std::unordered_map<std::string, std::size_t> index_; // stream key → result.streams
  std::string key_;                                    // reused for each record
  std::string tenant_name_;                            // of the last record's tenant
  tenant_entry* tenant_entry_ = nullptr;               // in result.tenants (a map: stable)
};

/// The whole log surveyed; `tenant` keeps only that tenant's streams.
survey survey_store(sourcery::storage::engine& e,
                    const std::optional<std::string>& tenant = std::nullopt);

/// The key the survey and verify tell streams apart by (tenant, UUID, category).
std::string stream_key(std::string_view tenant, const sourcery::stream_id& s);
/// The same into `out`, its buffer reused (once per record on the hot path).
void stream_key(std::string& out, std::string_view tenant, const sourcery::stream_id& s);

/// "'acme'", or "the default tenant" for "".
std::string tenant_text(const std::string& tenant);

} // namespace admin
