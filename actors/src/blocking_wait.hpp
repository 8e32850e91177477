// The blocking facade's wait: submit an asynchronous call, then wait for its
// callback (storage::completion_latch, spinning first within the thread's
// storage::spin_budget).
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/event_store.hpp>
#include <sourcery/detail/completion_latch.hpp>
#include <sourcery/detail/spin_budget.hpp>

#include "listener_registry.hpp"

#include <chrono>
#include <optional>

namespace sourcery::detail {

/// The calling thread's spin budget for its blocking calls: a blocking
/// append to RocksDB waits for one fsync, ~0.2 ms; an in-memory call, tens
/// of µs.
inline storage::spin_budget& blocking_call_budget() noexcept {
  using namespace std::chrono_literals;
  thread_local storage::spin_budget b(50us, 300us);
  return b;
}

/// Calls `submit(callback)` and blocks until the callback ran; returns its
/// value or rethrows its exception. Throws `reentrant_call` from a listener.
/// If `deadline` passes first, it calls `at_deadline()` once — which
/// must make the call complete soon (e.g. tell the actor to answer with what
/// it has) — and goes on waiting for the callback.
template <class T, class Submit, class AtDeadline>
T wait_for(Submit&& submit, std::chrono::steady_clock::time_point deadline,
           AtDeadline&& at_deadline) {
  if (in_listener())
    throw reentrant_call("a listener called the blocking API of the runtime it listens to; "
                         "this would deadlock the append that runs the listener");
  storage::completion_latch latch(&blocking_call_budget());
  std::optional<result<T>> out;
  submit([&](result<T> r) {
    out.emplace(std::move(r));
    latch.release();
  });
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    latch.wait();
  } else if (!latch.wait_until(deadline)) {
    at_deadline();
    latch.wait();
  }
  return std::move(out->value());
}

/// As above, without a deadline.
template <class T, class Submit>
T wait_for(Submit&& submit) {
  return wait_for<T>(std::forward<Submit>(submit), std::chrono::steady_clock::time_point::max(),
                     [] {});
}

} // namespace sourcery::detail
