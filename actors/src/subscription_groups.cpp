// Subscription groups (R-SUB-GROUP): the public API over the engine's group
// store. A member's next() claims from the store and, when nothing is
// claimable, waits for a wake-up — the log passing what it had seen, a
// change in the group (an ack, a leave, a replay), or the next retry or
// lease coming due — never polling.
#include <sourcery/subscription_groups.hpp>

#include "decode_cache.hpp"
#include "subscription_feed.hpp"
#include "wiring.hpp"

#include <sourcery/errors.hpp>
#include <sourcery/storage/group_store.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace sourcery {

namespace detail {

struct group_context {
  std::shared_ptr<const wiring> keep_alive; // and with it the runtime
  storage::group_store* store = nullptr;
  storage::log* log = nullptr;
  decode_cache* decodes = nullptr;
  storage::group_spec spec;
  storage::group_policy policy;
  storage::record_filter accept;
};

} // namespace detail

namespace {

using detail::group_context;

/// What one wait of next() sleeps on; shared with the wake-ups, which may
/// run after the wait ended.
struct wait_signal {
  std::mutex mutex;
  std::condition_variable cv;
  bool woken = false; // GUARDED_BY(mutex)

  void wake() {
    {
      std::lock_guard lock(mutex);
      woken = true;
    }
    cv.notify_all();
  }
};

storage::record_filter filter_of(const subscription_filter& f, const event_registry& registry) {
  return [f, &registry](const storage::record& r) { return detail::accepts(f, registry, r); };
}

} // namespace

group_builder::group_builder(std::shared_ptr<const detail::wiring> actors, std::string name,
                             std::optional<std::string> tenant)
  : actors_(std::move(actors)), name_(std::move(name)) {
  if (name_.empty())
    throw invalid_argument("a subscription group needs a name");
  filter_.tenant = std::move(tenant);
}

group_builder& group_builder::attempts(int n) {
  if (n < 1)
    throw invalid_argument("a subscription group needs at least 1 attempt, got "
                           + std::to_string(n));
  attempts_ = static_cast<std::uint32_t>(n);
  return *this;
}

group_builder& group_builder::backoff(std::chrono::milliseconds base,
                                      std::chrono::milliseconds cap) {
  if (base.count() < 0 || cap < base)
    throw invalid_argument("a subscription group's backoff needs 0 ≤ base ≤ cap");
  backoff_base_ = base;
  backoff_cap_ = cap;
  return *this;
}

group_builder& group_builder::lease(std::chrono::milliseconds d) {
  if (d.count() < 1)
    throw invalid_argument("a subscription group's lease must be at least 1 ms");
  lease_ = d;
  return *this;
}

subscription_group group_builder::open() {
  auto& engine = actors_->engine();
  auto* store = engine.groups();
  if (!store)
    throw invalid_argument("the " + std::string(engine.name())
                           + " engine offers no subscription groups");
  auto g = std::make_shared<group_context>();
  g->keep_alive = actors_;
  g->store = store;
  g->log = &engine.log();
  g->decodes = &actors_->decodes();
  g->spec = storage::group_spec{name_, start_, per_stream_order_};
  g->policy = storage::group_policy{attempts_, backoff_base_, backoff_cap_, lease_};
  g->accept = filter_of(filter_, actors_->codec().registry());
  store->open(g->spec);
  return subscription_group(std::move(g));
}

group_member subscription_group::join(std::string name) const {
  if (name.empty())
    name = "member-" + to_string(random_uuid());
  return group_member(group_, std::move(name));
}

const std::string& subscription_group::name() const noexcept {
  return group_->spec.name;
}

group_status subscription_group::status() const {
  auto s = group_->store->status(group_->spec.name);
  return group_status{s.checkpoint, s.in_hand, s.waiting, s.parked};
}

std::vector<parked_event> subscription_group::parked() const {
  std::vector<parked_event> out;
  for (const auto& p : group_->store->parked(group_->spec.name))
    out.push_back(parked_event{p.record.position, p.attempts, p.last_error});
  return out;
}

std::size_t subscription_group::replay(std::optional<position> at) const {
  return group_->store->replay(group_->spec.name, at);
}

std::size_t subscription_group::purge(std::optional<position> at) const {
  return group_->store->purge(group_->spec.name, at);
}

group_member::group_member(std::shared_ptr<group_context> group, std::string name)
  : group_(std::move(group)), name_(std::move(name)) {}

group_member& group_member::operator=(group_member&& other) noexcept {
  if (this != &other) {
    if (group_) {
      try {
        leave();
      } catch (...) { // the engine failed: its lease hands the records back
      }
    }
    group_ = std::move(other.group_);
    name_ = std::move(other.name_);
  }
  return *this;
}

group_member::~group_member() {
  if (!group_)
    return;
  try {
    leave();
  } catch (...) { // the engine failed: its lease hands the records back
  }
}

std::vector<group_delivery> group_member::next(std::size_t max,
                                               std::chrono::duration<double> timelimit) {
  if (max == 0)
    throw invalid_argument("a group member's batch size must be at least 1");
  if (!(timelimit.count() >= 0.1) || !(timelimit.count() <= 366.0 * 24 * 3600))
    throw invalid_argument("a group member's time limit must be between 0.1 s and a year");
  auto& g = *group_;
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timelimit);
  std::vector<group_delivery> out;
  for (;;) {
    // Wake-ups first, so nothing that happens during the claim is missed.
    auto signal = std::make_shared<wait_signal>();
    auto seen = g.log->last_position();
    auto log_wake = g.log->notify_after(seen, [signal] { signal->wake(); });
    auto change_wake = g.store->notify_change(g.spec.name, [signal] { signal->wake(); });
    std::vector<storage::group_claim> claims;
    try {
      claims = g.store->claim(g.spec.name, name_, max, g.accept, g.policy);
    } catch (...) {
      g.log->cancel(log_wake);
      g.store->cancel_wake(change_wake);
      throw;
    }
    for (auto& c : claims) {
      try {
        out.push_back(group_delivery{g.decodes->decode(c.record), c.attempts});
      } catch (const std::exception& e) {
        g.store->nack(g.spec.name, name_, c.record.position, e.what(), g.policy);
      }
    }
    if (!out.empty() || std::chrono::steady_clock::now() >= deadline) {
      g.log->cancel(log_wake);
      g.store->cancel_wake(change_wake);
      return out;
    }
    auto until = deadline;
    if (auto due = g.store->next_due(g.spec.name))
      until = std::min(until, std::chrono::steady_clock::now() + *due);
    {
      std::unique_lock lock(signal->mutex);
      signal->cv.wait_until(lock, until, [&] { return signal->woken; });
    }
    g.log->cancel(log_wake);
    g.store->cancel_wake(change_wake);
  }
}

void group_member::ack(position at) {
  group_->store->ack(group_->spec.name, name_, at);
}

bool group_member::nack(position at, const std::string& reason) {
  return group_->store->nack(group_->spec.name, name_, at, reason, group_->policy)
         == storage::nack_outcome::parked;
}

void group_member::renew() {
  group_->store->renew(group_->spec.name, name_, group_->policy);
}

void group_member::leave() {
  group_->store->leave(group_->spec.name, name_);
}

} // namespace sourcery
