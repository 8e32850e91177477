// The rules every engine applies inside its commit: expected versions
// (R-ES1) and snapshot versions (R-ES3).
#include <sourcery/storage/engine.hpp>

#include <boost/container_hash/hash.hpp>

namespace sourcery::storage {

std::string describe_stream(const stream_id& stream, std::string_view tenant) {
  auto out = stream.to_string();
  if (!tenant.empty())
    out.append(" of tenant '").append(tenant).append("'");
  return out;
}

std::vector<std::uint64_t> check_append(const std::optional<stream_info>& current,
                                        expected_version expected,
                                        std::span<const raw_event> events,
                                        const stream_id& stream, std::string_view tenant) {
  // Named only on the way to an error: formatting ids costs more than the check.
  auto describe = [&] { return describe_stream(stream, tenant); };
  if (events.empty())
    throw invalid_argument("append to stream " + describe() + " needs at least one event");
  std::vector<std::uint64_t> versions(events.size(), 0);
  if (!expected.is_versioned()) {
    if (current && !current->versionless)
      throw no_expected_version_given_on_versioned_stream(
        "stream " + describe() + " is versioned (version " + std::to_string(current->current)
        + "); append to it with an expected version");
    for (std::size_t i = 0; i < events.size(); ++i)
      if (events[i].version)
        throw versioning_mismatch("event " + std::to_string(i)
                                  + " of the versionless append to stream " + describe()
                                  + " carries version " + std::to_string(*events[i].version)
                                  + "; events of versionless streams have none");
    return versions;
  }
  if (current && current->versionless)
    throw expected_version_used_on_versionless_stream(
      "stream " + describe() + " is versionless; append to it with no_versioning");
  auto actual = current ? current->current : 0;
  auto want = expected.value();
  if (want != actual)
    throw concurrent_stream_write_error(describe(), want, actual);
  for (std::size_t i = 0; i < events.size(); ++i) {
    versions[i] = want + i + 1;
    const auto& given = events[i].version;
    if (given && *given != versions[i])
      throw versioning_mismatch("event " + std::to_string(i) + " of the append to stream "
                                + describe() + " has version " + std::to_string(*given)
                                + ", expected " + std::to_string(versions[i]));
  }
  return versions;
}

void check_snapshot(const std::optional<stream_info>& current, raw_event& snap,
                    const stream_id& stream, std::string_view tenant) {
  auto describe = [&] { return describe_stream(stream, tenant); };
  if (!current)
    throw versioning_mismatch("cannot snapshot stream " + describe() + ": it has no events");
  if (current->versionless) {
    if (snap.version)
      throw versioning_mismatch("stream " + describe()
                                + " is versionless; its snapshot cannot have a version");
    return;
  }
  if (!snap.version)
    snap.version = current->current;
  if (*snap.version != current->current)
    throw versioning_mismatch("snapshot version " + std::to_string(*snap.version)
                              + " differs from the version of stream " + describe() + " ("
                              + std::to_string(current->current) + ")");
}

std::size_t hash_value(const cursor_key& key) noexcept {
  std::size_t seed = 0;
  boost::hash_combine(seed, key.projection);
  boost::hash_combine(seed, key.tenant_id);
  boost::hash_combine(seed, hash_value(key.stream));
  return seed;
}

} // namespace sourcery::storage
