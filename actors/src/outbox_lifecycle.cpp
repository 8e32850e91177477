#include "outbox_lifecycle.hpp"

#include "listener_registry.hpp"
#include "wiring.hpp"

#include <caf/send.hpp>

#include <algorithm>

namespace sourcery::detail {

namespace {

/// Starting, stopping or enabling the outbox from a listener (inside a
/// commit) or from the outbox's own publisher would deadlock.
void check_not_reentrant(const char* what) {
  if (in_listener() || in_outbox_publisher())
    throw reentrant_call(std::string(what)
                         + " was called from a listener or an outbox publisher; this would "
                           "deadlock the runtime");
}

} // namespace

void outbox_lifecycle::enable(outbox_filter filter) {
  check_not_reentrant("with_outbox");
  commits_.enable_outbox(std::move(filter), [this](std::size_t shard) { kick(shard); });
}

void outbox_lifecycle::require_enabled() const {
  if (!commits_.outbox_enabled())
    throw invalid_argument("the outbox is off; call backend.with_outbox(filter) first");
}

void outbox_lifecycle::kick_if_idle(dispatcher_slot& slot) {
  if (slot.idle.exchange(false, std::memory_order_seq_cst)) {
    std::lock_guard lock(slot.mutex);
    if (slot.actor)
      caf::anon_send(slot.actor, kick_atom::value);
  }
}

void outbox_lifecycle::kick(std::size_t shard) {
  // dispatchers_ is sized once, at the first start, before dispatching_.
  if (dispatching_.load(std::memory_order_acquire) && shard < dispatchers_.size())
    kick_if_idle(*dispatchers_[shard]);
}

void outbox_lifecycle::kick_idle() {
  std::lock_guard lock(mutex_);
  if (dispatching_)
    for (auto& slot : dispatchers_)
      kick_if_idle(*slot);
}

void outbox_lifecycle::start(outbox_publisher publisher, const continuous_options& options,
                             const dispatcher_config& settings) {
  if (!publisher)
    throw invalid_argument("outbox start needs a publisher");
  if (options.batch == 0)
    throw invalid_argument("continuous_options.batch must be at least 1");
  check_not_reentrant("outbox().start");
  require_enabled();
  std::lock_guard lock(mutex_);
  if (dispatching_)
    throw invalid_argument("the outbox is already publishing continuously; stop() it first");
  auto config = settings;
  config.publisher = std::move(publisher);
  config.batch = options.batch;
  if (dispatchers_.empty())
    for (std::size_t i = 0; i < outbox_.shards(); ++i)
      dispatchers_.push_back(std::make_unique<dispatcher_slot>());
  for (std::size_t i = 0; i < dispatchers_.size(); ++i) {
    auto& slot = *dispatchers_[i];
    slot.idle.store(false, std::memory_order_seq_cst);
    auto actor = actors_.spawn_dispatcher(i, &slot, config);
    std::lock_guard slot_lock(slot.mutex);
    slot.actor = std::move(actor);
  }
  dispatching_.store(true, std::memory_order_seq_cst);
  for (auto& slot : dispatchers_) {
    std::lock_guard slot_lock(slot->mutex);
    caf::anon_send(slot->actor, kick_atom::value);
  }
}

void outbox_lifecycle::stop() {
  check_not_reentrant("outbox().stop");
  std::lock_guard lock(mutex_);
  stop_dispatchers();
}

void outbox_lifecycle::halt() {
  std::lock_guard lock(mutex_);
  stop_dispatchers();
  for (std::size_t i = 0; i < dispatchers_.size(); ++i) {
    std::lock_guard slot_lock(dispatchers_[i]->mutex);
    dispatchers_[i]->backoff.clear();
    outbox_.release_held(i);
  }
}

void outbox_lifecycle::stop_dispatchers() {
  if (!dispatching_)
    return;
  dispatching_.store(false, std::memory_order_seq_cst);
  std::vector<outbox_dispatcher_actor> actors;
  for (auto& slot : dispatchers_) {
    std::lock_guard slot_lock(slot->mutex);
    actors.push_back(slot->actor);
  }
  actors_.stop_dispatchers(actors); // their timers end with them
  for (auto& slot : dispatchers_) {
    // Drop the handle: a detached actor's thread ends only with its last reference.
    std::lock_guard slot_lock(slot->mutex);
    slot->actor = nullptr;
  }
}

std::vector<storage::outbox_claim> outbox_lifecycle::claim_due_held(std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<storage::outbox_claim> out;
  if (dispatching_)
    return out; // the dispatchers retry them
  auto now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < dispatchers_.size(); ++i) {
    auto& slot = *dispatchers_[i];
    std::lock_guard slot_lock(slot.mutex);
    for (auto it = slot.backoff.begin(); it != slot.backoff.end() && out.size() < limit;) {
      if (it->second > now) {
        ++it;
        continue;
      }
      if (auto c = outbox_.claim_held(i, it->first))
        out.push_back(std::move(*c));
      it = slot.backoff.erase(it);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.record.position < b.record.position; });
  return out;
}

std::vector<outbox_dispatcher_actor> outbox_lifecycle::dispatchers() {
  std::lock_guard lock(mutex_);
  std::vector<outbox_dispatcher_actor> out;
  if (dispatching_)
    for (auto& slot : dispatchers_) {
      std::lock_guard slot_lock(slot->mutex);
      out.push_back(slot->actor);
    }
  return out;
}

} // namespace sourcery::detail
