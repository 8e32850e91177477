#include "pending_append.hpp"

#include "commit_path.hpp"
#include "runtime_metrics.hpp"

#include <utility>

namespace sourcery::detail {

void committed_queue::add(std::shared_ptr<pending_append> p) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    appends_.push_back(std::move(p));
    was_empty = appends_.size() == 1;
  }
  if (was_empty)
    tell_actor_();
}

std::vector<std::shared_ptr<pending_append>> committed_queue::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(appends_, {});
}

storage::append_done pending_append::engine_done(std::shared_ptr<pending_append> p) {
  return [p = std::move(p)](std::optional<append_receipt> receipt, std::exception_ptr error) {
    const auto& commits = p->commits_;
    report(p, std::move(receipt), std::move(error));
    commits.leave();
  };
}

void pending_append::report(const std::shared_ptr<pending_append>& p,
                            std::optional<append_receipt> receipt, std::exception_ptr error) {
  if (auto* m = p->meter_.metrics) {
    if (receipt) {
      m->committed(p->meter_.events, p->meter_.started);
      p->meter_.tenant_events->add(p->meter_.events);
    } else {
      m->refused(error);
    }
  }
  p->receipt_ = std::move(receipt);
  p->error_ = std::move(error);
  int expected = handing_over;
  if (p->stage_.compare_exchange_strong(expected, arrived, std::memory_order_acq_rel))
    return; // the actor answers when the hand-over returns
  if (p->caller_waits_)
    p->complete(); // before it is queued: once queued, the actor may answer it
  if (auto queue = p->queue_.lock())
    queue->add(p);
}

bool pending_append::handed_over(std::size_t shard) {
  wake_shard_ = shard;
  int expected = handing_over;
  return !stage_.compare_exchange_strong(expected, deferred, std::memory_order_acq_rel);
}

void pending_append::answer() {
  if (receipt_)
    commits_.wake(wake_shard_);
  complete();
}

void pending_append::complete() {
  if (receipt_)
    done_(*receipt_);
  else
    done_(error_);
}

} // namespace sourcery::detail
