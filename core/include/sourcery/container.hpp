// A dependency-injection container keyed by type (R-B).
//
// Providers: a value, a factory taking the container (called on every
// resolution), a singleton (built once per container, on first resolution),
// or not_configured("message"). Configure a container before sharing it
// between threads; resolution is then thread-safe.
#pragma once

#include <sourcery/errors.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>

namespace sourcery {

class container;

template <class F>
struct factory_provider {
  F make;
};
/// A provider calling `f(container&)` on every resolution.
template <class F>
factory_provider<F> factory(F f) {
  return {std::move(f)};
}

template <class F>
struct singleton_provider {
  F make;
};
/// A provider calling `f(container&)` once per container, on first use.
template <class F>
singleton_provider<F> singleton(F f) {
  return {std::move(f)};
}

struct not_configured {
  std::string message;
};

namespace detail {

using make_fn = std::function<std::shared_ptr<void>(container&)>;

struct entry {
  virtual ~entry() = default;
  virtual std::shared_ptr<void> resolve(container& c) = 0;
  /// The entry a copy of the container holds.
  virtual std::shared_ptr<entry> for_copy(const std::shared_ptr<entry>& self) const {
    return self;
  }
};

struct value_entry : entry {
  explicit value_entry(std::shared_ptr<void> v) : value(std::move(v)) {}
  std::shared_ptr<void> resolve(container&) override { return value; }
  std::shared_ptr<void> value;
};

struct factory_entry : entry {
  explicit factory_entry(make_fn f) : make(std::move(f)) {}
  std::shared_ptr<void> resolve(container& c) override { return make(c); }
  make_fn make;
};

struct singleton_entry : entry {
  explicit singleton_entry(make_fn f) : make(std::move(f)) {}
  std::shared_ptr<void> resolve(container& c) override;
  std::shared_ptr<entry> for_copy(const std::shared_ptr<entry>& self) const override;
  make_fn make;
  mutable std::recursive_mutex mutex;
  bool building = false;
  std::shared_ptr<void> value;
};

struct not_configured_entry : entry {
  explicit not_configured_entry(std::string m) : message(std::move(m)) {}
  std::shared_ptr<void> resolve(container&) override {
    throw no_provider_configured(message);
  }
  std::string message;
};

} // namespace detail

class container {
public:
  container() = default;
  container(container&&) noexcept = default;
  container& operator=(container&&) noexcept = default;

  /// Binds T to a value (shared by every resolution).
  template <class T>
  container& provide(T value) {
    auto v = std::make_shared<T>(std::move(value));
    return set(typeid(T), std::make_shared<value_entry>(std::move(v)));
  }
  template <class T>
  container& provide(std::shared_ptr<T> value) {
    return set(typeid(T), std::make_shared<value_entry>(std::move(value)));
  }
  template <class T, class F>
  container& provide(factory_provider<F> p) {
    return set(typeid(T), std::make_shared<factory_entry>(erase<T>(std::move(p.make))));
  }
  template <class T, class F>
  container& provide(singleton_provider<F> p) {
    return set(typeid(T), std::make_shared<singleton_entry>(erase<T>(std::move(p.make))));
  }
  template <class T>
  container& provide(not_configured p) {
    return set(typeid(T), std::make_shared<not_configured_entry>(std::move(p.message)));
  }

  /// The instance for T. Throws `no_provider_configured` with the provider's
  /// message for not_configured, `missing_provider` when T has no provider.
  template <class T>
  std::shared_ptr<T> get() {
    return std::static_pointer_cast<T>(resolve(typeid(T), true));
  }

  /// As get(), but nullptr when T has no provider.
  template <class T>
  std::shared_ptr<T> find() {
    return std::static_pointer_cast<T>(resolve(typeid(T), false));
  }

  template <class T>
  bool has() const {
    return entries_.contains(typeid(T));
  }

  /// An independent container with the same providers; singletons already
  /// built are shared, the others are built anew by the copy.
  container copy() const;

  /// Refuses further `provide<T>` calls with `invalid_argument` carrying
  /// `reason` — for providers whose instance is already in use, where a new
  /// one could not take effect. Copies stay sealed.
  template <class T>
  container& seal(std::string reason) {
    sealed_[typeid(T)] = std::move(reason);
    return *this;
  }
  /// Binds T to `value` even when sealed: for the owner that sealed T and
  /// applies the change itself.
  template <class T>
  container& replace_sealed(std::shared_ptr<T> value) {
    entries_[typeid(T)] = std::make_shared<value_entry>(std::move(value));
    return *this;
  }

private:
  using make_fn = detail::make_fn;
  using entry = detail::entry;
  using value_entry = detail::value_entry;
  using factory_entry = detail::factory_entry;
  using singleton_entry = detail::singleton_entry;
  using not_configured_entry = detail::not_configured_entry;

  template <class T, class F>
  static make_fn erase(F f) {
    return [f = std::move(f)](container& c) -> std::shared_ptr<void> {
      auto made = f(c);
      if constexpr (requires { made.get(); typename decltype(made)::element_type; })
        return std::shared_ptr<T>(std::move(made));
      else
        return std::make_shared<T>(std::move(made));
    };
  }

  container& set(std::type_index type, std::shared_ptr<entry> e);
  std::shared_ptr<void> resolve(std::type_index type, bool required);

  std::unordered_map<std::type_index, std::shared_ptr<entry>> entries_;
  std::unordered_map<std::type_index, std::string> sealed_;
};

} // namespace sourcery
