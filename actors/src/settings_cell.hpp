// The runtime's settings, read by every part that needs them.
//
// Thread-safety: safe from any thread.
#pragma once

#include <sourcery/settings.hpp>

#include <mutex>

namespace sourcery::detail {

class settings_cell {
public:
  settings get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }
  /// Validates `s` (throws invalid_argument naming the first bad setting),
  /// then applies it.
  void set(const settings& s) {
    s.validate();
    std::lock_guard lock(mutex_);
    value_ = s;
  }

private:
  mutable std::mutex mutex_;
  settings value_; // GUARDED_BY(mutex_)
};

} // namespace sourcery::detail
