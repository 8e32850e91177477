#include <sourcery/subscriptions.hpp>

#include "blocking_wait.hpp"
#include "runtime.hpp"
#include "subscription_feed.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace sourcery {

using namespace detail;

namespace {

std::chrono::steady_clock::duration checked_timelimit(std::chrono::duration<double> t) {
  if (!(t.count() >= 0.1))
    throw invalid_argument("subscription time limit must be at least 0.1 s, got "
                           + std::to_string(t.count()) + " s");
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(t);
}

/// Fetches up to `max` more records from the feed into `fetched`.
void pull(feed& f, std::size_t max, bool wait_for_all, std::deque<const log_record*>& fetched) {
  auto deadline = std::chrono::steady_clock::now() + f.timelimit;
  auto records = wait_for<std::vector<const log_record*>>(
    [&](callback<std::vector<const log_record*>> done) {
      caf::anon_send(f.actor, fetch_atom::value,
                     fetch_job{max, wait_for_all, deadline, std::move(done)});
    });
  fetched.insert(fetched.end(), records.begin(), records.end());
}

/// Decodes the first fetched record and drops it, also when decoding throws.
recorded_event take_first(feed& f, std::deque<const log_record*>& fetched) {
  const auto* rec = fetched.front();
  fetched.pop_front();
  return f.rt->decode(*rec);
}

} // namespace

std::optional<recorded_event> iter_subscription::next() {
  if (fetched_.empty())
    pull(*feed_, 256, false, fetched_);
  if (fetched_.empty())
    return std::nullopt;
  return take_first(*feed_, fetched_);
}

std::vector<recorded_event> batch_subscription::next() {
  if (fetched_.empty()) // else: the rest of a batch cut short by an undecodable record
    pull(*feed_, size_, true, fetched_);
  std::vector<recorded_event> out;
  out.reserve(std::min(size_, fetched_.size()));
  while (out.size() < size_ && !fetched_.empty()) {
    if (out.empty()) {
      out.push_back(take_first(*feed_, fetched_)); // throws for a bad first record
      continue;
    }
    try {
      out.push_back(feed_->rt->decode(*fetched_.front()));
      fetched_.pop_front();
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

position push_subscription::delivered() const {
  return feed_->progress->delivered.load(std::memory_order_acquire);
}

iter_subscription subscription_builder::build_iter(std::chrono::duration<double> timelimit) {
  auto f = std::make_shared<feed>();
  f->timelimit = checked_timelimit(timelimit);
  f->rt = rt_;
  f->actor = spawn_pull_feed(*rt_, filter_, start_);
  return iter_subscription(std::move(f));
}

batch_subscription subscription_builder::build_batch(std::size_t size,
                                                     std::chrono::duration<double> timelimit) {
  if (size == 0)
    throw invalid_argument("subscription batch size must be at least 1");
  auto f = std::make_shared<feed>();
  f->timelimit = checked_timelimit(timelimit);
  f->rt = rt_;
  f->actor = spawn_pull_feed(*rt_, filter_, start_);
  return batch_subscription(std::move(f), size);
}

namespace {
push_subscription start_push(const std::shared_ptr<runtime>& rt, const subscription_filter& filter,
                             position start, push_target target) {
  if (target.max_batch == 0)
    throw invalid_argument("push subscription batch size must be at least 1");
  target.buffer = std::max(rt->current_settings().subscription_buffer, target.max_batch);
  auto f = std::make_shared<feed>();
  f->rt = rt;
  f->progress = std::make_shared<push_progress>();
  f->actor = spawn_push_feed(*rt, filter, start, std::move(target), f->progress);
  return push_subscription(std::move(f));
}
} // namespace

push_subscription subscription_builder::build_push(batch_handler handler, std::size_t max_batch) {
  if (!handler)
    throw invalid_argument("push subscription needs a handler");
  return start_push(rt_, filter_, start_, push_target{std::move(handler), {}, max_batch, 0});
}

push_subscription subscription_builder::build_push_to(const caf::actor& consumer,
                                                      std::size_t max_batch) {
  if (!consumer)
    throw invalid_argument("push subscription needs a consumer actor");
  return start_push(rt_, filter_, start_, push_target{{}, consumer, max_batch, 0});
}

} // namespace sourcery
