// The listeners of one runtime, read by every commit.
#pragma once

#include <sourcery/listeners.hpp>
#include <sourcery/registry.hpp>

#include <sourcery/storage/engine.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace sourcery::detail {

/// True while this thread runs a listener.
bool in_listener() noexcept;

class listener_registry {
public:
  struct registration {
    std::optional<std::type_index> type;   // by event type
    std::optional<std::string> category;   // by stream category
    listener target;                       // neither: all events
  };

  void add(registration r);
  void remove(const listener& l);
  bool empty() const noexcept { return empty_.load(std::memory_order_acquire); }

  /// Calls the matching listeners for each record, in order; exceptions
  /// propagate. `registry` gives each record's type, `decode` turns a record
  /// into a recorded event.
  void dispatch(std::span<const storage::record> records, const event_registry& registry,
                const std::function<recorded_event(const storage::record&)>& decode) const;

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const std::vector<registration>> current_ =
    std::make_shared<const std::vector<registration>>();
  std::atomic<bool> empty_{true};
};

} // namespace sourcery::detail
