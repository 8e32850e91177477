#include "listener_registry.hpp"

#include <algorithm>

namespace sourcery {

namespace detail {

namespace {
thread_local int listener_depth = 0;

struct listener_scope {
  listener_scope() { ++listener_depth; }
  ~listener_scope() { --listener_depth; }
};
} // namespace

bool in_listener() noexcept {
  return listener_depth > 0;
}

void listener_registry::add(registration r) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<std::vector<registration>>(*current_);
  auto same = [&](const registration& x) {
    return x.target == r.target && x.type == r.type && x.category == r.category;
  };
  if (std::none_of(next->begin(), next->end(), same))
    next->push_back(std::move(r));
  current_ = std::move(next);
  empty_.store(current_->empty(), std::memory_order_release);
}

void listener_registry::remove(const listener& l) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<std::vector<registration>>(*current_);
  std::erase_if(*next, [&](const registration& x) { return x.target == l; });
  current_ = std::move(next);
  empty_.store(current_->empty(), std::memory_order_release);
}

void listener_registry::dispatch(
  std::span<const storage::record> records, const event_registry& registry,
  const std::function<recorded_event(const storage::record&)>& decode) const {
  std::shared_ptr<const std::vector<registration>> regs;
  {
    std::lock_guard lock(mutex_);
    regs = current_;
  }
  if (regs->empty())
    return;
  std::vector<const listener*> targets;
  for (const auto& rec : records) {
    targets.clear();
    const auto* type = registry.find(rec.type);
    for (const auto& r : *regs) {
      bool match = r.type ? type && *r.type == type->type
                   : r.category ? rec.stream->category() == r.category
                                : true;
      if (match && std::none_of(targets.begin(), targets.end(),
                                [&](const listener* t) { return *t == r.target; }))
        targets.push_back(&r.target);
    }
    if (targets.empty())
      continue;
    auto event = decode(rec);
    listener_scope scope;
    for (const auto* t : targets)
      (**t)(event);
  }
}

} // namespace detail

void listeners::add_all(const listener& l) {
  registry_->add({std::nullopt, std::nullopt, l});
}

void listeners::add_for_category(const std::string& category, const listener& l) {
  registry_->add({std::nullopt, category, l});
}

void listeners::add_for_type(std::type_index type, const listener& l) {
  registry_->add({type, std::nullopt, l});
}

void listeners::remove(const listener& l) {
  registry_->remove(l);
}

} // namespace sourcery
