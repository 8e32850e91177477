#include <sourcery/event_store.hpp>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace sourcery {

errc code_of(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const error& x) {
    return x.code();
  } catch (...) {
    return errc::listener_failed;
  }
}

caf::error to_caf_error(const std::exception_ptr& e) {
  if (!e)
    return caf::none;
  std::string message;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    message = x.what();
  } catch (...) {
    message = "unknown exception";
  }
  return caf::error(static_cast<std::uint8_t>(code_of(e)), caf::atom("sourcery"),
                    caf::make_message(std::move(message)));
}

} // namespace sourcery
