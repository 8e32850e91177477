#include "commit_path.hpp"

namespace sourcery::detail {

append_receipt commit_path::append(storage::stream_store& store, const stream_id& stream,
                                   expected_version expected,
                                   std::span<const raw_event> events) const {
  const auto* route = outbox_.load(std::memory_order_acquire);
  std::vector<char> to_outbox;
  bool any = false;
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
  storage::commit_hook hook;
  if (!listeners_->empty())
    hook = [this](std::span<const storage::record> records) {
      listeners_->dispatch(records, codec_.registry(),
                           [this](const storage::record& r) { return codec_.decode(r); });
    };
  auto receipt = store.append(stream, expected, events, to_outbox, hook);
  if (any && route->wake)
    route->wake(engine_.outbox_shard_of(store.tenant()));
  return receipt;
}

void commit_path::enable_outbox(outbox_filter filter, std::function<void(std::size_t)> wake) {
  std::lock_guard lock(enable_mutex_);
  if (route_)
    throw invalid_argument("the outbox is already on");
  route_ = std::make_unique<const outbox_route>(outbox_route{std::move(filter), std::move(wake)});
  outbox_.store(route_.get(), std::memory_order_release);
}

} // namespace sourcery::detail
