// The outbox dispatcher actor: publishes one shard's entries continuously.
//
// It is kicked when its shard receives entries while it is idle (on a shared
// outbox, R-N3, also when another node commits or a lease runs out: see
// watch_other_nodes in the .cpp), publishes
// up to `batch` entries per message (so stop requests get through), and
// schedules each failed entry's retry on the runtime's timer queue, with
// exponential backoff from `base` to `cap`. With only retries pending it is
// idle between them: no sleeping, no polling. Its timers end with it, so a
// stopped dispatcher leaves none behind; the entries it held for a retry stay
// held, and their due times stay in the shard's slot, so the next dispatcher
// of the shard retries each when the rest of its backoff has passed (not at
// once: a restart must not turn into a burst against a failing broker). The publisher is user code, so each
// dispatcher runs on a thread of its own: a slow publisher blocks only its
// shard, never the runtime's workers.
#pragma once

#include <sourcery/detail/codec.hpp>
#include <sourcery/outbox.hpp>
#include <sourcery/storage/engine.hpp>

#include "timer_queue.hpp"

#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

namespace caf {
class actor_system;
}

namespace sourcery::detail {

class runtime_metrics;

using kick_atom = caf::atom_constant<caf::atom("kick")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

using outbox_dispatcher_actor =
  caf::typed_actor<caf::reacts_to<kick_atom>, caf::reacts_to<retry_atom, position>>;

/// One shard's dispatcher slot; `idle` tells committers to kick it. It
/// outlives the shard's dispatchers (one per start).
struct dispatcher_slot {
  std::atomic<bool> idle{false};
  std::mutex mutex;              // guards `actor` (replaced on each start) and `backoff`
  outbox_dispatcher_actor actor; // GUARDED_BY(mutex)
  /// Entries held for a retry, with the time their retry is due.
  std::map<position, std::chrono::steady_clock::time_point> backoff; // GUARDED_BY(mutex)
};

struct dispatcher_config {
  outbox_publisher publisher;
  std::size_t batch = 256;
  /// The dispatcher opens the outbox with it; it holds failed entries for
  /// their retries (hold_for_retry).
  storage::outbox_policy policy{.attempts = 3, .hold_for_retry = true};
  std::chrono::milliseconds backoff_base{10};
  std::chrono::milliseconds backoff_cap{1000};
  /// Counts claims and publications (R-MET); null with metrics off.
  runtime_metrics* metrics = nullptr;
};

/// True while this thread runs an outbox publisher (dispatcher or run()).
bool in_outbox_publisher() noexcept;

/// Marks the current thread as running a publisher while alive.
struct publisher_scope {
  publisher_scope();
  ~publisher_scope();
};

/// The delay before the retry that follows failed attempt `attempt` (1-based).
std::chrono::milliseconds retry_delay(const dispatcher_config& c, std::uint32_t attempt);

/// Publishes `c` with `publisher`; returns the failure's message, or none.
std::optional<std::string> publish_one(const outbox_publisher& publisher, const codec& decoder,
                                       const storage::outbox_claim& c);

/// Spawns the dispatcher of `shard`; it schedules the retries already in
/// `slot->backoff` at their due times, and its own on `timers`.
outbox_dispatcher_actor spawn_outbox_dispatcher(caf::actor_system& system,
                                                storage::engine& engine, const codec& decoder,
                                                timer_queue& timers, std::size_t shard,
                                                dispatcher_slot* slot, dispatcher_config config);

} // namespace sourcery::detail
