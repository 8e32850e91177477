// The rules every engine applies inside its commit: expected versions
// (R-ES1), repeated appends (R-ES6) and snapshot versions (R-ES3).
#include <sourcery/storage/engine.hpp>

#include <boost/container_hash/hash.hpp>

#include <functional>

namespace sourcery::storage {

std::string describe_stream(const stream_id& stream, std::string_view tenant) {
  auto out = stream.to_string();
  if (!tenant.empty())
    out.append(" of tenant '").append(tenant).append("'");
  return out;
}

namespace {

/// Whether the stored record `r` is `e` as an earlier append stored it: all
/// but the data of an encrypted event, whose ciphertext is new each time.
bool same_event(const record& r, const raw_event& e) {
  return r.id == e.id && r.type == e.name && r.schema == e.schema
         && r.created_us == e.created_at.micros() && r.context == e.context
         && (e.encrypted || r.data == e.data);
}

/// On a conflict: the receipt of the stored append that `events` repeats
/// (R-ES6), or none when none of their ids is stored at the versions they
/// name. `stored` holds the stream's events at versions want+1…want+n.
/// Throws `event_id_conflict` when some are stored there but the append is
/// not that one repeated.
std::optional<append_receipt> repeated_append(const record_batch& stored, version want,
                                              std::span<const raw_event> events,
                                              const std::function<std::string()>& describe) {
  const auto& recs = stored.records;
  const record* found = nullptr;
  for (const auto& e : events) {
    for (const auto& r : recs)
      if (r.id == e.id) {
        found = &r;
        break;
      }
    if (found)
      break;
  }
  if (!found)
    return std::nullopt;
  auto conflict = [&](const std::string& detail) {
    return event_id_conflict(describe(), sourcery::to_string(found->id), found->version, detail);
  };
  if (recs.size() != events.size())
    throw conflict("that append stored " + std::to_string(recs.size()) + " event(s) at versions "
                   + std::to_string(want + 1) + "…, this one has "
                   + std::to_string(events.size()));
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const auto& r = recs[i];
    if (r.version != want + 1 + i || r.id != e.id)
      throw conflict("its event " + std::to_string(i) + " has id " + sourcery::to_string(e.id)
                     + " where that append stored " + sourcery::to_string(r.id));
    if (e.version && *e.version != r.version)
      throw versioning_mismatch("event " + std::to_string(i) + " of the append to stream "
                                + describe() + " has version " + std::to_string(*e.version)
                                + ", expected " + std::to_string(r.version));
    if (!same_event(r, e))
      throw conflict("event " + std::to_string(i) + " (id " + sourcery::to_string(e.id)
                     + ") differs from the stored one in its type, schema, time, context or data");
  }
  return append_receipt{recs.front().position, recs.back().position, want + events.size()};
}

} // namespace

append_check check_append(const std::optional<stream_info>& current, expected_version expected,
                          std::span<const raw_event> events, const stream_id& stream,
                          std::string_view tenant, stored_events stored) {
  // Named only on the way to an error: formatting ids costs more than the check.
  auto describe = [&] { return describe_stream(stream, tenant); };
  if (events.empty())
    throw invalid_argument("append to stream " + describe() + " needs at least one event");
  append_check out;
  out.versions.assign(events.size(), 0);
  auto& versions = out.versions;
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
    return out;
  }
  if (current && current->versionless)
    throw expected_version_used_on_versionless_stream(
      "stream " + describe() + " is versionless; append to it with no_versioning");
  auto actual = current ? current->current : 0;
  auto want = expected.value();
  if (want != actual) {
    // Only here, off the normal path, are stored events read (R-ES6): a
    // stream past the expected version may hold this very append, stored
    // by a call whose caller never learnt of it.
    if (want < actual) {
      auto batch = stored(want + 1, want + 1 + events.size());
      if (auto receipt = repeated_append(batch, want, events, describe)) {
        out.versions.clear();
        out.repeated = receipt;
        return out;
      }
    }
    throw concurrent_stream_write_error(describe(), want, actual);
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    versions[i] = want + i + 1;
    const auto& given = events[i].version;
    if (given && *given != versions[i])
      throw versioning_mismatch("event " + std::to_string(i) + " of the append to stream "
                                + describe() + " has version " + std::to_string(*given)
                                + ", expected " + std::to_string(versions[i]));
  }
  return out;
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
