// The outbox's lifecycle: off until enabled; then continuous publishing
// starts one dispatcher per shard and stops them again, through the
// runtime's wiring (wiring.hpp).
#pragma once

#include "commit_path.hpp"
#include "outbox_dispatcher.hpp"

#include <memory>
#include <mutex>
#include <vector>

namespace sourcery::detail {

class wiring;

class outbox_lifecycle {
public:
  /// Dispatchers are spawned and stopped by `actors`; every part outlives
  /// the lifecycle.
  outbox_lifecycle(storage::outbox_store& outbox, commit_path& commits, const wiring& actors)
    : outbox_(outbox), commits_(commits), actors_(actors) {}

  /// Turns the outbox on; throws invalid_argument if on already.
  void enable(outbox_filter filter);
  /// Throws invalid_argument while the outbox is off.
  void require_enabled() const;
  /// Starts one dispatcher per shard; throws invalid_argument if running.
  void start(outbox_publisher publisher, const continuous_options& options,
             const dispatcher_config& settings);
  /// Stops the dispatchers after their in-flight publishes; idempotent.
  /// Entries held for a retry stay held with their due times: the next
  /// start() retries each when its backoff has passed, and run() may take
  /// them from then on (claim_due_held). Throws reentrant_call from a
  /// listener or a publisher.
  void stop();
  /// Stops the dispatchers and makes held entries pending again (at shutdown).
  void halt();
  /// While no dispatcher runs: claims up to `limit` held entries whose
  /// backoff has passed, in position order (for run()).
  std::vector<storage::outbox_claim> claim_due_held(std::size_t limit);
  /// The running dispatchers, one per shard; none when stopped (for tests).
  std::vector<outbox_dispatcher_actor> dispatchers();
  /// Wakes idle dispatchers (entries became pending outside a commit).
  void kick_idle();
  /// Wakes the dispatcher of `shard` if it idles.
  void kick(std::size_t shard);

private:
  static void kick_if_idle(dispatcher_slot& slot);
  void stop_dispatchers(); // @pre mutex_ held

  storage::outbox_store& outbox_;
  commit_path& commits_;
  const wiring& actors_;
  std::mutex mutex_; // start/stop
  // One slot per shard, made at the first start and kept: committers may
  // read a slot at any time while dispatching_ is true.
  std::vector<std::unique_ptr<dispatcher_slot>> dispatchers_;
  std::atomic<bool> dispatching_{false};
};

} // namespace sourcery::detail
