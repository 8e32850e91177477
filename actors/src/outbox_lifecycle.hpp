// The outbox's lifecycle: off until enabled; then continuous publishing
// starts one dispatcher per shard and stops them again. The backend hands it
// the function that spawns a dispatcher.
#pragma once

#include "commit_path.hpp"
#include "outbox_dispatcher.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace sourcery::detail {

class outbox_lifecycle {
public:
  using spawn_fn = std::function<outbox_dispatcher_actor(std::size_t shard, dispatcher_slot*,
                                                         dispatcher_config)>;
  /// Stops dispatchers (by exit messages) and waits until they are gone.
  using halt_fn = std::function<void(const std::vector<outbox_dispatcher_actor>&)>;

  outbox_lifecycle(storage::outbox_store& outbox, commit_path& commits, spawn_fn spawn,
                   halt_fn halt)
    : outbox_(outbox), commits_(commits), spawn_(std::move(spawn)), halt_(std::move(halt)) {}

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
  spawn_fn spawn_;
  halt_fn halt_;
  std::mutex mutex_; // start/stop
  // One slot per shard, made at the first start and kept: committers may
  // read a slot at any time while dispatching_ is true.
  std::vector<std::unique_ptr<dispatcher_slot>> dispatchers_;
  std::atomic<bool> dispatching_{false};
};

} // namespace sourcery::detail
