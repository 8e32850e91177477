// Event-sourced aggregates (issue #6): a consistency boundary whose state is
// the fold of its events.
//
//   struct turned_on {};  struct turned_off {};     // registered events
//
//   class light_switch : public sourcery::aggregate<light_switch, turned_on, turned_off> {
//   public:
//     static constexpr std::string_view category = "light_switch";
//     void turn_on() { if (on_) throw already_on{}; emit(turned_on{}); }
//   private:
//     friend sourcery::aggregate_access;
//     void apply(const turned_on&) { on_ = true; }
//     void apply(const turned_off&) { on_ = false; }
//     bool on_ = false;
//   };
//
// The aggregate lists its event types once; dispatch to `apply` is resolved at
// compile time for emitted events and by exact type for loaded ones, so an
// event type without an `apply` does not compile and a foreign event in the
// stream is a typed error (`wrong_event_type`), never a silent skip.
//
// Optional snapshots: declare `using snapshot_type = S;` (a registered event
// type that is not one of the aggregate's events), `S snapshot() const` and
// `void restore(const S&)`. The repository then can save and load snapshots.
//
// An aggregate is a plain value; it is not thread-safe (one session, one
// thread), and it knows nothing about storage: the repository loads and
// commits it.
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>

#include <boost/core/demangle.hpp>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace sourcery {

/// Calls `f(e.as<E>())` for the first `E` of `Events` that `e` holds;
/// returns false (and calls nothing) when `e` holds none of them.
template <class... Events, class F>
bool visit_event(const any_event& e, F&& f) {
  return ((e.is<Events>() && (f(e.as<Events>()), true)) || ...);
}

template <class A>
class repository;

/// What the aggregate base and the repository call on a user's aggregate.
/// Befriend it (`friend sourcery::aggregate_access;`) to keep `apply`,
/// `snapshot` and `restore` private.
class aggregate_access {
  template <class, class...>
  friend class aggregate;
  template <class>
  friend class repository;

  template <class A, class E>
  static constexpr bool can_apply() {
    return requires(A& a, const E& e) { a.apply(e); };
  }
  template <class A, class E>
  static void apply(A& a, const E& e) {
    a.apply(e);
  }
  template <class A>
  static auto snapshot(const A& a) {
    return a.snapshot();
  }
  template <class A, class S>
  static void restore(A& a, const S& s) {
    a.restore(s);
  }
  template <class A>
  static auto take_pending(A& a) {
    return std::exchange(a.pending_, {});
  }
};

/// Base of an aggregate `Derived` whose events are `Events...`. `Derived`
/// names its stream category with
/// `static constexpr std::string_view category = "…";`.
template <class Derived, class... Events>
class aggregate {
  static_assert(sizeof...(Events) > 0, "an aggregate needs at least one event type");

public:
  /// One of the aggregate's events.
  using event = std::variant<Events...>;

  /// The category of every stream of this aggregate type.
  static std::string stream_category() { return std::string(Derived::category); }

  /// Events emitted since the aggregate was loaded or last committed,
  /// oldest first.
  const std::vector<event>& pending() const noexcept { return pending_; }

  /// Applies a stored event without recording it (replay). Throws
  /// `wrong_event_type` naming the event when it is none of `Events`.
  void replay(const any_event& e) {
    bool known = visit_event<Events...>(e, [this](const auto& ev) { apply_one(ev); });
    if (!known)
      throw wrong_event_type("event '" + std::string(e.name()) + "' is not an event of "
                             + boost::core::demangle(typeid(Derived).name()) + " (category '"
                             + stream_category() + "')");
  }

protected:
  aggregate() {
    static_assert((aggregate_access::can_apply<Derived, Events>() && ...),
                  "the aggregate needs an apply(const E&) for each of its event types "
                  "(befriend sourcery::aggregate_access if it is private)");
  }

  /// Applies `e` to the state, then records it as a pending change. If
  /// `apply` throws, nothing is recorded.
  template <class E>
  void emit(E&& e) {
    using type = std::remove_cvref_t<E>;
    static_assert((std::is_same_v<type, Events> || ...),
                  "emit: the event type is not one of the aggregate's events");
    apply_one(static_cast<const type&>(e));
    pending_.emplace_back(std::in_place_type<type>, std::forward<E>(e));
  }

private:
  friend aggregate_access;

  template <class E>
  void apply_one(const E& e) {
    aggregate_access::apply(static_cast<Derived&>(*this), e);
  }

  std::vector<event> pending_;
};

namespace detail {

template <class A>
concept snapshotting_aggregate = requires { typename A::snapshot_type; };

template <class Variant, class T>
inline constexpr bool variant_has = false;
template <class... Ts, class T>
inline constexpr bool variant_has<std::variant<Ts...>, T> = (std::is_same_v<Ts, T> || ...);

/// An aggregate's event as an `any_event`, for `append`.
template <class... Events>
any_event to_any_event(const std::variant<Events...>& e) {
  return std::visit([](const auto& ev) { return any_event(ev); }, e);
}

} // namespace detail

} // namespace sourcery
