// In-transaction listeners (R-L): called synchronously inside `append`,
// before it returns, in position order, for all tenants.
//
// A listener that throws rolls the append back (nothing stored, no position
// consumed) and the appending caller receives the listener's exception. A
// listener must not call the blocking API of the runtime it listens to; doing
// so throws `reentrant_call` instead of deadlocking.
//
// Thread-safe: listeners may be added and removed while appends run.
#pragma once

#include <sourcery/events.hpp>

#include <functional>
#include <memory>
#include <string>
#include <typeindex>

namespace sourcery {

namespace detail {
class listener_registry;
}

/// A listener; its identity is the shared_ptr, so adding one twice delivers
/// each event to it once.
using listener = std::shared_ptr<std::function<void(const recorded_event&)>>;

template <class F>
listener make_listener(F f) {
  return std::make_shared<std::function<void(const recorded_event&)>>(std::move(f));
}

class listeners {
public:
  explicit listeners(std::shared_ptr<detail::listener_registry> registry)
    : registry_(std::move(registry)) {}

  /// Calls `l` for events of type E.
  template <class E>
  void add(const listener& l) {
    add_for_type(typeid(E), l);
  }
  /// Calls `l` for every event.
  void add_all(const listener& l);
  /// Calls `l` for events of streams in `category`.
  void add_for_category(const std::string& category, const listener& l);
  /// Removes every registration of `l`; no-op when it has none.
  void remove(const listener& l);

private:
  void add_for_type(std::type_index type, const listener& l);
  std::shared_ptr<detail::listener_registry> registry_;
};

} // namespace sourcery
