// The tenant storage actor serialises every change to its tenant's streams,
// so an expected-version check never races within the process (R-ES1).
// Every message answers through the completion its job carries
// (tenant_protocol.hpp); an append's life is a pending_append.
#include "tenant_storage.hpp"

#include "pending_append.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace sourcery::detail {

namespace {

struct tenant_state {
  std::shared_ptr<storage::stream_store> streams;
  const commit_path* commits = nullptr;
  tenant_slot* slot = nullptr;
  std::chrono::milliseconds idle{0};
  std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();
  /// Appends handed to the engine whose outcome has not come back.
  std::size_t in_flight = 0;
  std::shared_ptr<committed_queue> committed;

  void touch() {
    if (idle.count() > 0)
      last_active = std::chrono::steady_clock::now();
  }
};

using self_ptr = tenant_storage_actor::stateful_pointer<tenant_state>;

/// Completes `done` with what `body` returns or throws.
template <class T, class F>
void complete_with(completion<T>& done, F&& body) {
  std::optional<result<T>> r;
  try {
    r.emplace(body());
  } catch (...) {
    r.emplace(std::current_exception());
  }
  done(std::move(*r));
}

/// Checks for idleness once per `idle`: one delayed message, not one per call.
void schedule_idle_check(self_ptr self) {
  const auto& st = self->state;
  if (st.idle.count() > 0)
    self->delayed_send(self, st.last_active + st.idle - std::chrono::steady_clock::now(),
                       passivate_atom::value);
}

/// Hands the append to the engine and takes the next message while it is
/// written (R-ST3); answers now if the outcome is in already.
void on_append(self_ptr self, append_job& job) {
  auto& st = self->state;
  st.touch();
  auto p = std::make_shared<pending_append>(
    std::move(job.done), job.caller_waits, st.committed, *st.commits,
    pending_append::meter{st.slot->metrics(), &st.slot->events_committed, job.events.size(),
                          job.started});
  auto shard = st.commits->append(*st.streams, job.stream, job.expected, job.events,
                                  pending_append::engine_done(p));
  if (p->handed_over(shard))
    p->answer();
  else
    ++st.in_flight;
}

/// Answers the appends the engine reported since the last committed_atom.
void on_committed(self_ptr self) {
  auto& st = self->state;
  for (auto& p : st.committed->take()) {
    --st.in_flight;
    p->answer();
  }
}

void on_load(self_ptr self, load_job& job) {
  auto& st = self->state;
  st.touch();
  complete_with(job.done, [&] { return st.streams->read(job.stream, job.start, job.stop); });
}

void on_snapshot(self_ptr self, snapshot_job& job) {
  auto& st = self->state;
  st.touch();
  complete_with(job.done, [&] {
    st.streams->save_snapshot(job.stream, std::move(job.snapshot));
    return done_t{};
  });
}

void on_delete(self_ptr self, delete_job& job) {
  auto& st = self->state;
  st.touch();
  complete_with(job.done, [&] {
    st.streams->remove(job.stream);
    return done_t{};
  });
}

/// Quits when idle for `idle` with nothing in flight and nothing in the
/// mailbox (R-ST5): the slot spawns a fresh actor on the next call.
void on_passivate(self_ptr self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (st.in_flight == 0 && now - st.last_active >= st.idle && st.slot->try_passivate(self))
    self->quit();
  else
    schedule_idle_check(self);
}

tenant_storage_actor::behavior_type
tenant_storage(self_ptr self, std::shared_ptr<storage::stream_store> streams,
               const commit_path* commits, tenant_slot* slot, std::chrono::milliseconds idle) {
  auto& st = self->state;
  st.streams = std::move(streams);
  st.commits = commits;
  st.slot = slot;
  st.idle = idle;
  // Weak: the queue lives in this actor's state and must not keep it alive.
  st.committed = std::make_shared<committed_queue>(
    [actor = caf::actor_cast<caf::weak_actor_ptr>(self)] {
      if (auto strong = actor.lock())
        caf::anon_send(caf::actor_cast<tenant_storage_actor>(strong), committed_atom::value);
    });
  schedule_idle_check(self);
  return {
    [self](append_atom, append_job& job) { on_append(self, job); },
    [self](committed_atom) { on_committed(self); },
    [self](load_atom, load_job& job) { on_load(self, job); },
    [self](snapshot_atom, snapshot_job& job) { on_snapshot(self, job); },
    [self](delete_atom, delete_job& job) { on_delete(self, job); },
    [self](passivate_atom) { on_passivate(self); },
  };
}

} // namespace

tenant_storage_actor spawn_tenant_storage(caf::actor_system& system,
                                          std::shared_ptr<storage::stream_store> streams,
                                          const commit_path& commits, tenant_slot& slot,
                                          std::chrono::milliseconds idle) {
  return system.spawn(tenant_storage, std::move(streams), &commits, &slot, idle);
}

} // namespace sourcery::detail
