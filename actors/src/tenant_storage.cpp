// The tenant storage actor: one per tenant, spawned on first use. It owns the
// tenant's streams (versions, snapshots, the records of each stream) and
// serialises every change to them, so version checks never race.
#include "protocol.hpp"
#include "runtime.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <unordered_map>

namespace sourcery::detail {

namespace {

struct stream_state {
  bool versionless = false;
  version current = 0; // versioned: last version; versionless: event count
  std::optional<raw_event> snapshot;
  std::vector<const log_record*> events; // after the snapshot
};

// A tenant's streams. Owned by the runtime's tenant slot, not by the actor:
// records in the global log point at stream keys, which must outlive the
// actor (it exits before the runtime's other parts are torn down).
struct tenant_state {
  runtime* rt = nullptr;
  const std::string* tenant = nullptr;
  std::unordered_map<stream_id, stream_state> streams;
  // Keys of deleted streams: records in the global log still point at them.
  std::vector<std::unordered_map<stream_id, stream_state>::node_type> retired;

  append_receipt append(append_job& job);
  stream_slice load(const load_job& job) const;
  void save_snapshot(snapshot_job& job);
  void remove(const stream_id& id);
  std::string describe(const stream_id& id) const {
    return id.to_string() + (tenant->empty() ? "" : " of tenant '" + *tenant + "'");
  }
};

/// Versions for the new events, checked against the stream (R-ES1).
std::vector<std::uint64_t> assign_versions(const tenant_state& st, const stream_id& id,
                                           const stream_state* s, const append_job& job) {
  std::vector<std::uint64_t> versions(job.events.size(), 0);
  if (!job.expected.is_versioned()) {
    if (s && !s->versionless)
      throw no_expected_version_given_on_versioned_stream(
        "stream " + st.describe(id) + " is versioned (version " + std::to_string(s->current)
        + "); append to it with an expected version");
    for (std::size_t i = 0; i < versions.size(); ++i)
      if (job.events[i].version)
        throw versioning_mismatch("event " + std::to_string(i) + " of the versionless append to stream "
                                  + st.describe(id) + " carries version "
                                  + std::to_string(*job.events[i].version)
                                  + "; events of versionless streams have none");
    return versions;
  }
  if (s && s->versionless)
    throw expected_version_used_on_versionless_stream(
      "stream " + st.describe(id) + " is versionless; append to it with no_versioning");
  auto actual = s ? s->current : 0;
  auto expected = job.expected.value();
  if (expected != actual)
    throw concurrent_stream_write_error(st.describe(id), expected, actual);
  for (std::size_t i = 0; i < versions.size(); ++i) {
    versions[i] = expected + i + 1;
    const auto& given = job.events[i].version;
    if (given && *given != versions[i])
      throw versioning_mismatch("event " + std::to_string(i) + " of the append to stream "
                                + st.describe(id) + " has version " + std::to_string(*given)
                                + ", expected " + std::to_string(versions[i]));
  }
  return versions;
}

append_receipt tenant_state::append(append_job& job) {
  if (job.events.empty())
    throw invalid_argument("append to stream " + describe(job.stream)
                           + " needs at least one event");
  auto it = streams.find(job.stream);
  auto versions = assign_versions(*this, job.stream, it == streams.end() ? nullptr : &it->second,
                                  job);
  bool created = it == streams.end();
  if (created)
    it = streams.emplace(job.stream, stream_state{.versionless = !job.expected.is_versioned(), .current = 0, .snapshot = {}, .events = {}}).first;
  std::vector<pending_event> pending(job.events.size());
  for (std::size_t i = 0; i < pending.size(); ++i)
    pending[i] = pending_event{&job.events[i], job.types[i], versions[i]};
  std::vector<const log_record*> records;
  try {
    records = rt->commit(tenant, &it->first, pending);
  } catch (...) {
    if (created)
      streams.erase(it);
    throw;
  }
  auto& s = it->second;
  s.events.insert(s.events.end(), records.begin(), records.end());
  s.current += records.size();
  return append_receipt{records.front()->pos, records.back()->pos,
                        s.versionless ? std::nullopt : std::optional<version>(s.current)};
}

stream_slice tenant_state::load(const load_job& job) const {
  stream_slice out;
  auto it = streams.find(job.stream);
  if (it == streams.end())
    return out;
  const auto& s = it->second;
  out.stream = &it->first;
  auto in_range = [&](std::optional<version> v) {
    if (!v) // versionless: slicing by version does not apply
      return true;
    return (!job.start || *v >= *job.start) && (!job.stop || *v < *job.stop);
  };
  if (s.snapshot && in_range(s.snapshot->version))
    out.snapshot = s.snapshot;
  out.events.reserve(s.events.size());
  for (const auto* r : s.events)
    if (in_range(r->opt_version()))
      out.events.push_back(r);
  return out;
}

void tenant_state::save_snapshot(snapshot_job& job) {
  auto it = streams.find(job.stream);
  if (it == streams.end())
    throw versioning_mismatch("cannot snapshot stream " + describe(job.stream)
                              + ": it has no events");
  auto& s = it->second;
  auto& snap = job.snapshot;
  if (s.versionless) {
    if (snap.version)
      throw versioning_mismatch("stream " + describe(job.stream)
                                + " is versionless; its snapshot cannot have a version");
  } else {
    if (!snap.version)
      snap.version = s.current;
    if (*snap.version != s.current)
      throw versioning_mismatch("snapshot version " + std::to_string(*snap.version)
                                + " differs from the version of stream " + describe(job.stream)
                                + " (" + std::to_string(s.current) + ")");
  }
  s.snapshot = std::move(snap);
  s.events.clear();
  s.events.shrink_to_fit();
}

void tenant_state::remove(const stream_id& id) {
  auto it = streams.find(id);
  if (it == streams.end())
    return;
  auto node = streams.extract(it);
  node.mapped() = stream_state{};
  retired.push_back(std::move(node));
}

/// Runs `body` and completes the job with its value or its exception. A
/// callback that throws must not take the tenant's actor down: its exception
/// is dropped (the caller's code owns it).
template <class T, class Job, class F>
void complete(Job& job, F&& body) {
  std::optional<result<T>> r;
  try {
    r.emplace(body());
  } catch (...) {
    r.emplace(std::current_exception());
  }
  try {
    job.done(std::move(*r));
  } catch (...) {
    // Nothing sensible to do on the actor's thread; the store stays usable.
  }
}

} // namespace

void spawn_tenant_storage(runtime& rt, tenant_slot& slot) {
  auto state = std::make_shared<tenant_state>();
  state->rt = &rt;
  state->tenant = slot.id;
  slot.storage = state;
  auto behavior = [](tenant_storage_actor::pointer, tenant_state* st) -> tenant_storage_actor::behavior_type {
    return {
      [st](append_atom, append_job& job) {
        complete<append_receipt>(job, [&] { return st->append(job); });
      },
      [st](load_atom, load_job& job) {
        complete<stream_slice>(job, [&] { return st->load(job); });
      },
      [st](snapshot_atom, snapshot_job& job) {
        complete<done_t>(job, [&] {
          st->save_snapshot(job);
          return done_t{};
        });
      },
      [st](delete_atom, delete_job& job) {
        complete<done_t>(job, [&] {
          st->remove(job.stream);
          return done_t{};
        });
      },
    };
  };
  slot.actor = rt.system().spawn(behavior, state.get());
}

} // namespace sourcery::detail
