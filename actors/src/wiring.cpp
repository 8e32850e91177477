// The one place that spawns and wires every actor (SPEC §9, §10): see
// wiring.hpp.
#include "wiring.hpp"

#include "runtime.hpp"
#include "runtime_metrics.hpp"
#include "tenant_directory.hpp"
#include "tenant_storage.hpp"

#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>

#include <algorithm>

namespace sourcery::detail {

tenant_storage_actor wiring::spawn_tenant(tenant_slot& slot) const {
  auto a = spawn_tenant_storage(system_, engine_.streams(slot.id), commits_, slot,
                                settings_.get().tenant_idle);
  release_caf_thread_state();
  return a;
}

outbox_dispatcher_actor wiring::spawn_dispatcher(std::size_t shard, dispatcher_slot* slot,
                                                 dispatcher_config config) const {
  config.metrics = metrics_;
  auto a = spawn_outbox_dispatcher(system_, engine_, codec_, timers_, shard, slot,
                                   std::move(config));
  release_caf_thread_state();
  return a;
}

void wiring::stop_dispatchers(const std::vector<outbox_dispatcher_actor>& dispatchers) const {
  caf::scoped_actor self{system_};
  for (const auto& a : dispatchers) {
    self->monitor(a);
    self->send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (std::size_t i = 0; i < dispatchers.size(); ++i)
    self->receive([](const caf::down_msg&) {});
  release_caf_thread_state();
}

std::shared_ptr<subscription_meter> wiring::meter(std::optional<std::string> name) const {
  return metrics_ ? metrics_->subscription(std::move(name)) : nullptr;
}

feed_actor wiring::spawn_pull_feed(subscription_filter filter, position start,
                                   std::shared_ptr<subscription_meter> meter) const {
  feed_source source{&engine_.log(), &decodes_, std::move(meter)};
  auto a = detail::spawn_pull_feed(system_, std::move(source), std::move(filter), start);
  release_caf_thread_state();
  return a;
}

feed_actor wiring::spawn_push_feed(subscription_filter filter, position start,
                                   push_target target,
                                   std::shared_ptr<push_progress> progress,
                                   std::shared_ptr<subscription_meter> meter) const {
  target.buffer = std::max(settings_.get().subscription_buffer, target.max_batch);
  target.pool = &callbacks_;
  feed_source source{&engine_.log(), &decodes_, std::move(meter)};
  auto a = detail::spawn_push_feed(system_, std::move(source), std::move(filter), start,
                                   std::move(target), std::move(progress));
  release_caf_thread_state();
  return a;
}

} // namespace sourcery::detail
