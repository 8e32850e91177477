// The threads that run push subscriptions' callbacks (SPEC §7, R-SUB-POOL).
//
// A callback is user code that may block, so it never runs on CAF's workers;
// a thread per subscription does not scale (about 32,000 in a process). A
// callback_pool is a fixed number of threads taking jobs from one queue in
// submission order: any free thread takes the next job, so a job that blocks
// holds one thread and delays nothing queued behind it while another thread
// is free. Each subscription's feed actor submits its next job only after its
// previous one finished, which keeps a subscription's callbacks serial and in
// order without any per-subscription state here.
//
// Thread-safety: submit() may be called from any thread; stop() and the
// destructor from any thread but the pool's own.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sourcery::detail {

class callback_pool {
public:
  using job = std::function<void()>;

  /// Starts `threads` (≥ 1) threads; each calls `on_thread_start` first.
  callback_pool(std::size_t threads, std::function<void()> on_thread_start = {});
  /// stop().
  ~callback_pool();
  callback_pool(const callback_pool&) = delete;
  callback_pool& operator=(const callback_pool&) = delete;

  /// Queues `j` to run on one of the threads; false (and `j` is destroyed
  /// here, not run) once stop() began. A job's exceptions are its own: one
  /// that escapes is dropped.
  bool submit(job j);

  /// Refuses new jobs, drops the queued ones (destroyed, not run), waits for
  /// those running and joins the threads. Idempotent. After it returns no
  /// job runs any more.
  void stop();

  std::size_t threads() const noexcept { return threads_.size(); }

private:
  void run();

  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<job> queue_; // GUARDED_BY(mutex_)
  bool stopping_ = false; // GUARDED_BY(mutex_)
  std::vector<std::thread> threads_; // started by the constructor, joined by stop()
  std::mutex join_mutex_; // one stop() joins at a time
};

} // namespace sourcery::detail
