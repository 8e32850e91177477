#include "commit_path.hpp"

namespace sourcery::detail {

std::size_t commit_path::append(storage::stream_store& store, const stream_id& stream,
                                expected_version expected, std::span<const raw_event> events,
                                storage::append_done done) const {
  in_flight_.fetch_add(1, std::memory_order_relaxed); // `done` ends with leave()
  const auto* route = outbox_.load(std::memory_order_acquire);
  std::vector<char> to_outbox;
  bool any = false;
  try {
    if (route) {
      // User code: runs here, on the tenant's actor, before anything is stored.
      to_outbox.resize(events.size());
      for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        to_outbox[i] = !route->filter
                       || route->filter(outbox_candidate{e.name, stream, store.tenant(), e.data});
        any = any || to_outbox[i];
      }
    }
  } catch (...) {
    done(std::nullopt, std::current_exception());
    return no_shard;
  }
  storage::commit_hook hook;
  if (!listeners_->empty())
    hook = [this](std::span<const storage::record> records) {
      listeners_->dispatch(records, codec_.registry(),
                           [this](const storage::record& r) { return codec_.decode(r); });
    };
  store.append_async(stream, expected, events, to_outbox, hook, std::move(done));
  return any && route->wake ? outbox_store_.shard_of(store.tenant()) : no_shard;
}

void commit_path::wake(std::size_t shard) const {
  if (shard == no_shard)
    return;
  if (const auto* route = outbox_.load(std::memory_order_acquire); route && route->wake)
    route->wake(shard);
}

void commit_path::leave() const {
  if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1)
    in_flight_.notify_all();
}

void commit_path::drain() const {
  for (auto n = in_flight_.load(std::memory_order_acquire); n != 0;
       n = in_flight_.load(std::memory_order_acquire))
    in_flight_.wait(n);
}

void commit_path::enable_outbox(outbox_filter filter, std::function<void(std::size_t)> wake) {
  std::lock_guard lock(enable_mutex_);
  if (route_)
    throw invalid_argument("the outbox is already on");
  route_ = std::make_unique<const outbox_route>(outbox_route{std::move(filter), std::move(wake)});
  outbox_.store(route_.get(), std::memory_order_release);
}

} // namespace sourcery::detail
