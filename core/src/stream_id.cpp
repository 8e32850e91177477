#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid_hash.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <ostream>

namespace sourcery {

uuid stream_namespace() noexcept {
  // 3a24a3ee-d33d-4266-93ab-7d8e256a6d44
  return uuid{{0x3a, 0x24, 0xa3, 0xee, 0xd3, 0x3d, 0x42, 0x66, 0x93, 0xab, 0x7d,
               0x8e, 0x25, 0x6a, 0x6d, 0x44}};
}

uuid random_uuid() {
  thread_local boost::uuids::random_generator_mt19937 generator;
  return generator();
}

uuid parse_uuid(std::string_view text) {
  try {
    return boost::uuids::string_generator{}(text.begin(), text.end());
  } catch (const std::exception&) {
    throw invalid_argument("malformed UUID '" + std::string(text.substr(0, 64)) + "'");
  }
}

std::string to_string(const uuid& id) {
  return boost::uuids::to_string(id);
}

namespace {
uuid name_uuid(const std::string& name) {
  return boost::uuids::name_generator_sha1{stream_namespace()}(name);
}
} // namespace

stream_id stream_id::random(std::optional<std::string> category) {
  return stream_id(random_uuid(), std::move(category));
}

stream_id stream_id::named(std::string name, std::optional<std::string> category) {
  auto id = name_uuid(name);
  return stream_id(id, std::move(category), std::move(name));
}

stream_id::stream_id(uuid id, std::optional<std::string> category,
                     std::optional<std::string> name)
  : uuid_(id), category_(std::move(category)), name_(std::move(name)) {
  if (name_ && name_uuid(*name_) != uuid_)
    throw incompatible_uuid_and_name("stream UUID " + sourcery::to_string(uuid_)
                                     + " is not the UUID of the name '" + *name_
                                     + "' (" + sourcery::to_string(name_uuid(*name_))
                                     + ")");
}

stream_id stream_id::from_string(std::string_view id, std::optional<std::string> category,
                                 std::optional<std::string> name) {
  return stream_id(parse_uuid(id), std::move(category), std::move(name));
}

std::string stream_id::to_string() const {
  std::string out = category_ ? *category_ + "/" : std::string();
  out += sourcery::to_string(uuid_);
  if (name_)
    out += " ('" + *name_ + "')";
  return out;
}

std::size_t hash_value(const stream_id& id) noexcept {
  std::size_t h = boost::uuids::hash_value(id.id());
  if (id.category())
    h ^= std::hash<std::string>{}(*id.category()) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

std::ostream& operator<<(std::ostream& os, const stream_id& id) {
  return os << id.to_string();
}

} // namespace sourcery
