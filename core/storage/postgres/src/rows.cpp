#include "rows.hpp"

namespace sourcery::storage::postgres_detail {

namespace {

std::optional<std::string> optional_bytes(const PGresult* r, int row, int col) {
  if (is_null(r, row, col))
    return std::nullopt;
  return std::string(get_bytes(r, row, col));
}

void put_length(std::string& out, std::size_t n) {
  auto v = static_cast<std::uint32_t>(n);
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

} // namespace

record read_record(rows& owner, int row, int first) {
  const PGresult* r = owner.result.get();
  record out;
  out.position = static_cast<position>(get_i64(r, row, first));
  out.tenant = get_bytes(r, row, first + 1);
  try {
    owner.streams.emplace_back(get_id(r, row, first + 2), optional_bytes(r, row, first + 3),
                               optional_bytes(r, row, first + 4));
  } catch (const incompatible_uuid_and_name&) {
    throw storage_corrupt("the stream of the event at position " + std::to_string(out.position)
                          + " has a name that does not match its UUID");
  }
  out.stream = &owner.streams.back();
  out.id = get_id(r, row, first + 5);
  out.created_us = get_i64(r, row, first + 6);
  out.version = static_cast<std::uint64_t>(get_i64(r, row, first + 7));
  out.type = get_bytes(r, row, first + 8);
  out.data = get_bytes(r, row, first + 9);
  out.context = get_bytes(r, row, first + 10);
  out.schema = static_cast<std::uint32_t>(get_i32(r, row, first + 11));
  return out;
}

std::string stream_key(std::string_view tenant, const stream_id& stream) {
  std::string out;
  out.reserve(tenant.size() + 32);
  put_length(out, tenant.size());
  out.append(tenant);
  out.append(reinterpret_cast<const char*>(stream.id().data), 16);
  if (const auto& c = stream.category()) {
    out += '\1';
    out.append(*c);
  } else {
    out += '\0';
  }
  return out;
}

} // namespace sourcery::storage::postgres_detail
