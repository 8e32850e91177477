// The subscription feed actor: one per subscription (SPEC §7, §10).
//
// A feed keeps a cursor into the global log and reads published records in
// order, keeping those that match its filter. When it has read everything
// published, it asks the log to wake it (one message) on the next commit —
// no polling. Pull feeds answer fetch requests; push feeds hand batches to a
// callback or to a CAF actor, with at most `buffer` records in flight. Every
// feed is an event-based actor on CAF's workers; a callback runs on the
// runtime's callback pool (callback_pool.hpp), one job per batch, and the
// feed reads its next batch when the job tells it the callback returned
// (handled_atom) — so a subscription's callbacks are serial and in order, and
// a slow one holds one pool thread, never a worker.
//
// Caught up (R-SUB-CAUGHT-UP): a push feed marks its progress caught up the
// first time a scan finds nothing more committed while nothing is in flight
// to its consumer; a pull feed says with each answer whether it read up to
// the log's end (fetch_answer::reached_end).
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
#include <functional>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace sourcery::detail {

struct subscription_meter; // runtime_metrics.hpp
class decode_cache;        // decode_cache.hpp

using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using pump_atom = caf::atom_constant<caf::atom("pump")>;
using handled_atom = caf::atom_constant<caf::atom("handled")>;

class callback_pool;

/// A pull feed's answer: the records, and whether the feed had read every
/// record committed when it answered (the puller is caught up once it has
/// handed them all over).
struct fetch_answer {
  storage::record_batch batch;
  bool reached_end = false;
};

/// A pull request: up to `max` matching records, waiting for the first
/// (iter) or for all of them (batch) until a (timeout_atom, id) message
/// says the puller's deadline passed.
struct fetch_job {
  std::size_t max; // the same for every fetch of a feed (its read-ahead relies on it)
  bool wait_for_all;
  std::uint64_t id; // of this pull, unique per feed
  completion<fetch_answer> done;
};

using feed_actor =
  caf::typed_actor<caf::reacts_to<fetch_atom, fetch_job>, caf::reacts_to<wake_atom>,
                   caf::reacts_to<timeout_atom, std::uint64_t>, caf::reacts_to<pump_atom>,
                   caf::reacts_to<handled_atom>>;

/// A push feed's progress, shared by its handle and its actor.
struct push_progress {
  std::mutex delivering; // held while the consumer runs
  std::atomic<std::thread::id> delivering_thread{}; // who holds `delivering`
  std::atomic<bool> stopped{false};
  std::atomic<position> delivered{0};
  /// Set once every record committed at some moment after the start was
  /// handed to the consumer and it returned (R-SUB-CAUGHT-UP); stays set.
  std::atomic<bool> caught_up{false};
  std::condition_variable caught_up_changed; // with `delivering`; wait_caught_up() waits on it
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
  bool reached_end = false; // the feed had read up to the log's end when it answered
  bool empty() const noexcept { return next >= batch.records.size(); }
};

struct feed {
  std::shared_ptr<const void> keep_alive; // the runtime, which outlives its actors
  decode_cache* decodes = nullptr; // the runtime's, shared by every subscription
  feed_actor actor;
  std::chrono::steady_clock::duration timelimit{};
  std::uint64_t pulls = 0; // pull feeds: the last fetch_job's id
  std::shared_ptr<push_progress> progress; // push feeds only
  fetched_records fetched; // pull feeds: read, not yet delivered
  bool caught_up = false;   // pull feeds: every record up to an answer's end handed over
  std::shared_ptr<subscription_meter> meter; // null with metrics off

  ~feed();
  void stop();
};

struct push_target {
  batch_handler handler; // callback consumer, or
  caf::actor consumer;   // actor consumer (request/response = credit)
  std::size_t max_batch = 256;
  std::size_t buffer = 1024;
  std::function<void()> on_caught_up; // callback consumers: optional
  callback_pool* pool = nullptr;      // callback consumers: where the callbacks run
};

/// Whether `r` passes `filter` (tenant, category, event types by the
/// registry): what every feed and subscription group keeps.
bool accepts(const subscription_filter& filter, const event_registry& registry,
             const storage::record& r);

/// What a feed reads from: the engine's log and the runtime's decode cache,
/// which every feed decodes through and which names the codec (both outlive
/// it), and where it reports its progress (null with metrics off).
struct feed_source {
  storage::log* log;
  decode_cache* decodes;
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
