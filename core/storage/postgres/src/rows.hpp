// Records read from the events table: result rows as `record` views. The
// views point into the PGresult (binary format), which `rows` owns with the
// stream ids they point to.
#pragma once

#include "connection.hpp"

#include <sourcery/storage/engine.hpp>

#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace sourcery::storage::postgres_detail {

/// The columns `read_record` expects, in order, for events aliased `e`.
inline constexpr std::string_view record_columns =
  "e.position, e.tenant, e.stream, e.category, e.name, e.id, e.created_us, e.version, e.type,"
  " e.data, e.context, e.schema";
inline constexpr int record_column_count = 12;

/// Owns what the records of one result view.
struct rows {
  explicit rows(result_ptr r) : result(std::move(r)) {}
  result_ptr result;
  std::deque<stream_id> streams; // stable addresses
};

/// The record in `row` whose columns start at `first` (see record_columns).
record read_record(rows& owner, int row, int first);

/// The bytes of a stream's key: tenant, UUID, category (R-S1 identity).
std::string stream_key(std::string_view tenant, const stream_id& stream);

} // namespace sourcery::storage::postgres_detail
