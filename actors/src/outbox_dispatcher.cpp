#include "outbox_dispatcher.hpp"

#include "runtime.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace sourcery::detail {

namespace {

struct dispatcher_state {
  runtime* rt = nullptr;
  std::size_t shard = 0;
  dispatcher_slot* slot = nullptr;
  dispatcher_config config;
};

using self_ptr = outbox_dispatcher_actor::stateful_pointer<dispatcher_state>;

thread_local int publisher_depth = 0;

void publish(self_ptr self, const outbox_claim& c) {
  auto& st = self->state;
  std::exception_ptr failure;
  try {
    publisher_scope scope;
    st.config.publisher(st.rt->decode(*c.entry->rec));
  } catch (...) {
    failure = std::current_exception();
  }
  auto pos = c.entry->rec->pos;
  if (st.rt->outbox()->report(c, failure, st.config.attempts, true) == outcome::retry)
    self->delayed_send(self, retry_delay(st.config, c.entry->attempts), retry_atom::value, pos);
}

void drain(self_ptr self) {
  auto& st = self->state;
  auto& store = *st.rt->outbox();
  auto claims = store.claim(st.shard, st.config.batch);
  if (claims.empty()) {
    // Go idle, then look once more: an entry added in between either sees
    // `idle` and kicks us, or is found here.
    st.slot->idle.store(true, std::memory_order_seq_cst);
    claims = store.claim(st.shard, st.config.batch);
    if (claims.empty())
      return;
    st.slot->idle.store(false, std::memory_order_seq_cst);
  }
  for (const auto& c : claims)
    publish(self, c);
  self->send(self, kick_atom::value);
}

} // namespace

bool in_outbox_publisher() noexcept {
  return publisher_depth > 0;
}

publisher_scope::publisher_scope() {
  ++publisher_depth;
}

publisher_scope::~publisher_scope() {
  --publisher_depth;
}

std::chrono::milliseconds retry_delay(const dispatcher_config& c, std::uint32_t attempt) {
  auto delay = c.backoff_base;
  for (std::uint32_t i = 1; i < attempt && delay < c.backoff_cap; ++i)
    delay *= 2;
  return std::min(delay, c.backoff_cap);
}

outbox_dispatcher_actor spawn_outbox_dispatcher(runtime& rt, std::size_t shard,
                                                dispatcher_slot* slot, dispatcher_config config) {
  auto behavior = [](self_ptr self, runtime* rt, std::size_t shard, dispatcher_slot* slot,
                     dispatcher_config config) -> outbox_dispatcher_actor::behavior_type {
    self->state = dispatcher_state{rt, shard, slot, std::move(config)};
    return {
      [self](kick_atom) { drain(self); },
      [self](retry_atom, position pos) {
        if (auto c = self->state.rt->outbox()->claim_retry(self->state.shard, pos))
          publish(self, *c);
      },
    };
  };
  return rt.system().spawn(behavior, &rt, shard, slot, std::move(config));
}

} // namespace sourcery::detail
