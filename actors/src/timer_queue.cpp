#include "timer_queue.hpp"

namespace sourcery::detail {

timer_queue::~timer_queue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    due_.clear();
    when_.clear();
  }
  changed_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

timer_queue::timer_id timer_queue::schedule(clock::time_point due, std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  auto id = ++last_id_;
  auto first = due_.empty() || due < due_.begin()->first.first;
  due_.emplace(std::pair(due, id), std::move(fn));
  when_.emplace(id, due);
  if (!thread_.joinable())
    thread_ = std::thread([this] { run(); });
  else if (first)
    changed_.notify_all();
  return id;
}

bool timer_queue::cancel(timer_id id) {
  std::lock_guard lock(mutex_);
  auto it = when_.find(id);
  if (it == when_.end())
    return false;
  due_.erase(std::pair(it->second, id));
  when_.erase(it);
  return true;
}

std::size_t timer_queue::pending() const {
  std::lock_guard lock(mutex_);
  return due_.size();
}

void timer_queue::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto first = due_.begin();
    if (auto due = first->first.first; due > clock::now()) {
      // A copy: while this waits, cancel() may erase the node holding it.
      changed_.wait_until(lock, due);
      continue;
    }
    auto fn = std::move(first->second);
    when_.erase(first->first.second);
    due_.erase(first);
    lock.unlock();
    try {
      fn();
    } catch (...) {
      // A callback only sends a message; nothing to report to.
    }
    fn = nullptr; // its captures go before the lock is taken again
    lock.lock();
  }
}

} // namespace sourcery::detail
