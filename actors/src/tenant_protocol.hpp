// The protocol of the tenant storage actor (SPEC §10): one actor per tenant
// owns that tenant's streams and serialises every change to them.
//
// Each message carries its arguments and its one reply channel: a
// `completion` that runs exactly once, with the outcome or its error — also
// when the actor is gone or the runtime stops with the message unread
// (runtime_stopped). The blocking facade's completion wakes the waiting
// thread; the asynchronous facade's runs the user's callback; an actor that
// calls the tenant's actor passes one that sends itself the outcome.
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/event_store.hpp>
#include <sourcery/storage/engine.hpp>

#include "completion.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace sourcery::detail {

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
  /// When the facade was called, if its latency is timed (runtime_metrics).
  std::chrono::steady_clock::time_point started{};
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
  caf::reacts_to<append_atom, append_job>,
  caf::reacts_to<load_atom, load_job>,
  caf::reacts_to<snapshot_atom, snapshot_job>,
  caf::reacts_to<delete_atom, delete_job>,
  caf::reacts_to<committed_atom>, // its committed_queue has appends, written (R-ST3)
  caf::reacts_to<passivate_atom>>; // its own idle check (R-ST5)

} // namespace sourcery::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::append_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::load_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::snapshot_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::delete_job)
