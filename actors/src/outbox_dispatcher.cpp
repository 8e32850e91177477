#include "outbox_dispatcher.hpp"

#include "runtime_metrics.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <chrono>
#include <span>
#include <unordered_map>

namespace sourcery::detail {

namespace {

struct dispatcher_state {
  storage::outbox_store* outbox = nullptr;
  storage::log* log = nullptr;
  std::optional<storage::outbox_reporter> reporter; // opened with config.policy
  const codec* decoder = nullptr;
  timer_queue* timers = nullptr;
  std::size_t shard = 0;
  dispatcher_slot* slot = nullptr;
  dispatcher_config config;
  std::unordered_map<position, timer_queue::timer_id> retries; // scheduled, not yet run
  // A shared outbox's wake-ups while idle (watch_other_nodes); 0 = none.
  std::uint64_t log_wake = 0;
  timer_queue::timer_id lease_timer = 0;
  // While the storage cannot be reached: the next try (retry_later).
  std::chrono::milliseconds unavailable_backoff{0}; // 0 = the last call worked
  timer_queue::timer_id unavailable_timer = 0;

  dispatcher_state() = default;
  dispatcher_state(const dispatcher_state&) = delete;
  ~dispatcher_state() {
    // A stopped dispatcher leaves no timer behind; its held entries keep
    // their due times in the slot for the next dispatcher.
    for (const auto& [pos, id] : retries)
      timers->cancel(id);
    if (lease_timer)
      timers->cancel(lease_timer);
    if (unavailable_timer)
      timers->cancel(unavailable_timer);
    if (log_wake)
      log->cancel(log_wake);
  }
};

using self_ptr = outbox_dispatcher_actor::stateful_pointer<dispatcher_state>;

/// Sends `retry_atom, pos` to the dispatcher at `due` (at once when passed).
void schedule_retry(self_ptr self, position pos, std::chrono::steady_clock::time_point due) {
  auto& st = self->state;
  auto me = caf::actor_cast<caf::weak_actor_ptr>(self);
  auto id = st.timers->schedule(due, [me, pos] {
    if (auto strong = me.lock())
      caf::anon_send(caf::actor_cast<outbox_dispatcher_actor>(std::move(strong)),
                     retry_atom::value, pos);
  });
  if (auto [it, added] = st.retries.emplace(pos, id); !added) {
    st.timers->cancel(it->second);
    it->second = id;
  }
}

thread_local int publisher_depth = 0;

/// Holds a failed entry for its retry after its backoff.
void hold(self_ptr self, const storage::outbox_claim& c) {
  auto& st = self->state;
  auto due = std::chrono::steady_clock::now() + retry_delay(st.config, c.attempts + 1);
  {
    std::lock_guard lock(st.slot->mutex);
    st.slot->backoff[c.record.position] = due;
  }
  schedule_retry(self, c.record.position, due);
}

/// Counts `claims` as reported, and the published ones' latency (R-MET).
void count_reported(self_ptr self, std::span<const storage::outbox_claim> claims,
                    std::span<const std::optional<std::string>> failures) {
  auto* m = self->state.config.metrics;
  if (!m)
    return;
  for (std::size_t i = 0; i < claims.size(); ++i)
    if (!failures[i])
      m->published(claims[i].record.created_us);
  m->reported(claims.size());
}

void publish(self_ptr self, const storage::outbox_claim& c) {
  auto& st = self->state;
  if (st.config.metrics)
    st.config.metrics->claimed(1);
  auto failure = publish_one(st.config.publisher, *st.decoder, c);
  auto outcome = st.reporter->report(c, failure ? &*failure : nullptr);
  count_reported(self, {&c, 1}, {&failure, 1});
  if (outcome == storage::outbox_outcome::retry)
    hold(self, c);
}

/// Publishes `claims` in order, then records their outcomes in one call (a
/// durable engine writes them at once).
void publish_all(self_ptr self, const std::vector<storage::outbox_claim>& claims) {
  auto& st = self->state;
  std::vector<std::optional<std::string>> failures;
  failures.reserve(claims.size());
  for (const auto& c : claims)
    failures.push_back(publish_one(st.config.publisher, *st.decoder, c));
  std::vector<storage::outbox_attempt> attempts;
  attempts.reserve(claims.size());
  for (std::size_t i = 0; i < claims.size(); ++i)
    attempts.push_back({&claims[i], failures[i] ? &*failures[i] : nullptr});
  auto outcomes = st.reporter->report_all(attempts);
  count_reported(self, claims, failures);
  for (std::size_t i = 0; i < claims.size(); ++i)
    if (outcomes[i] == storage::outbox_outcome::retry)
      hold(self, claims[i]);
}

/// A shared outbox (several nodes on one database, R-N3): entries become
/// claimable here without a commit of this node — another node commits
/// entries (the log grows), or a lease of a node that stopped reporting runs
/// out. While idle, the dispatcher is woken by a message at either: a
/// wake-up on the log (the engine's LISTEN/NOTIFY) and a timer at the
/// shard's earliest lease end. Nothing is polled.
void watch_other_nodes(self_ptr self) {
  auto& st = self->state;
  if (!st.outbox->shared())
    return;
  auto me = caf::actor_cast<caf::weak_actor_ptr>(self);
  auto* slot = st.slot;
  auto wake = [me, slot] {
    if (auto strong = me.lock())
      if (slot->idle.exchange(false, std::memory_order_seq_cst))
        caf::anon_send(caf::actor_cast<outbox_dispatcher_actor>(std::move(strong)),
                       kick_atom::value);
  };
  if (st.log_wake)
    st.log->cancel(st.log_wake);
  st.log_wake = st.log->notify_after(st.log->last_position(), wake);
  if (st.lease_timer)
    st.timers->cancel(st.lease_timer);
  st.lease_timer = 0;
  std::optional<std::chrono::milliseconds> release;
  try {
    release = st.outbox->next_release(st.shard);
  } catch (const std::exception&) {
    // The store is unreachable: the next commit or notification (the
    // listener reads the log's counter when it reconnects) wakes us.
  }
  if (release) // the lease ends when the database's clock passes it; 1 ms later it is passed
    st.lease_timer = st.timers->schedule(
      std::chrono::steady_clock::now() + *release + std::chrono::milliseconds(1), wake);
}

void drain(self_ptr self) {
  auto& st = self->state;
  auto claims = st.outbox->claim(st.shard, st.config.batch);
  if (claims.empty()) {
    // Go idle, then look once more: an entry added in between either sees
    // `idle` and kicks us, or is found here.
    st.slot->idle.store(true, std::memory_order_seq_cst);
    claims = st.outbox->claim(st.shard, st.config.batch);
    if (claims.empty()) {
      watch_other_nodes(self);
      return;
    }
    st.slot->idle.store(false, std::memory_order_seq_cst);
  }
  if (st.config.metrics)
    st.config.metrics->claimed(claims.size());
  publish_all(self, claims);
  self->send(self, kick_atom::value);
}

/// The delay before the next try while the storage cannot be reached
/// (R-ST6: a lost server, a failover in progress): 50 ms, doubling to 1 s.
std::chrono::milliseconds next_backoff(dispatcher_state& st) {
  using std::chrono::milliseconds;
  st.unavailable_backoff = st.unavailable_backoff.count() == 0
                             ? milliseconds(50)
                             : std::min(st.unavailable_backoff * 2, milliseconds(1000));
  return st.unavailable_backoff;
}

/// Drains; when the storage cannot be reached, kicks itself again after a
/// backoff, so publishing resumes by itself once the store is back (R-N5). Claims
/// it held meanwhile stay its own until their lease ends (R-N3).
void drain_or_retry_later(self_ptr self) {
  auto& st = self->state;
  try {
    drain(self);
    st.unavailable_backoff = std::chrono::milliseconds(0);
  } catch (const storage_unavailable&) {
    auto me = caf::actor_cast<caf::weak_actor_ptr>(self);
    if (st.unavailable_timer)
      st.timers->cancel(st.unavailable_timer);
    st.unavailable_timer =
      st.timers->schedule(std::chrono::steady_clock::now() + next_backoff(st), [me] {
        if (auto strong = me.lock())
          caf::anon_send(caf::actor_cast<outbox_dispatcher_actor>(std::move(strong)),
                         kick_atom::value);
      });
  }
}

/// A held entry's retry; when the storage cannot be reached, it is tried
/// again after a backoff.
void retry_held(self_ptr self, position pos) {
  auto& st = self->state;
  try {
    if (auto c = st.outbox->claim_held(st.shard, pos))
      publish(self, *c);
    st.unavailable_backoff = std::chrono::milliseconds(0);
  } catch (const storage_unavailable&) {
    schedule_retry(self, pos, std::chrono::steady_clock::now() + next_backoff(st));
  }
}

} // namespace

bool in_outbox_publisher() noexcept {
  return publisher_depth > 0;
}

publisher_scope::publisher_scope() {
  ++publisher_depth;
}

publisher_scope::~publisher_scope() {
  --publisher_depth;
}

std::chrono::milliseconds retry_delay(const dispatcher_config& c, std::uint32_t attempt) {
  auto delay = c.backoff_base;
  for (std::uint32_t i = 1; i < attempt && delay < c.backoff_cap; ++i)
    delay *= 2;
  return std::min(delay, c.backoff_cap);
}

std::optional<std::string> publish_one(const outbox_publisher& publisher, const codec& decoder,
                                       const storage::outbox_claim& c) {
  try {
    auto event = decoder.decode(c.record);
    publisher_scope scope;
    publisher(event);
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  } catch (...) {
    return std::string("unknown exception");
  }
}

outbox_dispatcher_actor spawn_outbox_dispatcher(caf::actor_system& system,
                                                storage::engine& engine, const codec& decoder,
                                                timer_queue& timers, std::size_t shard,
                                                dispatcher_slot* slot, dispatcher_config config) {
  auto behavior = [](self_ptr self, storage::engine* engine, const codec* decoder,
                     timer_queue* timers, std::size_t shard, dispatcher_slot* slot,
                     dispatcher_config config) -> outbox_dispatcher_actor::behavior_type {
    auto& st = self->state;
    st.outbox = &engine->outbox();
    st.log = &engine->log();
    st.reporter = st.outbox->open(config.policy);
    st.decoder = decoder;
    st.timers = timers;
    st.shard = shard;
    st.slot = slot;
    st.config = std::move(config);
    // Entries a stopped dispatcher held for a retry wait out their backoff.
    std::map<position, std::chrono::steady_clock::time_point> held;
    {
      std::lock_guard lock(slot->mutex);
      held = slot->backoff;
    }
    for (const auto& [pos, due] : held)
      schedule_retry(self, pos, due);
    return {
      [self](kick_atom) { drain_or_retry_later(self); },
      [self](retry_atom, position pos) {
        auto& st = self->state;
        st.retries.erase(pos);
        {
          std::lock_guard lock(st.slot->mutex);
          st.slot->backoff.erase(pos);
        }
        retry_held(self, pos);
      },
    };
  };
  return system.spawn<caf::detached>(behavior, &engine, &decoder, &timers, shard, slot,
                                     std::move(config));
}

} // namespace sourcery::detail
