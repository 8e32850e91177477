// The tenant storage actor serialises every change to its tenant's streams,
// so an expected-version check never races within the process (R-ES1).
#include "tenant_storage.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace sourcery::detail {

namespace {

/// Runs `body`, completes the job with its value or its exception, and
/// returns the same outcome as the typed response.
template <class T, class Job, class F>
caf::result<T> complete(Job& job, F&& body) {
  std::optional<result<T>> r;
  try {
    r.emplace(body());
  } catch (...) {
    r.emplace(std::current_exception());
  }
  if (!job.done) {
    if (r->ok())
      return std::move(r->value());
    return to_caf_error(r->exception());
  }
  auto error = r->exception();
  job.done(std::move(*r));
  if (error)
    return to_caf_error(error);
  return T{}; // the facade's caller took the value; an anonymous sender gets nothing
}

struct tenant_state {
  std::shared_ptr<storage::stream_store> streams;
  const commit_path* commits = nullptr;
};

} // namespace

tenant_storage_actor spawn_tenant_storage(caf::actor_system& system,
                                          std::shared_ptr<storage::stream_store> streams,
                                          const commit_path& commits) {
  auto behavior = [](tenant_storage_actor::pointer,
                     std::shared_ptr<tenant_state> st) -> tenant_storage_actor::behavior_type {
    return {
      [st](append_atom, append_job& job) {
        return complete<append_receipt>(job, [&] {
          return st->commits->append(*st->streams, job.stream, job.expected, job.events);
        });
      },
      [st](load_atom, load_job& job) {
        return complete<storage::stream_read>(
          job, [&] { return st->streams->read(job.stream, job.start, job.stop); });
      },
      [st](snapshot_atom, snapshot_job& job) {
        return complete<done_t>(job, [&] {
          st->streams->save_snapshot(job.stream, std::move(job.snapshot));
          return done_t{};
        });
      },
      [st](delete_atom, delete_job& job) {
        return complete<done_t>(job, [&] {
          st->streams->remove(job.stream);
          return done_t{};
        });
      },
    };
  };
  auto state = std::make_shared<tenant_state>(tenant_state{std::move(streams), &commits});
  return system.spawn(behavior, std::move(state));
}

} // namespace sourcery::detail
