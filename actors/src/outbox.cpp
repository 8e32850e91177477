#include <sourcery/outbox.hpp>

#include "runtime.hpp"

namespace sourcery {

using namespace detail;

std::size_t outbox::run(const outbox_publisher& publisher, std::size_t limit) {
  if (!publisher)
    throw invalid_argument("outbox run needs a publisher");
  auto& store = rt_->outbox_entries();
  auto attempts = rt_->current_settings().outbox_attempts;
  auto claims = store.claim_all(limit);
  bool failed = false;
  for (const auto& c : claims) {
    std::exception_ptr failure;
    try {
      publisher_scope scope;
      publisher(rt_->decode(*c.entry->rec));
    } catch (...) {
      failure = std::current_exception();
      failed = true;
    }
    store.report(c, failure, attempts, false);
  }
  if (failed) // the failed entries are pending again: continuous mode takes them
    rt_->kick_idle_dispatchers();
  return claims.size();
}

void outbox::start(outbox_publisher publisher, continuous_options options) {
  rt_->start_dispatchers(std::move(publisher), options);
}

void outbox::stop() {
  rt_->stop_dispatchers();
}

std::vector<dead_letter> outbox::dead_letters() const {
  std::vector<dead_letter> out;
  for (auto& [rec, info] : rt_->outbox_entries().dead_letters())
    out.push_back(dead_letter{rt_->decode(*rec), info.first, info.second});
  return out;
}

std::size_t outbox::requeue(std::optional<position> at) {
  auto moved = rt_->outbox_entries().requeue(at);
  if (moved)
    rt_->kick_idle_dispatchers();
  return moved;
}

std::size_t outbox::purge(std::optional<position> at) {
  return rt_->outbox_entries().purge(at);
}

bool outbox::wait_until_empty(std::chrono::milliseconds timeout) const {
  return rt_->outbox_entries().wait_until_empty(timeout);
}

outbox_counts outbox::counts() const {
  return rt_->outbox_entries().counts();
}

} // namespace sourcery
