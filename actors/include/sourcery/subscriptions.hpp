// Subscriptions (R-SUB): follow the global log in position order, from a
// given position, by category or by event type, for all tenants or one.
//
//   auto sub = backend.subscriber().start_from(0).to_category("cart")
//                .build_batch(100, std::chrono::milliseconds(500));
//   for (;;) for (auto& r : sub.next()) handle(r);
//
// `start_from(p)` delivers records with position > p: the stored past first,
// then new records as they are committed, with no gap and no duplicate.
// Records come in strictly increasing positions; a record is never delivered
// before every lower-position record that matches the filter (R-SUB-ORDER).
// Each subscription is its own feed actor; waiting is event-driven (the
// global log wakes idle feeds when it publishes). A subscription object is
// used by one thread at a time; different subscriptions are independent.
//
// Caught up (R-SUB-CAUGHT-UP): a subscription is caught up once it has handed
// its consumer every matching record committed before some moment after it
// started — it has reached the live end. caught_up() tells; it stays true
// when the subscription later falls behind a burst of appends.
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/subscription_groups.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <typeindex>
#include <vector>

namespace caf {
class actor;
} // namespace caf

namespace sourcery {

namespace detail {
class wiring;
struct feed;
} // namespace detail

/// Pull: each next() yields the next record, or none when the time limit
/// passes first. A record that cannot be decoded (unknown event, tampered
/// ciphertext) throws from the next() that would yield it; the following
/// next() continues after it, so no other record is lost.
class iter_subscription {
public:
  explicit iter_subscription(std::shared_ptr<detail::feed> feed) : feed_(std::move(feed)) {}
  std::optional<recorded_event> next();
  /// True once next() has returned (or thrown for) every record committed
  /// when one of its fetches reached the log's end; a next() that returned
  /// none makes it true.
  bool caught_up() const noexcept;

private:
  std::shared_ptr<detail::feed> feed_; // with the records read ahead, in order
};

/// Pull: each next() yields up to `size` records; fewer (possibly none) when
/// the time limit passes. A batch ends before a record that cannot be
/// decoded; the next() after throws for that record alone.
class batch_subscription {
public:
  batch_subscription(std::shared_ptr<detail::feed> feed, std::size_t size)
    : feed_(std::move(feed)), size_(size) {}
  std::vector<recorded_event> next();
  /// As iter_subscription::caught_up(): true once next() has returned every
  /// record committed when one of its fetches reached the log's end (a batch
  /// smaller than `size` that ends the fetch says so too).
  bool caught_up() const noexcept;

private:
  std::shared_ptr<detail::feed> feed_; // with the records fetched, not yet delivered
  std::size_t size_;
};

/// Push: delivers batches until destroyed or stopped.
class push_subscription {
public:
  explicit push_subscription(std::shared_ptr<detail::feed> feed) : feed_(std::move(feed)) {}
  /// Stops delivery; idempotent. For a callback consumer it returns after an
  /// in-progress batch finished (also when called from the handler itself).
  /// For an actor consumer, batches already sent (at most the subscription
  /// buffer) may still be processed by that actor after it returns.
  void stop();
  /// True once every matching record committed before some moment after the
  /// start was handed to the consumer and its handler returned (an actor
  /// consumer: answered). Stays true. For a callback consumer it is set
  /// before on_caught_up is called.
  bool caught_up() const noexcept;
  /// Waits until caught_up() or until `timeout` passed, or the subscription
  /// stopped; returns caught_up(). From the subscription's own handler it
  /// does not wait.
  bool wait_caught_up(std::chrono::duration<double> timeout) const;
  /// The exception thrown by the consumer, which stopped the subscription;
  /// nullptr while it runs.
  std::exception_ptr error() const;
  /// Position of the last record handed to the consumer (or skipped as
  /// undecodable).
  position delivered() const;
  /// Records that could not be decoded (unknown event, tampered ciphertext)
  /// and were skipped, with their positions and errors; the latest 64. The
  /// records around them are delivered as usual.
  std::vector<std::pair<position, std::exception_ptr>> undecodable() const;

private:
  std::shared_ptr<detail::feed> feed_;
};

class subscription_builder {
public:
  /// `actors` spawns the feeds; it shares ownership of the runtime.
  subscription_builder(std::shared_ptr<const detail::wiring> actors, position start,
                       std::optional<std::string> tenant)
    : actors_(std::move(actors)), start_(start) {
    filter_.tenant = std::move(tenant);
  }

  /// Only records of streams in `category`.
  subscription_builder& to_category(std::string category) {
    filter_.category = std::move(category);
    return *this;
  }

  /// The subscription's name in the metrics (label `subscription`, R-MET);
  /// unnamed ones are "subscription-<n>". A name a running subscription
  /// has already gets a suffix ("billing-2").
  subscription_builder& named(std::string name) {
    if (name.empty())
      throw invalid_argument("a subscription's name must not be empty");
    name_ = std::move(name);
    return *this;
  }

  /// Only records of the given event types.
  template <class... E>
  subscription_builder& to_events() {
    (filter_.event_types.push_back(typeid(E)), ...);
    return *this;
  }

  /// Time limits (in seconds, or any duration) under 100 ms, or over a
  /// year, → invalid_argument.
  iter_subscription build_iter(std::chrono::duration<double> timelimit);
  iter_subscription build_iter(double seconds) {
    return build_iter(std::chrono::duration<double>(seconds));
  }
  batch_subscription build_batch(std::size_t size, std::chrono::duration<double> timelimit);
  batch_subscription build_batch(std::size_t size, double seconds) {
    return build_batch(size, std::chrono::duration<double>(seconds));
  }

  /// Calls `handler` with batches of up to `max_batch` records, one call at
  /// a time and in position order, on one of the runtime's callback threads
  /// (runtime_options::subscription_callback_threads, R-SUB-POOL); the next
  /// batch is read only after the handler returned. A slow handler holds one
  /// of those threads and delays only its own subscription while another is
  /// free: give the pool more threads than handlers that may block at once.
  /// A handler that throws stops the subscription (see
  /// push_subscription::error()); the others run on.
  push_subscription build_push(batch_handler handler, std::size_t max_batch = 256);
  /// As above; `on_caught_up` (may be empty) is called once, in line with
  /// the batches, when the subscription is first caught up
  /// (R-SUB-CAUGHT-UP): after the handler returned for the batch that
  /// reached the live end, or before any batch if there was nothing to read.
  /// It throwing stops the subscription as the handler's exception does.
  push_subscription build_push(batch_handler handler, std::function<void()> on_caught_up,
                               std::size_t max_batch = 256);

  /// Sends batches of up to `max_batch` records to a CAF actor, as requests
  /// whose responses return credit; see <sourcery/push_protocol.hpp>. The
  /// actor's system must be the runtime's (backend::actor_system()).
  push_subscription build_push_to(const caf::actor& consumer, std::size_t max_batch = 256);

private:
  std::shared_ptr<const detail::wiring> actors_;
  position start_;
  subscription_filter filter_;
  std::optional<std::string> name_;
};

class subscriber {
public:
  /// Made by backend::subscriber(): `actors` spawns the feeds (it shares
  /// ownership of the runtime); `tenant`: only that tenant's records.
  subscriber(std::shared_ptr<const detail::wiring> actors, std::optional<std::string> tenant)
    : actors_(std::move(actors)), tenant_(std::move(tenant)) {}

  /// Records with position > `p` (0 = from the beginning).
  subscription_builder start_from(position p) const { return {actors_, p, tenant_}; }
  /// As above; none = from the beginning, so a store's `position()` can be
  /// handed over as it is (only what is committed from then on follows).
  subscription_builder start_from(std::optional<position> p) const {
    return {actors_, p.value_or(0), tenant_};
  }
  /// A negative position is a mistake: throws invalid_argument.
  template <class I>
    requires std::is_signed_v<I>
  subscription_builder start_from(I p) const {
    if (p < 0)
      throw invalid_argument("start_from needs a position ≥ 0, got " + std::to_string(p));
    return {actors_, static_cast<position>(p), tenant_};
  }

  /// The persistent subscription group `name` (R-SUB-GROUP); see
  /// <sourcery/subscription_groups.hpp>. An empty name → invalid_argument.
  group_builder group(std::string name) const {
    return group_builder(actors_, std::move(name), tenant_);
  }

private:
  std::shared_ptr<const detail::wiring> actors_;
  std::optional<std::string> tenant_;
};

} // namespace sourcery
