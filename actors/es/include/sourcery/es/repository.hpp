// The repository (issue #6): loads an aggregate from its stream and commits
// its pending events with optimistic locking.
//
//   sourcery::repository<light_switch> switches(backend.event_store());
//   auto sw = switches.load(id);                 // replays the stream
//   sw->turn_on();                               // emits pending events
//   switches.commit(sw);                         // appends them, expected version = stored
//
// A repository is a cheap handle; copies share the event store. It is safe to
// use from many threads; a wrapped aggregate is used by one thread at a time.
#pragma once

#include <sourcery/es/aggregate.hpp>
#include <sourcery/errors.hpp>
#include <sourcery/event_store.hpp>
#include <sourcery/events.hpp>
#include <sourcery/registry.hpp>

#include <boost/describe.hpp>
#include <boost/json/value_from.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sourcery {

// -- typed context --------------------------------------------------------------

/// A struct described with BOOST_DESCRIBE_STRUCT, usable as a typed context.
template <class C>
concept described_context = boost::describe::has_describe_members<C>::value;

/// `c` as a context: each member becomes a field (a member named
/// `correlation_id` or `causation_id` of type (optional) uuid fills that
/// field); members that are null (empty optionals) are left out.
template <described_context C>
context to_context(const C& c) {
  auto json = boost::json::value_from(c).as_object();
  for (auto it = json.begin(); it != json.end();)
    it = it->value().is_null() ? json.erase(it) : std::next(it);
  return boost::json::value_to<context>(boost::json::value(std::move(json)));
}

/// The context's fields as a `C`; fields `C` does not describe are ignored,
/// missing ones read as JSON null (fine for optionals). Throws
/// `invalid_argument` naming the field that does not fit.
template <described_context C>
C from_context(const context& ctx) {
  auto fields = boost::json::value_from(ctx).as_object();
  boost::json::object picked;
  using members = boost::describe::describe_members<C, boost::describe::mod_public>;
  boost::mp11::mp_for_each<members>([&](auto d) {
    const auto* v = fields.if_contains(d.name);
    picked[d.name] = v ? *v : boost::json::value{};
  });
  try {
    return serde::convert<C>(picked);
  } catch (const serde::decode_failure& e) {
    throw invalid_argument("context field '" + e.field + "' does not fit the typed context: "
                           + e.what());
  }
}

namespace detail {
inline context as_context(const context& c) { return c; }
template <described_context C>
context as_context(const C& c) {
  return to_context(c);
}
} // namespace detail

// -- wrapped aggregate ----------------------------------------------------------

/// An aggregate as loaded by a repository, with its stream's metadata.
template <class A>
class wrapped_aggregate {
public:
  A& aggregate() noexcept { return aggregate_; }
  const A& aggregate() const noexcept { return aggregate_; }
  A* operator->() noexcept { return &aggregate_; }
  const A* operator->() const noexcept { return &aggregate_; }
  A& operator*() noexcept { return aggregate_; }

  /// The aggregate's stream; its category is the aggregate's.
  const sourcery::stream_id& stream_id() const noexcept { return stream_; }

  /// The context every committed event carries.
  const sourcery::context& context() const noexcept { return context_; }
  /// The context as a typed struct (see from_context).
  template <described_context C>
  C context_as() const {
    return from_context<C>(context_);
  }

  /// The stream's version when loaded or last committed (0 = no events).
  version stored_version() const noexcept { return stored_; }
  /// stored_version() plus the pending events.
  version current_version() const noexcept { return stored_ + aggregate_.pending().size(); }
  /// True while the stream has no stored events.
  bool is_new() const noexcept { return stored_ == 0; }

  /// When the stream's first event was created; none while is_new().
  const std::optional<timestamp>& created_at() const noexcept { return created_at_; }
  /// When the stream's last stored event was created; none while is_new().
  const std::optional<timestamp>& updated_at() const noexcept { return updated_at_; }

private:
  friend class repository<A>;
  wrapped_aggregate(A a, sourcery::stream_id s, sourcery::context c)
    : aggregate_(std::move(a)), stream_(std::move(s)), context_(std::move(c)) {}

  A aggregate_;
  sourcery::stream_id stream_;
  sourcery::context context_;
  version stored_ = 0;
  std::optional<timestamp> created_at_;
  std::optional<timestamp> updated_at_;
};

// -- snapshot policy ------------------------------------------------------------

/// When a repository saves a snapshot after a commit.
struct snapshot_policy {
  /// Snapshot whenever a commit crosses a multiple of `interval` versions;
  /// 0 = never.
  version interval = 0;

  static snapshot_policy never() noexcept { return {}; }
  static snapshot_policy every(version n) noexcept { return {n}; }

  bool due(version before, version after) const noexcept {
    return interval > 0 && after / interval > before / interval;
  }
};

// -- repository -----------------------------------------------------------------

template <class A>
class repository {
public:
  /// Context fields of a snapshot that keep the stream's first and last event
  /// times, which the snapshot replaces.
  static constexpr const char* created_at_field = "stream_created_at";
  static constexpr const char* updated_at_field = "stream_updated_at";

  /// A repository over `store`. A policy other than never() needs an
  /// aggregate with a `snapshot_type`, else `invalid_argument`.
  explicit repository(sourcery::event_store store, snapshot_policy policy = {})
    : store_(std::move(store)), policy_(policy) {
    if constexpr (detail::snapshotting_aggregate<A>) {
      static_assert(!detail::variant_has<typename A::event, typename A::snapshot_type>,
                    "an aggregate's snapshot_type must not be one of its events");
    } else if (policy_.interval > 0) {
      throw invalid_argument("snapshot policy given for " + describe()
                             + ", which declares no snapshot_type");
    }
  }

  /// Loads the stream `id` (category = A's) into `fresh`: from its latest
  /// snapshot, if any, then every later event. An unknown stream gives a new
  /// aggregate (is_new()). `ctx` (a sourcery::context or a described struct)
  /// is attached to every event committed from it. Throws `wrong_event_type`
  /// for an event that is not A's, `expected_version_used_on_versionless_stream`
  /// for a versionless stream.
  template <class Ctx = sourcery::context>
  wrapped_aggregate<A> load(const uuid& id, A fresh = A{}, const Ctx& ctx = {}) {
    return load_stream(stream_id(id, A::stream_category()), std::move(fresh),
                       detail::as_context(ctx));
  }

  /// As load(), for the stream named `name` (stream_id::named).
  template <class Ctx = sourcery::context>
  wrapped_aggregate<A> load_named(std::string name, A fresh = A{}, const Ctx& ctx = {}) {
    return load_stream(stream_id::named(std::move(name), A::stream_category()),
                       std::move(fresh), detail::as_context(ctx));
  }

  /// Appends the pending events, each with the wrapped context, expecting the
  /// stored version; afterwards they are stored and no longer pending.
  /// Returns none, appending nothing, when nothing is pending. Another
  /// session's commit in between → `concurrent_stream_write_error`, nothing
  /// is written and the events stay pending. When the snapshot policy says
  /// so, a snapshot follows (skipped if the stream moved on meanwhile); any
  /// other snapshot error (an unregistered snapshot_type) is thrown after the
  /// events were stored and the wrapped aggregate updated.
  std::optional<append_receipt> commit(wrapped_aggregate<A>& w) {
    const auto& pending = w.aggregate_.pending();
    if (pending.empty())
      return std::nullopt;
    std::vector<wrapped_event<>> events;
    events.reserve(pending.size());
    for (const auto& e : pending)
      events.push_back(wrapped_event<>{detail::to_any_event(e), random_uuid(), timestamp::now(),
                                       std::nullopt, w.context_});
    auto receipt = store_.append(w.stream_, events, w.stored_);
    auto before = w.stored_;
    aggregate_access::take_pending(w.aggregate_);
    w.stored_ = receipt.version.value_or(before + events.size());
    if (!w.created_at_)
      w.created_at_ = events.front().created_at;
    w.updated_at_ = events.back().created_at;
    if (policy_.due(before, w.stored_))
      try_snapshot(w);
    return receipt;
  }

  /// Saves a snapshot of the committed state, with the wrapped context plus
  /// the stream's first and last event times. Throws `invalid_argument` when
  /// events are pending or nothing is stored, `versioning_mismatch` when the
  /// stream moved on since the aggregate was loaded or committed.
  void save_snapshot(const wrapped_aggregate<A>& w)
    requires detail::snapshotting_aggregate<A>
  {
    if (!w.aggregate_.pending().empty() || w.stored_ == 0)
      throw invalid_argument("a snapshot of " + w.stream_.to_string()
                             + " needs committed events and none pending");
    auto snap = wrap(aggregate_access::snapshot(w.aggregate_), w.context_);
    snap.version = w.stored_;
    if (w.created_at_)
      snap.context.extra[created_at_field] = w.created_at_->to_string();
    if (w.updated_at_)
      snap.context.extra[updated_at_field] = w.updated_at_->to_string();
    store_.save_snapshot(w.stream_, std::move(snap));
  }

  const snapshot_policy& policy() const noexcept { return policy_; }

private:
  static std::string describe() { return "aggregate category '" + A::stream_category() + "'"; }

  wrapped_aggregate<A> load_stream(sourcery::stream_id id, A fresh, sourcery::context ctx) {
    wrapped_aggregate<A> w(std::move(fresh), std::move(id), std::move(ctx));
    auto events = store_.load_stream(w.stream_);
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      if (!e.version)
        throw expected_version_used_on_versionless_stream(
          "stream " + w.stream_.to_string() + " is versionless; " + describe()
          + " needs a versioned stream");
      if (i == 0 && restore(w, e))
        continue;
      w.aggregate_.replay(e.event);
      w.stored_ = *e.version;
      if (!w.created_at_)
        w.created_at_ = e.created_at;
      w.updated_at_ = e.created_at;
    }
    return w;
  }

  /// Restores `w` from `e` if it is A's snapshot.
  static bool restore(wrapped_aggregate<A>& w, const wrapped_event<>& e) {
    if constexpr (detail::snapshotting_aggregate<A>) {
      using snapshot_type = typename A::snapshot_type;
      const auto* snap = e.event.get_if<snapshot_type>();
      if (!snap)
        return false;
      aggregate_access::restore(w.aggregate_, *snap);
      w.stored_ = *e.version;
      w.created_at_ = field_time(e, created_at_field);
      w.updated_at_ = field_time(e, updated_at_field);
      return true;
    } else {
      return false;
    }
  }

  /// A time kept in the snapshot's context; the snapshot's own time if absent.
  static timestamp field_time(const wrapped_event<>& snapshot, const char* field) {
    const auto* v = snapshot.context.extra.if_contains(field);
    return v && v->is_string() ? timestamp::parse(v->get_string()) : snapshot.created_at;
  }

  void try_snapshot(const wrapped_aggregate<A>& w) {
    if constexpr (detail::snapshotting_aggregate<A>) {
      try {
        save_snapshot(w);
      } catch (const versioning_mismatch&) {
        // Another session appended after our commit; its commit or a later
        // one snapshots instead.
      }
    }
  }

  sourcery::event_store store_;
  snapshot_policy policy_;
};

} // namespace sourcery
