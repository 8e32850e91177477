// The outcome of an asynchronous call: a value or the error the blocking form
// would have thrown.
#pragma once

#include <sourcery/errors.hpp>

#include <exception>
#include <functional>
#include <utility>
#include <variant>

namespace caf {
class error;
} // namespace caf

namespace sourcery {

template <class T>
class result {
public:
  result(T value) : v_(std::move(value)) {} // NOLINT
  result(std::exception_ptr e) : v_(std::move(e)) {} // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; rethrows the typed exception on error.
  T& value() & {
    if (!ok())
      std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && { return std::move(value()); }

  /// The exception; nullptr on success.
  std::exception_ptr exception() const noexcept {
    return ok() ? nullptr : std::get<1>(v_);
  }

private:
  std::variant<T, std::exception_ptr> v_;
};

/// Completes an empty call (delete, snapshot).
struct done_t {};

template <class T>
using callback = std::function<void(result<T>)>;

/// The error as a `caf::error` in category "sourcery": the code is the
/// `errc` (listener_failed for a foreign exception), the context holds the
/// message. `none` for nullptr.
caf::error to_caf_error(const std::exception_ptr& e);

/// The code of an exception raised by Sourcery; listener_failed for others.
errc code_of(const std::exception_ptr& e) noexcept;

} // namespace sourcery
