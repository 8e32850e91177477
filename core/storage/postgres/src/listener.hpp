// A node's ear on the database (R-N2): one connection that LISTENs to the
// store's channels and a thread that sleeps in poll() on its socket until a
// notification arrives. Every commit that takes positions NOTIFYs
// "<schema>_log" with its last position; a report that takes an entry out
// of the outbox NOTIFYs "<schema>_outbox". Nothing is polled.
//
// When the connection is lost, the thread connects again (waiting 50 ms,
// doubling to 2 s, between attempts), listens again, then reads the
// counter once, since notifications sent meanwhile were missed.
//
// Thread-safety: the callbacks run on the listener's thread.
#pragma once

#include "connection.hpp"

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace sourcery::storage::postgres_detail {

class listener {
public:
  /// Starts listening; `on_log` receives positions known committed,
  /// `on_outbox` that entries may have left the outbox.
  listener(connection_settings settings, std::string schema,
           std::function<void(std::uint64_t)> on_log, std::function<void()> on_outbox);
  /// Stops the thread.
  ~listener();

  /// Whether the listener is connected and listening now.
  bool listening() const noexcept { return listening_.load(); }

private:
  void run();
  /// Listens until the connection is lost (returns false) or stop (true).
  bool listen_once();

  const connection_settings settings_;
  const std::string schema_;
  std::function<void(std::uint64_t)> on_log_;
  std::function<void()> on_outbox_;
  int stop_fd_ = -1; // an eventfd, written at destruction
  std::atomic<bool> listening_{false};
  std::thread thread_;
};

} // namespace sourcery::storage::postgres_detail
