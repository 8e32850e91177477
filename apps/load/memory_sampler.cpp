#include "memory_sampler.hpp"

#include <fstream>
#include <sstream>

#include <unistd.h>

namespace harness {

std::size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  if (!(in >> size >> resident))
    return 0;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

void memory_sampler::start() {
  if (thread_.joinable())
    return;
  stopping_ = false;
  samples_.clear();
  start_ = std::chrono::steady_clock::now();
  take(start_);
  thread_ = std::thread([this] {
    std::unique_lock lock(m_);
    auto next = start_ + period_;
    while (!cv_.wait_until(lock, next, [this] { return stopping_; })) {
      lock.unlock();
      take(start_);
      lock.lock();
      next += period_;
    }
  });
}

void memory_sampler::stop() {
  if (!thread_.joinable())
    return;
  {
    std::lock_guard lock(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  take(start_);
}

void memory_sampler::take(std::chrono::steady_clock::time_point start) {
  memory_sample s{std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                  resident_bytes()};
  std::lock_guard lock(m_);
  samples_.push_back(s);
}

check rss_growth_check(const std::vector<memory_sample>& samples, double max_growth) {
  std::ostringstream name;
  name << "resident memory grew at most " << max_growth * 100
       << "% between 20% of the run and its end";
  if (samples.size() < 2)
    return {name.str(), false, "fewer than two memory samples"};
  double end_t = samples.back().t;
  const memory_sample* base = &samples.front();
  for (const auto& s : samples)
    if (s.t >= 0.2 * end_t) {
      base = &s;
      break;
    }
  const auto& last = samples.back();
  double growth = base->rss > 0 ? static_cast<double>(last.rss) / static_cast<double>(base->rss) - 1 : 0;
  std::ostringstream detail;
  detail.setf(std::ios::fixed);
  detail.precision(1);
  detail << base->rss / (1024.0 * 1024.0) << " MiB at " << base->t << " s -> "
         << last.rss / (1024.0 * 1024.0) << " MiB at " << last.t << " s: "
         << (growth >= 0 ? "+" : "") << growth * 100 << "%";
  return {name.str(), growth <= max_growth, detail.str()};
}

} // namespace harness
