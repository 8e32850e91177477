// Messages of the tenant storage actor: each job carries its arguments and
// the callback that completes it (on the actor's thread).
#pragma once

#include <sourcery/event_store.hpp>
#include <sourcery/result.hpp>

#include "global_log.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <optional>
#include <vector>

namespace sourcery::detail {

using append_atom = caf::atom_constant<caf::atom("append")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;

struct append_job {
  stream_id stream;
  std::vector<raw_event> events;
  std::vector<const event_type*> types;
  expected_version expected;
  callback<append_receipt> done;
};

/// A stream as stored: its latest snapshot and the records after it.
struct stream_slice {
  const stream_id* stream = nullptr;
  std::optional<raw_event> snapshot;
  std::vector<const log_record*> events;
};

struct load_job {
  stream_id stream;
  std::optional<version> start;
  std::optional<version> stop;
  callback<stream_slice> done;
};

struct snapshot_job {
  stream_id stream;
  raw_event snapshot;
  callback<done_t> done;
};

struct delete_job {
  stream_id stream;
  callback<done_t> done;
};

/// One tenant's storage (SPEC §10): owns the tenant's streams, versions and
/// snapshots; commits through the global log.
using tenant_storage_actor = caf::typed_actor<caf::reacts_to<append_atom, append_job>,
                                              caf::reacts_to<load_atom, load_job>,
                                              caf::reacts_to<snapshot_atom, snapshot_job>,
                                              caf::reacts_to<delete_atom, delete_job>>;

} // namespace sourcery::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::append_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::load_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::snapshot_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::delete_job)
