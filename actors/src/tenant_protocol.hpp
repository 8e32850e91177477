// The protocol of the tenant storage actor (SPEC §10): one actor per tenant
// owns that tenant's streams and serialises every change to them.
//
// Each request carries its arguments and, for callers outside the actor
// world (the event_store facade), a `completion` that runs exactly once. An
// actor that `request`s instead gets the typed response, or an error when the
// tenant actor is gone.
#pragma once

#include <sourcery/filters.hpp>
#include <sourcery/result.hpp>
#include <sourcery/storage/engine.hpp>

#include "completion.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace sourcery::detail {

class commit_path;

using append_atom = caf::atom_constant<caf::atom("append")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;

struct append_job {
  stream_id stream;
  std::vector<raw_event> events;
  expected_version expected;
  completion<append_receipt> done;
  /// `done` only wakes a thread blocked in the facade (no user code): the
  /// engine's thread may run it the moment the outcome is in.
  bool caller_waits = false;
};

struct append_call;
using append_call_ptr = std::shared_ptr<append_call>;

/// The tenant actor's appends whose outcome the engine reported after the
/// actor handed them over, in the order reported. The engine's thread adds
/// them and sends one `committed_atom` when the queue was empty; the actor
/// takes them all at once. So a write of many appends costs the writer one
/// message per tenant, not one per append.
class committed_queue {
public:
  /// Adds `c`; true when the queue was empty: then the caller tells the actor.
  bool add(append_call_ptr c) {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(c));
    return calls_.size() == 1;
  }
  /// Everything added so far, oldest first.
  std::vector<append_call_ptr> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(calls_, {});
  }

private:
  std::mutex mutex_;
  std::vector<append_call_ptr> calls_; // GUARDED_BY(mutex_)
};

/// One append between the tenant's actor and the engine: whom to answer,
/// and the outcome once the engine reports it. When the engine reports it
/// while the actor is still handing the append over (an engine that commits
/// synchronously, or an early error), the actor answers at once; otherwise
/// the engine's writer queues it in the actor's `committed_queue`, and the
/// actor answers then — never on the writer's thread, except a caller
/// blocked in the facade (`caller_waits`): the writer wakes it first, one
/// thread hop sooner, and the actor's answer later finds it completed. One
/// atomic step (`stage`) decides which.
struct append_call {
  enum : int { handing_over, deferred, arrived };
  caf::strong_actor_ptr actor;              // the tenant's, to send `committed_atom` to
  // The tenant's, to add this call to; weak: a queue holding this call must
  // not keep itself alive (when the actor is gone, its calls are dropped and
  // their completions report runtime_stopped).
  std::weak_ptr<committed_queue> queue;
  const commit_path* commits = nullptr; // told when the outcome is in (`leave`)
  completion<append_receipt> done;                     // the facade's caller, if any
  caf::typed_response_promise<append_receipt> promise; // a requesting actor's, if any
  bool requested = false;
  bool caller_waits = false; // see append_job
  std::size_t wake_shard = SIZE_MAX; // the outbox shard to wake once durable
  std::atomic<int> stage{handing_over};
  std::optional<append_receipt> receipt; // written before `arrived`
  std::exception_ptr error;
};

struct load_job {
  stream_id stream;
  std::optional<version> start;
  std::optional<version> stop;
  completion<storage::stream_read> done;
};

struct snapshot_job {
  stream_id stream;
  raw_event snapshot;
  completion<done_t> done;
};

struct delete_job {
  stream_id stream;
  completion<done_t> done;
};

using tenant_storage_actor = caf::typed_actor<
  caf::replies_to<append_atom, append_job>::with<append_receipt>,
  caf::replies_to<load_atom, load_job>::with<storage::stream_read>,
  caf::replies_to<snapshot_atom, snapshot_job>::with<done_t>,
  caf::replies_to<delete_atom, delete_job>::with<done_t>,
  caf::reacts_to<committed_atom>, // its committed_queue has appends, written (R-ST3)
  caf::reacts_to<passivate_atom>>; // its own idle check (R-ST5)

} // namespace sourcery::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::append_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::load_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::snapshot_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::delete_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::append_receipt)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::storage::stream_read)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::done_t)
