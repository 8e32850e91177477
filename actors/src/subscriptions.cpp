#include <sourcery/subscriptions.hpp>

#include "blocking_wait.hpp"
#include "runtime_metrics.hpp"
#include "subscription_feed.hpp"
#include "wiring.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <cmath>

namespace sourcery {

using namespace detail;

namespace {

std::chrono::steady_clock::duration checked_timelimit(std::chrono::duration<double> t) {
  if (!(t.count() >= 0.1))
    throw invalid_argument("subscription time limit must be at least 0.1 s, got "
                           + std::to_string(t.count()) + " s");
  // Longer limits would overflow the clock's arithmetic (about 292 years).
  if (!(t.count() <= 366.0 * 24 * 3600))
    throw invalid_argument("subscription time limit must be at most a year, got "
                           + std::to_string(t.count()) + " s");
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(t);
}

/// Fetches up to `max` more records from the feed into `fetched`. This
/// thread keeps the time limit (see subscription_feed.hpp).
void pull(feed& f, std::size_t max, bool wait_for_all, fetched_records& fetched) {
  auto deadline = std::chrono::steady_clock::now() + f.timelimit;
  auto id = ++f.pulls;
  auto batch = wait_for<storage::record_batch>(
    [&](callback<storage::record_batch> done) {
      caf::anon_send(f.actor, fetch_atom::value,
                     fetch_job{max, wait_for_all, id,
                               completion<storage::record_batch>(std::move(done))});
    },
    deadline, [&] { caf::anon_send(f.actor, timeout_atom::value, id); });
  fetched.batch = std::move(batch);
  fetched.next = 0;
}

/// Decodes the next fetched record and drops it, also when decoding throws.
recorded_event take_next(feed& f, fetched_records& fetched) {
  const auto& rec = fetched.batch.records[fetched.next++];
  try {
    return f.decoder->decode(rec);
  } catch (...) {
    if (f.meter)
      f.meter->undecodable.add();
    throw;
  }
}

} // namespace

std::optional<recorded_event> iter_subscription::next() {
  auto& fetched = feed_->fetched;
  if (fetched.empty())
    pull(*feed_, 256, false, fetched);
  if (fetched.empty())
    return std::nullopt;
  return take_next(*feed_, fetched);
}

std::vector<recorded_event> batch_subscription::next() {
  auto& fetched = feed_->fetched;
  if (fetched.empty()) // else: the rest of a batch cut short by an undecodable record
    pull(*feed_, size_, true, fetched);
  std::vector<recorded_event> out;
  out.reserve(std::min(size_, fetched.batch.records.size() - fetched.next));
  while (out.size() < size_ && !fetched.empty()) {
    if (out.empty()) {
      out.push_back(take_next(*feed_, fetched)); // throws for a bad first record
      continue;
    }
    try {
      out.push_back(feed_->decoder->decode(fetched.batch.records[fetched.next]));
      ++fetched.next;
    } catch (...) {
      break; // deliver what decoded; the bad record throws on the next call
    }
  }
  return out;
}

void push_subscription::stop() {
  feed_->stop();
}

std::exception_ptr push_subscription::error() const {
  std::lock_guard lock(feed_->progress->delivering);
  return feed_->progress->error;
}

std::vector<std::pair<position, std::exception_ptr>> push_subscription::undecodable() const {
  std::lock_guard lock(feed_->progress->delivering);
  return feed_->progress->undecodable;
}

position push_subscription::delivered() const {
  return feed_->progress->delivered.load(std::memory_order_acquire);
}

namespace {

std::shared_ptr<feed> new_feed(const std::shared_ptr<const wiring>& actors,
                               const std::optional<std::string>& name) {
  auto f = std::make_shared<feed>();
  f->keep_alive = actors; // and with it the runtime
  f->decoder = &actors->codec();
  f->meter = actors->meter(name);
  return f;
}

} // namespace

iter_subscription subscription_builder::build_iter(std::chrono::duration<double> timelimit) {
  auto f = new_feed(actors_, name_);
  f->timelimit = checked_timelimit(timelimit);
  f->actor = actors_->spawn_pull_feed(filter_, start_, f->meter);
  return iter_subscription(std::move(f));
}

batch_subscription subscription_builder::build_batch(std::size_t size,
                                                     std::chrono::duration<double> timelimit) {
  if (size == 0)
    throw invalid_argument("subscription batch size must be at least 1");
  auto f = new_feed(actors_, name_);
  f->timelimit = checked_timelimit(timelimit);
  f->actor = actors_->spawn_pull_feed(filter_, start_, f->meter);
  return batch_subscription(std::move(f), size);
}

namespace {
push_subscription start_push(const std::shared_ptr<const wiring>& actors,
                             const subscription_filter& filter, position start,
                             const std::optional<std::string>& name, push_target target) {
  if (target.max_batch == 0)
    throw invalid_argument("push subscription batch size must be at least 1");
  auto f = new_feed(actors, name);
  f->progress = std::make_shared<push_progress>();
  f->actor = actors->spawn_push_feed(filter, start, std::move(target), f->progress, f->meter);
  return push_subscription(std::move(f));
}
} // namespace

push_subscription subscription_builder::build_push(batch_handler handler, std::size_t max_batch) {
  if (!handler)
    throw invalid_argument("push subscription needs a handler");
  return start_push(actors_, filter_, start_, name_,
                    push_target{std::move(handler), {}, max_batch, 0});
}

push_subscription subscription_builder::build_push_to(const caf::actor& consumer,
                                                      std::size_t max_batch) {
  if (!consumer)
    throw invalid_argument("push subscription needs a consumer actor");
  return start_push(actors_, filter_, start_, name_, push_target{{}, consumer, max_batch, 0});
}

} // namespace sourcery
