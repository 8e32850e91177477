#include <sourcery/outbox.hpp>

#include "outbox_lifecycle.hpp"
#include "settings_cell.hpp"

#include <sourcery/detail/codec.hpp>
#include <sourcery/storage/engine.hpp>

#include <algorithm>
#include <iterator>

namespace sourcery {

using namespace detail;

namespace {

/// A dispatcher holds failed entries for their retries after a backoff.
dispatcher_config config_of(const settings& s) {
  return dispatcher_config{{},
                           256,
                           {.attempts = s.outbox_attempts, .hold_for_retry = true},
                           s.outbox_backoff_base,
                           s.outbox_backoff_cap};
}

} // namespace

std::size_t outbox::run(const outbox_publisher& publisher, std::size_t limit) {
  if (!publisher)
    throw invalid_argument("outbox run needs a publisher");
  lifecycle_->require_enabled();
  auto& store = engine_->outbox();
  // A failed entry is pending again at once: continuous mode, or the next
  // run(), takes it.
  auto reporter = store.open({.attempts = settings_->get().outbox_attempts});
  // Entries continuous mode held for a retry, once their backoff passed,
  // then pending ones; in position order.
  auto claims = lifecycle_->claim_due_held(limit);
  auto pending = store.claim_all(limit - claims.size());
  auto retried = claims.size();
  claims.insert(claims.end(), std::make_move_iterator(pending.begin()),
                std::make_move_iterator(pending.end()));
  std::inplace_merge(claims.begin(), claims.begin() + static_cast<std::ptrdiff_t>(retried),
                     claims.end(), [](const auto& a, const auto& b) {
                       return a.record.position < b.record.position;
                     });
  bool failed = false;
  for (const auto& c : claims) {
    auto failure = publish_one(publisher, *codec_, c);
    failed = failed || failure.has_value();
    reporter.report(c, failure ? &*failure : nullptr);
  }
  if (failed) // the failed entries are pending again: continuous mode takes them
    lifecycle_->kick_idle();
  return claims.size();
}

void outbox::start(outbox_publisher publisher, continuous_options options) {
  lifecycle_->start(std::move(publisher), options, config_of(settings_->get()));
}

void outbox::stop() {
  lifecycle_->stop();
}

std::vector<dead_letter> outbox::dead_letters() const {
  lifecycle_->require_enabled();
  std::vector<dead_letter> out;
  for (auto& d : engine_->outbox().dead_letters())
    out.push_back(dead_letter{codec_->decode(d.record), d.attempts, d.last_error});
  return out;
}

std::size_t outbox::requeue(std::optional<position> at) {
  lifecycle_->require_enabled();
  auto moved = engine_->outbox().requeue(at);
  if (moved)
    lifecycle_->kick_idle();
  return moved;
}

std::size_t outbox::purge(std::optional<position> at) {
  lifecycle_->require_enabled();
  return engine_->outbox().purge(at);
}

bool outbox::wait_until_empty(std::chrono::milliseconds timeout) const {
  lifecycle_->require_enabled();
  return engine_->outbox().wait_until_empty(timeout);
}

outbox_counts outbox::counts() const {
  lifecycle_->require_enabled();
  return engine_->outbox().counts();
}

} // namespace sourcery
