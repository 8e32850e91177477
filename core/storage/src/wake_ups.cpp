#include <sourcery/detail/wake_ups.hpp>

#include <vector>

namespace sourcery::storage {

std::uint64_t wake_ups::notify_after(position after, wake_fn wake) {
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    if (last_() <= after) {
      auto it = waiters_.emplace(id, waiter{after, std::move(wake)}).first;
      has_waiters_.store(true, std::memory_order_seq_cst);
      // A commit that published before has_waiters_ was set did not look.
      if (last_() <= after)
        return id;
      wake = std::move(it->second.wake);
      waiters_.erase(it);
      has_waiters_.store(!waiters_.empty(), std::memory_order_seq_cst);
    }
  }
  wake();
  return id;
}

void wake_ups::cancel(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  waiters_.erase(id);
  has_waiters_.store(!waiters_.empty(), std::memory_order_seq_cst);
}

void wake_ups::cancel_all() {
  std::lock_guard lock(mutex_);
  waiters_.clear();
  has_waiters_.store(false, std::memory_order_seq_cst);
}

void wake_ups::wake_ready() {
  std::vector<wake_fn> ready;
  {
    std::lock_guard lock(mutex_);
    auto now = last_();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.after < now) {
        ready.push_back(std::move(it->second.wake));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    has_waiters_.store(!waiters_.empty(), std::memory_order_seq_cst);
  }
  for (auto& wake : ready)
    wake();
}

} // namespace sourcery::storage
