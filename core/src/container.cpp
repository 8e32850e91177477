#include <sourcery/container.hpp>

#include <boost/core/demangle.hpp>

namespace sourcery {

container& container::set(std::type_index type, std::shared_ptr<entry> e) {
  if (auto it = sealed_.find(type); it != sealed_.end())
    throw invalid_argument("cannot provide " + boost::core::demangle(type.name()) + ": "
                           + it->second);
  entries_[type] = std::move(e);
  return *this;
}

std::shared_ptr<void> container::resolve(std::type_index type, bool required) {
  auto it = entries_.find(type);
  if (it == entries_.end()) {
    if (!required)
      return nullptr;
    throw missing_provider("no provider for " + boost::core::demangle(type.name()));
  }
  return it->second->resolve(*this);
}

container container::copy() const {
  container out;
  for (const auto& [type, e] : entries_)
    out.entries_.emplace(type, e->for_copy(e));
  out.sealed_ = sealed_;
  return out;
}

std::shared_ptr<void> detail::singleton_entry::resolve(container& c) {
  std::lock_guard lock(mutex);
  if (value)
    return value;
  if (building)
    throw invalid_argument("cyclic dependency: a singleton's factory resolves itself");
  building = true;
  try {
    value = make(c);
  } catch (...) {
    building = false;
    throw;
  }
  building = false;
  return value;
}

std::shared_ptr<detail::entry>
detail::singleton_entry::for_copy(const std::shared_ptr<entry>& self) const {
  std::lock_guard lock(mutex);
  if (value)
    return self; // built: the copy shares the instance
  return std::make_shared<singleton_entry>(make);
}

} // namespace sourcery
