#include "group_check.hpp"

#include <algorithm>
#include <random>

namespace harness {

group_run::group_run(sourcery::backend& backend, std::int64_t members, double failure)
  : group_(backend.subscriber().group("harness").start_from(0).attempts(3)
             .backoff(std::chrono::milliseconds(10), std::chrono::milliseconds(200))
             .open()),
    failure_(failure) {
  for (std::int64_t k = 0; k < members; ++k)
    threads_.emplace_back([this, k] { member(k); });
}

group_run::~group_run() {
  stop();
}

void group_run::member(std::int64_t index) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(index) * 7919 + 1);
  std::uniform_real_distribution<double> unit(0, 1);
  try {
    auto me = group_.join("harness-member-" + std::to_string(index + 1));
    while (!stopping_.load()) {
      auto batch = me.next(256, std::chrono::milliseconds(200));
      std::vector<sourcery::position> acked, parked;
      std::uint64_t nacks = 0;
      for (const auto& d : batch) {
        auto p = d.event.position;
        // A failure at the first attempt, and at each retry with the same odds.
        if (unit(rng) < failure_) {
          ++nacks;
          if (me.nack(p, "simulated handler failure"))
            parked.push_back(p);
          continue;
        }
        me.ack(p);
        acked.push_back(p);
      }
      std::lock_guard lock(m_);
      for (auto p : acked)
        ++acks_[p];
      parked_.insert(parked.begin(), parked.end());
      nacks_ += nacks;
      if (!acked.empty() || !parked.empty())
        last_settled_ = std::chrono::steady_clock::now();
      settled_cv_.notify_all();
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(m_);
    errors_.push_back(e.what());
    settled_cv_.notify_all();
  }
}

bool group_run::wait_settled(std::uint64_t total, std::chrono::seconds deadline) {
  std::unique_lock lock(m_);
  return settled_cv_.wait_for(lock, deadline, [&] {
    return !errors_.empty() || acks_.size() + parked_.size() >= total;
  });
}

void group_run::stop() {
  stopping_ = true;
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

std::vector<check> group_run::verify(std::uint64_t total) {
  stop();
  std::lock_guard lock(m_);
  std::uint64_t twice = 0, missing = 0, both = 0;
  for (sourcery::position p = 1; p <= total; ++p) {
    auto it = acks_.find(p);
    auto n = it == acks_.end() ? 0u : it->second;
    bool parked = parked_.contains(p);
    twice += n > 1;
    missing += n == 0 && !parked;
    both += n > 0 && parked;
  }
  std::vector<check> out;
  auto threads = std::to_string(threads_.size());
  out.push_back({"the group's " + threads + " members acked every record exactly once or parked it",
                 errors_.empty() && twice == 0 && missing == 0 && both == 0,
                 std::to_string(acks_.size()) + " acked, " + std::to_string(parked_.size())
                   + " parked, " + std::to_string(nacks_) + " nacks; " + std::to_string(twice)
                   + " acked twice, " + std::to_string(missing) + " neither, "
                   + std::to_string(both) + " both"
                   + (errors_.empty() ? "" : "; first error: " + errors_.front())});
  auto seconds = std::chrono::duration<double>(last_settled_ - started_).count();
  out.back().detail += "; the last settled " + std::to_string(seconds) + " s after the group opened ("
                       + std::to_string(static_cast<long long>(
                           static_cast<double>(acks_.size() + parked_.size()) / std::max(seconds, 1e-3)))
                       + " records/s)";
  std::set<sourcery::position> listed;
  for (const auto& p : group_.parked())
    listed.insert(p.at);
  auto status = group_.status();
  out.push_back({"the group's parked list and checkpoint reconcile",
                 listed == parked_ && status.checkpoint == total && status.in_hand == 0,
                 std::to_string(listed.size()) + " listed as parked, checkpoint "
                   + std::to_string(status.checkpoint) + " of " + std::to_string(total) + ", "
                   + std::to_string(status.in_hand) + " in hand"});
  return out;
}

} // namespace harness
