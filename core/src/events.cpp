#include <sourcery/events.hpp>

#include <boost/core/demangle.hpp>

namespace sourcery {

void any_event::throw_wrong_type(const char* requested) const {
  throw wrong_event_type("event '" + std::string(name_.empty() ? "?" : name_) + "' is a "
                         + boost::core::demangle(type_.name()) + ", not a "
                         + boost::core::demangle(requested));
}

} // namespace sourcery
