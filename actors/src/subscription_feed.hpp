// The subscription feed actor: one per subscription (SPEC §7, §10).
//
// A feed keeps a cursor into the global log and reads published records in
// order, keeping those that match its filter. When it has read everything
// published, it asks the log to wake it (one message) on the next commit —
// no polling. Pull feeds answer fetch requests; push feeds hand batches to a
// callback (on a detached thread of their own) or to a CAF actor, with at
// most `buffer` records in flight.
//
// A pull's time limit is kept by the pulling thread, not by a timer: it waits
// for the answer until the deadline, then tells the feed (timeout_atom) to
// answer with what it has. So an answered pull leaves nothing behind. (CAF
// 0.17's delayed messages cannot be cancelled: one per pull stayed in the
// actor clock, holding the feed, until its time limit — up to a year.)
#pragma once

#include <sourcery/push_protocol.hpp>
#include <sourcery/event_store.hpp>
#include <sourcery/events.hpp>

#include <sourcery/detail/codec.hpp>
#include <sourcery/storage/engine.hpp>

#include "completion.hpp"

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace sourcery::detail {

struct subscription_meter; // runtime_metrics.hpp

using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using pump_atom = caf::atom_constant<caf::atom("pump")>;

/// A pull request: up to `max` matching records, waiting for the first
/// (iter) or for all of them (batch) until a (timeout_atom, id) message
/// says the puller's deadline passed.
struct fetch_job {
  std::size_t max; // the same for every fetch of a feed (its read-ahead relies on it)
  bool wait_for_all;
  std::uint64_t id; // of this pull, unique per feed
  completion<storage::record_batch> done;
};

using feed_actor =
  caf::typed_actor<caf::reacts_to<fetch_atom, fetch_job>, caf::reacts_to<wake_atom>,
                   caf::reacts_to<timeout_atom, std::uint64_t>, caf::reacts_to<pump_atom>>;

/// A push feed's progress, shared by its handle and its actor.
struct push_progress {
  std::mutex delivering; // held while the consumer runs
  std::atomic<std::thread::id> delivering_thread{}; // who holds `delivering`
  std::atomic<bool> stopped{false};
  std::atomic<position> delivered{0};
  std::exception_ptr error; // guarded by `delivering`
  /// Records that could not be decoded and were skipped (the latest 64).
  std::vector<std::pair<position, std::exception_ptr>> undecodable; // guarded by `delivering`
};

/// A subscription handle's view of its feed; stops the feed when destroyed.
/// Records a pull subscription fetched from its feed ahead of delivery, in
/// order.
struct fetched_records {
  storage::record_batch batch;
  std::size_t next = 0;
  bool empty() const noexcept { return next >= batch.records.size(); }
};

struct feed {
  std::shared_ptr<const void> keep_alive; // the runtime, which outlives its actors
  const codec* decoder = nullptr;
  feed_actor actor;
  std::chrono::steady_clock::duration timelimit{};
  std::uint64_t pulls = 0; // pull feeds: the last fetch_job's id
  std::shared_ptr<push_progress> progress; // push feeds only
  fetched_records fetched; // pull feeds: read, not yet delivered
  std::shared_ptr<subscription_meter> meter; // null with metrics off

  ~feed();
  void stop();
};

struct push_target {
  batch_handler handler; // callback consumer, or
  caf::actor consumer;   // actor consumer (request/response = credit)
  std::size_t max_batch = 256;
  std::size_t buffer = 1024;
};

/// What a feed reads from: the engine's log and the codec (both outlive
/// it), and where it reports its progress (null with metrics off).
struct feed_source {
  storage::log* log;
  const codec* decoder;
  std::shared_ptr<subscription_meter> meter;
};

/// Spawns a pull feed.
feed_actor spawn_pull_feed(caf::actor_system& system, feed_source source,
                           subscription_filter filter, position start);

/// Spawns a push feed delivering to `target`, reporting to `progress`.
feed_actor spawn_push_feed(caf::actor_system& system, feed_source source,
                           subscription_filter filter, position start, push_target target,
                           std::shared_ptr<push_progress> progress);

} // namespace sourcery::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::detail::fetch_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sourcery::storage::record_batch)
