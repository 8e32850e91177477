// A callback that runs exactly once. The job messages sent to actors carry
// one; if a job is dropped without being completed — its actor is gone, or
// the runtime stopped with the job still in a mailbox — the last copy's
// destruction completes it with `runtime_stopped`. So every asynchronous call
// ends in a result, never in silence.
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/event_store.hpp>

#include <atomic>
#include <memory>
#include <utility>

namespace sourcery::detail {

template <class T>
class completion {
public:
  completion() = default;
  explicit completion(callback<T> fn) : state_(std::make_shared<state>(std::move(fn))) {}

  /// Completes with `r` unless completed before; a throwing callback's
  /// exception is dropped (the caller's code owns it).
  void operator()(result<T> r) const {
    if (state_)
      state_->complete(std::move(r));
  }

  explicit operator bool() const noexcept { return state_ && state_->fn; }

private:
  struct state {
    explicit state(callback<T> f) : fn(std::move(f)) {}
    state(const state&) = delete;
    ~state() {
      if (fn && !done.load(std::memory_order_acquire)) // the exception only when needed
        complete(std::make_exception_ptr(
          runtime_stopped("the runtime stopped before this call completed")));
    }
    void complete(result<T> r) {
      if (!fn || done.exchange(true, std::memory_order_acq_rel))
        return;
      try {
        fn(std::move(r));
      } catch (...) {
      }
    }
    callback<T> fn;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<state> state_;
};

} // namespace sourcery::detail
