#include "memory_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>

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
    auto next = start_ + period_(0);
    while (!cv_.wait_until(lock, next, [this] { return stopping_; })) {
      lock.unlock();
      take(start_);
      lock.lock();
      next += period_(std::chrono::duration<double>(next - start_).count());
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
                  resident_bytes(), engine_bytes_()};
  std::lock_guard lock(m_);
  samples_.push_back(s);
}

namespace {

/// The median resident memory of the samples taken from `from` to `to`
/// seconds; the sample nearest `to` when none falls inside.
std::size_t median_rss(const std::vector<memory_sample>& samples, double from, double to) {
  std::vector<std::size_t> inside;
  for (const auto& s : samples)
    if (s.t >= from && s.t <= to)
      inside.push_back(s.rss);
  if (inside.empty()) {
    const memory_sample* nearest = &samples.front();
    for (const auto& s : samples)
      if (std::abs(s.t - to) < std::abs(nearest->t - to))
        nearest = &s;
    return nearest->rss;
  }
  auto mid = inside.begin() + static_cast<std::ptrdiff_t>(inside.size() / 2);
  std::nth_element(inside.begin(), mid, inside.end());
  return *mid;
}

} // namespace

check rss_growth_check(const std::vector<memory_sample>& samples, double max_growth) {
  std::ostringstream name;
  name << "resident memory grew at most " << max_growth * 100
       << "% between 20% of the run and its end";
  if (samples.size() < 2)
    return {name.str(), false, "fewer than two memory samples"};
  // Levels, not single samples: resident memory moves by several MiB within
  // seconds (a memtable flushed, a compaction's buffers, the allocator
  // returning pages), and growth is what is checked, not where one second
  // happened to fall. Each level is the median of a tenth of the run.
  double end_t = samples.back().t;
  double base_from = 0.15 * end_t, base_to = 0.25 * end_t, last_from = 0.9 * end_t;
  auto base = median_rss(samples, base_from, base_to);
  auto last = median_rss(samples, last_from, end_t);
  double growth = base > 0 ? static_cast<double>(last) / static_cast<double>(base) - 1 : 0;
  std::ostringstream detail;
  detail.setf(std::ios::fixed);
  detail.precision(1);
  detail << "median " << base / (1024.0 * 1024.0) << " MiB over " << base_from << "-" << base_to
         << " s -> median " << last / (1024.0 * 1024.0) << " MiB over " << last_from << "-"
         << end_t << " s: " << (growth >= 0 ? "+" : "") << growth * 100 << "%";
  return {name.str(), growth <= max_growth, detail.str()};
}

} // namespace harness
