#include <sourcery/subscriptions.hpp>

#include "blocking_wait.hpp"
#include "decode_cache.hpp"
#include "runtime_metrics.hpp"
#include "subscription_feed.hpp"
#include "wiring.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <cmath>
#include <thread>

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

/// A pull subscription is caught up once it handed over every record of an
/// answer that reached the log's end (R-SUB-CAUGHT-UP).
void note_caught_up(feed& f) {
  if (f.fetched.reached_end && f.fetched.empty())
    f.caught_up = true;
}

/// Fetches up to `max` more records from the feed into `fetched`. This
/// thread keeps the time limit (see subscription_feed.hpp).
void pull(feed& f, std::size_t max, bool wait_for_all, fetched_records& fetched) {
  auto deadline = std::chrono::steady_clock::now() + f.timelimit;
  auto id = ++f.pulls;
  auto answer = wait_for<fetch_answer>(
    [&](callback<fetch_answer> done) {
      caf::anon_send(f.actor, fetch_atom::value,
                     fetch_job{max, wait_for_all, id, completion<fetch_answer>(std::move(done))});
    },
    deadline, [&] { caf::anon_send(f.actor, timeout_atom::value, id); });
  fetched.batch = std::move(answer.batch);
  fetched.next = 0;
  fetched.reached_end = answer.reached_end;
  note_caught_up(f);
}

/// Decodes the next fetched record and drops it, also when decoding throws.
recorded_event take_next(feed& f, fetched_records& fetched) {
  const auto& rec = fetched.batch.records[fetched.next++];
  note_caught_up(f);
  try {
    return f.decodes->decode(rec);
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
      out.push_back(feed_->decodes->decode(fetched.batch.records[fetched.next]));
      ++fetched.next;
      note_caught_up(*feed_);
    } catch (...) {
      break; // deliver what decoded; the bad record throws on the next call
    }
  }
  return out;
}

bool iter_subscription::caught_up() const noexcept {
  return feed_->caught_up;
}

bool batch_subscription::caught_up() const noexcept {
  return feed_->caught_up;
}

bool push_subscription::caught_up() const noexcept {
  return feed_->progress->caught_up.load(std::memory_order_acquire);
}

bool push_subscription::wait_caught_up(std::chrono::duration<double> timeout) const {
  auto& p = *feed_->progress;
  if (p.delivering_thread.load() == std::this_thread::get_id()) // its own handler
    return caught_up();
  std::unique_lock lock(p.delivering);
  p.caught_up_changed.wait_for(lock, timeout, [&] {
    return p.caught_up.load(std::memory_order_acquire) || p.stopped.load();
  });
  return caught_up();
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
  f->decodes = &actors->decodes();
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
  return build_push(std::move(handler), {}, max_batch);
}

push_subscription subscription_builder::build_push(batch_handler handler,
                                                   std::function<void()> on_caught_up,
                                                   std::size_t max_batch) {
  if (!handler)
    throw invalid_argument("push subscription needs a handler");
  push_target target;
  target.handler = std::move(handler);
  target.max_batch = max_batch;
  target.on_caught_up = std::move(on_caught_up);
  return start_push(actors_, filter_, start_, name_, std::move(target));
}

push_subscription subscription_builder::build_push_to(const caf::actor& consumer,
                                                      std::size_t max_batch) {
  if (!consumer)
    throw invalid_argument("push subscription needs a consumer actor");
  push_target target;
  target.consumer = consumer;
  target.max_batch = max_batch;
  return start_push(actors_, filter_, start_, name_, std::move(target));
}

} // namespace sourcery
