// The harness's subscription group (R-SUB-GROUP): M members on threads of
// their own share one group over the whole log; each record fails its first
// handling with the outbox's failure probability (nacked, retried after a
// backoff, parked after 3 attempts). The check: every record acked exactly
// once or parked, the parked list is exactly the records parked, and the
// group's checkpoint reached the log's end.
#pragma once

#include "report.hpp"

#include <sourcery/sourcery.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

namespace harness {

class group_run {
public:
  /// Opens the group and starts `members` member threads.
  group_run(sourcery::backend& backend, std::int64_t members, double failure);
  ~group_run();
  group_run(const group_run&) = delete;
  group_run& operator=(const group_run&) = delete;

  /// Waits (event-driven) until `total` records are settled or `deadline`
  /// passed; true when they are.
  bool wait_settled(std::uint64_t total, std::chrono::seconds deadline);
  /// Stops the members (each returns from its current next()).
  void stop();
  /// The checks of a run that committed `total` records.
  std::vector<check> verify(std::uint64_t total);

private:
  void member(std::int64_t index);

  sourcery::subscription_group group_;
  const double failure_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;

  std::mutex m_;
  std::condition_variable settled_cv_;
  std::unordered_map<sourcery::position, std::uint32_t> acks_; // GUARDED_BY(m_)
  std::set<sourcery::position> parked_;                          // GUARDED_BY(m_)
  std::uint64_t nacks_ = 0;                                      // GUARDED_BY(m_)
  std::vector<std::string> errors_;                              // GUARDED_BY(m_)
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_settled_ = started_; // GUARDED_BY(m_)
};

} // namespace harness
