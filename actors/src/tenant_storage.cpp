// The tenant storage actor serialises every change to its tenant's streams,
// so an expected-version check never races within the process (R-ES1).
#include "tenant_storage.hpp"

#include <caf/actor_system.hpp>
#include <caf/delegated.hpp>
#include <caf/send.hpp>
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

/// Answers an append's caller: the facade's completion, or the requester.
void answer(append_call& c) {
  if (c.receipt) {
    c.done(*c.receipt);
    if (c.requested)
      c.promise.deliver(std::move(*c.receipt));
  } else {
    c.done(c.error);
    if (c.requested)
      c.promise.deliver(to_caf_error(c.error));
  }
}

struct tenant_state {
  std::shared_ptr<storage::stream_store> streams;
  const commit_path* commits = nullptr;
  tenant_slot* slot = nullptr;
  std::chrono::milliseconds idle{0};
  std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();
  /// Appends handed to the engine whose outcome has not come back.
  std::size_t in_flight = 0;
  std::shared_ptr<committed_queue> committed = std::make_shared<committed_queue>();

  void touch() {
    if (idle.count() > 0)
      last_active = std::chrono::steady_clock::now();
  }
};

using self_ptr = tenant_storage_actor::pointer;

/// Checks for idleness once per `idle`: one delayed message, not one per call.
void schedule_idle_check(self_ptr self, const tenant_state& st) {
  if (st.idle.count() > 0)
    self->delayed_send(self, st.last_active + st.idle - std::chrono::steady_clock::now(),
                       passivate_atom::value);
}

} // namespace

tenant_storage_actor spawn_tenant_storage(caf::actor_system& system,
                                          std::shared_ptr<storage::stream_store> streams,
                                          const commit_path& commits, tenant_slot& slot,
                                          std::chrono::milliseconds idle) {
  auto behavior = [](self_ptr self,
                     std::shared_ptr<tenant_state> st) -> tenant_storage_actor::behavior_type {
    schedule_idle_check(self, *st);
    return {
      [self, st](append_atom, append_job& job) -> caf::result<append_receipt> {
        // The actor does not wait for the commit to be durable: it takes the
        // next append while the engine writes this one (R-ST3).
        st->touch();
        auto call = std::make_shared<append_call>();
        call->done = std::move(job.done);
        call->requested = !call->done;
        call->caller_waits = job.caller_waits;
        if (call->requested)
          call->promise = self->make_response_promise<append_receipt>();
        call->actor = caf::actor_cast<caf::strong_actor_ptr>(self);
        call->queue = st->committed;
        call->commits = st->commits;
        // Captures one shared_ptr: std::function keeps it without allocating.
        auto shard = st->commits->append(
          *st->streams, job.stream, job.expected, job.events,
          [call](std::optional<append_receipt> receipt, std::exception_ptr error) {
            call->receipt = std::move(receipt);
            call->error = std::move(error);
            int expected = append_call::handing_over;
            const auto* commits = call->commits;
            if (!call->stage.compare_exchange_strong(expected, append_call::arrived,
                                                     std::memory_order_acq_rel)) {
              if (call->caller_waits)
                answer(*call); // before it is added: the actor answers only added calls
              // Taken first: once added, the actor may take the call and reset it.
              auto actor = caf::actor_cast<tenant_storage_actor>(call->actor);
              if (auto queue = call->queue.lock(); queue && queue->add(call))
                caf::anon_send(actor, committed_atom::value);
            }
            commits->leave();
          });
        call->wake_shard = shard;
        int expected = append_call::handing_over;
        if (call->stage.compare_exchange_strong(expected, append_call::deferred,
                                                std::memory_order_acq_rel)) {
          ++st->in_flight;
          if (call->requested)
            return call->promise;
          return caf::delegated<append_receipt>{};
        }
        call->actor = nullptr;
        if (call->receipt)
          st->commits->wake(shard);
        if (!call->requested) {
          answer(*call);
          return caf::delegated<append_receipt>{}; // an anonymous sender gets nothing
        }
        if (call->receipt)
          return std::move(*call->receipt);
        return to_caf_error(call->error);
      },
      [st](committed_atom) {
        for (auto& call : st->committed->take()) {
          --st->in_flight;
          call->actor = nullptr;
          if (call->receipt)
            st->commits->wake(call->wake_shard);
          answer(*call);
        }
      },
      [st](load_atom, load_job& job) {
        st->touch();
        return complete<storage::stream_read>(
          job, [&] { return st->streams->read(job.stream, job.start, job.stop); });
      },
      [st](snapshot_atom, snapshot_job& job) {
        st->touch();
        return complete<done_t>(job, [&] {
          st->streams->save_snapshot(job.stream, std::move(job.snapshot));
          return done_t{};
        });
      },
      [st](delete_atom, delete_job& job) {
        st->touch();
        return complete<done_t>(job, [&] {
          st->streams->remove(job.stream);
          return done_t{};
        });
      },
      [self, st](passivate_atom) {
        auto now = std::chrono::steady_clock::now();
        if (st->in_flight == 0 && now - st->last_active >= st->idle
            && st->slot->try_passivate(self))
          self->quit(); // the slot spawns a fresh actor on the next call
        else
          schedule_idle_check(self, *st);
      },
    };
  };
  auto state = std::make_shared<tenant_state>(
    tenant_state{std::move(streams), &commits, &slot, idle, std::chrono::steady_clock::now()});
  return system.spawn(behavior, std::move(state));
}

} // namespace sourcery::detail
