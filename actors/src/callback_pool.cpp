#include "callback_pool.hpp"

#include <stdexcept>
#include <utility>

namespace sourcery::detail {

callback_pool::callback_pool(std::size_t threads, std::function<void()> on_thread_start) {
  if (threads == 0)
    throw std::invalid_argument("a callback pool needs at least one thread");
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this, on_thread_start] {
      if (on_thread_start)
        on_thread_start();
      run();
    });
}

callback_pool::~callback_pool() {
  stop();
}

bool callback_pool::submit(job j) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(j));
      work_.notify_one();
      return true;
    }
  }
  return false; // `j` is destroyed outside the lock: it may release an actor
}

void callback_pool::stop() {
  std::deque<job> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
    work_.notify_all();
  }
  dropped.clear();
  std::lock_guard join(join_mutex_);
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

void callback_pool::run() {
  for (;;) {
    job next;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_)
        return;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      next();
    } catch (...) { // jobs catch what their user code throws; nothing else is expected
    }
  }
}

} // namespace sourcery::detail
