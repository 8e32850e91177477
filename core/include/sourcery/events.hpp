// Events as the API sees them: typed, wrapped with metadata, recorded with a
// position, and raw as stored (SPEC §1, R-E4).
#pragma once

#include <sourcery/errors.hpp>
#include <sourcery/stream_id.hpp>
#include <sourcery/values.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <vector>

namespace sourcery {

/// Any registered event value, reachable type-safely (R-E4). Immutable and
/// cheap to copy (shares the value).
class any_event {
public:
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, any_event>)
  any_event(E&& e) // NOLINT: implicit by design, `wrap(my_event{...})`
    : type_(typeid(std::decay_t<E>)),
      value_(std::make_shared<const std::decay_t<E>>(std::forward<E>(e))) {}

  any_event(std::type_index type, std::shared_ptr<const void> value,
            std::string_view name) noexcept
    : type_(type), value_(std::move(value)), name_(name) {}

  template <class E>
  bool is() const noexcept {
    return type_ == typeid(E);
  }

  /// The value as `E`; throws `wrong_event_type` if it is not an `E`.
  template <class E>
  const E& as() const {
    if (!is<E>())
      throw_wrong_type(typeid(E).name());
    return *static_cast<const E*>(value_.get());
  }

  /// The value as `E`, or nullptr.
  template <class E>
  const E* get_if() const noexcept {
    return is<E>() ? static_cast<const E*>(value_.get()) : nullptr;
  }

  std::type_index type() const noexcept { return type_; }
  const void* data() const noexcept { return value_.get(); }
  /// The registered name; empty for an event not yet appended or loaded.
  std::string_view name() const noexcept { return name_; }

private:
  [[noreturn]] void throw_wrong_type(const char* requested) const;

  std::type_index type_;
  std::shared_ptr<const void> value_;
  std::string_view name_;
};

/// An event plus its metadata.
template <class E = any_event>
struct wrapped_event {
  E event;
  uuid id = random_uuid();
  timestamp created_at = timestamp::now();
  /// Position in the stream; none on versionless streams or when `append`
  /// should number it (expected + 1, expected + 2, …).
  std::optional<sourcery::version> version;
  sourcery::context context;
};

/// Wraps an event for `append`.
template <class E>
wrapped_event<> wrap(E&& e, sourcery::context ctx = {}) {
  return wrapped_event<>{any_event(std::forward<E>(e)), random_uuid(),
                         timestamp::now(), std::nullopt, std::move(ctx)};
}

/// A committed event as subscriptions, listeners and the outbox see it: a
/// wrapped event (`event`, `id`, `created_at`, `version`, `context`, as
/// members, like `wrapped_event`) plus where it was committed.
struct recorded_event : wrapped_event<> {
  sourcery::stream_id stream_id;
  sourcery::position position = 0;
  std::string tenant_id;

  /// The wrapped event alone.
  const wrapped_event<>& wrapped() const noexcept { return *this; }
};

/// The stored form of an event: data and context as JSON text (encrypted
/// fields already encrypted).
struct raw_event {
  uuid id;
  timestamp created_at;
  std::string name;
  std::string data;
  std::string context;
  std::optional<sourcery::version> version;
  /// The schema version of the event type the data was written with (R-UP1);
  /// records stored before schema versions existed read as 1.
  std::uint32_t schema = 1;
};

} // namespace sourcery
